//! HorizontalPodAutoscaler defaults: minimum replicas, the CPU metric, scaling behavior.

use serde_json::{json, Value};

use super::{child, set};

/// The CPU utilization target when an autoscaler names no metric.
pub const DEFAULT_CPU_UTILIZATION: i64 = 80;

/// Defaults an autoscaler. `autoscaling/v2` gets the default CPU metric and, when `behavior`
/// is given, its missing rules; `v1` only `minReplicas`.
pub(crate) fn default_hpa(version: &str, obj: &mut Value) {
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    set(spec, "minReplicas", 1.into());
    if version == "v1" {
        return;
    }
    let no_metrics = spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if no_metrics {
        spec["metrics"] = json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]);
    }
    if let Some(behavior) = child(spec, "behavior") {
        let up = json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15}]});
        let down = json!({"selectPolicy": "Max", "policies": [
            {"type": "Percent", "value": 100, "periodSeconds": 15}]});
        for (direction, defaults) in [("scaleUp", up), ("scaleDown", down)] {
            let rules = behavior
                .get_mut(direction)
                .filter(|r| r.is_object())
                .map(std::mem::take);
            let mut merged = defaults;
            if let Some(Value::Object(given)) = rules {
                for (k, v) in given {
                    if !v.is_null() {
                        merged[k] = v;
                    }
                }
            }
            behavior[direction] = merged;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::apply_defaults;

    #[test]
    fn v2_defaults() {
        let mut hpa = json!({"spec": {"maxReplicas": 5,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}});
        apply_defaults("autoscaling", "v2", "HorizontalPodAutoscaler", &mut hpa);
        assert_eq!(
            hpa,
            json!({"spec": {"maxReplicas": 5, "minReplicas": 1,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80}}}]}})
        );
    }

    #[test]
    fn behavior_is_completed() {
        let mut hpa = json!({"spec": {"maxReplicas": 5, "metrics": [{"type": "Pods"}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}});
        apply_defaults("autoscaling", "v2", "HorizontalPodAutoscaler", &mut hpa);
        assert_eq!(
            hpa["spec"]["behavior"],
            json!({
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]}})
        );
        assert_eq!(hpa["spec"]["metrics"], json!([{"type": "Pods"}]));
        let mut v1 = json!({"spec": {"maxReplicas": 3}});
        apply_defaults("autoscaling", "v1", "HorizontalPodAutoscaler", &mut v1);
        assert_eq!(v1, json!({"spec": {"maxReplicas": 3, "minReplicas": 1}}));
    }
}
