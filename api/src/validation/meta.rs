//! `metadata` of every object: names, namespace, labels, annotations, owners, finalizers.

use serde_json::Value;

use super::render::go_quote;
use super::rules::{self, child, get, int_of, list_of, push_invalid, str_of, sub};
use super::{FieldError, NameRule};
use crate::names;

/// Finalizers built-in kinds may use without a domain prefix.
pub(crate) const STANDARD_FINALIZERS: &[&str] = &[
    names::FINALIZER_KUBERNETES,
    names::FINALIZER_ORPHAN,
    names::FINALIZER_FOREGROUND_DELETION,
];
/// Kubernetes' message for a finalizer that is neither standard nor qualified.
pub(crate) const NOT_STANDARD_FINALIZER: &str =
    "name is neither a standard finalizer name nor is it fully qualified";

/// The largest total size of an object's annotations (keys plus values), in bytes.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// The messages for `name` under `rule`; `prefix` for a `generateName` (a trailing `-` is fine).
pub(crate) fn name_messages(rule: NameRule, name: &str, prefix: bool) -> Vec<String> {
    let masked;
    let name = if prefix && name.len() > 1 && name.ends_with('-') {
        masked = format!("{}a", &name[..name.len() - 1]);
        masked.as_str()
    } else {
        name
    };
    match rule {
        NameRule::Dns1123Subdomain => rules::dns1123_subdomain(name),
        NameRule::Dns1123Label => rules::dns1123_label(name),
        NameRule::Dns1035Label => rules::dns1035_label(name),
        NameRule::PathSegment => rules::path_segment(name, prefix),
    }
}

/// Checks a new object's `metadata`. `namespaced` is `None` for kinds of unknown scope.
pub(crate) fn validate_create(
    obj: &Value,
    namespaced: Option<bool>,
    rule: NameRule,
    errs: &mut Vec<FieldError>,
) {
    let meta = sub(obj, "metadata");
    validate_names(
        meta,
        namespaced,
        |name, prefix| name_messages(rule, name, prefix),
        errs,
    );
    validate_common(meta, errs);
}

/// Checks name, `generateName` and namespace with the kind's name rule `name_fn`.
pub(crate) fn validate_names(
    meta: &Value,
    namespaced: Option<bool>,
    name_fn: impl Fn(&str, bool) -> Vec<String>,
    errs: &mut Vec<FieldError>,
) {
    let generate_name = str_of(meta, "generateName");
    if !generate_name.is_empty() {
        push_invalid(
            errs,
            "metadata.generateName",
            generate_name,
            name_fn(generate_name, true),
        );
    }
    let name = str_of(meta, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        push_invalid(errs, "metadata.name", name, name_fn(name, false));
    }
    let namespace = str_of(meta, "namespace");
    match namespaced {
        Some(true) if namespace.is_empty() => {
            errs.push(FieldError::required("metadata.namespace", ""));
        }
        Some(true) => push_invalid(
            errs,
            "metadata.namespace",
            namespace,
            rules::dns1123_label(namespace),
        ),
        Some(false) if !namespace.is_empty() => {
            errs.push(FieldError::forbidden(
                "metadata.namespace",
                "not allowed on this type",
            ));
        }
        _ => {}
    }
}

/// The content checks made on create: generation, labels, annotations, owners, finalizers.
pub(crate) fn validate_common(meta: &Value, errs: &mut Vec<FieldError>) {
    rules::non_negative(errs, "metadata.generation", int_of(meta, "generation"));
    rules::labels(errs, "metadata.labels", meta.get("labels"));
    validate_annotations(errs, "metadata.annotations", meta.get("annotations"));
    validate_owner_references(meta, errs);
    validate_finalizers(meta, errs);
}

