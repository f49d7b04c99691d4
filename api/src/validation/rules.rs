//! Checks shared by many kinds: JSON access, field paths, names, ports, labels and selectors.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::FieldError;
use crate::names;

/// Kubernetes' message for a value that may not change.
pub(crate) const IMMUTABLE: &str = "field is immutable";
/// Kubernetes' message for a negative count.
pub(crate) const NON_NEGATIVE: &str = "must be greater than or equal to 0";

const DNS1035_LABEL_MESSAGE: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const PERCENT_MESSAGE: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/// `v[key]`, if present and not null.
pub(crate) fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// `v[key]` as a string; empty when absent or not a string (Go's zero value).
pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `v[key]` as an integer, if present.
pub(crate) fn int_of(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

/// `v[key]` as a bool, if present.
pub(crate) fn bool_of(v: &Value, key: &str) -> Option<bool> {
    v.get(key).and_then(Value::as_bool)
}

/// `v[key]` as a list; empty when absent.
pub(crate) fn list_of<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `v[key]` as an object, if present.
pub(crate) fn map_of<'a>(v: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    v.get(key).and_then(Value::as_object)
}

/// `v[key]` as a map of strings (labels, annotations, selectors).
pub(crate) fn string_map_of(v: &Value, key: &str) -> BTreeMap<String, String> {
    map_of(v, key)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The object at `v[key]`, or JSON null standing for an absent struct.
pub(crate) fn sub<'a>(v: &'a Value, key: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    v.get(key).unwrap_or(&NULL)
}

