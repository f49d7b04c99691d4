//! Deployments, ReplicaSets and ReplicationControllers, and what other workloads share with them.

use serde_json::Value;

use super::render::{go_int_or_string, go_label_selector, go_quote};
use super::rules::{
    self, child, get, int_of, int_or_percent_value, non_negative, str_of, string_map_of, sub,
    Selector,
};
use super::{pod, FieldError};

/// Kubernetes' `ValidateLabelSelector` plus the "empty selector" rule for `what`.
fn validate_selector(spec: &Value, what: &str, errs: &mut Vec<FieldError>) {
    match get(spec, "selector") {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(sel) => {
            rules::label_selector(errs, "spec.selector", Some(sel));
            if Selector::from_value(Some(sel)).is_some_and(|s| s.is_empty()) {
                errs.push(
                    FieldError::invalid(
                        "spec.selector",
                        sel.clone(),
                        &format!("empty selector is invalid for {what}"),
                    )
                    .with_go_repr(go_label_selector(Some(sel))),
                );
            }
        }
    }
}

/// Kubernetes' `ValidatePodTemplateSpecForReplicaSet`: the template matches the selector and
/// restarts `Always`.
fn validate_template_for(
    spec: &Value,
    selector: &Selector,
    kind: &str,
    errs: &mut Vec<FieldError>,
) {
    let template = sub(spec, "template");
    if !selector.is_empty() {
        let labels = string_map_of(sub(template, "metadata"), "labels");
        if !selector.matches(&labels) {
            errs.push(FieldError::invalid(
                "spec.template.metadata.labels",
                sub(template, "metadata")
                    .get("labels")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Default::default())),
                "`selector` does not match template `labels`",
            ));
        }
    }
    pod::validate_template_spec(template, "spec.template", errs);
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
            &format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
}

fn selector_of(spec: &Value, errs: &mut Vec<FieldError>) -> Option<Selector> {
    let sel = get(spec, "selector");
    let selector = Selector::from_value(sel);
    if selector.is_none() {
        errs.push(
            FieldError::invalid(
                "spec.selector",
                sel.cloned().unwrap_or(Value::Null),
                "invalid label selector",
            )
            .with_go_repr(go_label_selector(sel)),
        );
    }
    selector
}

pub(crate) fn immutable_selector(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let Some(old) = old else {
        return;
    };
    let new_sel = get(sub(obj, "spec"), "selector");
    let old_sel = get(sub(old, "spec"), "selector");
    if new_sel != old_sel {
        errs.push(
            FieldError::invalid(
                "spec.selector",
                new_sel.cloned().unwrap_or(Value::Null),
                rules::IMMUTABLE,
            )
            .with_go_repr(go_label_selector(new_sel)),
        );
    }
}

/// Validates a Deployment.
pub(crate) fn validate_deployment(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    non_negative(errs, "spec.replicas", int_of(spec, "replicas"));
    validate_selector(spec, "deployment", errs);
    if let Some(selector) = selector_of(spec, errs) {
        validate_template_for(spec, &selector, "ReplicaSet", errs);
    }
    validate_deployment_strategy(sub(spec, "strategy"), errs);
    let min_ready = int_of(spec, "minReadySeconds").unwrap_or(0);
    non_negative(errs, "spec.minReadySeconds", Some(min_ready));
    non_negative(
        errs,
        "spec.revisionHistoryLimit",
        int_of(spec, "revisionHistoryLimit"),
    );
    if let Some(pds) = int_of(spec, "progressDeadlineSeconds") {
        non_negative(errs, "spec.progressDeadlineSeconds", Some(pds));
        if pds <= min_ready {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                pds,
                "must be greater than minReadySeconds",
            ));
        }
    }
    immutable_selector(obj, old, errs);
}

fn validate_deployment_strategy(strategy: &Value, errs: &mut Vec<FieldError>) {
    let rolling = get(strategy, "rollingUpdate");
    match str_of(strategy, "type") {
        "Recreate" => {
            if rolling.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match rolling {
            None => errs.push(FieldError::required(
                "spec.strategy.rollingUpdate",
                "this should be defaulted and never be nil",
            )),
            Some(r) => validate_rolling_update(r, "spec.strategy.rollingUpdate", errs),
        },
        other => errs.push(
            FieldError::not_supported(
                "spec.strategy",
                strategy.clone(),
                &["Recreate", "RollingUpdate"],
            )
            .with_go_repr(format!(
                "apps.DeploymentStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                go_pointer("apps.RollingUpdateDeployment", rolling)
            )),
        ),
    }
}

/// How Go prints a pointer to a struct: `(*T)(nil)`, or an address that differs every run
/// (shown as `(*T)(0xc000000000)`).
pub(crate) fn go_pointer(type_name: &str, value: Option<&Value>) -> String {
    match value {
        None => format!("(*{type_name})(nil)"),
        Some(_) => format!("(*{type_name})(0xc000000000)"),
    }
}

/// `must not be greater than 100%` for a percentage above 100.
pub(crate) fn not_more_than_100_percent(
    errs: &mut Vec<FieldError>,
    path: &str,
    value: Option<&Value>,
) {
    if let Some(Value::String(s)) = value {
        if rules::is_percent(s) && int_or_percent_value(value) > 100 {
            errs.push(
                FieldError::invalid(path, s.as_str(), "must not be greater than 100%")
                    .with_go_repr(go_int_or_string(value)),
            );
        }
    }
}

/// `maxUnavailable` and `maxSurge`: non-negative, not both zero, unavailability at most 100%.
fn validate_rolling_update(r: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let unavailable_path = child(path, "maxUnavailable");
    let unavailable = get(r, "maxUnavailable");
    let surge = get(r, "maxSurge");
    rules::positive_int_or_percent(errs, &unavailable_path, unavailable);
    rules::positive_int_or_percent(errs, &child(path, "maxSurge"), surge);
    if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
        errs.push(
            FieldError::invalid(
                &unavailable_path,
                unavailable.cloned().unwrap_or(Value::Null),
                "may not be 0 when `maxSurge` is 0",
            )
            .with_go_repr(go_int_or_string(unavailable)),
        );
    }
    not_more_than_100_percent(errs, &unavailable_path, unavailable);
}

