//! Conversion of objects between the API versions of one resource that share storage.
//!
//! Two built-in resources are served in more than one version while being stored once:
//!
//! - `HorizontalPodAutoscaler`, stored as `autoscaling/v2` and also served as `autoscaling/v1`;
//! - `Event`, stored as core `v1` and also served as `events.k8s.io/v1`.
//!
//! The API server keeps the [`storage_version`] and calls [`convert`] to answer each request in
//! the version the client asked for, and to turn what a client wrote into the stored form.
//!
//! # Autoscalers
//!
//! `autoscaling/v1` can only say "target this CPU utilization". Going from `v2` to `v1`, the
//! first CPU `Resource` metric with an `averageUtilization` target becomes
//! `spec.targetCPUUtilizationPercentage` and the CPU utilization among `status.currentMetrics`
//! becomes `status.currentCPUUtilizationPercentage`. Everything else rides along in annotations,
//! as kube-apiserver does:
//!
//! | annotation | holds |
//! |---|---|
//! | [`METRICS_ANNOTATION`] | the other `spec.metrics`, in `autoscaling/v1`'s metric form |
//! | [`CURRENT_METRICS_ANNOTATION`] | all of `status.currentMetrics`, in `v1`'s metric form |
//! | [`CONDITIONS_ANNOTATION`] | `status.conditions` |
//! | [`BEHAVIOR_ANNOTATION`] | `spec.behavior`, with Go's field names (`ScaleUp`, `Policies`) |
//!
//! The annotation values are JSON text written as Go writes it (fields in struct order).
//!
//! Going back to `v2` reads and removes them: the annotated metrics come first, then the CPU
//! target; with neither, `v2` gets Kubernetes' default of 80% CPU utilization. An annotation
//! that does not parse is ignored, as Kubernetes ignores it. Converting to `v2` (from either
//! version) drops stale copies of these annotations, which `v2` never carries.
//!
//! Absent optional values stay absent: where Go would write a zero quantity into `v1`'s
//! annotation form (`targetValue: "0"`), rkube writes nothing, so that `v2 -> v1 -> v2` gives
//! back exactly the object it started from.
//!
//! # Events
//!
//! Core `v1` and `events.k8s.io/v1` Events carry the same data under different names
//! (`involvedObject` / `regarding`, `message` / `note`, `source` / `deprecatedSource`...); the
//! conversion renames the fields and keeps their values as they are.

mod event;
mod gojson;
mod hpa;
mod metrics;

use serde_json::{Map, Value};

pub use hpa::{
    BEHAVIOR_ANNOTATION, CONDITIONS_ANNOTATION, CURRENT_METRICS_ANNOTATION,
    DEFAULT_CPU_UTILIZATION, METRICS_ANNOTATION,
};

/// Why an object could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The object is not a JSON object.
    #[error("failed to convert: the object is not a JSON object")]
    NotAnObject,
    /// The object lacks `apiVersion` or `kind`, so its version is unknown.
    #[error("failed to convert: the object has no {0}")]
    MissingTypeMeta(&'static str),
    /// The kind is not served in the requested version, or the two versions do not convert.
    #[error("failed to convert {kind} from {from} to {to}: no conversion between these versions")]
    Unsupported {
        /// The object's kind.
        kind: String,
        /// The object's `apiVersion`.
        from: String,
        /// The requested `apiVersion`.
        to: String,
    },
}

/// `Result` with this module's [`ConvertError`].
pub type Result<T, E = ConvertError> = std::result::Result<T, E>;

/// The group and version objects of `kind` in `group` are stored as, for the resources served
/// in several versions; `None` for every other resource (stored as served).
///
/// `group` is `""` for the core group.
pub fn storage_version(group: &str, kind: &str) -> Option<(&'static str, &'static str)> {
    match (group, kind) {
        ("autoscaling", "HorizontalPodAutoscaler") => Some(("autoscaling", "v2")),
        ("" | "events.k8s.io", "Event") => Some(("", "v1")),
        _ => None,
    }
}

/// Converts `obj` (JSON form, with `apiVersion` and `kind`) to `to_group`/`to_version`
/// (`to_group` is `""` for the core group), setting `apiVersion` and `kind` on the result.
///
/// Same-version conversion returns the object unchanged, except that an `autoscaling/v2`
/// autoscaler loses the `autoscaling/v1` round-trip annotations (see the module docs).
///
/// # Errors
///
/// [`ConvertError::NotAnObject`] and [`ConvertError::MissingTypeMeta`] for objects that are not
/// objects or do not say their `apiVersion` and `kind`; [`ConvertError::Unsupported`] when the
/// two versions are not versions of one resource rkube converts between.
pub fn convert(obj: &Value, to_group: &str, to_version: &str) -> Result<Value> {
    let map = obj.as_object().ok_or(ConvertError::NotAnObject)?;
    let api_version = type_meta(map, "apiVersion")?;
    let kind = type_meta(map, "kind")?;
    let (from_group, from_version) = split_api_version(api_version);
    let unsupported = || ConvertError::Unsupported {
        kind: kind.to_owned(),
        from: api_version.to_owned(),
        to: join_api_version(to_group, to_version),
    };
    let from = (from_group, from_version);
    let to = (to_group, to_version);
    let mut out = match (kind, from, to) {
        ("HorizontalPodAutoscaler", ("autoscaling", "v2"), ("autoscaling", "v1")) => {
            hpa::to_v1(map)
        }
        ("HorizontalPodAutoscaler", ("autoscaling", "v1"), ("autoscaling", "v2")) => {
            hpa::to_v2(map)
        }
        ("HorizontalPodAutoscaler", ("autoscaling", "v2"), ("autoscaling", "v2")) => {
            hpa::v2_to_v2(map)
        }
        ("Event", ("", "v1"), ("events.k8s.io", "v1")) => event::to_events(map),
        ("Event", ("events.k8s.io", "v1"), ("", "v1")) => event::to_core(map),
        _ if from == to => map.clone(),
        _ => return Err(unsupported()),
    };
    out.insert(
        "apiVersion".to_owned(),
        join_api_version(to_group, to_version).into(),
    );
    out.insert("kind".to_owned(), kind.into());
    Ok(Value::Object(out))
}

/// `map[key]` as a non-empty string.
fn type_meta<'a>(map: &'a Map<String, Value>, key: &'static str) -> Result<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(ConvertError::MissingTypeMeta(key))
}

/// `"autoscaling/v2"` -> `("autoscaling", "v2")`; `"v1"` -> `("", "v1")`.
fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// The `apiVersion` of a group and version: `"v1"` for the core group.
fn join_api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    }
}

/// `map[key]` unless absent or null.
fn present<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// Copies `from[from_key]` to `to[to_key]` when present and not null.
fn copy(from: &Map<String, Value>, from_key: &str, to: &mut Map<String, Value>, to_key: &str) {
    if let Some(v) = present(from, from_key) {
        to.insert(to_key.to_owned(), v.clone());
    }
}

#[cfg(test)]
mod tests;
