//! StatefulSets: pod management, update strategy, claim retention, selector and template.
//!
//! Kubernetes checks a StatefulSet's template for its labels and annotations only, not its pod
//! spec; this module does the same.

use serde_json::Value;

use super::render::{go_label_selector, go_quote};
use super::rules::{self, get, int_of, non_negative, str_of, string_map_of, sub, Selector};
use super::{apps, meta, FieldError};

const UPDATABLE: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

/// Validates a StatefulSet (`old`: the stored one, on update).
pub(crate) fn validate_stateful_set(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    match str_of(spec, "podManagementPolicy") {
        "OrderedReady" | "Parallel" => {}
        "" => errs.push(FieldError::required("spec.podManagementPolicy", "")),
        other => errs.push(FieldError::invalid(
            "spec.podManagementPolicy",
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    validate_update_strategy(sub(spec, "updateStrategy"), errs);
    if let Some(policy) = get(spec, "persistentVolumeClaimRetentionPolicy") {
        for field in ["whenDeleted", "whenScaled"] {
            let value = str_of(policy, field);
            if value != "Retain" && value != "Delete" {
                errs.push(FieldError::not_supported(
                    &format!("spec.persistentVolumeClaimRetentionPolicy.{field}"),
                    value,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    non_negative(
        errs,
        "spec.replicas",
        Some(int_of(spec, "replicas").unwrap_or(0)),
    );
    non_negative(
        errs,
        "spec.minReadySeconds",
        int_of(spec, "minReadySeconds"),
    );
    if let Some(ordinals) = get(spec, "ordinals") {
        non_negative(errs, "spec.ordinals.start", int_of(ordinals, "start"));
    }
    let sel = get(spec, "selector");
    match sel {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(s) => {
            rules::label_selector(errs, "spec.selector", Some(s));
            if Selector::from_value(Some(s)).is_some_and(|s| s.is_empty()) {
                errs.push(
                    FieldError::invalid(
                        "spec.selector",
                        s.clone(),
                        "empty selector is invalid for statefulset",
                    )
                    .with_go_repr(go_label_selector(Some(s))),
                );
            }
        }
    }
    let template = sub(spec, "template");
    let template_meta = sub(template, "metadata");
    match Selector::from_value(sel) {
        None => errs.push(
            FieldError::invalid("spec.selector", sel.cloned().unwrap_or(Value::Null), "")
                .with_go_repr(go_label_selector(sel)),
        ),
        Some(selector) => {
            if !selector.is_empty() && !selector.matches(&string_map_of(template_meta, "labels")) {
                errs.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    template_meta.get("labels").cloned().unwrap_or(Value::Null),
                    "`selector` does not match template `labels`",
                ));
            }
            rules::labels(errs, "spec.template.labels", template_meta.get("labels"));
            meta::validate_annotations(
                errs,
                "spec.template.annotations",
                template_meta.get("annotations"),
            );
        }
    }
    let t_spec = sub(template, "spec");
    let policy = str_of(t_spec, "restartPolicy");
    if policy != "Always" {
        errs.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            policy,
            &["Always"],
        ));
    }
    if get(t_spec, "activeDeadlineSeconds").is_some() {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    if let Some(old) = old {
        let strip = |spec: &Value| {
            let mut rest = spec.clone();
            if let Some(m) = rest.as_object_mut() {
                for field in UPDATABLE {
                    m.remove(*field);
                }
            }
            rest
        };
        if strip(spec) != strip(sub(old, "spec")) {
            errs.push(FieldError::forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
}

fn validate_update_strategy(strategy: &Value, errs: &mut Vec<FieldError>) {
    match str_of(strategy, "type") {
        "" => errs.push(FieldError::required("spec.updateStrategy", "")),
        "OnDelete" => {
            if let Some(r) = get(strategy, "rollingUpdate") {
                errs.push(
                    FieldError::invalid(
                        "spec.updateStrategy.rollingUpdate",
                        r.clone(),
                        "only allowed for updateStrategy 'RollingUpdate'",
                    )
                    .with_go_repr(go_rolling_update(r)),
                );
            }
        }
        "RollingUpdate" => {
            if let Some(r) = get(strategy, "rollingUpdate") {
                non_negative(
                    errs,
                    "spec.updateStrategy.rollingUpdate.partition",
                    Some(int_of(r, "partition").unwrap_or(0)),
                );
            }
        }
        other => errs.push(
            FieldError::invalid(
                "spec.updateStrategy",
                strategy.clone(),
                "must be 'RollingUpdate' or 'OnDelete'",
            )
            .with_go_repr(format!(
                "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                apps::go_pointer(
                    "apps.RollingUpdateStatefulSetStrategy",
                    get(strategy, "rollingUpdate")
                )
            )),
        ),
    }
}

/// How Go prints a StatefulSet's rolling update parameters.
fn go_rolling_update(r: &Value) -> String {
    let max_unavailable = match get(r, "maxUnavailable") {
        None => "(*intstr.IntOrString)(nil)".to_owned(),
        Some(_) => "(*intstr.IntOrString)(0xc000000000)".to_owned(),
    };
    format!(
        "apps.RollingUpdateStatefulSetStrategy{{Partition:{}, MaxUnavailable:{max_unavailable}}}",
        int_of(r, "partition").unwrap_or(0)
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::{validate, versioned};

    fn sts(spec: Value) -> Value {
        json!({"metadata": {"name": "db", "namespace": "default"}, "spec": spec})
    }

    fn valid_spec() -> Value {
        json!({"serviceName": "db", "replicas": 1, "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}},
                "spec": {"restartPolicy": "Always", "containers": []}}})
    }

    fn messages(obj: &Value, old: Option<&Value>) -> Vec<String> {
        validate("apps", "StatefulSet", &versioned(obj, old), old)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn valid_and_not_pod_spec_checked() {
        assert_eq!(messages(&sts(valid_spec()), None), Vec::<String>::new());
    }

    #[test]
    fn names_are_dns_labels() {
        let mut obj = sts(valid_spec());
        obj["metadata"]["name"] = json!("db.example");
        let got = messages(&obj, None);
        assert_eq!(
            got,
            ["metadata.name: Invalid value: \"db.example\": must not contain dots"]
        );
    }

    #[test]
    fn policies_and_strategy() {
        let mut spec = valid_spec();
        spec["podManagementPolicy"] = json!("Sometimes");
        spec["updateStrategy"] = json!({"type": "OnDelete", "rollingUpdate": {"partition": 1}});
        spec["persistentVolumeClaimRetentionPolicy"]["whenScaled"] = json!("Keep");
        spec["template"]["metadata"]["labels"] = json!({"app": "other"});
        assert_eq!(
            messages(&sts(spec), None),
            [
                "spec.podManagementPolicy: Invalid value: \"Sometimes\": must be 'OrderedReady' or 'Parallel'",
                "spec.updateStrategy.rollingUpdate: Invalid value: apps.RollingUpdateStatefulSetStrategy{Partition:1, MaxUnavailable:(*intstr.IntOrString)(nil)}: only allowed for updateStrategy 'RollingUpdate'",
                "spec.persistentVolumeClaimRetentionPolicy.whenScaled: Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\"",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`",
            ]
        );
    }

    #[test]
    fn updates() {
        let old = sts(valid_spec());
        let mut spec = valid_spec();
        spec["replicas"] = json!(3);
        assert_eq!(messages(&sts(spec), Some(&old)), Vec::<String>::new());
        let mut spec = valid_spec();
        spec["serviceName"] = json!("other");
        assert_eq!(
            messages(&sts(spec), Some(&old)),
            ["spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"]
        );
    }
}
