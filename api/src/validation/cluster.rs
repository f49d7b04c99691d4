//! stub
#![allow(unused)]
use super::FieldError;
use serde_json::Value;
pub(crate) fn validate_namespace(obj: &Value, errs: &mut Vec<FieldError>) {}
pub(crate) fn validate_node(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {}
pub(crate) fn validate_lease(obj: &Value, errs: &mut Vec<FieldError>) {}
