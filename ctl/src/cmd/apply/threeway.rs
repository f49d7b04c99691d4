//! The patch client-side apply sends: what changed between the last applied configuration, the
//! new one and the live object. Maps are compared key by key; a list the user did not change
//! since the last apply is left alone (the server may have filled in defaults), a changed list
//! is sent whole; fields dropped from the configuration are deleted.

use serde_json::{Map, Value};

/// Computes the patch; an empty object means nothing to do. `strategic` only marks that the
/// server merges lists of built-in kinds by key (the patch is the same).
pub fn patch(
    original: Option<&Value>,
    modified: &Value,
    current: &Value,
    strategic: bool,
) -> Value {
    let _ = strategic;
    Value::Object(diff(original, modified, current))
}

fn diff(original: Option<&Value>, modified: &Value, current: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(m) = modified.as_object() else {
        return out;
    };
    for (k, mv) in m {
        let cv = current.get(k);
        let ov = original.and_then(|o| o.get(k));
        match (mv, cv) {
            (Value::Object(_), Some(Value::Object(_))) => {
                let sub = diff(ov, mv, cv.unwrap_or(&Value::Null));
                if !sub.is_empty() {
                    out.insert(k.clone(), Value::Object(sub));
                }
            }
            (Value::Array(_), Some(c)) => {
                if ov == Some(mv) || c == mv {
                    continue;
                }
                out.insert(k.clone(), mv.clone());
            }
            _ => {
                if cv != Some(mv) {
                    out.insert(k.clone(), mv.clone());
                }
            }
        }
    }
    if let Some(Value::Object(o)) = original {
        for k in o.keys() {
            if !m.contains_key(k) && current.get(k).is_some() {
                out.insert(k.clone(), Value::Null);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unchanged_configured_and_deleted() {
        let original = json!({"spec": {"replicas": 1, "template": {"containers": [{"name": "a"}]}}, "metadata": {"labels": {"x": "1"}}});
        let current = json!({"spec": {"replicas": 1, "template": {"containers": [{"name": "a", "imagePullPolicy": "Always"}]}}, "metadata": {"labels": {"x": "1"}, "uid": "u"}});
        assert_eq!(patch(Some(&original), &original, &current, true), json!({}));
        let mut changed = original.clone();
        changed["spec"]["replicas"] = json!(6);
        assert_eq!(
            patch(Some(&original), &changed, &current, true),
            json!({"spec": {"replicas": 6}})
        );
        let dropped = json!({"spec": {"replicas": 1, "template": {"containers": [{"name": "a"}]}}, "metadata": {}});
        assert_eq!(
            patch(Some(&original), &dropped, &current, true),
            json!({"metadata": {"labels": null}})
        );
    }
}
