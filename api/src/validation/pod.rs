//! Pods, pod templates and pod specs: volumes, scheduling fields, policies.

use std::collections::BTreeSet;

use serde_json::Value;

use super::rules::{self, child, get, index, int_of, list_of, push_invalid, str_of, sub};
use super::{meta, pod_container, pod_update, FieldError};

/// Volume source fields, in the order Kubernetes checks them.
const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "quobyte",
    "cinder",
    "cephfs",
    "downwardAPI",
    "fc",
    "flexVolume",
    "configMap",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "projected",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

const FILE_MODE_MESSAGE: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// Validates a Pod (`old`: the stored pod on update).
pub(crate) fn validate_pod(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    validate_spec(spec, "spec", errs);
    let containers_path = "spec.containers";
    for (i, c) in list_of(spec, "containers").iter().enumerate() {
        let image = str_of(c, "image");
        if image.trim() != image {
            errs.push(FieldError::invalid(
                &child(&index(containers_path, i), "image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    if let Some(old) = old {
        pod_update::validate(obj, old, errs);
    }
}

/// Validates the pod template at `obj[field]` (`template` of a PodTemplate, `spec.template` of a
/// workload), reporting under `path`.
pub(crate) fn validate_template(obj: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let template = path.split('.').fold(obj, |v, part| sub(v, part));
    validate_template_spec(template, path, errs);
}

/// Kubernetes' `ValidatePodTemplateSpec`: the template's labels, annotations and pod spec.
pub(crate) fn validate_template_spec(template: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let metadata = sub(template, "metadata");
    rules::labels(errs, &child(path, "labels"), metadata.get("labels"));
    meta::validate_annotations(
        errs,
        &child(path, "annotations"),
        metadata.get("annotations"),
    );
    let spec_path = child(path, "spec");
    let spec = sub(template, "spec");
    validate_spec(spec, &spec_path, errs);
    if !list_of(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            &child(&spec_path, "ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

/// Kubernetes' `ValidatePodSpec`.
pub(crate) fn validate_spec(spec: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let volumes = validate_volumes(spec, &child(path, "volumes"), errs);
    pod_container::validate_containers(spec, &volumes, path, errs);
    validate_restart_policy(
        errs,
        &child(path, "restartPolicy"),
        str_of(spec, "restartPolicy"),
    );
    let dns = str_of(spec, "dnsPolicy");
    let dns_path = child(path, "dnsPolicy");
    match dns {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(FieldError::required(&dns_path, "")),
        other => errs.push(FieldError::not_supported(
            &dns_path,
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    rules::labels(errs, &child(path, "nodeSelector"), spec.get("nodeSelector"));
    for (i, secret) in list_of(spec, "imagePullSecrets").iter().enumerate() {
        if str_of(secret, "name").is_empty() {
            errs.push(FieldError::required(
                &child(&index(&child(path, "imagePullSecrets"), i), "name"),
                "",
            ));
        }
    }
    for field in ["serviceAccountName", "nodeName"] {
        let v = str_of(spec, field);
        if !v.is_empty() {
            push_invalid(errs, &child(path, field), v, rules::dns1123_subdomain(v));
        }
    }
    if let Some(v) = int_of(spec, "activeDeadlineSeconds") {
        if !(1..=i64::from(i32::MAX)).contains(&v) {
            errs.push(FieldError::invalid(
                &child(path, "activeDeadlineSeconds"),
                v,
                "must be between 1 and 2147483647, inclusive",
            ));
        }
    }
    for field in ["hostname", "subdomain"] {
        let v = str_of(spec, field);
        if !v.is_empty() {
            push_invalid(errs, &child(path, field), v, rules::dns1123_label(v));
        }
    }
    validate_tolerations(
        errs,
        &child(path, "tolerations"),
        list_of(spec, "tolerations"),
    );
    let priority_class = str_of(spec, "priorityClassName");
    if !priority_class.is_empty() {
        push_invalid(
            errs,
            &child(path, "priorityClassName"),
            priority_class,
            rules::dns1123_subdomain(priority_class),
        );
    }
    if let Some(policy) = spec.get("preemptionPolicy").and_then(Value::as_str) {
        if !matches!(policy, "PreemptLowerPriority" | "Never") {
            errs.push(FieldError::not_supported(
                &child(path, "preemptionPolicy"),
                policy,
                &["Never", "PreemptLowerPriority"],
            ));
        }
    }
}

/// A pod's `restartPolicy`: `Always`, `OnFailure` or `Never`.
pub(crate) fn validate_restart_policy(errs: &mut Vec<FieldError>, path: &str, policy: &str) {
    match policy {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(FieldError::required(path, "")),
        other => errs.push(FieldError::not_supported(
            path,
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
}

/// Validates volumes; returns the names of the valid ones (what mounts may refer to).
fn validate_volumes(spec: &Value, path: &str, errs: &mut Vec<FieldError>) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, vol) in list_of(spec, "volumes").iter().enumerate() {
        let p = index(path, i);
        let mut el = Vec::new();
        validate_volume_source(vol, &p, &mut el);
        let name = str_of(vol, "name");
        let name_path = child(&p, "name");
        if name.is_empty() {
            el.push(FieldError::required(&name_path, ""));
        } else {
            push_invalid(&mut el, &name_path, name, rules::dns1123_label(name));
        }
        if names.contains(name) {
            el.push(FieldError::duplicate(&name_path, name));
        }
        if el.is_empty() {
            names.insert(name.to_owned());
        } else {
            errs.append(&mut el);
        }
    }
    names
}

fn validate_volume_source(vol: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let mut count = 0;
    for source in VOLUME_SOURCES {
        let Some(src) = get(vol, source) else {
            continue;
        };
        let p = child(path, source);
        if count > 0 {
            errs.push(FieldError::forbidden(
                &p,
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        let required = match *source {
            "hostPath" => Some("path"),
            "secret" => Some("secretName"),
            "configMap" => Some("name"),
            "persistentVolumeClaim" => Some("claimName"),
            "nfs" => Some("server"),
            _ => None,
        };
        if let Some(field) = required {
            if str_of(src, field).is_empty() {
                errs.push(FieldError::required(&child(&p, field), ""));
            }
        }
        if *source == "hostPath" {
            let kind = str_of(src, "type");
            const TYPES: &[&str] = &[
                "",
                "BlockDevice",
                "CharDevice",
                "Directory",
                "DirectoryOrCreate",
                "File",
                "FileOrCreate",
                "Socket",
            ];
            if !TYPES.contains(&kind) {
                errs.push(FieldError::not_supported(&child(&p, "type"), kind, TYPES));
            }
        }
        if let Some(mode) = int_of(src, "defaultMode") {
            if !(0..=0o777).contains(&mode) {
                errs.push(FieldError::invalid(
                    &child(&p, "defaultMode"),
                    mode,
                    FILE_MODE_MESSAGE,
                ));
            }
        }
        if let Some(items) = src.get("items").and_then(Value::as_array) {
            for (i, item) in items.iter().enumerate() {
                let ip = index(&child(&p, "items"), i);
                if str_of(item, "key").is_empty() && matches!(*source, "secret" | "configMap") {
                    errs.push(FieldError::required(&child(&ip, "key"), ""));
                }
                pod_container::validate_local_path(
                    errs,
                    &child(&ip, "path"),
                    str_of(item, "path"),
                    true,
                );
            }
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
}

/// Kubernetes' `ValidateTolerations`.
pub(crate) fn validate_tolerations(errs: &mut Vec<FieldError>, path: &str, tolerations: &[Value]) {
    for (i, t) in tolerations.iter().enumerate() {
        let p = index(path, i);
        let key = str_of(t, "key");
        let operator = str_of(t, "operator");
        let effect = str_of(t, "effect");
        if !key.is_empty() {
            push_invalid(errs, &child(&p, "key"), key, rules::qualified_name(key));
        }
        if key.is_empty() && operator != "Exists" {
            errs.push(FieldError::invalid(
                &child(&p, "operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if get(t, "tolerationSeconds").is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                &child(&p, "effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        let value = str_of(t, "value");
        match operator {
            "Equal" | "" => {
                let msgs = rules::label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        &child(&p, "operator"),
                        value,
                        &msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        &child(&p, "operator"),
                        t.clone(),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                &child(&p, "operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            validate_taint_effect(errs, &child(&p, "effect"), effect);
        }
    }
}

/// A taint effect: `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
pub(crate) fn validate_taint_effect(errs: &mut Vec<FieldError>, path: &str, effect: &str) {
    match effect {
        "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {}
        "" => errs.push(FieldError::required(path, "")),
        other => errs.push(FieldError::not_supported(
            path,
            other,
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::validate;
    use super::*;

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "default"}, "spec": spec})
    }

    fn base_spec() -> Value {
        json!({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "containers": [
            {"name": "app", "image": "nginx", "imagePullPolicy": "Always",
             "terminationMessagePolicy": "File"}]})
    }

    fn messages(obj: &Value) -> Vec<String> {
        validate("", "Pod", obj, None)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn valid_pod() {
        assert_eq!(messages(&pod(base_spec())), Vec::<String>::new());
    }

    #[test]
    fn policies() {
        let mut spec = base_spec();
        spec["restartPolicy"] = json!("Sometimes");
        spec["dnsPolicy"] = json!("");
        assert_eq!(
            messages(&pod(spec)),
            [
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                "spec.dnsPolicy: Required value"
            ]
        );
    }

    #[test]
    fn volumes() {
        let mut spec = base_spec();
        spec["volumes"] = json!([
            {"name": "a", "emptyDir": {}},
            {"name": "a", "emptyDir": {}},
            {"name": "b"},
            {"name": "c", "emptyDir": {}, "configMap": {"name": "x"}},
            {"name": "d", "secret": {"defaultMode": 1000}},
        ]);
        assert_eq!(
            messages(&pod(spec)),
            [
                "spec.volumes[1].name: Duplicate value: \"a\"",
                "spec.volumes[2]: Required value: must specify a volume type",
                "spec.volumes[3].configMap: Forbidden: may not specify more than 1 volume type",
                "spec.volumes[4].secret.secretName: Required value",
                "spec.volumes[4].secret.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive",
            ]
        );
    }

    #[test]
    fn scheduling_fields() {
        let mut spec = base_spec();
        spec["activeDeadlineSeconds"] = json!(0);
        spec["tolerations"] = json!([
            {"operator": "Equal", "value": "x"},
            {"key": "k", "operator": "Exists", "effect": "Sometimes"},
            {"key": "k", "operator": "Equal", "tolerationSeconds": 5, "effect": "NoSchedule"}
        ]);
        spec["nodeSelector"] = json!({"disk": "s s"});
        let got = messages(&pod(spec));
        assert!(
            got[0].starts_with("spec.nodeSelector: Invalid value: \"s s\": a valid label must be")
        );
        assert_eq!(
            got[1..],
            [
                "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
                "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                "spec.tolerations[1].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "spec.tolerations[2].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
            ]
        );
    }

    #[test]
    fn templates_report_labels_under_template() {
        let t = json!({"metadata": {"name": "t", "namespace": "d"}, "template": {
            "metadata": {"labels": {"a": "-"}}, "spec": base_spec()}});
        let got: Vec<String> = validate("", "PodTemplate", &t, None)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got.len(), 1);
        assert!(
            got[0].starts_with("template.labels: Invalid value: \"-\""),
            "{got:?}"
        );
    }
}
