//! stub
#![allow(unused)]
use super::FieldError;
use serde_json::Value;
