//! stub
#![allow(unused)]
use super::FieldError;
use serde_json::Value;
pub(crate) fn validate_config_map(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {}
pub(crate) fn validate_secret(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {}
