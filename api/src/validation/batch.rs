//! stub
#![allow(unused)]
use super::FieldError;
use serde_json::Value;
pub(crate) fn validate_job(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {}
pub(crate) fn validate_cron_job(obj: &Value, errs: &mut Vec<FieldError>) {}
