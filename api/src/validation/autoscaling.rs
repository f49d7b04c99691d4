//! HorizontalPodAutoscalers (`autoscaling/v2` form; `v1`'s CPU target is checked as its metric).

use serde_json::Value;

use super::rules::{self, child, get, index, int_of, list_of, push_invalid, str_of, sub};
use super::FieldError;
use crate::Quantity;

/// Metric source types, sorted as Kubernetes lists them.
const METRIC_TYPES: &[&str] = &[
    "ContainerResource",
    "External",
    "Object",
    "Pods",
    "Resource",
];
/// Metric source fields, in the order Kubernetes looks at them.
const SOURCES: &[&str] = &[
    "object",
    "external",
    "pods",
    "resource",
    "containerResource",
];
const MAX_PERIOD_SECONDS: i64 = 1800;
const MAX_STABILIZATION_WINDOW_SECONDS: i64 = 3600;

/// Validates a HorizontalPodAutoscaler.
pub(crate) fn validate_hpa(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    let min = int_of(spec, "minReplicas");
    if let Some(m) = min.filter(|m| *m < 1) {
        errs.push(FieldError::invalid(
            "spec.minReplicas",
            m,
            "must be greater than or equal to 1",
        ));
    }
    let max = int_of(spec, "maxReplicas").unwrap_or(0);
    if max < 1 {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than 0",
        ));
    }
    if min.is_some_and(|m| max < m) {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    validate_object_reference(sub(spec, "scaleTargetRef"), "spec.scaleTargetRef", errs);
    if let Some(cpu) = int_of(spec, "targetCPUUtilizationPercentage").filter(|c| *c < 1) {
        errs.push(FieldError::invalid(
            "spec.targetCPUUtilizationPercentage",
            cpu,
            "must be greater than 0",
        ));
    }
    for (i, metric) in list_of(spec, "metrics").iter().enumerate() {
        validate_metric(metric, &index("spec.metrics", i), errs);
    }
    if let Some(behavior) = get(spec, "behavior") {
        for direction in ["scaleUp", "scaleDown"] {
            if let Some(rules) = get(behavior, direction) {
                validate_scaling_rules(rules, &child("spec.behavior", direction), errs);
            }
        }
    }
}

fn validate_metric(metric: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let kind = str_of(metric, "type");
    let type_path = child(path, "type");
    if kind.is_empty() {
        errs.push(FieldError::required(
            &type_path,
            "must specify a metric source type",
        ));
    }
    if !METRIC_TYPES.contains(&kind) {
        errs.push(FieldError::not_supported(&type_path, kind, METRIC_TYPES));
    }
    let present: Vec<&str> = SOURCES
        .iter()
        .copied()
        .filter(|s| get(metric, s).is_some())
        .collect();
    if let Some(first) = present.first() {
        let src = sub(metric, first);
        let p = child(path, first);
        match *first {
            "object" => validate_object_source(src, &p, errs),
            "external" => validate_external_source(src, &p, errs),
            "pods" => validate_pods_source(src, &p, errs),
            "resource" => validate_resource_source(src, &p, false, errs),
            _ => validate_resource_source(src, &p, true, errs),
        }
    }
    let expected = SOURCES.iter().copied().find(|s| {
        let (head, tail) = s.split_at(1);
        format!("{}{tail}", head.to_uppercase()) == kind
    });
    match expected {
        Some(field) if get(metric, field).is_none() => errs.push(FieldError::required(
            &child(path, field),
            "must populate information for the given metric source",
        )),
        Some(_) => {}
        None => errs.push(FieldError::not_supported(&type_path, kind, METRIC_TYPES)),
    }
    if present.len() != 1 {
        let mut extra: Vec<&str> = present
            .into_iter()
            .filter(|s| Some(*s) != expected)
            .collect();
        extra.sort_unstable();
        for s in extra {
            errs.push(FieldError::forbidden(
                &child(path, s),
                "must populate the given metric source only",
            ));
        }
    }
}

fn validate_metric_name(src: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let name = str_of(sub(src, "metric"), "name");
    let p = child(&child(path, "metric"), "name");
    if name.is_empty() {
        errs.push(FieldError::required(&p, "must specify a metric name"));
    } else {
        push_invalid(errs, &p, name, rules::path_segment(name, false));
    }
}

