//! The three patch formats of `PATCH` requests, applied as kube-apiserver applies them.
//!
//! - [`apply_json_patch`]: RFC 6902 (`application/json-patch+json`), `test` included.
//! - [`apply_merge_patch`]: RFC 7386 (`application/merge-patch+json`).
//! - [`apply_strategic_merge_patch`]: Kubernetes' strategic merge patch
//!   (`application/strategic-merge-patch+json`), driven by the patch markers of
//!   [`crate::schema`]: lists merge by their merge key, primitive lists with the `merge`
//!   strategy are unions, `null` deletes, and the directives `$patch`, `$retainKeys`,
//!   `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` are honoured. Where the
//!   schema knows nothing (custom resources, unknown fields) it behaves as a merge patch.
//!
//! And the patches client-side `kubectl apply` computes from the last-applied configuration,
//! the new configuration and the live object:
//!
//! - [`create_three_way_merge_patch`]: the strategic merge patch (built-in kinds);
//! - [`create_merge_patch`]: the JSON merge patch (custom resources);
//! - [`modified_configuration`], [`original_configuration`] and [`check_apply_preconditions`]:
//!   the inputs and the check kubectl uses with them.
//!
//! All functions are pure: they take the stored object and the patch as JSON and return the
//! patched object. Errors say which HTTP status kube-apiserver answers with
//! ([`PatchError::status_code`]) and carry messages worded like kube-apiserver's.

mod diff;
mod json;
mod last_applied;
mod strategic;
mod three_way;

use serde_json::{Map, Value};

pub use json::{apply_json_patch, MAX_OPERATIONS};
pub use last_applied::{
    check_apply_preconditions, modified_configuration, original_configuration, PRECONDITION_FAILED,
};
pub use strategic::apply_strategic_merge_patch;
pub use three_way::{create_merge_patch, create_three_way_merge_patch};

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document itself is malformed (kube-apiserver answers 400 Bad Request).
    #[error("{0}")]
    Invalid(String),
    /// The patch is well formed but cannot be applied to this object (422 Unprocessable
    /// Entity), e.g. a failed JSON patch `test` or a missing path.
    #[error("{0}")]
    NotApplicable(String),
    /// The patch is larger than the server accepts (413 Request Entity Too Large).
    #[error("{0}")]
    TooLarge(String),
}

impl PatchError {
    /// The HTTP status kube-apiserver answers with: 400, 413 or 422.
    pub const fn status_code(&self) -> u16 {
        match self {
            PatchError::Invalid(_) => 400,
            PatchError::TooLarge(_) => 413,
            PatchError::NotApplicable(_) => 422,
        }
    }
}

/// `Result` with [`PatchError`].
pub type Result<T, E = PatchError> = std::result::Result<T, E>;

/// Applies an RFC 7386 JSON merge patch: objects merge key by key, `null` deletes a key, and
/// anything else (arrays included) replaces the target.
pub fn apply_merge_patch(doc: &Value, patch: &Value) -> Value {
    let Value::Object(patch_map) = patch else {
        return patch.clone();
    };
    let mut result = match doc {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    for (key, value) in patch_map {
        if value.is_null() {
            result.remove(key);
        } else {
            let merged = apply_merge_patch(result.get(key).unwrap_or(&Value::Null), value);
            result.insert(key.clone(), merged);
        }
    }
    Value::Object(result)
}

/// Formats a JSON value as Go's `%v` prints the decoded value (`map[a:1 b:[x y]]`), so error
/// messages read as kube-apiserver's do.
pub(crate) fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            // Go prints map keys sorted, whatever order the document had.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let parts: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", go_format(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests;
