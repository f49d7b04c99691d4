//! The three inputs of client-side `kubectl apply`, prepared as kubectl prepares them.
//!
//! - [`modified_configuration`]: the configuration from the file with its own serialization
//!   stored in the `kubectl.kubernetes.io/last-applied-configuration` annotation (compact JSON
//!   with sorted keys, `<`, `>` and `&` escaped, a final newline: Go's JSON encoder's output).
//! - [`original_configuration`]: the last-applied configuration read back from the live object.
//! - [`check_apply_preconditions`]: kubectl refuses a patch that would change `apiVersion`,
//!   `kind` or `metadata.name`.

use serde_json::{Map, Value};

use super::{PatchError, Result};
use crate::names::ANNOTATION_LAST_APPLIED_CONFIGURATION;

/// The message kubectl prints when a patch would change `apiVersion`, `kind` or the name.
pub const PRECONDITION_FAILED: &str = "At least one of apiVersion, kind and name was changed";

/// The configuration `config` as `kubectl apply` sends it: any last-applied annotation it
/// carries is dropped, the rest is serialized and stored as the new last-applied annotation.
/// `metadata.annotations` exists afterwards, and the serialization holds `"annotations":{}` when
/// the file had none, exactly as kubectl's does.
pub fn modified_configuration(config: &Value) -> Value {
    let mut modified = match config {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let metadata = modified
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    if let Value::Object(metadata) = metadata {
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if !annotations.is_object() {
            *annotations = Value::Object(Map::new());
        }
        if let Value::Object(annotations) = annotations {
            annotations.remove(ANNOTATION_LAST_APPLIED_CONFIGURATION);
        }
    }
    let serialized = crate::gojson::to_string_sorted(&Value::Object(modified.clone())) + "\n";
    if let Some(Value::Object(annotations)) = modified
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    {
        annotations.insert(
            ANNOTATION_LAST_APPLIED_CONFIGURATION.to_owned(),
            Value::String(serialized),
        );
    }
    Value::Object(modified)
}

/// The last-applied configuration stored on a live object, `None` when it has none (or an empty
/// one), as the `original` of [`super::create_three_way_merge_patch`].
///
/// # Errors
///
/// [`PatchError::Invalid`] when the annotation holds no JSON object.
pub fn original_configuration(live: &Value) -> Result<Option<Value>> {
    let Some(text) = live
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(ANNOTATION_LAST_APPLIED_CONFIGURATION))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Null) => Ok(None),
        Ok(value @ Value::Object(_)) => Ok(Some(value)),
        Ok(_) => Err(PatchError::Invalid(format!(
            "the annotation {ANNOTATION_LAST_APPLIED_CONFIGURATION} does not hold a JSON object"
        ))),
        Err(e) => Err(PatchError::Invalid(format!(
            "the annotation {ANNOTATION_LAST_APPLIED_CONFIGURATION} is not valid JSON: {e}"
        ))),
    }
}

/// Refuses a patch that sets `apiVersion`, `kind` or `metadata.name`, as kubectl does before
/// sending an apply patch.
///
/// # Errors
///
/// [`PatchError::Invalid`] with [`PRECONDITION_FAILED`].
pub fn check_apply_preconditions(patch: &Value) -> Result<()> {
    let changed = patch.get("apiVersion").is_some()
        || patch.get("kind").is_some()
        || patch.get("metadata").and_then(|m| m.get("name")).is_some();
    if changed {
        return Err(PatchError::Invalid(PRECONDITION_FAILED.to_owned()));
    }
    Ok(())
}
