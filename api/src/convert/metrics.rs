//! Autoscaler metrics and behavior in the forms `autoscaling/v1`'s round-trip annotations use.
//!
//! `v2` describes a metric as an identifier (`metric.name`, `metric.selector`) and a target
//! (`target.type` with `value`, `averageValue` or `averageUtilization`); the annotations keep
//! the older flat form (`metricName`, `targetAverageValue`, `targetAverageUtilization`...), from
//! which the target type is inferred again on the way back. The behavior annotation holds Go's
//! field names (`ScaleUp`, `StabilizationWindowSeconds`), because Kubernetes writes it from its
//! internal type, which has no JSON names.

use serde_json::{Map, Value};

use super::{copy, present};

/// The metric source kinds and the field holding each one's details.
const SOURCES: &[&str] = &[
    "resource",
    "containerResource",
    "pods",
    "object",
    "external",
];

/// A `v2` `MetricSpec` in `v1`'s annotation form.
pub(super) fn spec_to_v1(metric: &Map<String, Value>) -> Map<String, Value> {
    convert_sources(metric, |source, v2| {
        let mut v1 = Map::new();
        let target = object(v2, "target");
        let ident = object(v2, "metric");
        match source {
            "resource" | "containerResource" => {
                copy(v2, "name", &mut v1, "name");
                copy(v2, "container", &mut v1, "container");
                copy(
                    target,
                    "averageUtilization",
                    &mut v1,
                    "targetAverageUtilization",
                );
                copy(target, "averageValue", &mut v1, "targetAverageValue");
            }
            "pods" => {
                identifier_to_v1(ident, &mut v1, "selector");
                copy(target, "averageValue", &mut v1, "targetAverageValue");
            }
            "object" => {
                copy(v2, "describedObject", &mut v1, "target");
                identifier_to_v1(ident, &mut v1, "selector");
                copy(target, "value", &mut v1, "targetValue");
                copy(target, "averageValue", &mut v1, "averageValue");
            }
            _ => {
                identifier_to_v1(ident, &mut v1, "metricSelector");
                copy(target, "value", &mut v1, "targetValue");
                copy(target, "averageValue", &mut v1, "targetAverageValue");
            }
        }
        v1
    })
}

/// A `MetricSpec` in `v1`'s annotation form as `v2` has it, the target type inferred from
/// which values are set.
pub(super) fn spec_to_v2(metric: &Map<String, Value>) -> Map<String, Value> {
    convert_sources(metric, |source, v1| {
        let mut v2 = Map::new();
        let mut target = Map::new();
        let target_type = match source {
            "resource" | "containerResource" => {
                copy(v1, "name", &mut v2, "name");
                copy(v1, "container", &mut v2, "container");
                copy(
                    v1,
                    "targetAverageUtilization",
                    &mut target,
                    "averageUtilization",
                );
                copy(v1, "targetAverageValue", &mut target, "averageValue");
                if target.contains_key("averageUtilization") {
                    "Utilization"
                } else {
                    "AverageValue"
                }
            }
            "pods" => {
                identifier_to_v2(v1, &mut v2, "selector");
                copy(v1, "targetAverageValue", &mut target, "averageValue");
                "AverageValue"
            }
            "object" => {
                copy(v1, "target", &mut v2, "describedObject");
                identifier_to_v2(v1, &mut v2, "selector");
                copy(v1, "targetValue", &mut target, "value");
                copy(v1, "averageValue", &mut target, "averageValue");
                if target.contains_key("averageValue") {
                    "AverageValue"
                } else {
                    "Value"
                }
            }
            _ => {
                identifier_to_v2(v1, &mut v2, "metricSelector");
                copy(v1, "targetValue", &mut target, "value");
                copy(v1, "targetAverageValue", &mut target, "averageValue");
                if target.contains_key("value") {
                    "Value"
                } else {
                    "AverageValue"
                }
            }
        };
        target.insert("type".to_owned(), target_type.into());
        v2.insert("target".to_owned(), Value::Object(target));
        v2
    })
}

