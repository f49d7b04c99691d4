//! stub
#![allow(unused)]
use super::FieldError;
use serde_json::Value;
pub(crate) fn validate_meta(obj: &Value, errs: &mut Vec<FieldError>) {}
pub(crate) fn validate_crd(obj: &Value, errs: &mut Vec<FieldError>) {}
