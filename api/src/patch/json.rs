//! RFC 6902 JSON patch with RFC 6901 pointers.

use serde_json::Value;

use super::{PatchError, Result};

/// The most operations one JSON patch may hold, as kube-apiserver limits it.
pub const MAX_OPERATIONS: usize = 10_000;

/// Applies an RFC 6902 JSON patch (`add`, `remove`, `replace`, `move`, `copy`, `test`).
///
/// The operations apply in order to a copy of `doc`; the first failure aborts the whole patch.
///
/// # Errors
///
/// [`PatchError::Invalid`] when the patch is not an array of operations or an operation lacks
/// a field it needs; [`PatchError::NotApplicable`] when an operation does not apply (a missing
/// path, an index out of range, a failed `test`).
pub fn apply_json_patch(doc: &Value, patch: &Value) -> Result<Value> {
    let Value::Array(operations) = patch else {
        return Err(PatchError::Invalid(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
            crate::gojson::type_name(patch)
        )));
    };
    if operations.len() > MAX_OPERATIONS {
        return Err(PatchError::TooLarge(format!(
            "The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {}",
            operations.len()
        )));
    }
    let mut doc = doc.clone();
    for operation in operations {
        apply_operation(&mut doc, operation)?;
    }
    Ok(doc)
}

fn apply_operation(doc: &mut Value, operation: &Value) -> Result<()> {
    let Value::Object(op) = operation else {
        return Err(PatchError::Invalid(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
            crate::gojson::type_name(operation)
        )));
    };
    let kind = op.get("op").and_then(Value::as_str).unwrap_or("unknown");
    let path = |name: &str| -> Result<Vec<String>> {
        let raw = op
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| PatchError::Invalid(format!("operation missing {name} field")))?;
        parse_pointer(raw)
    };
    let value = || -> Result<Value> {
        op.get("value")
            .cloned()
            .ok_or_else(|| PatchError::Invalid(format!("missing value for {kind} operation")))
    };
    match kind {
        "add" => {
            let (path, value) = (path("path")?, value()?);
            add(doc, &path, value).map_err(|()| {
                missing(&format!(
                    "add operation does not apply: doc is missing path: \"{}\"",
                    pointer(&path)
                ))
            })
        }
        "remove" => {
            let path = path("path")?;
            remove(doc, &path).map(|_| ())
        }
        "replace" => {
            let (path, value) = (path("path")?, value()?);
            let target = get_mut(doc, &path).ok_or_else(|| {
                missing(&format!(
                    "replace operation does not apply: doc is missing key: {}",
                    pointer(&path)
                ))
            })?;
            *target = value;
            Ok(())
        }
        "move" => {
            let (from, path) = (path("from")?, path("path")?);
            if path.len() > from.len() && path[..from.len()] == from[..] {
                return Err(PatchError::NotApplicable(format!(
                    "move operation does not apply: cannot move \"{}\" into its own child \"{}\"",
                    pointer(&from),
                    pointer(&path)
                )));
            }
            let value = remove(doc, &from).map_err(|_| {
                missing(&format!(
                    "move operation does not apply: doc is missing from path: {}",
                    pointer(&from)
                ))
            })?;
            add(doc, &path, value).map_err(|()| {
                missing(&format!(
                    "move operation does not apply: doc is missing destination path: {}",
                    pointer(&path)
                ))
            })
        }
        "copy" => {
            let (from, path) = (path("from")?, path("path")?);
            let value = get(doc, &from).cloned().ok_or_else(|| {
                missing(&format!(
                    "copy operation does not apply: doc is missing from path: {}",
                    pointer(&from)
                ))
            })?;
            add(doc, &path, value).map_err(|()| {
                missing(&format!(
                    "copy operation does not apply: doc is missing destination path: {}",
                    pointer(&path)
                ))
            })
        }
        "test" => {
            let (path, expected) = (path("path")?, value()?);
            match get(doc, &path) {
                Some(actual) if json_equal(actual, &expected) => Ok(()),
                Some(_) => Err(PatchError::NotApplicable(format!(
                    "testing value {} failed: test failed",
                    pointer(&path)
                ))),
                None if expected.is_null() => Ok(()),
                None => Err(PatchError::NotApplicable(format!(
                    "testing value {} failed: test failed",
                    pointer(&path)
                ))),
            }
        }
        other => Err(PatchError::NotApplicable(format!(
            "Unexpected kind: {other}"
        ))),
    }
}

fn missing(message: &str) -> PatchError {
    PatchError::NotApplicable(format!("{message}: missing value"))
}

/// Parses an RFC 6901 pointer into unescaped reference tokens.
fn parse_pointer(raw: &str) -> Result<Vec<String>> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(PatchError::Invalid(format!(
            "invalid JSON pointer \"{raw}\": must be empty or start with '/'"
        )));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn pointer(tokens: &[String]) -> String {
    tokens
        .iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// An array index token: digits only, no leading zero (RFC 6901).
fn index(token: &str) -> Option<usize> {
    if token.is_empty() || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    if !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

fn get<'a>(doc: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |node, token| match node {
        Value::Object(map) => map.get(token),
        Value::Array(items) => items.get(index(token)?),
        _ => None,
    })
}

fn get_mut<'a>(doc: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(doc, |node, token| match node {
        Value::Object(map) => map.get_mut(token),
        Value::Array(items) => items.get_mut(index(token)?),
        _ => None,
    })
}

/// Adds (or, in an object, sets) `value` at `path`; `Err(())` when the parent is missing or
/// the index is out of range.
fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), ()> {
    let Some((last, parent)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(doc, parent).ok_or(())? {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let at = if last == "-" {
                items.len()
            } else {
                index(last).ok_or(())?
            };
            if at > items.len() {
                return Err(());
            }
            items.insert(at, value);
            Ok(())
        }
        _ => Err(()),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value> {
    let Some((last, parent)) = path.split_last() else {
        return Ok(std::mem::take(doc));
    };
    let container = get_mut(doc, parent).ok_or_else(|| {
        missing(&format!(
            "remove operation does not apply: doc is missing path: \"{}\"",
            pointer(path)
        ))
    })?;
    let removed = match container {
        Value::Object(map) => map.remove(last),
        Value::Array(items) => index(last)
            .filter(|&i| i < items.len())
            .map(|i| items.remove(i)),
        _ => None,
    };
    removed.ok_or_else(|| {
        missing(&format!(
            "error in remove for path: '{}': Unable to remove nonexistent key: {last}",
            pointer(path)
        ))
    })
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
pub(super) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}
