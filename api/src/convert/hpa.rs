//! HorizontalPodAutoscaler conversion between `autoscaling/v2` and `autoscaling/v1`.

use serde_json::{json, Map, Value};

use super::{gojson, metrics};

/// Holds the `v2` metrics other than the CPU utilization target, in `v1`'s metric form.
pub const METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
/// Holds all of `v2`'s `status.currentMetrics`, in `v1`'s metric form.
pub const CURRENT_METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
/// Holds `v2`'s `status.conditions`.
pub const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
/// Holds `v2`'s `spec.behavior`, with Go's field names.
pub const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";

/// The CPU utilization target a `v1` autoscaler without one (and without other metrics) gets
/// in `v2`.
pub const DEFAULT_CPU_UTILIZATION: i64 = 80;

/// Every round-trip annotation.
const ROUND_TRIP: [&str; 4] = [
    METRICS_ANNOTATION,
    CURRENT_METRICS_ANNOTATION,
    CONDITIONS_ANNOTATION,
    BEHAVIOR_ANNOTATION,
];

/// A `v2` autoscaler as `v1` (without `apiVersion`, set by the caller).
pub(super) fn to_v1(v2: &Map<String, Value>) -> Map<String, Value> {
    let mut out = v2.clone();
    // Only the annotations this conversion writes may be there, never stale ones.
    take_round_trip_annotations(&mut out);
    let mut annotations: Vec<(&str, Value)> = Vec::new();

    if let Some(Value::Object(spec)) = out.get_mut("spec") {
        let metrics = take_array(spec, "metrics");
        let target = metrics.iter().find_map(cpu_target_utilization);
        if let Some(target) = target {
            spec.insert("targetCPUUtilizationPercentage".to_owned(), target.clone());
        }
        let others: Vec<Value> = metrics
            .iter()
            .filter(|m| cpu_target_utilization(m).is_none())
            .map(|m| map_object(m, metrics::spec_to_v1))
            .collect();
        if !others.is_empty() {
            annotations.push((METRICS_ANNOTATION, Value::Array(others)));
        }
        if let Some(Value::Object(behavior)) = spec.remove("behavior") {
            let encoded = metrics::behavior_to_annotation(&behavior);
            annotations.push((BEHAVIOR_ANNOTATION, encoded));
        }
    }

    if let Some(Value::Object(status)) = out.get_mut("status") {
        let current = take_array(status, "currentMetrics");
        // The last CPU utilization wins, as in Kubernetes.
        if let Some(cpu) = current.iter().rev().find_map(cpu_current_utilization) {
            status.insert("currentCPUUtilizationPercentage".to_owned(), cpu.clone());
        }
        if !current.is_empty() {
            let current = current
                .iter()
                .map(|m| map_object(m, metrics::status_to_v1))
                .collect();
            annotations.push((CURRENT_METRICS_ANNOTATION, Value::Array(current)));
        }
        let conditions = take_array(status, "conditions");
        if !conditions.is_empty() {
            annotations.push((CONDITIONS_ANNOTATION, Value::Array(conditions)));
        }
    }

    if !annotations.is_empty() {
        let mut metadata = take_object(&mut out, "metadata");
        let mut target = take_object(&mut metadata, "annotations");
        for (key, value) in annotations {
            target.insert(key.to_owned(), gojson::to_string(&value).into());
        }
        metadata.insert("annotations".to_owned(), Value::Object(target));
        out.insert("metadata".to_owned(), Value::Object(metadata));
    }
    out
}

/// A `v2` autoscaler without the round-trip annotations, which `v2` never carries.
pub(super) fn v2_to_v2(v2: &Map<String, Value>) -> Map<String, Value> {
    let mut out = v2.clone();
    take_round_trip_annotations(&mut out);
    out
}

