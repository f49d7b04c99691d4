//! JSON text as Go's `encoding/json` writes it, where Kubernetes users see the exact bytes
//! (kubectl's last-applied annotation, its JSONPath output, conversion annotations): compact,
//! `<`, `>`, `&`, U+2028 and U+2029 escaped, whole floats written as integers, and object keys
//! in the order the caller's `rank` gives (ties sorted, as Go sorts map keys).

use serde_json::Value;

/// `value` as Go writes it, with object keys sorted by `(rank(key), key)`.
pub fn to_string(value: &Value, rank: &dyn Fn(&str) -> usize) -> String {
    let mut out = String::new();
    write(value, &mut out, rank);
    out
}

/// `value` as Go writes it, object keys sorted.
pub fn to_string_sorted(value: &Value) -> String {
    to_string(value, &|_| 0)
}

/// The name Go's decoder gives a JSON value's type in its errors (`cannot unmarshal string
/// into ...`).
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn write(value: &Value, out: &mut String, rank: &dyn Fn(&str) -> usize) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| (rank(k), k.as_str()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                if let Some(v) = map.get(key) {
                    write(v, out, rank);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out, rank);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e21 => {
                out.push_str(&format!("{f:.0}"));
            }
            _ => out.push_str(&n.to_string()),
        },
        other => out.push_str(&other.to_string()),
    }
}

/// A string literal: serde_json escapes quotes, backslashes and control characters as Go does;
/// Go also escapes the characters HTML treats specially.
fn write_string(s: &str, out: &mut String) {
    let quoted = Value::String(s.to_owned()).to_string();
    for c in quoted.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_as_go_does() {
        let v = json!({"b": "<a&b>", "a": [1.0, 2.5, "x"]});
        assert_eq!(
            to_string_sorted(&v),
            r#"{"a":[1,2.5,"x"],"b":"\u003ca\u0026b\u003e"}"#
        );
        let ranked = to_string(&json!({"a": 1, "z": 2}), &|k| usize::from(k != "z"));
        assert_eq!(ranked, r#"{"z":2,"a":1}"#);
    }
}
