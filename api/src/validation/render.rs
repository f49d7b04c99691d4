//! Go's rendering of bad values (`%q`, `%v`, `%#v`), so messages read as kube-apiserver's.

use std::fmt::Write;

use serde_json::{Map, Value};

/// Quotes `s` as Go's `strconv.Quote` does: `\"`, `\\`, C escapes, `\x..` for other control
/// bytes, printable Unicode kept.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Renders a JSON value as Go prints the corresponding Go value in a field error.
pub(crate) fn go_value(value: &Value) -> String {
    match value {
        Value::Null => go_quote("null"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => go_quote(s),
        Value::Object(map) => match string_map(map) {
            Some(repr) => repr,
            None => value.to_string(),
        },
        Value::Array(items) => match string_slice(items) {
            Some(repr) => repr,
            None => value.to_string(),
        },
    }
}

/// `map[string]string{"a":"b", "c":"d"}` (keys sorted, as Go prints maps), if every value is a
/// string.
fn string_map(map: &Map<String, Value>) -> Option<String> {
    let mut entries: Vec<(&String, &str)> = Vec::with_capacity(map.len());
    for (k, v) in map {
        entries.push((k, v.as_str()?));
    }
    entries.sort();
    let inner: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
        .collect();
    Some(format!("map[string]string{{{}}}", inner.join(", ")))
}

/// `[]string{"a", "b"}`, if every item is a string.
fn string_slice(items: &[Value]) -> Option<String> {
    let quoted: Option<Vec<String>> = items.iter().map(|v| v.as_str().map(go_quote)).collect();
    Some(format!("[]string{{{}}}", quoted?.join(", ")))
}

/// `intstr.IntOrString{Type:0, IntVal:5, StrVal:""}`: how Go prints an int-or-string field.
pub(crate) fn go_int_or_string(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            go_quote(s)
        ),
        Some(Value::Number(n)) => {
            format!("intstr.IntOrString{{Type:0, IntVal:{n}, StrVal:\"\"}}")
        }
        _ => "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}".to_owned(),
    }
}

/// `v1.LabelSelector{MatchLabels:..., MatchExpressions:...}`: how Go prints a label selector.
pub(crate) fn go_label_selector(selector: Option<&Value>) -> String {
    let labels = match selector
        .and_then(|s| s.get("matchLabels"))
        .and_then(Value::as_object)
    {
        Some(map) => string_map(map).unwrap_or_else(|| "map[string]string{}".to_owned()),
        None => "map[string]string(nil)".to_owned(),
    };
    let expressions = match selector
        .and_then(|s| s.get("matchExpressions"))
        .and_then(Value::as_array)
    {
        Some(items) => {
            let rendered: Vec<String> = items
                .iter()
                .map(|e| {
                    let values = match e.get("values").and_then(Value::as_array) {
                        Some(vs) => string_slice(vs).unwrap_or_else(|| "[]string{}".to_owned()),
                        None => "[]string(nil)".to_owned(),
                    };
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
                        go_quote(e.get("key").and_then(Value::as_str).unwrap_or("")),
                        go_quote(e.get("operator").and_then(Value::as_str).unwrap_or("")),
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", rendered.join(", "))
        }
        None => "[]v1.LabelSelectorRequirement(nil)".to_owned(),
    };
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{expressions}}}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote("\u{1}é"), "\"\\x01é\"");
    }

    #[test]
    fn values_like_go() {
        assert_eq!(go_value(&json!(5)), "5");
        assert_eq!(go_value(&json!(true)), "true");
        assert_eq!(go_value(&json!("x")), "\"x\"");
        assert_eq!(go_value(&Value::Null), "\"null\"");
        assert_eq!(
            go_value(&json!({"b": "2", "a": "1"})),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
        assert_eq!(go_value(&json!(["a", "b"])), "[]string{\"a\", \"b\"}");
        assert_eq!(go_value(&json!([])), "[]string{}");
    }

    #[test]
    fn structs_like_go() {
        assert_eq!(
            go_int_or_string(Some(&json!(0))),
            "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}"
        );
        assert_eq!(
            go_int_or_string(Some(&json!("110%"))),
            "intstr.IntOrString{Type:1, IntVal:0, StrVal:\"110%\"}"
        );
        assert_eq!(
            go_label_selector(Some(&json!({"matchLabels": {"app": "nginx2"}}))),
            "v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"nginx2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
        assert_eq!(
            go_label_selector(Some(
                &json!({"matchExpressions": [{"key": "a", "operator": "Exists"}]})
            )),
            "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"a\", Operator:\"Exists\", Values:[]string(nil)}}}"
        );
    }
}
