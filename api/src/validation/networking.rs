//! stub
#![allow(unused)]
use super::FieldError;
use serde_json::Value;
pub(crate) fn validate_ingress(obj: &Value, errs: &mut Vec<FieldError>) {}
