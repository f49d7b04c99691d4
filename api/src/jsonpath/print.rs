//! How results print: kubectl's text and JSON forms, and Go's formatting where messages use it.

use serde_json::Value;

/// One result as kubectl prints it: strings raw, numbers and booleans as text, `<nil>` for
/// null, objects and arrays as compact JSON with sorted keys (and `<`, `>`, `&` escaped, as
/// Go's JSON encoder does).
pub fn format_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => crate::gojson::to_string_sorted(v),
        other => go_value(other),
    }
}

/// A float as Go's `%v` prints it: shortest digits, exponent form (`1e+06`) from 10^6 up and
/// below 10^-4.
fn go_float(f: f64) -> String {
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        return f.to_string();
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
}

/// A value as Go's `%v` prints the decoded form: `map[k:v]`, `[a b]`, `<nil>`.
pub(super) fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (None, None, Some(f)) => go_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(go_value).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Object(m) => {
            let inner: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_value(v)))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

/// The Go type name of a decoded JSON value, as kubectl's messages show it.
pub(super) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// A string quoted as Go's `%q` does.
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_print_like_kubectl() {
        assert_eq!(format_value(&json!("raw text")), "raw text");
        assert_eq!(format_value(&json!(3)), "3");
        assert_eq!(format_value(&json!(-7)), "-7");
        assert_eq!(format_value(&json!(1.5)), "1.5");
        assert_eq!(format_value(&json!(true)), "true");
        assert_eq!(format_value(&json!(null)), "<nil>");
        assert_eq!(
            format_value(&json!({"b": [1, "x"], "a": {"<": "&"}})),
            r#"{"a":{"\u003c":"\u0026"},"b":[1,"x"]}"#
        );
    }

    #[test]
    fn floats_print_like_go() {
        let cases = [
            (0.5, "0.5"),
            (100_000.5, "100000.5"),
            (1_000_000.5, "1.0000005e+06"),
            (1e21, "1e+21"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (12.99, "12.99"),
        ];
        for (f, want) in cases {
            assert_eq!(go_float(f), want, "{f}");
        }
    }

    #[test]
    fn go_forms() {
        assert_eq!(
            go_value(&json!({"b": [1, 2], "a": null})),
            "map[a:<nil> b:[1 2]]"
        );
        assert_eq!(go_type(&json!({})), "map[string]interface {}");
        assert_eq!(go_type(&json!(1.5)), "float64");
        assert_eq!(go_quote("{.a}\n\"x\""), r#""{.a}\n\"x\"""#);
    }
}