/// A `v2` `MetricStatus` in `v1`'s annotation form.
pub(super) fn status_to_v1(metric: &Map<String, Value>) -> Map<String, Value> {
    convert_sources(metric, |source, v2| {
        let mut v1 = Map::new();
        let current = object(v2, "current");
        let ident = object(v2, "metric");
        match source {
            "resource" | "containerResource" => {
                copy(v2, "name", &mut v1, "name");
                copy(v2, "container", &mut v1, "container");
                copy(
                    current,
                    "averageUtilization",
                    &mut v1,
                    "currentAverageUtilization",
                );
                copy(current, "averageValue", &mut v1, "currentAverageValue");
            }
            "pods" => {
                identifier_to_v1(ident, &mut v1, "selector");
                copy(current, "averageValue", &mut v1, "currentAverageValue");
            }
            "object" => {
                copy(v2, "describedObject", &mut v1, "target");
                identifier_to_v1(ident, &mut v1, "selector");
                copy(current, "value", &mut v1, "currentValue");
                copy(current, "averageValue", &mut v1, "averageValue");
            }
            _ => {
                identifier_to_v1(ident, &mut v1, "metricSelector");
                copy(current, "value", &mut v1, "currentValue");
                copy(current, "averageValue", &mut v1, "currentAverageValue");
            }
        }
        v1
    })
}

/// A `MetricStatus` in `v1`'s annotation form as `v2` has it.
pub(super) fn status_to_v2(metric: &Map<String, Value>) -> Map<String, Value> {
    convert_sources(metric, |source, v1| {
        let mut v2 = Map::new();
        let mut current = Map::new();
        match source {
            "resource" | "containerResource" => {
                copy(v1, "name", &mut v2, "name");
                copy(v1, "container", &mut v2, "container");
                copy(
                    v1,
                    "currentAverageUtilization",
                    &mut current,
                    "averageUtilization",
                );
                copy(v1, "currentAverageValue", &mut current, "averageValue");
            }
            "pods" => {
                identifier_to_v2(v1, &mut v2, "selector");
                copy(v1, "currentAverageValue", &mut current, "averageValue");
            }
            "object" => {
                copy(v1, "target", &mut v2, "describedObject");
                identifier_to_v2(v1, &mut v2, "selector");
                copy(v1, "currentValue", &mut current, "value");
                copy(v1, "averageValue", &mut current, "averageValue");
            }
            _ => {
                identifier_to_v2(v1, &mut v2, "metricSelector");
                copy(v1, "currentValue", &mut current, "value");
                copy(v1, "currentAverageValue", &mut current, "averageValue");
            }
        }
        v2.insert("current".to_owned(), Value::Object(current));
        v2
    })
}

/// `metric` with each source's details (`resource`, `pods`...) passed through `f`; `type` and
/// any other field kept as they are.
fn convert_sources(
    metric: &Map<String, Value>,
    f: impl Fn(&str, &Map<String, Value>) -> Map<String, Value>,
) -> Map<String, Value> {
    let mut out = metric.clone();
    for source in SOURCES {
        if let Some(Value::Object(details)) = metric.get(*source) {
            out.insert((*source).to_owned(), Value::Object(f(source, details)));
        }
    }
    out
}

/// `v2`'s `metric: {name, selector}` as `v1`'s `metricName` and `selector_key`.
fn identifier_to_v1(ident: &Map<String, Value>, v1: &mut Map<String, Value>, selector_key: &str) {
    copy(ident, "name", v1, "metricName");
    copy(ident, "selector", v1, selector_key);
}

/// `v1`'s `metricName` and `selector_key` as `v2`'s `metric: {name, selector}`.
fn identifier_to_v2(v1: &Map<String, Value>, v2: &mut Map<String, Value>, selector_key: &str) {
    let mut ident = Map::new();
    copy(v1, "metricName", &mut ident, "name");
    copy(v1, selector_key, &mut ident, "selector");
    v2.insert("metric".to_owned(), Value::Object(ident));
}

