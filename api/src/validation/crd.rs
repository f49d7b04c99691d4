//! CustomResourceDefinitions: name, group, names, scope, versions.

use std::collections::BTreeSet;

use serde_json::Value;

use super::rules::{self, child, get, index, list_of, str_of, sub};
use super::{meta, FieldError};

/// Checks a new CRD's `metadata`: a DNS subdomain equal to `<plural>.<group>`.
pub(crate) fn validate_meta(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    let required = format!(
        "{}.{}",
        str_of(sub(spec, "names"), "plural"),
        str_of(spec, "group")
    );
    meta::validate_names(
        sub(obj, "metadata"),
        Some(false),
        |name, prefix| {
            let mut msgs = meta::name_messages(super::NameRule::Dns1123Subdomain, name, prefix);
            if name != required {
                msgs.push("must be spec.names.plural+\".\"+spec.group".to_owned());
            }
            msgs
        },
        errs,
    );
    meta::validate_common(sub(obj, "metadata"), errs);
}

/// Validates a CRD's spec.
pub(crate) fn validate_crd(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    let group = str_of(spec, "group");
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else {
        let msgs = rules::dns1123_subdomain(group);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid("spec.group", group, &msgs.join(",")));
        } else if !group.contains('.') {
            errs.push(FieldError::invalid(
                "spec.group",
                group,
                "should be a domain with at least one dot",
            ));
        }
    }
    match str_of(spec, "scope") {
        "" => errs.push(FieldError::required("spec.scope", "")),
        "Cluster" | "Namespaced" => {}
        other => errs.push(FieldError::not_supported(
            "spec.scope",
            other,
            &["Cluster", "Namespaced"],
        )),
    }
    let versions = list_of(spec, "versions");
    let mut seen = BTreeSet::new();
    let mut unique = true;
    let mut storage = 0;
    for (i, v) in versions.iter().enumerate() {
        let p = index("spec.versions", i);
        let name = str_of(v, "name");
        if rules::bool_of(v, "storage") == Some(true) {
            storage += 1;
        }
        unique &= seen.insert(name);
        let msgs = rules::dns1035_label(name);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                &child(&p, "name"),
                name,
                &msgs.join(","),
            ));
        }
        if get(sub(v, "schema"), "openAPIV3Schema").is_none() {
            errs.push(FieldError::required(
                &child(&p, "schema.openAPIV3Schema"),
                "schemas are required",
            ));
        }
    }
    let versions_value = spec.get("versions").cloned().unwrap_or(Value::Null);
    if !unique {
        errs.push(FieldError::invalid(
            "spec.versions",
            versions_value.clone(),
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        let err = FieldError::invalid(
            "spec.versions",
            versions_value,
            "must have exactly one version marked as storage version",
        );
        errs.push(if versions.is_empty() {
            err.with_go_repr("[]apiextensions.CustomResourceDefinitionVersion(nil)".to_owned())
        } else {
            err
        });
    }
    validate_names(sub(spec, "names"), errs);
}

fn validate_names(names: &Value, errs: &mut Vec<FieldError>) {
    for field in ["plural", "singular", "kind", "listKind"] {
        if str_of(names, field).is_empty() {
            errs.push(FieldError::required(&child("spec.names", field), ""));
        }
    }
    for field in ["plural", "singular"] {
        let v = str_of(names, field);
        let msgs = rules::dns1035_label(v);
        if !v.is_empty() && !msgs.is_empty() {
            errs.push(FieldError::invalid(
                &child("spec.names", field),
                v,
                &msgs.join(","),
            ));
        }
    }
    for field in ["kind", "listKind"] {
        let v = str_of(names, field);
        let msgs = rules::dns1035_label(&v.to_lowercase());
        if !v.is_empty() && !msgs.is_empty() {
            errs.push(FieldError::invalid(
                &child("spec.names", field),
                v,
                &format!(
                    "may have mixed case, but should otherwise match: {}",
                    msgs.join(",")
                ),
            ));
        }
    }
    for (i, short) in list_of(names, "shortNames").iter().enumerate() {
        let short = short.as_str().unwrap_or("");
        let msgs = rules::dns1035_label(short);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                &index("spec.names.shortNames", i),
                short,
                &msgs.join(","),
            ));
        }
    }
    let kind = str_of(names, "kind");
    if !kind.is_empty() && kind == str_of(names, "listKind") {
        errs.push(FieldError::invalid(
            "spec.names.listKind",
            kind,
            "kind and listKind may not be the same",
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::validate;

    fn crd(name: &str, plural: &str, versions: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"name": name}, "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": plural, "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": versions}})
    }

    fn messages(obj: &serde_json::Value) -> Vec<String> {
        validate(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            obj,
            None,
        )
        .iter()
        .map(ToString::to_string)
        .collect()
    }

    #[test]
    fn crds() {
        let v1 = json!([{"name": "v1", "served": true, "storage": true,
            "schema": {"openAPIV3Schema": {"type": "object"}}}]);
        assert_eq!(
            messages(&crd("widgets.example.com", "widgets", v1.clone())),
            Vec::<String>::new()
        );
        assert_eq!(
            messages(&crd("widget.example.com", "widgets", v1)),
            ["metadata.name: Invalid value: \"widget.example.com\": must be spec.names.plural+\".\"+spec.group"]
        );
        let got = messages(&crd("Widgets.example.com", "Widgets", json!([])));
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(got[0].starts_with(
            "metadata.name: Invalid value: \"Widgets.example.com\": a lowercase RFC 1123 subdomain"
        ));
        assert_eq!(
            got[1],
            "spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion(nil): must have exactly one version marked as storage version"
        );
        assert!(
            got[2].starts_with("spec.names.plural: Invalid value: \"Widgets\": a DNS-1035 label")
        );
        let two = json!([
            {"name": "v1", "storage": true, "schema": {"openAPIV3Schema": {}}},
            {"name": "v1", "storage": true}]);
        let got = messages(&crd("widgets.example.com", "widgets", two));
        assert_eq!(
            got[0],
            "spec.versions[1].schema.openAPIV3Schema: Required value: schemas are required"
        );
        assert!(got[1].ends_with(": must contain unique version names"));
        assert!(got[2].ends_with(": must have exactly one version marked as storage version"));
    }
}
