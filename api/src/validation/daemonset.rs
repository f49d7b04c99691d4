//! DaemonSets: selector, template, update strategy.

use serde_json::Value;

use super::render::{go_int_or_string, go_label_selector, go_quote};
use super::rules::{self, get, int_of, int_or_percent_value, non_negative, str_of, sub, Selector};
use super::{apps, pod, FieldError};

/// Validates a DaemonSet (`old`: the stored one, on update).
pub(crate) fn validate_daemon_set(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    let sel = get(spec, "selector");
    rules::label_selector(errs, "spec.selector", sel);
    let template = sub(spec, "template");
    let template_meta = sub(template, "metadata");
    if let Some(selector) = Selector::from_value(sel) {
        if !selector.matches(&rules::string_map_of(template_meta, "labels")) {
            errs.push(FieldError::invalid(
                "spec.template.metadata.labels",
                template_meta
                    .get("labels")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Default::default())),
                "`selector` does not match template `labels`",
            ));
        }
        if sel.is_some() && selector.is_empty() {
            errs.push(
                FieldError::invalid(
                    "spec.selector",
                    sel.cloned().unwrap_or(Value::Null),
                    "empty selector is invalid for daemonset",
                )
                .with_go_repr(go_label_selector(sel)),
            );
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
            "activeDeadlineSeconds in DaemonSet is not Supported",
        ));
    }
    non_negative(
        errs,
        "spec.minReadySeconds",
        int_of(spec, "minReadySeconds"),
    );
    validate_update_strategy(sub(spec, "updateStrategy"), errs);
    non_negative(
        errs,
        "spec.revisionHistoryLimit",
        int_of(spec, "revisionHistoryLimit"),
    );
    apps::immutable_selector(obj, old, errs);
}

fn validate_update_strategy(strategy: &Value, errs: &mut Vec<FieldError>) {
    let rolling = get(strategy, "rollingUpdate");
    match str_of(strategy, "type") {
        "OnDelete" => {}
        "RollingUpdate" => match rolling {
            None => errs.push(FieldError::required(
                "spec.updateStrategy.rollingUpdate",
                "",
            )),
            Some(r) => validate_rolling_update(r, errs),
        },
        other => errs.push(
            FieldError::not_supported(
                "spec.updateStrategy",
                strategy.clone(),
                &["RollingUpdate", "OnDelete"],
            )
            .with_go_repr(format!(
                "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                apps::go_pointer("apps.RollingUpdateDaemonSet", rolling)
            )),
        ),
    }
}

/// Exactly one of `maxUnavailable` and `maxSurge` is non-zero; neither above 100%.
fn validate_rolling_update(r: &Value, errs: &mut Vec<FieldError>) {
    let path = "spec.updateStrategy.rollingUpdate";
    let unavailable = get(r, "maxUnavailable");
    let surge = get(r, "maxSurge");
    let unavailable_path = format!("{path}.maxUnavailable");
    let surge_path = format!("{path}.maxSurge");
    rules::positive_int_or_percent(errs, &unavailable_path, unavailable);
    rules::positive_int_or_percent(errs, &surge_path, surge);
    apps::not_more_than_100_percent(errs, &unavailable_path, unavailable);
    apps::not_more_than_100_percent(errs, &surge_path, surge);
    let has_unavailable = int_or_percent_value(unavailable) != 0;
    let has_surge = int_or_percent_value(surge) != 0;
    if has_unavailable && has_surge {
        errs.push(
            FieldError::invalid(
                &surge_path,
                surge.cloned().unwrap_or(Value::Null),
                "may not be set when maxUnavailable is non-zero",
            )
            .with_go_repr(go_int_or_string(surge)),
        );
    } else if !has_unavailable && !has_surge {
        errs.push(FieldError::required(
            &unavailable_path,
            "cannot be 0 when maxSurge is 0",
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::validate;

    fn ds(strategy: Value, labels: Value) -> Value {
        json!({"metadata": {"name": "agent", "namespace": "default"}, "spec": {
            "updateStrategy": strategy, "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": labels}, "spec": {"restartPolicy": "Always",
                "dnsPolicy": "ClusterFirst", "containers": [{"name": "a", "image": "agent",
                "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]}}}})
    }

    fn messages(obj: &Value) -> Vec<String> {
        validate("apps", "DaemonSet", obj, None)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn daemon_sets() {
        let rolling =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}});
        assert_eq!(
            messages(&ds(rolling.clone(), json!({"app": "agent"}))),
            Vec::<String>::new()
        );
        assert_eq!(
            messages(&ds(rolling, json!({"app": "other"}))),
            ["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"]
        );
        assert_eq!(
            messages(&ds(
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "10%"}}),
                json!({"app": "agent"})
            )),
            ["spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"10%\"}: may not be set when maxUnavailable is non-zero"]
        );
        assert_eq!(
            messages(&ds(
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}),
                json!({"app": "agent"})
            )),
            ["spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]
        );
        assert_eq!(
            messages(&ds(json!({"type": "Sometimes"}), json!({"app": "agent"}))),
            ["spec.updateStrategy: Unsupported value: apps.DaemonSetUpdateStrategy{Type:\"Sometimes\", RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}: supported values: \"RollingUpdate\", \"OnDelete\""]
        );
    }
}