/// Validates a ReplicaSet.
pub(crate) fn validate_replica_set(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    non_negative(errs, "spec.replicas", int_of(spec, "replicas"));
    non_negative(
        errs,
        "spec.minReadySeconds",
        int_of(spec, "minReadySeconds"),
    );
    // Kubernetes says "deployment" here too.
    validate_selector(spec, "deployment", errs);
    if let Some(selector) = selector_of(spec, errs) {
        validate_template_for(spec, &selector, "ReplicaSet", errs);
    }
    immutable_selector(obj, old, errs);
}

/// Validates a ReplicationController (map selector, defaulted from the template's labels).
pub(crate) fn validate_replication_controller(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    non_negative(errs, "spec.replicas", int_of(spec, "replicas"));
    non_negative(
        errs,
        "spec.minReadySeconds",
        int_of(spec, "minReadySeconds"),
    );
    let selector = string_map_of(spec, "selector");
    if selector.is_empty() {
        errs.push(FieldError::required("spec.selector", ""));
    } else {
        rules::labels(errs, "spec.selector", spec.get("selector"));
    }
    let template = sub(spec, "template");
    if template.is_null() {
        errs.push(FieldError::required("spec.template", ""));
        return;
    }
    let labels = string_map_of(sub(template, "metadata"), "labels");
    if !selector.is_empty() && !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
        errs.push(FieldError::invalid(
            "spec.template.metadata.labels",
            sub(template, "metadata")
                .get("labels")
                .cloned()
                .unwrap_or(Value::Null),
            "`selector` does not match template `labels`",
        ));
    }
    pod::validate_template_spec(template, "spec.template", errs);
    let policy = str_of(sub(template, "spec"), "restartPolicy");
    if policy != "Always" {
        errs.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            policy,
            &["Always"],
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::validate;

    fn template(labels: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"labels": labels}, "spec": {"restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst", "containers": [{"name": "app", "image": "nginx",
            "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]}})
    }

    fn deployment(spec: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    fn messages(
        kind: &str,
        obj: &serde_json::Value,
        old: Option<&serde_json::Value>,
    ) -> Vec<String> {
        validate("apps", kind, obj, old)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn valid_spec() -> serde_json::Value {
        json!({"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": template(json!({"app": "web"})),
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600})
    }

    #[test]
    fn valid_deployment() {
        assert_eq!(
            messages("Deployment", &deployment(valid_spec()), None),
            Vec::<String>::new()
        );
    }

    #[test]
    fn selector_must_match() {
        let mut spec = valid_spec();
        spec["template"] = template(json!({"app": "x"}));
        spec["replicas"] = json!(-1);
        assert_eq!(
            messages("Deployment", &deployment(spec), None),
            [
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"
            ]
        );
        let mut spec = valid_spec();
        spec.as_object_mut().map(|m| m.remove("selector"));
        assert_eq!(
            messages("Deployment", &deployment(spec), None),
            [
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
    }

    #[test]
    fn strategy() {
        let mut spec = valid_spec();
        spec["strategy"]["rollingUpdate"] = json!({"maxSurge": 0, "maxUnavailable": 0});
        spec["template"]["spec"]["restartPolicy"] = json!("Never");
        assert_eq!(
            messages("Deployment", &deployment(spec), None),
            [
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0"
            ]
        );
        let mut spec = valid_spec();
        spec["strategy"] = json!({"type": "Recreate", "rollingUpdate": {}});
        assert_eq!(
            messages("Deployment", &deployment(spec), None),
            ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]
        );
        let mut spec = valid_spec();
        spec["strategy"] = json!({"type": "BlueGreen"});
        assert_eq!(
            messages("Deployment", &deployment(spec), None),
            ["spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:\"BlueGreen\", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", \"RollingUpdate\""]
        );
        let mut spec = valid_spec();
        spec["strategy"]["rollingUpdate"]["maxUnavailable"] = json!("110%");
        assert_eq!(
            messages("Deployment", &deployment(spec), None),
            ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"110%\"}: must not be greater than 100%"]
        );
    }

    #[test]
    fn selector_is_immutable() {
        let old = deployment(valid_spec());
        let mut spec = valid_spec();
        spec["selector"] = json!({"matchLabels": {"app": "nginx2"}});
        spec["template"] = template(json!({"app": "nginx2"}));
        let mut new = deployment(spec);
        new["metadata"]["resourceVersion"] = json!("5");
        assert_eq!(
            messages("Deployment", &new, Some(&old)),
            ["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"nginx2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]
        );
    }
}
