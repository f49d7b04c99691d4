//! Cells of custom resources' `additionalPrinterColumns`, as the API server computes them.

use serde_json::Value;

use crate::jsonpath::{format_value, JsonPath};

use super::time::{human_duration, parse_rfc3339};

/// The cell of one `additionalPrinterColumns` entry: the first value `path` (parsed with
/// [`JsonPath::parse_expression`]) finds in `obj`, converted to the column's `type_`
/// (`string`, `integer`, `number`, `boolean`, `date`).
///
/// As in Kubernetes: no value, or a value of the wrong type, gives `null`; `string` columns
/// print any value as kubectl's JSONPath would (a JSON `null` as `<no value>`); `integer`
/// columns truncate floats; `date` columns hold the age of an RFC 3339 timestamp at
/// `now_unix_secs` (`5m2s`; `<unknown>` for an empty one, `<invalid>` for a malformed one).
pub fn custom_column_cell(type_: &str, path: &JsonPath, obj: &Value, now_unix_secs: i64) -> Value {
    let Ok(groups) = path.find_results(obj) else {
        return Value::Null;
    };
    let Some(value) = groups.into_iter().next().and_then(|g| g.into_iter().next()) else {
        return Value::Null;
    };
    match (type_, &value) {
        ("string", Value::Null) => Value::from("<no value>"),
        ("string", v) => Value::from(format_value(v)),
        ("integer", Value::Number(n)) => match n.as_i64() {
            Some(i) => Value::from(i),
            // Go converts float64 to int64 by truncation (saturating here).
            None => n
                .as_f64()
                .map_or(Value::Null, |f| Value::from(f.trunc() as i64)),
        },
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, Value::from),
        ("boolean", Value::Bool(b)) => Value::Bool(*b),
        ("date", Value::String(s)) if s.is_empty() || s == "null" => Value::from("<unknown>"),
        ("date", Value::String(s)) => match parse_rfc3339(s) {
            Some(t) => Value::from(human_duration(now_unix_secs.saturating_sub(t))),
            None => Value::from("<invalid>"),
        },
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2024-01-10T00:00:00Z.
    const NOW: i64 = 1_704_844_800;

    fn cell(type_: &str, path: &str, obj: &Value) -> Value {
        let expr = JsonPath::parse_expression(path).expect("parses");
        custom_column_cell(type_, &expr, obj, NOW)
    }

    #[test]
    fn converts_by_column_type() {
        let obj = json!({
            "metadata": {"creationTimestamp": "2024-01-09T23:00:00Z"},
            "spec": {"replicas": 3, "ratio": 2.75, "enabled": true, "image": "nginx",
                     "ports": [80, 443], "since": "2024-01-09T12:00:00.5+01:00", "bad": "soon",
                     "unset": "", "nothing": null},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        });
        assert_eq!(cell("integer", ".spec.replicas", &obj), json!(3));
        assert_eq!(cell("integer", ".spec.ratio", &obj), json!(2));
        assert_eq!(cell("number", ".spec.replicas", &obj), json!(3.0));
        assert_eq!(cell("number", ".spec.ratio", &obj), json!(2.75));
        assert_eq!(cell("boolean", ".spec.enabled", &obj), json!(true));
        assert_eq!(cell("string", ".spec.image", &obj), json!("nginx"));
        assert_eq!(cell("string", ".spec.replicas", &obj), json!("3"));
        assert_eq!(cell("string", ".spec.ports", &obj), json!("[80,443]"));
        assert_eq!(
            cell(
                "string",
                r#".status.conditions[?(@.type=="Ready")].status"#,
                &obj
            ),
            json!("True")
        );
        assert_eq!(
            cell("date", ".metadata.creationTimestamp", &obj),
            json!("60m")
        );
        assert_eq!(cell("date", ".spec.since", &obj), json!("13h"));
        assert_eq!(cell("date", ".spec.bad", &obj), json!("<invalid>"));
        assert_eq!(cell("date", ".spec.unset", &obj), json!("<unknown>"));
        assert_eq!(cell("string", ".spec.nothing", &obj), json!("<no value>"));
        assert_eq!(cell("integer", ".spec.nothing", &obj), Value::Null);
        assert_eq!(cell("integer", ".spec.image", &obj), Value::Null);
        assert_eq!(cell("string", ".spec.missing", &obj), Value::Null);
        assert_eq!(cell("integer", ".spec.ports[5]", &obj), Value::Null);
    }
}
