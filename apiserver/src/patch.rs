//! PATCH: the four patch types and how each applies to a stored object.

use rkube_api::patch as api_patch;
use rkube_api::schema::Schemas;
use serde_json::Value;

use crate::object;
use crate::resources::ServedResource;
use crate::status::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml`: server-side apply.
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> ApiResult<Self> {
        match ct {
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(PatchType::Apply),
            other => Err(ApiError::unsupported_media_type(other)),
        }
    }
}

/// Parses a patch body: JSON, or YAML for apply patches.
pub fn parse(patch_type: PatchType, bytes: &[u8]) -> ApiResult<Value> {
    let parsed = if patch_type == PatchType::Apply {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| ApiError::bad_request(format!("the patch is not UTF-8: {e}")))?;
        serde_saphyr::from_str::<Value>(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
    } else {
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?
    };
    match (patch_type, &parsed) {
        (PatchType::Json, Value::Array(_)) => Ok(parsed),
        (PatchType::Json, _) => Err(ApiError::bad_request(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
        )),
        (_, Value::Object(_)) => Ok(parsed),
        _ => Err(ApiError::bad_request(
            "the patch must be a JSON object for merge, strategic merge and apply patches",
        )),
    }
}

/// A resourceVersion the patch itself pins (merge-style patches only).
pub fn resource_version(patch: &Value) -> ApiResult<Option<i64>> {
    if patch.is_object() {
        object::parse_resource_version(object::meta_str(patch, "resourceVersion"))
    } else {
        Ok(None)
    }
}

/// Applies a patch to the current object.
pub fn apply(
    patch_type: PatchType,
    resource: &ServedResource,
    current: &Value,
    patch: &Value,
) -> ApiResult<Value> {
    let invalid = |e: api_patch::PatchError| {
        ApiError::new(
            http::StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            e.to_string(),
        )
    };
    match patch_type {
        PatchType::Json => api_patch::apply_json_patch(current, patch).map_err(invalid),
        PatchType::Merge => Ok(api_patch::apply_merge_patch(current, patch)),
        PatchType::Strategic => {
            let schemas = Schemas::builtin();
            match (&resource.custom, schemas.definition_for_kind(&resource.group, &resource.version, &resource.kind)) {
                (None, Some(def)) => api_patch::apply_strategic_merge_patch(current, patch, schemas, def)
                    .map_err(invalid),
                _ => Err(ApiError::new(
                    http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UnsupportedMediaType",
                    "strategic merge patch is not supported for custom resources; use a merge patch or a JSON patch",
                )),
            }
        }
        // Apply patches go through field management (crate::managed), which knows the manager.
        PatchType::Apply => Err(ApiError::internal(
            "an apply patch reached the plain patch path",
        )),
    }
}
