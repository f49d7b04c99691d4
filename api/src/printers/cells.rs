//! Reading fields out of JSON objects and the formatting helpers several printers share.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::labels::{ExpressionOperator, LabelSelector, LabelSelectorRequirement, Selector};
use crate::Quantity;

/// The value at `path` (object keys), if every step exists.
pub(super) fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, key| v.get(key))
}

/// The string at `path`, or `""` (Go's zero value) when missing or not a string.
pub(super) fn str_at<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    at(obj, path).and_then(Value::as_str).unwrap_or("")
}

/// The string at `path` if present and a string.
pub(super) fn opt_str<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(obj, path).and_then(Value::as_str)
}

/// The integer at `path`, or 0 (Go's zero value).
pub(super) fn int_at(obj: &Value, path: &[&str]) -> i64 {
    opt_int(obj, path).unwrap_or(0)
}

/// The integer at `path` if present and an integer.
pub(super) fn opt_int(obj: &Value, path: &[&str]) -> Option<i64> {
    at(obj, path).and_then(Value::as_i64)
}

/// The boolean at `path`, if present.
pub(super) fn opt_bool(obj: &Value, path: &[&str]) -> Option<bool> {
    at(obj, path).and_then(Value::as_bool)
}

/// The array at `path`, or an empty slice.
pub(super) fn arr_at<'a>(obj: &'a Value, path: &[&str]) -> &'a [Value] {
    at(obj, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The length of the array at `path`, as an integer cell.
pub(super) fn array_len(obj: &Value, path: &[&str]) -> Value {
    Value::from(i64::try_from(arr_at(obj, path).len()).unwrap_or(i64::MAX))
}

/// How many entries the object (map) at `path` has; 0 when missing.
pub(super) fn map_len(obj: &Value, path: &[&str]) -> i64 {
    at(obj, path)
        .and_then(Value::as_object)
        .map_or(0, |m| i64::try_from(m.len()).unwrap_or(i64::MAX))
}

/// The string-valued map at `path` (labels, selectors), skipping non-string values.
pub(super) fn string_map(obj: &Value, path: &[&str]) -> BTreeMap<String, String> {
    at(obj, path)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.name`.
pub(super) fn name(obj: &Value) -> &str {
    str_at(obj, &["metadata", "name"])
}

/// The AGE cell: time since `metadata.creationTimestamp`.
pub(super) fn age(obj: &Value, now: i64) -> Value {
    Value::from(super::time::age(
        opt_str(obj, &["metadata", "creationTimestamp"]),
        now,
    ))
}

/// Whether `metadata.deletionTimestamp` is set.
pub(super) fn deleting(obj: &Value) -> bool {
    at(obj, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null())
}

/// A label map as `a=1,b=2` (sorted), or `<none>` when empty (Kubernetes' `FormatLabels`).
pub(super) fn format_labels(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "<none>".to_owned();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads a structured label selector (`matchLabels`, `matchExpressions`). `Err(())` when it
/// cannot be converted (unknown operator, bad key or value).
fn selector_of(v: &Value) -> Result<Selector, ()> {
    let mut structured = LabelSelector {
        match_labels: string_map(v, &["matchLabels"]),
        match_expressions: Vec::new(),
    };
    for e in arr_at(v, &["matchExpressions"]) {
        let operator: ExpressionOperator = str_at(e, &["operator"]).parse().map_err(|_| ())?;
        structured.match_expressions.push(LabelSelectorRequirement {
            key: str_at(e, &["key"]).to_owned(),
            operator,
            values: arr_at(e, &["values"])
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
        });
    }
    Selector::try_from(&structured).map_err(|_| ())
}

/// A structured selector in selector syntax, `<none>` when it selects nothing or everything
/// and `<error>` when invalid (Kubernetes' `FormatLabelSelector`).
pub(super) fn format_label_selector(v: Option<&Value>) -> String {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return "<none>".to_owned();
    };
    match selector_of(v) {
        Ok(s) if s.is_empty() => "<none>".to_owned(),
        Ok(s) => s.to_string(),
        Err(()) => "<error>".to_owned(),
    }
}

/// A structured selector in selector syntax, `""` when empty or missing, `<invalid>` when
/// invalid (what the Deployment printer shows).
pub(super) fn selector_string(v: Option<&Value>) -> String {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return String::new();
    };
    match selector_of(v) {
        Ok(s) => s.to_string(),
        Err(()) => "<invalid>".to_owned(),
    }
}

/// The CONTAINERS and IMAGES cells of a pod spec: names and images joined by commas.
pub(super) fn container_cells(pod_spec: Option<&Value>) -> (Value, Value) {
    let containers = pod_spec.map_or(&[][..], |s| arr_at(s, &["containers"]));
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (Value::from(names.join(",")), Value::from(images.join(",")))
}

/// A quantity in canonical form (`1Gi`, `500m`); the input unchanged if it does not parse, and
/// `0` when missing (Go prints a zero quantity so).
pub(super) fn quantity(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => Quantity::parse(s).map_or_else(|_| s.clone(), |q| q.to_string()),
        Some(Value::Number(n)) => {
            Quantity::parse(&n.to_string()).map_or_else(|_| n.to_string(), |q| q.to_string())
        }
        _ => "0".to_owned(),
    }
}

/// Up to `max` items joined by `,`, then ` + N more...`; `<unset>` when there are none
/// (Kubernetes' `listWithMoreString`).
pub(super) fn list_with_more(items: &[String], max: usize) -> String {
    if items.is_empty() {
        return "<unset>".to_owned();
    }
    let shown = items[..items.len().min(max)].join(",");
    if items.len() > max {
        format!("{shown} + {} more...", items.len() - max)
    } else {
        shown
    }
}

/// The `status` of the condition of `type_` in `conditions`, if any.
pub(super) fn condition_status<'a>(conditions: &'a [Value], type_: &str) -> Option<&'a str> {
    conditions
        .iter()
        .find(|c| str_at(c, &["type"]) == type_)
        .map(|c| str_at(c, &["status"]))
}

/// Access modes in short form (`RWO,ROX,RWX,RWOP`), deduplicated, in that fixed order.
pub(super) fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(long, _)| has(long))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// `True`, `False`, or `<unset>` for a missing boolean.
pub(super) fn bool_ptr(b: Option<bool>) -> String {
    match b {
        Some(true) => "True".to_owned(),
        Some(false) => "False".to_owned(),
        None => "<unset>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_label_maps() {
        let mut m = BTreeMap::new();
        assert_eq!(format_labels(&m), "<none>");
        m.insert("tier".to_owned(), "web".to_owned());
        m.insert("app".to_owned(), "nginx".to_owned());
        assert_eq!(format_labels(&m), "app=nginx,tier=web");
    }

    #[test]
    fn formats_structured_selectors() {
        let sel = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["b", "a"]},
                {"key": "canary", "operator": "DoesNotExist"}
            ]
        });
        assert_eq!(
            format_label_selector(Some(&sel)),
            "app=web,!canary,tier in (a,b)"
        );
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
        let bad = json!({"matchExpressions": [{"key": "x", "operator": "Near"}]});
        assert_eq!(format_label_selector(Some(&bad)), "<error>");
        assert_eq!(selector_string(Some(&bad)), "<invalid>");
        assert_eq!(selector_string(Some(&json!({}))), "");
    }

    #[test]
    fn formats_access_modes_and_lists() {
        let modes = json!(["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"]);
        assert_eq!(access_modes(modes.as_array().expect("array")), "RWO,RWX");
        let items: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        assert_eq!(list_with_more(&items, 3), "a,b,c + 2 more...");
        assert_eq!(list_with_more(&items[..2], 3), "a,b");
        assert_eq!(list_with_more(&[], 3), "<unset>");
    }

    #[test]
    fn canonicalizes_quantities() {
        assert_eq!(quantity(Some(&json!("1024Mi"))), "1Gi");
        assert_eq!(quantity(Some(&json!("0.5"))), "500m");
        assert_eq!(quantity(None), "0");
    }
}
