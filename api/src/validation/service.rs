//! stub
#![allow(unused)]
use super::FieldError;
use serde_json::Value;
pub(crate) fn validate_service(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {}
