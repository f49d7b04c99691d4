//! JSON text as Go's encoder writes the round-trip annotations: fields in struct order.
//!
//! kube-apiserver writes the annotation values with Go's `encoding/json`, which orders an
//! object's fields as its struct declares them and escapes `<`, `>`, `&`, U+2028 and U+2029.
//! Writing them the same way makes rkube's annotations read exactly like Kubernetes' ones.

use serde_json::Value;

/// Every field the annotations hold, in an order consistent with each Go struct's declaration
/// order (conditions, metric specs and statuses with their sources, object references, label
/// selectors, and the behavior's Go-named fields).
const FIELD_ORDER: &[&str] = &[
    "type",
    "status",
    "lastTransitionTime",
    "reason",
    "message",
    "object",
    "pods",
    "resource",
    "containerResource",
    "external",
    "target",
    "kind",
    "name",
    "apiVersion",
    "metricName",
    "metricSelector",
    "targetValue",
    "targetAverageUtilization",
    "targetAverageValue",
    "currentValue",
    "currentAverageUtilization",
    "currentAverageValue",
    "selector",
    "averageValue",
    "container",
    "matchLabels",
    "matchExpressions",
    "key",
    "operator",
    "values",
    "ScaleUp",
    "ScaleDown",
    "StabilizationWindowSeconds",
    "SelectPolicy",
    "Policies",
    "Tolerance",
    "Type",
    "Value",
    "PeriodSeconds",
];

/// `value` as compact JSON text with known fields in Go's order; other fields (map keys such as
/// `matchLabels`' labels) follow, sorted, as Go sorts map keys.
pub(super) fn to_string(value: &Value) -> String {
    crate::gojson::to_string(value, &rank)
}

/// A field's place in [`FIELD_ORDER`]; unknown fields after all known ones.
fn rank(key: &str) -> usize {
    FIELD_ORDER
        .iter()
        .position(|f| *f == key)
        .unwrap_or(FIELD_ORDER.len())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::to_string;

    #[test]
    fn fields_in_go_struct_order() {
        let metrics = json!([
            {"resource": {"targetAverageValue": "512Mi", "name": "memory"}, "type": "Resource"},
            {"type": "Object", "object": {"averageValue": "1", "selector": {"matchLabels":
                {"z": "1", "a": "2"}}, "targetValue": "0", "metricName": "rps",
                "target": {"apiVersion": "v1", "name": "api", "kind": "Service"}}}
        ]);
        assert_eq!(
            to_string(&metrics),
            r#"[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"512Mi"}},{"type":"Object","object":{"target":{"kind":"Service","name":"api","apiVersion":"v1"},"metricName":"rps","targetValue":"0","selector":{"matchLabels":{"a":"2","z":"1"}},"averageValue":"1"}}]"#
        );
    }

    #[test]
    fn conditions_and_behavior() {
        let conditions = json!([{"message": "m", "reason": "R", "status": "True",
            "type": "AbleToScale", "lastTransitionTime": "2026-11-23T08:00:30Z"}]);
        assert_eq!(
            to_string(&conditions),
            r#"[{"type":"AbleToScale","status":"True","lastTransitionTime":"2026-11-23T08:00:30Z","reason":"R","message":"m"}]"#
        );
        let behavior = json!({"ScaleDown": null, "ScaleUp": {"Tolerance": null,
            "Policies": [{"PeriodSeconds": 15, "Value": 4, "Type": "Pods"}],
            "SelectPolicy": "Max", "StabilizationWindowSeconds": 0}});
        assert_eq!(
            to_string(&behavior),
            r#"{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":4,"PeriodSeconds":15}],"Tolerance":null},"ScaleDown":null}"#
        );
    }

    #[test]
    fn html_characters_escaped_as_go_does() {
        assert_eq!(
            to_string(&json!({"message": "a<b>&\"c\"\n\u{2028}"})),
            r#"{"message":"a\u003cb\u003e\u0026\"c\"\n\u2028"}"#
        );
    }
}