/// Kubernetes' `ValidateAnnotations`: keys are qualified names (any case), total size 256 KiB.
pub(crate) fn validate_annotations(
    errs: &mut Vec<FieldError>,
    path: &str,
    annotations: Option<&Value>,
) {
    let Some(map) = annotations.and_then(Value::as_object) else {
        return;
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let mut total = 0;
    for k in keys {
        push_invalid(
            errs,
            path,
            k.as_str(),
            rules::qualified_name(&k.to_lowercase()),
        );
        total += k.len() + map[k].as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
}

fn validate_owner_references(meta: &Value, errs: &mut Vec<FieldError>) {
    let path = "metadata.ownerReferences";
    let mut first_controller: Option<String> = None;
    for owner in list_of(meta, "ownerReferences") {
        let api_version = str_of(owner, "apiVersion");
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) if !v.contains('/') => (g, v),
            Some(_) => ("", ""),
            None => ("", api_version),
        };
        let kind = str_of(owner, "kind");
        if version.is_empty() {
            errs.push(FieldError::invalid(
                &child(path, "apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        if kind.is_empty() {
            errs.push(FieldError::invalid(
                &child(path, "kind"),
                kind,
                "kind must not be empty",
            ));
        }
        let name = str_of(owner, "name");
        if name.is_empty() {
            errs.push(FieldError::invalid(
                &child(path, "name"),
                name,
                "name must not be empty",
            ));
        }
        let uid = str_of(owner, "uid");
        if uid.is_empty() {
            errs.push(FieldError::invalid(
                &child(path, "uid"),
                uid,
                "uid must not be empty",
            ));
        }
        if group.is_empty() && version == "v1" && kind == "Event" {
            errs.push(FieldError::invalid(
                path,
                owner.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if rules::bool_of(owner, "controller") == Some(true) {
            let current = format!("{kind}/{name}");
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    meta.get("ownerReferences").cloned().unwrap_or(Value::Null),
                    &format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"),
                )),
                None => first_controller = Some(current),
            }
        }
    }
}

fn validate_finalizers(meta: &Value, errs: &mut Vec<FieldError>) {
    let path = "metadata.finalizers";
    let finalizers = list_of(meta, "finalizers");
    for f in finalizers {
        let f = f.as_str().unwrap_or("");
        push_invalid(errs, path, f, rules::qualified_name(f));
    }
    let has = |name: &str| finalizers.iter().any(|f| f.as_str() == Some(name));
    if has(names::FINALIZER_ORPHAN) && has(names::FINALIZER_FOREGROUND_DELETION) {
        errs.push(FieldError::invalid(
            path,
            meta.get("finalizers").cloned().unwrap_or(Value::Null),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
}

/// Checks an updated object's `metadata` against the stored one. The API server is expected to
/// have set `resourceVersion` (to the stored one, for unconditional updates), as Kubernetes does.
pub(crate) fn validate_update(obj: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let meta = sub(obj, "metadata");
    let old_meta = sub(old, "metadata");
    if get(old_meta, "deletionTimestamp").is_some() {
        let old_finalizers = list_of(old_meta, "finalizers");
        let mut added: Vec<&str> = list_of(meta, "finalizers")
            .iter()
            .filter(|f| !old_finalizers.contains(f))
            .filter_map(Value::as_str)
            .collect();
        added.sort_unstable();
        added.dedup();
        if !added.is_empty() {
            let quoted: Vec<String> = added.iter().map(|f| go_quote(f)).collect();
            errs.push(FieldError::forbidden(
                "metadata.finalizers",
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    quoted.join(", ")
                ),
            ));
        }
    }
    let resource_version = str_of(meta, "resourceVersion");
    if resource_version.is_empty() {
        errs.push(FieldError::invalid(
            "metadata.resourceVersion",
            resource_version,
            "must be specified for an update",
        ));
    }
    let generation = int_of(meta, "generation").unwrap_or(0);
    if generation < int_of(old_meta, "generation").unwrap_or(0) {
        errs.push(FieldError::invalid(
            "metadata.generation",
            generation,
            "must not be decremented",
        ));
    }
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        let new = get(meta, field).filter(|v| v.as_str() != Some(""));
        let old = get(old_meta, field).filter(|v| v.as_str() != Some(""));
        if new != old {
            let shown = match field {
                "name" | "namespace" | "uid" => Value::from(str_of(meta, field)),
                _ => new.cloned().unwrap_or(Value::Null),
            };
            errs.push(FieldError::invalid(
                &child("metadata", field),
                shown,
                rules::IMMUTABLE,
            ));
        }
    }
    rules::labels(errs, "metadata.labels", meta.get("labels"));
    validate_annotations(errs, "metadata.annotations", meta.get("annotations"));
    validate_owner_references(meta, errs);
}

/// Built-in kinds only: finalizers without a domain must be one of Kubernetes' own.
pub(crate) fn validate_kube_finalizers(obj: &Value, errs: &mut Vec<FieldError>) {
    for (i, f) in list_of(sub(obj, "metadata"), "finalizers")
        .iter()
        .enumerate()
    {
        let f = f.as_str().unwrap_or("");
        if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f) {
            errs.push(FieldError::invalid(
                &rules::index("metadata.finalizers", i),
                f,
                NOT_STANDARD_FINALIZER,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{validate, validate_metadata};
    use super::*;

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn names_per_kind() {
        let cm = json!({"metadata": {"name": "Bad_Name", "namespace": "default"}});
        assert_eq!(
            messages(&validate("", "ConfigMap", &cm, None)),
            ["metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
        );
        let cm = json!({"metadata": {"namespace": "default"}});
        assert_eq!(
            messages(&validate("", "ConfigMap", &cm, None)),
            ["metadata.name: Required value: name or generateName is required"]
        );
        let ns = json!({"metadata": {"name": "a.b"}});
        assert_eq!(
            messages(&validate("", "Namespace", &ns, None)),
            ["metadata.name: Invalid value: \"a.b\": must not contain dots"]
        );
        let ns = json!({"metadata": {"name": "A"}});
        assert!(messages(&validate("", "Namespace", &ns, None))[0]
            .starts_with("metadata.name: Invalid value: \"A\": a lowercase RFC 1123 label"));
        let role = json!({"metadata": {"name": "a:b", "namespace": "x"}});
        assert!(validate("rbac.authorization.k8s.io", "Role", &role, None).is_empty());
        let role = json!({"metadata": {"name": "a/b", "namespace": "x"}});
        assert_eq!(
            messages(&validate("rbac.authorization.k8s.io", "Role", &role, None)),
            ["metadata.name: Invalid value: \"a/b\": may not contain '/'"]
        );
        let cm = json!({"metadata": {"generateName": "web-", "namespace": "default"}});
        assert_eq!(
            messages(&validate("", "ConfigMap", &cm, None)),
            ["metadata.name: Required value: name or generateName is required"]
        );
    }

    #[test]
    fn namespace_rules() {
        let cm = json!({"metadata": {"name": "a"}});
        assert_eq!(
            messages(&validate("", "ConfigMap", &cm, None)),
            ["metadata.namespace: Required value"]
        );
        let ns = json!({"metadata": {"name": "a", "namespace": "b"}});
        assert_eq!(
            messages(&validate("", "Namespace", &ns, None)),
            ["metadata.namespace: Forbidden: not allowed on this type"]
        );
    }

    #[test]
    fn labels_annotations_finalizers() {
        let cm = json!({"metadata": {"name": "a", "namespace": "d",
            "labels": {"app": "-x", "a/b/c": "ok"},
            "annotations": {"Example.com/Key": "v", "bad key": "v"},
            "finalizers": ["example.com/f", "orphan", "foregroundDeletion"]}});
        let got = messages(&validate("", "ConfigMap", &cm, None));
        assert_eq!(got.len(), 4, "{got:#?}");
        assert!(got[0].starts_with(
            "metadata.labels: Invalid value: \"a/b/c\": a qualified name must consist"
        ));
        assert!(got[1].starts_with(
            "metadata.labels: Invalid value: \"-x\": a valid label must be an empty string"
        ));
        assert!(got[2].starts_with(
            "metadata.annotations: Invalid value: \"bad key\": name part must consist"
        ));
        assert_eq!(
            got[3],
            "metadata.finalizers: Invalid value: []string{\"example.com/f\", \"orphan\", \"foregroundDeletion\"}: finalizer orphan and foregroundDeletion cannot be both set"
        );
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let cm = json!({"metadata": {"name": "a", "namespace": "d", "annotations": {"k": big}}});
        assert_eq!(
            messages(&validate("", "ConfigMap", &cm, None)),
            ["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
    }

    #[test]
    fn built_in_kinds_need_standard_or_qualified_finalizers() {
        let cm = json!({"metadata": {"name": "a", "namespace": "d",
            "finalizers": ["kubernetes", "mine", "example.com/ok"]}});
        assert_eq!(
            messages(&validate("", "ConfigMap", &cm, None)),
            ["metadata.finalizers[1]: Invalid value: \"mine\": name is neither a standard finalizer name nor is it fully qualified"]
        );
        let custom = json!({"metadata": {"name": "a", "namespace": "d", "finalizers": ["mine"]}});
        assert!(validate("example.com", "Widget", &custom, None).is_empty());
        assert!(validate_metadata(&custom, None, true, NameRule::Dns1123Subdomain).is_empty());
        assert_eq!(
            messages(&validate_metadata(
                &custom,
                None,
                false,
                NameRule::Dns1123Subdomain
            )),
            ["metadata.namespace: Forbidden: not allowed on this type"]
        );
    }

    #[test]
    fn owner_references() {
        let cm = json!({"metadata": {"name": "a", "namespace": "d", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "1", "controller": true},
            {"apiVersion": "", "kind": "Deployment", "name": "", "uid": "2", "controller": true}]}});
        let got = messages(&validate("", "ConfigMap", &cm, None));
        assert_eq!(
            got[0],
            "metadata.ownerReferences.apiVersion: Invalid value: \"\": version must not be empty"
        );
        assert_eq!(
            got[1],
            "metadata.ownerReferences.name: Invalid value: \"\": name must not be empty"
        );
        assert!(got[2].ends_with(": Only one reference can have Controller set to true. Found \"true\" in references for ReplicaSet/r and Deployment/"));
    }

    #[test]
    fn immutable_on_update() {
        let old = json!({"metadata": {"name": "a", "namespace": "d", "uid": "u1",
            "creationTimestamp": "2024-01-01T00:00:00Z", "generation": 3}});
        let new = json!({"metadata": {"name": "a", "namespace": "d", "uid": "u2",
            "creationTimestamp": "2024-01-01T00:00:00Z", "generation": 2}});
        assert_eq!(
            messages(&validate("", "ConfigMap", &new, Some(&old))),
            [
                "metadata.resourceVersion: Invalid value: \"\": must be specified for an update",
                "metadata.generation: Invalid value: 2: must not be decremented",
                "metadata.uid: Invalid value: \"u2\": field is immutable"
            ]
        );
        let deleting = json!({"metadata": {"name": "a", "namespace": "d",
            "deletionTimestamp": "2024-01-01T00:00:00Z"}});
        let new = json!({"metadata": {"name": "a", "namespace": "d", "resourceVersion": "7",
            "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["example.com/x", "orphan"]}});
        assert_eq!(
            messages(&validate("", "ConfigMap", &new, Some(&deleting))),
            ["metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/x\", \"orphan\"}"]
        );
    }
}
