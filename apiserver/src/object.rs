//! Objects as JSON values: metadata accessors, and the stored form (the JSON Kubernetes
//! writes to etcd: the object without its resourceVersion, which is the key's mod revision).

use serde_json::{Map, Value};

use crate::status::{ApiError, ApiResult};

/// `metadata.<field>` as a string.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or_default()
}

pub fn namespace(obj: &Value) -> Option<&str> {
    meta_str(obj, "namespace").filter(|s| !s.is_empty())
}

/// The object's metadata map, created when missing.
pub fn meta_mut(obj: &mut Value) -> ApiResult<&mut Map<String, Value>> {
    let map = obj
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the object must be a JSON object"))?;
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if meta.is_null() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))
}

/// The object's labels (empty when none).
pub fn labels(obj: &Value) -> Vec<(&str, &str)> {
    obj.get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
                .collect()
        })
        .unwrap_or_default()
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    obj.get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub fn is_deleting(obj: &Value) -> bool {
    meta_str(obj, "deletionTimestamp").is_some()
}

/// The current time as Kubernetes writes timestamps (RFC 3339, seconds, `Z`).
pub fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

pub fn rfc3339(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The bytes stored for an object: its JSON without `metadata.resourceVersion`.
pub fn encode(obj: &Value) -> ApiResult<Vec<u8>> {
    let mut stored = obj.clone();
    if let Some(meta) = stored.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        meta.remove("selfLink");
    }
    serde_json::to_vec(&stored).map_err(ApiError::internal)
}

/// An object read from storage, with its resourceVersion set to the key's mod revision.
pub fn decode(bytes: &[u8], mod_revision: i64) -> ApiResult<Value> {
    let mut obj: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::internal(format!("stored object is not valid JSON: {e}")))?;
    set_resource_version(&mut obj, mod_revision);
    Ok(obj)
}

pub fn set_resource_version(obj: &mut Value, revision: i64) {
    if let Ok(meta) = meta_mut(obj) {
        meta.insert(
            "resourceVersion".into(),
            Value::String(revision.to_string()),
        );
    }
}

/// Parses a resourceVersion parameter or field: empty is `None`.
pub fn parse_resource_version(rv: Option<&str>) -> ApiResult<Option<i64>> {
    match rv {
        None | Some("") => Ok(None),
        Some(s) => s.parse::<i64>().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resource version {s:?}: must be an integer"
            ))
        }),
    }
}

/// The object's JSON minus metadata and status: a change here bumps `metadata.generation`.
pub fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_form_has_no_resource_version() {
        let obj = json!({"metadata": {"name": "a", "resourceVersion": "7"}, "spec": {}});
        let bytes = encode(&obj).unwrap();
        assert!(!String::from_utf8(bytes.clone())
            .unwrap()
            .contains("resourceVersion"));
        let back = decode(&bytes, 9).unwrap();
        assert_eq!(meta_str(&back, "resourceVersion"), Some("9"));
    }

    #[test]
    fn timestamps() {
        let t = time::macros::datetime!(2026-01-02 03:04:05.678 UTC);
        assert_eq!(rfc3339(t), "2026-01-02T03:04:05Z");
    }
}