/// `parent.name`, or `name` at the root.
pub(crate) fn child(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// `parent[i]`.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// `parent[key]`.
pub(crate) fn key(parent: &str, key: &str) -> String {
    format!("{parent}[{key}]")
}

fn lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn label_shape(s: &str, first_letter: bool) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => {
            (if first_letter {
                f.is_ascii_lowercase()
            } else {
                lower_alnum(f)
            }) && lower_alnum(l)
                && b.iter().all(|&c| lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

fn too_long(max: usize) -> String {
    names::Error::TooLong { max }.to_string()
}

/// Kubernetes' `IsDNS1123Label` messages (none when valid).
pub(crate) fn dns1123_label(s: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    if s.len() > names::DNS1123_LABEL_MAX_LENGTH {
        msgs.push(too_long(names::DNS1123_LABEL_MAX_LENGTH));
    }
    if !label_shape(s, false) {
        if s.split('.').all(|l| label_shape(l, false)) {
            msgs.push("must not contain dots".to_owned());
        } else {
            msgs.push(names::Error::NotDns1123Label.to_string());
        }
    }
    msgs
}

/// Kubernetes' `IsDNS1123Subdomain` messages.
pub(crate) fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    if s.len() > names::DNS1123_SUBDOMAIN_MAX_LENGTH {
        msgs.push(too_long(names::DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !s.split('.').all(|l| label_shape(l, false)) {
        msgs.push(names::Error::NotDns1123Subdomain.to_string());
    }
    msgs
}

/// Kubernetes' `IsDNS1035Label` messages.
pub(crate) fn dns1035_label(s: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    if s.len() > names::DNS1123_LABEL_MAX_LENGTH {
        msgs.push(too_long(names::DNS1123_LABEL_MAX_LENGTH));
    }
    if !label_shape(s, true) {
        msgs.push(DNS1035_LABEL_MESSAGE.to_owned());
    }
    msgs
}

/// Kubernetes' `IsValidPathSegmentName` messages (`prefix`: a `generateName`, which may be
/// `.` or `..`).
pub(crate) fn path_segment(s: &str, prefix: bool) -> Vec<String> {
    if !prefix {
        for bad in [".", ".."] {
            if s == bad {
                return vec![format!("may not be '{bad}'")];
            }
        }
    }
    ["/", "%"]
        .iter()
        .filter(|bad| s.contains(*bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

fn qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Kubernetes' `IsQualifiedName` messages (label and annotation keys, finalizers).
pub(crate) fn qualified_name(s: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                msgs.push(names::Error::EmptyPrefix.to_string());
            } else {
                for msg in dns1123_subdomain(prefix) {
                    msgs.push(format!("prefix part {msg}"));
                }
            }
            *name
        }
        _ => return vec![names::Error::NotQualifiedName.to_string()],
    };
    if name.is_empty() {
        msgs.push(names::Error::EmptyNamePart.to_string());
    } else if name.len() > names::QUALIFIED_NAME_MAX_LENGTH {
        msgs.push(names::Error::NamePartTooLong.to_string());
    }
    if !qualified_name_part(name) {
        msgs.push(names::Error::InvalidNamePart.to_string());
    }
    msgs
}

/// Kubernetes' `IsValidLabelValue` messages.
pub(crate) fn label_value(s: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    if s.len() > names::LABEL_VALUE_MAX_LENGTH {
        msgs.push(too_long(names::LABEL_VALUE_MAX_LENGTH));
    }
    if !s.is_empty() && !qualified_name_part(s) {
        msgs.push(names::Error::InvalidLabelValue.to_string());
    }
    msgs
}

/// Kubernetes' `IsValidPortNum` message.
pub(crate) fn port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_owned()]
    }
}

/// Kubernetes' `IsValidPortName` messages (IANA service names).
pub(crate) fn port_name(s: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    if s.len() > 15 {
        msgs.push("must be no more than 15 characters".to_owned());
    }
    if s.is_empty() || !s.bytes().all(|c| lower_alnum(c) || c == b'-') {
        msgs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_owned(),
        );
    }
    if !s.bytes().any(|c| c.is_ascii_lowercase()) {
        msgs.push("must contain at least one letter (a-z)".to_owned());
    }
    if s.contains("--") {
        msgs.push("must not contain consecutive hyphens".to_owned());
    }
    if s.starts_with('-') || s.ends_with('-') {
        msgs.push("must not begin or end with a hyphen".to_owned());
    }
    msgs
}

/// Adds one `Invalid` error per message.
pub(crate) fn push_invalid(
    errs: &mut Vec<FieldError>,
    path: &str,
    value: impl Into<Value> + Clone,
    msgs: Vec<String>,
) {
    for msg in msgs {
        errs.push(FieldError::invalid(path, value.clone(), &msg));
    }
}

/// `path: Invalid value: n: must be greater than or equal to 0` for a negative `n`.
pub(crate) fn non_negative(errs: &mut Vec<FieldError>, path: &str, value: Option<i64>) {
    if let Some(n) = value.filter(|n| *n < 0) {
        errs.push(FieldError::invalid(path, n, NON_NEGATIVE));
    }
}

/// `field is immutable` when `new` differs from `old` (absent and null are the same).
pub(crate) fn immutable(
    errs: &mut Vec<FieldError>,
    path: &str,
    new: Option<&Value>,
    old: Option<&Value>,
) {
    let new = new.filter(|v| !v.is_null());
    let old = old.filter(|v| !v.is_null());
    if new != old {
        errs.push(FieldError::invalid(
            path,
            new.cloned().unwrap_or(Value::Null),
            IMMUTABLE,
        ));
    }
}

/// A port given by number or by name (probes, service target ports).
pub(crate) fn port_num_or_name(errs: &mut Vec<FieldError>, path: &str, port: Option<&Value>) {
    match port {
        Some(Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(0);
            push_invalid(errs, path, n, port_num(n));
        }
        Some(Value::String(s)) => push_invalid(errs, path, s.as_str(), port_name(s)),
        _ => push_invalid(errs, path, 0, port_num(0)),
    }
}

/// An int-or-percent that must not be negative (rolling update surge and unavailability).
pub(crate) fn positive_int_or_percent(errs: &mut Vec<FieldError>, path: &str, v: Option<&Value>) {
    match v {
        Some(Value::String(s)) if !is_percent(s) => {
            errs.push(
                FieldError::invalid(path, s.as_str(), PERCENT_MESSAGE)
                    .with_go_repr(super::render::go_int_or_string(v)),
            );
        }
        Some(Value::Number(n)) => non_negative(errs, path, n.as_i64()),
        _ => {}
    }
}

/// Whether `s` matches `[0-9]+%`.
pub(crate) fn is_percent(s: &str) -> bool {
    s.strip_suffix('%')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The value of an int-or-percent: the integer, or the percent's number; 0 when unset.
pub(crate) fn int_or_percent_value(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s
            .strip_suffix('%')
            .and_then(|d| d.parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

/// Kubernetes' `ValidateLabels`: keys are qualified names, values label values.
pub(crate) fn labels(errs: &mut Vec<FieldError>, path: &str, labels: Option<&Value>) {
    let Some(map) = labels.and_then(Value::as_object) else {
        return;
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for k in keys {
        push_invalid(errs, path, k.as_str(), qualified_name(k));
        let v = map[k].as_str().unwrap_or("");
        push_invalid(errs, path, v, label_value(v));
    }
}

/// Kubernetes' `ValidateLabelSelector` for a structured selector.
pub(crate) fn label_selector(errs: &mut Vec<FieldError>, path: &str, selector: Option<&Value>) {
    let Some(sel) = selector.filter(|s| !s.is_null()) else {
        return;
    };
    labels(errs, &child(path, "matchLabels"), sel.get("matchLabels"));
    let exprs_path = child(path, "matchExpressions");
    for (i, expr) in list_of(sel, "matchExpressions").iter().enumerate() {
        let p = index(&exprs_path, i);
        let values = list_of(expr, "values");
        match str_of(expr, "operator") {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        &child(&p, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        &child(&p, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            op => errs.push(FieldError::invalid(
                &child(&p, "operator"),
                op,
                "not a valid selector operator",
            )),
        }
        let k = str_of(expr, "key");
        push_invalid(errs, &child(&p, "key"), k, qualified_name(k));
        for (j, v) in values.iter().enumerate() {
            let v = v.as_str().unwrap_or("");
            push_invalid(errs, &index(&child(&p, "values"), j), v, label_value(v));
        }
    }
}

/// A structured selector converted for matching, as `LabelSelectorAsSelector` does.
#[derive(Debug)]
pub(crate) enum Selector {
    /// No selector at all: matches nothing.
    Nothing,
    /// Requirements (none: matches everything).
    Requirements(Vec<(String, String, Vec<String>)>),
}

impl Selector {
    /// Converts `selector`; `None` when it cannot be (bad operator, bad key or value...).
    pub(crate) fn from_value(selector: Option<&Value>) -> Option<Selector> {
        let Some(sel) = selector.filter(|s| !s.is_null()) else {
            return Some(Selector::Nothing);
        };
        let mut reqs = Vec::new();
        for (k, v) in string_map_of(sel, "matchLabels") {
            if !qualified_name(&k).is_empty() || !label_value(&v).is_empty() {
                return None;
            }
            reqs.push((k, "In".to_owned(), vec![v]));
        }
        for expr in list_of(sel, "matchExpressions") {
            let op = str_of(expr, "operator");
            let values: Vec<String> = list_of(expr, "values")
                .iter()
                .map(|v| v.as_str().unwrap_or("").to_owned())
                .collect();
            let ok = match op {
                "In" | "NotIn" => !values.is_empty(),
                "Exists" | "DoesNotExist" => values.is_empty(),
                _ => false,
            };
            let k = str_of(expr, "key");
            if !ok
                || !qualified_name(k).is_empty()
                || values.iter().any(|v| !label_value(v).is_empty())
            {
                return None;
            }
            reqs.push((k.to_owned(), op.to_owned(), values));
        }
        Some(Selector::Requirements(reqs))
    }

    /// Whether the selector has no requirements (and so matches everything).
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Selector::Requirements(r) if r.is_empty())
    }

    /// Whether `labels` satisfy the selector.
    pub(crate) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let Selector::Requirements(reqs) = self else {
            return false;
        };
        reqs.iter().all(|(k, op, values)| {
            let v = labels.get(k);
            match op.as_str() {
                "In" => v.is_some_and(|v| values.contains(v)),
                "NotIn" => v.is_none_or(|v| !values.contains(v)),
                "Exists" => v.is_some(),
                _ => v.is_none(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn port_names() {
        assert!(port_name("http").is_empty());
        assert!(port_name("h2c-1").is_empty());
        assert_eq!(port_name("80"), ["must contain at least one letter (a-z)"]);
        assert_eq!(
            port_name("Http"),
            ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"]
        );
        assert_eq!(
            port_name("a--b-"),
            [
                "must not contain consecutive hyphens",
                "must not begin or end with a hyphen"
            ]
        );
        assert_eq!(
            port_name("abcdefghijklmnop"),
            ["must be no more than 15 characters"]
        );
    }

    #[test]
    fn names() {
        assert!(dns1035_label("web").is_empty());
        assert_eq!(dns1035_label("1web").len(), 1);
        assert_eq!(dns1123_label(&"A".repeat(64)).len(), 2);
        assert_eq!(path_segment("..", false), ["may not be '..'"]);
        assert_eq!(
            path_segment("a/b%", false),
            ["may not contain '/'", "may not contain '%'"]
        );
    }

    #[test]
    fn qualified_names_report_every_problem() {
        assert!(qualified_name("app").is_empty());
        assert!(qualified_name("example.com/app").is_empty());
        assert_eq!(
            qualified_name(""),
            [
                "name part must be non-empty",
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            ]
        );
        assert_eq!(qualified_name("/a"), ["prefix part must be non-empty"]);
        assert_eq!(qualified_name("Ex_/a").len(), 1);
        assert!(
            qualified_name("Ex_/a")[0].starts_with("prefix part a lowercase RFC 1123 subdomain")
        );
        assert_eq!(qualified_name(&format!("{}-", "a".repeat(63))).len(), 2);
        assert_eq!(label_value(&format!("{}-", "a".repeat(63))).len(), 2);
    }

    #[test]
    fn selectors() {
        let labels: BTreeMap<String, String> = [("app".to_owned(), "web".to_owned())].into();
        let sel = Selector::from_value(Some(&json!({"matchLabels": {"app": "web"}})));
        assert!(sel.is_some_and(|s| s.matches(&labels)));
        let sel = Selector::from_value(Some(&json!({"matchExpressions": [
            {"key": "app", "operator": "NotIn", "values": ["web"]}]})));
        assert!(sel.is_some_and(|s| !s.matches(&labels)));
        assert!(Selector::from_value(None).is_some_and(|s| !s.matches(&labels)));
        assert!(Selector::from_value(Some(&json!({}))).is_some_and(|s| s.is_empty()));
        assert!(Selector::from_value(Some(&json!({"matchExpressions": [
            {"key": "app", "operator": "In"}]})))
        .is_none());
    }
}