/// `map[key]` if it is an object, else an empty map.
fn object<'a>(map: &'a Map<String, Value>, key: &str) -> &'a Map<String, Value> {
    static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
    match map.get(key) {
        Some(Value::Object(m)) => m,
        _ => &EMPTY,
    }
}

/// The fields of scaling rules (`scaleUp`, `scaleDown`), which Go writes as `null` when unset.
const RULES_FIELDS: &[&str] = &[
    "stabilizationWindowSeconds",
    "selectPolicy",
    "policies",
    "tolerance",
];

/// The fields of one scaling policy, which Go always writes.
const POLICY_FIELDS: &[&str] = &["type", "value", "periodSeconds"];

/// `v2`'s `spec.behavior` in the annotation's form: Go's field names, unset pointers as
/// `null`, as kube-apiserver writes it.
pub(super) fn behavior_to_annotation(behavior: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for direction in ["scaleUp", "scaleDown"] {
        let rules = match behavior.get(direction) {
            Some(Value::Object(rules)) => {
                let mut fields = Map::new();
                for field in RULES_FIELDS {
                    let value = match (*field, present(rules, field)) {
                        ("policies", Some(Value::Array(policies))) => {
                            Value::Array(policies.iter().map(policy_to_annotation).collect())
                        }
                        (_, value) => value.cloned().unwrap_or(Value::Null),
                    };
                    fields.insert(go_name(field), value);
                }
                Value::Object(fields)
            }
            _ => Value::Null,
        };
        out.insert(go_name(direction), rules);
    }
    Value::Object(out)
}

/// One scaling policy with Go's field names.
fn policy_to_annotation(policy: &Value) -> Value {
    let Value::Object(policy) = policy else {
        return policy.clone();
    };
    let fields = POLICY_FIELDS
        .iter()
        .filter_map(|f| present(policy, f).map(|v| (go_name(f), v.clone())))
        .collect();
    Value::Object(fields)
}