fn validate_object_source(src: &Value, path: &str, errs: &mut Vec<FieldError>) {
    validate_object_reference(
        sub(src, "describedObject"),
        &child(path, "describedObject"),
        errs,
    );
    validate_metric_name(src, path, errs);
    let t = sub(src, "target");
    let tp = child(path, "target");
    validate_target(t, &tp, errs);
    if get(t, "value").is_none() && get(t, "averageValue").is_none() {
        errs.push(FieldError::required(
            &child(&tp, "averageValue"),
            "must set either a target value or averageValue",
        ));
    }
}

fn validate_external_source(src: &Value, path: &str, errs: &mut Vec<FieldError>) {
    validate_metric_name(src, path, errs);
    let t = sub(src, "target");
    let tp = child(path, "target");
    validate_target(t, &tp, errs);
    let value = get(t, "value").is_some();
    let average = get(t, "averageValue").is_some();
    if !value && !average {
        errs.push(FieldError::required(
            &child(&tp, "averageValue"),
            "must set either a target value for metric or a per-pod target",
        ));
    }
    if value && average {
        errs.push(FieldError::forbidden(
            &child(&tp, "value"),
            "may not set both a target value for metric and a per-pod target",
        ));
    }
}

fn validate_pods_source(src: &Value, path: &str, errs: &mut Vec<FieldError>) {
    validate_metric_name(src, path, errs);
    let t = sub(src, "target");
    let tp = child(path, "target");
    validate_target(t, &tp, errs);
    if get(t, "averageValue").is_none() {
        errs.push(FieldError::required(
            &child(&tp, "averageValue"),
            "must specify a positive target averageValue",
        ));
    }
}

fn validate_resource_source(src: &Value, path: &str, container: bool, errs: &mut Vec<FieldError>) {
    if str_of(src, "name").is_empty() {
        errs.push(FieldError::required(
            &child(path, "name"),
            "must specify a resource name",
        ));
    }
    if container {
        let c = str_of(src, "container");
        if c.is_empty() {
            errs.push(FieldError::required(
                &child(path, "container"),
                "must specify a container",
            ));
        } else {
            push_invalid(errs, &child(path, "container"), c, rules::dns1123_label(c));
        }
    }
    let t = sub(src, "target");
    let tp = child(path, "target");
    validate_target(t, &tp, errs);
    let util = get(t, "averageUtilization").is_some();
    let avg = get(t, "averageValue").is_some();
    if !util && !avg {
        errs.push(FieldError::required(
            &child(&tp, "averageUtilization"),
            "must set either a target raw value or a target utilization",
        ));
    }
    if util && avg {
        errs.push(FieldError::forbidden(
            &child(&tp, "averageValue"),
            "may not set both a target raw value and a target utilization",
        ));
    }
}

/// A reference to another object by kind and name (scale targets, described objects).
fn validate_object_reference(r: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for field in ["kind", "name"] {
        let v = str_of(r, field);
        let p = child(path, field);
        if v.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else {
            push_invalid(errs, &p, v, rules::path_segment(v, false));
        }
    }
}

fn validate_target(t: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let kind = str_of(t, "type");
    if kind.is_empty() {
        errs.push(FieldError::required(
            &child(path, "type"),
            "must specify a metric target type",
        ));
    }
    if !matches!(kind, "Utilization" | "Value" | "AverageValue") {
        errs.push(FieldError::invalid(
            &child(path, "type"),
            kind,
            "must be either Utilization, Value, or AverageValue",
        ));
    }
    if ["averageUtilization", "averageValue", "value"]
        .iter()
        .all(|f| get(t, f).is_none())
    {
        // Kubernetes' own (odd) field path for this rule.
        errs.push(FieldError::invalid(
            &child(path, " utilization, value and averageValue"),
            kind,
            "at least one not nil",
        ));
    }
    for field in ["value", "averageValue"] {
        if let Some(v) = get(t, field) {
            let text = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            let positive = Quantity::parse(&text).is_ok_and(|q| q > Quantity::default());
            if !positive {
                errs.push(FieldError::invalid(
                    &child(path, field),
                    text.as_str(),
                    "must be positive",
                ));
            }
        }
    }
    if let Some(u) = int_of(t, "averageUtilization").filter(|u| *u < 1) {
        errs.push(FieldError::invalid(
            &child(path, "averageUtilization"),
            u,
            "must be greater than 0",
        ));
    }
}