/// A `v1` autoscaler as `v2` (without `apiVersion`, set by the caller).
pub(super) fn to_v2(v1: &Map<String, Value>) -> Map<String, Value> {
    let mut out = v1.clone();
    let annotations = take_round_trip_annotations(&mut out);
    let parsed = |key: &str| {
        annotations
            .get(key)
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
    };

    let mut spec = take_object(&mut out, "spec");
    let mut metrics: Vec<Value> = match parsed(METRICS_ANNOTATION) {
        Some(Value::Array(others)) => others
            .iter()
            .map(|m| map_object(m, metrics::spec_to_v2))
            .collect(),
        _ => Vec::new(),
    };
    let target = spec
        .remove("targetCPUUtilizationPercentage")
        .filter(|t| !t.is_null());
    if let Some(target) = target {
        metrics.push(cpu_utilization_metric(target));
    } else if metrics.is_empty() {
        metrics.push(cpu_utilization_metric(DEFAULT_CPU_UTILIZATION.into()));
    }
    spec.insert("metrics".to_owned(), Value::Array(metrics));
    if let Some(behavior) = parsed(BEHAVIOR_ANNOTATION)
        .as_ref()
        .and_then(metrics::behavior_from_annotation)
    {
        spec.insert("behavior".to_owned(), behavior);
    }
    out.insert("spec".to_owned(), Value::Object(spec));

    let current_metrics = match parsed(CURRENT_METRICS_ANNOTATION) {
        Some(Value::Array(current)) => Some(
            current
                .iter()
                .map(|m| map_object(m, metrics::status_to_v2))
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    let conditions = match parsed(CONDITIONS_ANNOTATION) {
        Some(Value::Array(conditions)) => Some(conditions),
        _ => None,
    };
    let has_status = out.get("status").is_some_and(Value::is_object);
    if has_status || current_metrics.is_some() || conditions.is_some() {
        let mut status = take_object(&mut out, "status");
        let cpu = status
            .remove("currentCPUUtilizationPercentage")
            .filter(|c| !c.is_null());
        // The annotation has every metric, CPU included, with more detail than v1's field.
        let current = current_metrics.or_else(|| {
            cpu.map(|cpu| {
                vec![json!({"type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": cpu}}})]
            })
        });
        if let Some(current) = current.filter(|c| !c.is_empty()) {
            status.insert("currentMetrics".to_owned(), Value::Array(current));
        }
        if let Some(conditions) = conditions.filter(|c| !c.is_empty()) {
            status.insert("conditions".to_owned(), Value::Array(conditions));
        }
        out.insert("status".to_owned(), Value::Object(status));
    }
    out
}

/// A `v2` CPU `Resource` metric targeting `utilization` percent.
fn cpu_utilization_metric(utilization: Value) -> Value {
    json!({"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": utilization}}})
}

/// The `averageUtilization` of a `v2` CPU `Resource` metric spec that has one.
fn cpu_target_utilization(metric: &Value) -> Option<&Value> {
    cpu_resource(metric)?
        .get("target")?
        .get("averageUtilization")
        .filter(|u| !u.is_null())
}

/// The current `averageUtilization` of a `v2` CPU `Resource` metric status that has one.
fn cpu_current_utilization(metric: &Value) -> Option<&Value> {
    cpu_resource(metric)?
        .get("current")?
        .get("averageUtilization")
        .filter(|u| !u.is_null())
}

/// The `resource` of a `Resource` metric about `cpu`.
fn cpu_resource(metric: &Value) -> Option<&Value> {
    if metric.get("type")?.as_str()? != "Resource" {
        return None;
    }
    let resource = metric.get("resource")?;
    (resource.get("name")?.as_str()? == "cpu").then_some(resource)
}

/// `f` applied to `value` when it is an object; anything else kept as it is.
fn map_object(value: &Value, f: fn(&Map<String, Value>) -> Map<String, Value>) -> Value {
    match value {
        Value::Object(m) => Value::Object(f(m)),
        other => other.clone(),
    }
}

/// Removes `map[key]` and returns its elements (none unless it is an array).
fn take_array(map: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match map.remove(key) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// Removes the round-trip annotations from `obj`, returning the string ones by key. Drops
/// `metadata.annotations` when that leaves it empty, as Go leaves out an empty map.
fn take_round_trip_annotations(obj: &mut Map<String, Value>) -> Map<String, Value> {
    let mut taken = Map::new();
    let Some(Value::Object(metadata)) = obj.get_mut("metadata") else {
        return taken;
    };
    let Some(Value::Object(annotations)) = metadata.get_mut("annotations") else {
        return taken;
    };
    let mut removed = false;
    for key in ROUND_TRIP {
        if let Some(value) = annotations.remove(key) {
            removed = true;
            if let Value::String(text) = value {
                taken.insert(key.to_owned(), text.into());
            }
        }
    }
    if removed && annotations.is_empty() {
        metadata.remove("annotations");
    }
    taken
}

/// Removes `map[key]`, returning it if it was an object and an empty map otherwise.
fn take_object(map: &mut Map<String, Value>, key: &str) -> Map<String, Value> {
    match map.remove(key) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}
