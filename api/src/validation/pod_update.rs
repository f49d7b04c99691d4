//! What may change in a running pod: images, a shorter deadline, added tolerations.

use std::fmt::Write;

use serde_json::{Map, Value};

use super::rules::{child, index, int_of, list_of, str_of, sub};
use super::FieldError;

/// The fields a pod update may change, as Kubernetes lists them in its message.
const UPDATABLE_FIELDS: &[&str] = &[
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
];

/// Kubernetes' `ValidatePodUpdate` rules on `spec` (metadata is checked by the caller).
pub(crate) fn validate(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let spec = sub(new, "spec");
    let old_spec = sub(old, "spec");
    for field in ["containers", "initContainers"] {
        let new_list = list_of(spec, field);
        let path = child("spec", field);
        if new_list.len() != list_of(old_spec, field).len() {
            errs.push(FieldError::forbidden(
                &path,
                "pod updates may not add or remove containers",
            ));
            return;
        }
        for (i, c) in new_list.iter().enumerate() {
            if str_of(c, "image").is_empty() {
                errs.push(FieldError::required(&child(&index(&path, i), "image"), ""));
            }
        }
    }
    let ads = "spec.activeDeadlineSeconds";
    match (
        int_of(spec, "activeDeadlineSeconds"),
        int_of(old_spec, "activeDeadlineSeconds"),
    ) {
        (Some(new_ads), _) if !(0..=i64::from(i32::MAX)).contains(&new_ads) => {
            errs.push(FieldError::invalid(
                ads,
                new_ads,
                "must be between 0 and 2147483647, inclusive",
            ));
            return;
        }
        (Some(new_ads), Some(old_ads)) if old_ads < new_ads => {
            errs.push(FieldError::invalid(
                ads,
                new_ads,
                "must be less than or equal to previous value",
            ));
            return;
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            ads,
            Value::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    validate_added_tolerations(
        list_of(spec, "tolerations"),
        list_of(old_spec, "tolerations"),
        errs,
    );
    if spec == old_spec {
        return;
    }
    let munged = munge(spec, old_spec);
    if munged != *old_spec {
        let mut diff = String::new();
        write_diff(&mut diff, "spec", Some(old_spec), Some(&munged));
        errs.push(FieldError::forbidden(
            "spec",
            &format!(
                "pod updates may not change fields other than {}\n{diff}",
                UPDATABLE_FIELDS.join(",")
            ),
        ));
    }
}

/// `new` with every field a pod update may change set back to `old`'s value.
fn munge(new: &Value, old: &Value) -> Value {
    let mut munged = new.clone();
    let Some(m) = munged.as_object_mut() else {
        return munged;
    };
    for field in ["containers", "initContainers"] {
        if let Some(list) = m.get_mut(field).and_then(Value::as_array_mut) {
            for (i, c) in list.iter_mut().enumerate() {
                let old_image = list_of(old, field)
                    .get(i)
                    .and_then(|o| o.get("image"))
                    .cloned();
                if let Some(c) = c.as_object_mut() {
                    match old_image {
                        Some(image) => c.insert("image".to_owned(), image),
                        None => c.remove("image"),
                    };
                }
            }
        }
    }
    restore(m, old, "activeDeadlineSeconds");
    restore(m, old, "tolerations");
    let old_grace = int_of(old, "terminationGracePeriodSeconds");
    if old_grace.is_some_and(|g| g < 0)
        && int_of(&Value::Object(m.clone()), "terminationGracePeriodSeconds") == Some(1)
    {
        restore(m, old, "terminationGracePeriodSeconds");
    }
    munged
}

fn restore(m: &mut Map<String, Value>, old: &Value, field: &str) {
    match old.get(field) {
        Some(v) => m.insert(field.to_owned(), v.clone()),
        None => m.remove(field),
    };
}

/// Existing tolerations must stay; only `tolerationSeconds` of `NoExecute` ones may shrink.
fn validate_added_tolerations(new: &[Value], old: &[Value], errs: &mut Vec<FieldError>) {
    for (i, o) in old.iter().enumerate() {
        let kept = new.iter().any(|n| {
            let same = |f: &str| n.get(f) == o.get(f);
            if !(same("key") && same("operator") && same("value") && same("effect")) {
                return false;
            }
            match (
                int_of(o, "tolerationSeconds"),
                int_of(n, "tolerationSeconds"),
            ) {
                (None, None) => true,
                (Some(old_s), Some(new_s)) => new_s <= old_s || old_s <= 0,
                (None, Some(_)) => false,
                (Some(_), None) => false,
            }
        });
        if !kept {
            errs.push(FieldError::forbidden(
                &index("spec.tolerations", i),
                "existing toleration can not be modified except its tolerationSeconds",
            ));
        }
    }
}

/// A short account of what differs, one `-`/`+` line pair per changed leaf.
fn write_diff(out: &mut String, path: &str, old: Option<&Value>, new: Option<&Value>) {
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                write_diff(out, &child(path, k), a.get(k), b.get(k));
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                write_diff(out, &index(path, i), Some(x), Some(y));
            }
        }
        (a, b) if a != b => {
            if let Some(a) = a {
                let _ = writeln!(out, "- {path}: {a}");
            }
            if let Some(b) = b {
                let _ = writeln!(out, "+ {path}: {b}");
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::validate as validate_object;

    fn pod(spec: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"name": "p", "namespace": "default", "resourceVersion": "1"}, "spec": spec})
    }

    fn spec() -> serde_json::Value {
        json!({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "terminationGracePeriodSeconds": 30, "activeDeadlineSeconds": 100,
            "tolerations": [{"key": "a", "operator": "Exists"}],
            "containers": [{"name": "app", "image": "nginx:1", "imagePullPolicy": "IfNotPresent",
                "terminationMessagePolicy": "File"}]})
    }

    fn messages(new: &serde_json::Value, old: &serde_json::Value) -> Vec<String> {
        validate_object("", "Pod", new, Some(old))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn allowed_changes() {
        let old = pod(spec());
        let mut new_spec = spec();
        new_spec["containers"][0]["image"] = json!("nginx:2");
        new_spec["activeDeadlineSeconds"] = json!(50);
        new_spec["tolerations"] =
            json!([{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]);
        assert_eq!(messages(&pod(new_spec), &old), Vec::<String>::new());
    }

    #[test]
    fn forbidden_changes() {
        let old = pod(spec());
        let mut new_spec = spec();
        new_spec["terminationGracePeriodSeconds"] = json!(10);
        let got = messages(&pod(new_spec), &old);
        assert_eq!(
            got,
            ["spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n- spec.terminationGracePeriodSeconds: 30\n+ spec.terminationGracePeriodSeconds: 10\n"]
        );
        let mut new_spec = spec();
        new_spec["activeDeadlineSeconds"] = json!(200);
        assert_eq!(
            messages(&pod(new_spec), &old),
            ["spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"]
        );
        let mut new_spec = spec();
        new_spec["tolerations"] = json!([]);
        assert_eq!(
            messages(&pod(new_spec), &old),
            ["spec.tolerations[0]: Forbidden: existing toleration can not be modified except its tolerationSeconds"]
        );
        let mut new_spec = spec();
        new_spec["containers"] = json!([]);
        assert_eq!(
            messages(&pod(new_spec), &old),
            [
                "spec.containers: Required value",
                "spec.containers: Forbidden: pod updates may not add or remove containers"
            ]
        );
    }

    #[test]
    fn negative_grace_may_become_one() {
        let mut old_spec = spec();
        old_spec["terminationGracePeriodSeconds"] = json!(-1);
        let mut new_spec = spec();
        new_spec["terminationGracePeriodSeconds"] = json!(1);
        assert_eq!(
            messages(&pod(new_spec), &pod(old_spec)),
            Vec::<String>::new()
        );
    }
}