fn validate_scaling_rules(r: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let window_path = child(path, "stabilizationWindowSeconds");
    if let Some(w) = int_of(r, "stabilizationWindowSeconds") {
        if w < 0 {
            errs.push(FieldError::invalid(
                &window_path,
                w,
                "must be greater than or equal to zero",
            ));
        }
        if w > MAX_STABILIZATION_WINDOW_SECONDS {
            errs.push(FieldError::invalid(
                &window_path,
                w,
                "must be less than or equal to 3600",
            ));
        }
    }
    if let Some(p) = r.get("selectPolicy").and_then(Value::as_str) {
        if !matches!(p, "Max" | "Min" | "Disabled") {
            errs.push(FieldError::not_supported(
                &child(path, "selectPolicy"),
                p,
                &["Disabled", "Max", "Min"],
            ));
        }
    }
    let policies_path = child(path, "policies");
    let policies = list_of(r, "policies");
    if policies.is_empty() {
        errs.push(FieldError::required(
            &policies_path,
            "must specify at least one Policy",
        ));
    }
    for (i, policy) in policies.iter().enumerate() {
        let p = index(&policies_path, i);
        let kind = str_of(policy, "type");
        if kind != "Pods" && kind != "Percent" {
            errs.push(FieldError::not_supported(
                &child(&p, "type"),
                kind,
                &["Percent", "Pods"],
            ));
        }
        let value = int_of(policy, "value").unwrap_or(0);
        if value <= 0 {
            errs.push(FieldError::invalid(
                &child(&p, "value"),
                value,
                "must be greater than zero",
            ));
        }
        let period = int_of(policy, "periodSeconds").unwrap_or(0);
        if period <= 0 {
            errs.push(FieldError::invalid(
                &child(&p, "periodSeconds"),
                period,
                "must be greater than zero",
            ));
        }
        if period > MAX_PERIOD_SECONDS {
            errs.push(FieldError::invalid(
                &child(&p, "periodSeconds"),
                period,
                "must be less than or equal to 1800",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::validate;

    fn messages(spec: serde_json::Value) -> Vec<String> {
        let hpa = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec});
        validate("autoscaling", "HorizontalPodAutoscaler", &hpa, None)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn replicas_and_target() {
        assert_eq!(
            messages(json!({"minReplicas": 5, "maxReplicas": 2,
                "scaleTargetRef": {"kind": "Deployment", "name": "web"}})),
            ["spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"]
        );
        assert_eq!(
            messages(
                json!({"minReplicas": 0, "maxReplicas": 0, "scaleTargetRef": {"kind": "Deployment"}})
            ),
            [
                "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                "spec.maxReplicas: Invalid value: 0: must be greater than 0",
                "spec.scaleTargetRef.name: Required value",
            ]
        );
    }

    #[test]
    fn metric_types() {
        let got = messages(json!({"minReplicas": 1, "maxReplicas": 3,
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "metrics": [{"type": "Memory"}]}));
        assert_eq!(
            got,
            [
                "spec.metrics[0].type: Unsupported value: \"Memory\": supported values: \"ContainerResource\", \"External\", \"Object\", \"Pods\", \"Resource\"",
                "spec.metrics[0].type: Unsupported value: \"Memory\": supported values: \"ContainerResource\", \"External\", \"Object\", \"Pods\", \"Resource\"",
            ]
        );
    }

    #[test]
    fn metrics_and_behavior() {
        assert_eq!(
            messages(json!({"minReplicas": 1, "maxReplicas": 3,
                "scaleTargetRef": {"kind": "Deployment", "name": "web"},
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 0}}},
                    {"type": "Resource", "pods": {}},
                ],
                "behavior": {"scaleUp": {"selectPolicy": "Most", "policies": [{"type": "Pods", "value": 0, "periodSeconds": 4000}]},
                             "scaleDown": {"stabilizationWindowSeconds": 4000}}})),
            [
                "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0",
                "spec.metrics[1].pods.metric.name: Required value: must specify a metric name",
                "spec.metrics[1].pods.target.type: Required value: must specify a metric target type",
                "spec.metrics[1].pods.target.type: Invalid value: \"\": must be either Utilization, Value, or AverageValue",
                "spec.metrics[1].pods.target. utilization, value and averageValue: Invalid value: \"\": at least one not nil",
                "spec.metrics[1].pods.target.averageValue: Required value: must specify a positive target averageValue",
                "spec.metrics[1].resource: Required value: must populate information for the given metric source",
                "spec.behavior.scaleUp.selectPolicy: Unsupported value: \"Most\": supported values: \"Disabled\", \"Max\", \"Min\"",
                "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
                "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 4000: must be less than or equal to 1800",
                "spec.behavior.scaleDown.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600",
                "spec.behavior.scaleDown.policies: Required value: must specify at least one Policy",
            ]
        );
    }
}