/// The behavior annotation as `v2`'s `spec.behavior`, reading field names case-insensitively
/// as Go does and leaving out nulls and unknown fields; `None` when it sets nothing.
pub(super) fn behavior_from_annotation(annotation: &Value) -> Option<Value> {
    let Value::Object(behavior) = annotation else {
        return None;
    };
    let mut out = Map::new();
    for direction in ["scaleUp", "scaleDown"] {
        let Some(Value::Object(rules)) = get_ci(behavior, direction) else {
            continue;
        };
        let mut fields = Map::new();
        for field in RULES_FIELDS {
            let value = match (*field, get_ci(rules, field)) {
                (_, None) => continue,
                ("policies", Some(Value::Array(policies))) => {
                    Value::Array(policies.iter().map(policy_from_annotation).collect())
                }
                (_, Some(value)) => value.clone(),
            };
            fields.insert((*field).to_owned(), value);
        }
        out.insert(direction.to_owned(), Value::Object(fields));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// One scaling policy from the annotation, with `v2`'s field names.
fn policy_from_annotation(policy: &Value) -> Value {
    let Value::Object(policy) = policy else {
        return policy.clone();
    };
    let fields = POLICY_FIELDS
        .iter()
        .filter_map(|f| get_ci(policy, f).map(|v| ((*f).to_owned(), v.clone())))
        .collect();
    Value::Object(fields)
}

/// Go's exported field name for a JSON name: the first letter upper-cased.
fn go_name(json_name: &str) -> String {
    let mut chars = json_name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

/// The non-null value of the field named `name` ignoring ASCII case, the exact name first: how
/// Go's JSON decoder matches fields.
fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    present(map, name).or_else(|| {
        map.iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_null())
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use serde_json::{json, Map, Value};

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    /// Each `v2` metric spec with its `v1` annotation form.
    fn spec_pairs() -> Vec<(Value, Value)> {
        vec![
            (
                json!({"type": "Resource", "resource": {"name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "512Mi"}}}),
                json!({"type": "Resource", "resource": {"name": "memory",
                    "targetAverageValue": "512Mi"}}),
            ),
            (
                json!({"type": "ContainerResource", "containerResource": {"name": "cpu",
                    "container": "app",
                    "target": {"type": "Utilization", "averageUtilization": 60}}}),
                json!({"type": "ContainerResource", "containerResource": {"name": "cpu",
                    "container": "app", "targetAverageUtilization": 60}}),
            ),
            (
                json!({"type": "Pods", "pods": {
                    "metric": {"name": "packets-per-second",
                        "selector": {"matchLabels": {"tier": "edge"}}},
                    "target": {"type": "AverageValue", "averageValue": "1k"}}}),
                json!({"type": "Pods", "pods": {"metricName": "packets-per-second",
                    "selector": {"matchLabels": {"tier": "edge"}}, "targetAverageValue": "1k"}}),
            ),
            (
                json!({"type": "Object", "object": {
                    "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                        "name": "main-route"},
                    "metric": {"name": "requests-per-second"},
                    "target": {"type": "Value", "value": "10k"}}}),
                json!({"type": "Object", "object": {
                    "target": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                        "name": "main-route"},
                    "metricName": "requests-per-second", "targetValue": "10k"}}),
            ),
            (
                json!({"type": "Object", "object": {
                    "describedObject": {"kind": "Service", "name": "api"},
                    "metric": {"name": "rps"},
                    "target": {"type": "AverageValue", "averageValue": "100"}}}),
                json!({"type": "Object", "object": {"target": {"kind": "Service", "name": "api"},
                    "metricName": "rps", "averageValue": "100"}}),
            ),
            (
                json!({"type": "External", "external": {
                    "metric": {"name": "queue_messages_ready",
                        "selector": {"matchLabels": {"queue": "worker_tasks"}}},
                    "target": {"type": "AverageValue", "averageValue": "30"}}}),
                json!({"type": "External", "external": {"metricName": "queue_messages_ready",
                    "metricSelector": {"matchLabels": {"queue": "worker_tasks"}},
                    "targetAverageValue": "30"}}),
            ),
            (
                json!({"type": "External", "external": {"metric": {"name": "lag"},
                    "target": {"type": "Value", "value": "5"}}}),
                json!({"type": "External", "external": {"metricName": "lag",
                    "targetValue": "5"}}),
            ),
        ]
    }

    #[test]
    fn metric_specs_both_ways() {
        for (v2, v1) in spec_pairs() {
            assert_eq!(Value::Object(spec_to_v1(&map(v2.clone()))), v1, "{v2}");
            assert_eq!(Value::Object(spec_to_v2(&map(v1.clone()))), v2, "{v1}");
        }
    }

    #[test]
    fn metric_statuses_both_ways() {
        let pairs = [
            (
                json!({"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": 42, "averageValue": "210m"}}}),
                json!({"type": "Resource", "resource": {"name": "cpu",
                    "currentAverageUtilization": 42, "currentAverageValue": "210m"}}),
            ),
            (
                json!({"type": "ContainerResource", "containerResource": {"name": "memory",
                    "container": "app", "current": {"averageValue": "300Mi"}}}),
                json!({"type": "ContainerResource", "containerResource": {"name": "memory",
                    "container": "app", "currentAverageValue": "300Mi"}}),
            ),
            (
                json!({"type": "Pods", "pods": {"metric": {"name": "pps"},
                    "current": {"averageValue": "866"}}}),
                json!({"type": "Pods", "pods": {"metricName": "pps",
                    "currentAverageValue": "866"}}),
            ),
            (
                json!({"type": "Object", "object": {
                    "describedObject": {"kind": "Ingress", "name": "main-route"},
                    "metric": {"name": "rps", "selector": {"matchLabels": {"a": "b"}}},
                    "current": {"value": "8k", "averageValue": "2k"}}}),
                json!({"type": "Object", "object": {
                    "target": {"kind": "Ingress", "name": "main-route"}, "metricName": "rps",
                    "selector": {"matchLabels": {"a": "b"}},
                    "currentValue": "8k", "averageValue": "2k"}}),
            ),
            (
                json!({"type": "External", "external": {"metric": {"name": "lag",
                    "selector": {"matchLabels": {"topic": "orders"}}},
                    "current": {"value": "12"}}}),
                json!({"type": "External", "external": {"metricName": "lag",
                    "metricSelector": {"matchLabels": {"topic": "orders"}},
                    "currentValue": "12"}}),
            ),
        ];
        for (v2, v1) in pairs {
            assert_eq!(Value::Object(status_to_v1(&map(v2.clone()))), v1, "{v2}");
            assert_eq!(Value::Object(status_to_v2(&map(v1.clone()))), v2, "{v1}");
        }
    }

    #[test]
    fn zero_values_written_by_kubernetes_are_read_back_as_kubernetes_reads_them() {
        // Kubernetes always writes v1's non-optional quantities, "0" when unset.
        let v1 = json!({"type": "Object", "object": {"target": {"kind": "Service", "name": "api"},
            "metricName": "rps", "targetValue": "0", "averageValue": "100"}});
        assert_eq!(
            Value::Object(spec_to_v2(&map(v1))),
            json!({"type": "Object", "object": {
                "describedObject": {"kind": "Service", "name": "api"},
                "metric": {"name": "rps"},
                "target": {"type": "AverageValue", "value": "0", "averageValue": "100"}}})
        );
    }

    #[test]
    fn behavior_uses_go_field_names() {
        let behavior = json!({
            "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15}]},
            "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Min",
                "tolerance": "50m",
                "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}]}});
        let annotation = behavior_to_annotation(&map(behavior.clone()));
        assert_eq!(
            annotation,
            json!({
                "ScaleUp": {"StabilizationWindowSeconds": 0, "SelectPolicy": "Max",
                    "Tolerance": null, "Policies": [
                    {"Type": "Pods", "Value": 4, "PeriodSeconds": 15},
                    {"Type": "Percent", "Value": 100, "PeriodSeconds": 15}]},
                "ScaleDown": {"StabilizationWindowSeconds": 300, "SelectPolicy": "Min",
                    "Tolerance": "50m",
                    "Policies": [{"Type": "Percent", "Value": 10, "PeriodSeconds": 60}]}})
        );
        assert_eq!(behavior_from_annotation(&annotation), Some(behavior));
    }

    #[test]
    fn behavior_with_one_direction() {
        let behavior = json!({"scaleDown": {"stabilizationWindowSeconds": 60}});
        let annotation = behavior_to_annotation(&map(behavior.clone()));
        assert_eq!(
            annotation,
            json!({"ScaleUp": null, "ScaleDown": {"StabilizationWindowSeconds": 60,
                "SelectPolicy": null, "Policies": null, "Tolerance": null}})
        );
        assert_eq!(behavior_from_annotation(&annotation), Some(behavior));
    }

    #[test]
    fn behavior_annotation_is_read_case_insensitively() {
        let annotation = json!({"scaleup": {"selectpolicy": "Disabled", "Unknown": 1},
            "SCALEDOWN": {"Policies": [{"type": "Pods", "VALUE": 1, "periodseconds": 30}]}});
        assert_eq!(
            behavior_from_annotation(&annotation),
            Some(json!({"scaleUp": {"selectPolicy": "Disabled"},
                "scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}]}}))
        );
    }

    #[test]
    fn empty_behavior_annotation_sets_nothing() {
        assert_eq!(behavior_from_annotation(&json!({})), None);
        assert_eq!(
            behavior_from_annotation(&json!({"ScaleUp": null, "ScaleDown": null})),
            None
        );
        assert_eq!(behavior_from_annotation(&json!([1, 2])), None);
    }
}
