//! Jobs and CronJobs.

use serde_json::Value;

use super::rules::{self, child, get, int_of, non_negative, str_of, string_map_of, sub, Selector};
use super::{cron, pod, FieldError};

const MAX_PARALLELISM_FOR_INDEXED_JOB: i64 = 100_000;

/// Validates a Job. Its selector is expected to be generated already (the API server does so
/// on create unless `manualSelector` is set).
pub(crate) fn validate_job(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    if old.is_none() {
        validate_generated_selector(obj, errs);
    }
    validate_job_spec(spec, "spec", errs);
    match get(spec, "selector") {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(sel) => rules::label_selector(errs, "spec.selector", Some(sel)),
    }
    if let Some(selector) = Selector::from_value(get(spec, "selector")) {
        let template_meta = sub(sub(spec, "template"), "metadata");
        if !selector.matches(&string_map_of(template_meta, "labels")) {
            errs.push(FieldError::invalid(
                "spec.template.metadata.labels",
                template_meta.get("labels").cloned().unwrap_or(Value::Null),
                "`selector` does not match template `labels`",
            ));
        }
    }
    if old.is_none() && str_of(spec, "completionMode") == "Indexed" {
        if let Some(completions) = int_of(spec, "completions").filter(|c| *c > 0) {
            let name = str_of(sub(obj, "metadata"), "name");
            let hostname = format!("{name}-{}", completions - 1);
            if !rules::dns1123_label(&hostname).is_empty() {
                errs.push(FieldError::invalid(
                    "metadata.name",
                    name,
                    &format!("will not able to create pod with invalid DNS label: {hostname}"),
                ));
            }
        }
    }
    if let Some(old) = old {
        validate_job_update(spec, old, errs);
    }
}

/// Unless the selector is manual, the template carries the generated labels and the selector
/// selects them (see [`crate::defaults::generate_job_selector`]).
fn validate_generated_selector(obj: &Value, errs: &mut Vec<FieldError>) {
    use crate::names::{
        LABEL_JOB_CONTROLLER_UID, LABEL_JOB_CONTROLLER_UID_LEGACY, LABEL_JOB_NAME,
        LABEL_JOB_NAME_LEGACY,
    };
    let spec = sub(obj, "spec");
    if rules::bool_of(spec, "manualSelector") == Some(true) || get(spec, "selector").is_none() {
        return;
    }
    let meta = sub(obj, "metadata");
    let uid = str_of(meta, "uid");
    let name = str_of(meta, "name");
    if uid.is_empty() {
        errs.push(FieldError::required("metadata.uid", ""));
    }
    let template_meta = sub(sub(spec, "template"), "metadata");
    let labels = string_map_of(template_meta, "labels");
    let mut expected = std::collections::BTreeMap::new();
    for (key, value) in [
        (LABEL_JOB_CONTROLLER_UID_LEGACY, uid),
        (LABEL_JOB_NAME_LEGACY, name),
        (LABEL_JOB_CONTROLLER_UID, uid),
        (LABEL_JOB_NAME, name),
    ] {
        let path = rules::key("spec.template.metadata.labels", key);
        match labels.get(key) {
            None => errs.push(FieldError::required(&path, value)),
            Some(actual) if actual != value => errs.push(FieldError::invalid(
                &path,
                template_meta.get("labels").cloned().unwrap_or(Value::Null),
                &format!("must be '{value}'"),
            )),
            Some(_) => {}
        }
        expected.insert(key.to_owned(), value.to_owned());
    }
    let sel = get(spec, "selector");
    if let Some(selector) = Selector::from_value(sel) {
        if !selector.matches(&expected) {
            errs.push(
                FieldError::invalid(
                    "spec.selector",
                    sel.cloned().unwrap_or(Value::Null),
                    "`selector` not auto-generated",
                )
                .with_go_repr(super::render::go_label_selector(sel)),
            );
        }
    }
}

/// Kubernetes' `validateJobSpec`: counts, completion mode, template and its restart policy.
fn validate_job_spec(spec: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for field in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        non_negative(errs, &child(path, field), int_of(spec, field));
    }
    if let Some(mode) = spec.get("completionMode").and_then(Value::as_str) {
        if mode != "NonIndexed" && mode != "Indexed" {
            errs.push(FieldError::not_supported(
                &child(path, "completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            ));
        }
        if mode == "Indexed" {
            if get(spec, "completions").is_none() {
                errs.push(FieldError::required(
                    &child(path, "completions"),
                    "when completion mode is Indexed",
                ));
            }
            if let Some(p) =
                int_of(spec, "parallelism").filter(|p| *p > MAX_PARALLELISM_FOR_INDEXED_JOB)
            {
                errs.push(FieldError::invalid(
                    &child(path, "parallelism"),
                    p,
                    "must be less than or equal to 100000 when completion mode is Indexed",
                ));
            }
        }
    }
    if spec.get("completionMode").and_then(Value::as_str) != Some("Indexed") {
        for field in ["backoffLimitPerIndex", "maxFailedIndexes"] {
            if let Some(v) = int_of(spec, field) {
                errs.push(FieldError::invalid(
                    &child(path, field),
                    v,
                    "requires indexed completion mode",
                ));
            }
        }
    }
    let has_failure_policy = get(spec, "podFailurePolicy").is_some();
    if let Some(policy) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        let rp = child(path, "podReplacementPolicy");
        if has_failure_policy {
            if policy != "Failed" {
                errs.push(FieldError::not_supported(&rp, policy, &["Failed"]));
            }
        } else if policy != "Failed" && policy != "TerminatingOrFailed" {
            errs.push(FieldError::not_supported(
                &rp,
                policy,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let template_path = child(path, "template");
    let template = sub(spec, "template");
    pod::validate_template_spec(template, &template_path, errs);
    let policy_path = child(&template_path, "spec.restartPolicy");
    match str_of(sub(template, "spec"), "restartPolicy") {
        "Always" | "" => errs.push(FieldError::required(
            &policy_path,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" if has_failure_policy => errs.push(FieldError::invalid(
            &policy_path,
            "OnFailure",
            "only \"Never\" is supported when podFailurePolicy is specified",
        )),
        "OnFailure" | "Never" => {}
        other => errs.push(FieldError::not_supported(
            &policy_path,
            other,
            &["OnFailure", "Never"],
        )),
    }
}

/// What a Job update may not change.
fn validate_job_update(spec: &Value, old_obj: &Value, errs: &mut Vec<FieldError>) {
    let old = sub(old_obj, "spec");
    let completions = get(spec, "completions");
    if str_of(spec, "completionMode") != "Indexed" {
        rules::immutable(
            errs,
            "spec.completions",
            completions,
            get(old, "completions"),
        );
    } else if completions != get(old, "completions") {
        if let Some(c) = int_of(spec, "completions") {
            if Some(c) != int_of(spec, "parallelism") {
                errs.push(FieldError::invalid(
                    "spec.completions",
                    c,
                    "can only be modified in tandem with spec.parallelism",
                ));
            }
        }
    }
    rules::immutable(
        errs,
        "spec.selector",
        get(spec, "selector"),
        get(old, "selector"),
    );
    let template = get(spec, "template");
    let old_template = get(old, "template");
    let scheduling_mutable = rules::bool_of(old, "suspend") == Some(true)
        && get(sub(old_obj, "status"), "startTime").is_none();
    if template != old_template {
        let strip = |t: Option<&Value>| {
            let mut t = t.cloned().unwrap_or(Value::Null);
            if let Some(m) = t.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("labels");
                m.remove("annotations");
            }
            if let Some(m) = t.get_mut("spec").and_then(Value::as_object_mut) {
                for f in ["nodeSelector", "tolerations", "affinity", "schedulingGates"] {
                    m.remove(f);
                }
            }
            t
        };
        if !(scheduling_mutable && strip(template) == strip(old_template)) {
            errs.push(FieldError::invalid(
                "spec.template",
                template.cloned().unwrap_or(Value::Null),
                rules::IMMUTABLE,
            ));
        }
    }
    for field in [
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ] {
        rules::immutable(
            errs,
            &child("spec", field),
            get(spec, field),
            get(old, field),
        );
    }
}

/// Validates a CronJob.
pub(crate) fn validate_cron_job(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    let schedule = str_of(spec, "schedule");
    if schedule.is_empty() {
        errs.push(FieldError::required("spec.schedule", ""));
    } else {
        if let Err(e) = cron::check_schedule(schedule) {
            errs.push(FieldError::invalid("spec.schedule", schedule, &e));
        }
        let tz_allowed = old.is_some_and(|o| str_of(sub(o, "spec"), "schedule").contains("TZ"));
        if tz_allowed && schedule.contains("TZ") && get(spec, "timeZone").is_some() {
            errs.push(FieldError::invalid(
                "spec.schedule",
                schedule,
                "cannot use both timeZone field and TZ or CRON_TZ in schedule",
            ));
        }
        if !tz_allowed && schedule.contains("TZ") {
            errs.push(FieldError::invalid(
                "spec.schedule",
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    non_negative(
        errs,
        "spec.startingDeadlineSeconds",
        int_of(spec, "startingDeadlineSeconds"),
    );
    if let Some(tz) = spec.get("timeZone").and_then(Value::as_str) {
        if tz.is_empty() {
            errs.push(FieldError::invalid(
                "spec.timeZone",
                tz,
                "timeZone must be nil or non-empty string",
            ));
        } else if tz.eq_ignore_ascii_case("local") {
            errs.push(FieldError::invalid(
                "spec.timeZone",
                tz,
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
            ));
        }
    }
    match str_of(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required("spec.concurrencyPolicy", "")),
        other => errs.push(FieldError::not_supported(
            "spec.concurrencyPolicy",
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let job_spec = sub(sub(spec, "jobTemplate"), "spec");
    validate_job_spec(job_spec, "spec.jobTemplate.spec", errs);
    if let Some(sel) = get(job_spec, "selector") {
        errs.push(
            FieldError::invalid(
                "spec.jobTemplate.spec.selector",
                sel.clone(),
                "`selector` will be auto-generated",
            )
            .with_go_repr(super::render::go_label_selector(Some(sel))),
        );
    }
    if rules::bool_of(job_spec, "manualSelector") == Some(true) {
        errs.push(FieldError::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            true,
            &["nil", "false"],
        ));
    }
    for field in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        non_negative(errs, &child("spec", field), int_of(spec, field));
    }
    let name = str_of(sub(obj, "metadata"), "name");
    if old.is_none() && name.len() > 52 {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be no more than 52 characters",
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::validate;

    fn pod_template(policy: &str) -> serde_json::Value {
        json!({"metadata": {"labels": {"batch.kubernetes.io/controller-uid": "u",
                "batch.kubernetes.io/job-name": "pi", "controller-uid": "u", "job-name": "pi"}},
            "spec": {"restartPolicy": policy, "dnsPolicy": "ClusterFirst", "containers": [
                {"name": "c", "image": "busybox", "imagePullPolicy": "IfNotPresent",
                 "terminationMessagePolicy": "File"}]}})
    }

    fn job(spec_extra: serde_json::Value, policy: &str) -> serde_json::Value {
        let mut spec = json!({"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
            "template": pod_template(policy), "completions": 1, "parallelism": 1,
            "backoffLimit": 6, "completionMode": "NonIndexed"});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), spec_extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        json!({"metadata": {"name": "pi", "namespace": "default", "uid": "u"}, "spec": spec})
    }

    fn messages(
        kind: &str,
        obj: &serde_json::Value,
        old: Option<&serde_json::Value>,
    ) -> Vec<String> {
        validate("batch", kind, &super::super::versioned(obj, old), old)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn jobs() {
        assert_eq!(
            messages("Job", &job(json!({}), "Never"), None),
            Vec::<String>::new()
        );
        assert_eq!(
            messages("Job", &job(json!({"completions": -1, "parallelism": -2}), "Always"), None),
            [
                "spec.parallelism: Invalid value: -2: must be greater than or equal to 0",
                "spec.completions: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
            ]
        );
        assert_eq!(
            messages(
                "Job",
                &job(
                    json!({"completionMode": "Indexed", "completions": null}),
                    "OnFailure"
                ),
                None
            ),
            ["spec.completions: Required value: when completion mode is Indexed"]
        );
        let mut no_selector = job(json!({}), "Never");
        no_selector["spec"]
            .as_object_mut()
            .map(|m| m.remove("selector"));
        assert_eq!(
            messages("Job", &no_selector, None),
            [
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"batch.kubernetes.io/controller-uid\":\"u\", \"batch.kubernetes.io/job-name\":\"pi\", \"controller-uid\":\"u\", \"job-name\":\"pi\"}: `selector` does not match template `labels`"
            ]
        );
    }

    #[test]
    fn generated_selectors() {
        let mut j = job(json!({}), "Never");
        j["metadata"]["uid"] = json!("other");
        j["spec"]["template"]["metadata"]["labels"]
            .as_object_mut()
            .map(|m| m.remove("job-name"));
        assert_eq!(
            messages("Job", &j, None),
            [
                "spec.template.metadata.labels[controller-uid]: Invalid value: map[string]string{\"batch.kubernetes.io/controller-uid\":\"u\", \"batch.kubernetes.io/job-name\":\"pi\", \"controller-uid\":\"u\"}: must be 'other'",
                "spec.template.metadata.labels[job-name]: Required value: pi",
                "spec.template.metadata.labels[batch.kubernetes.io/controller-uid]: Invalid value: map[string]string{\"batch.kubernetes.io/controller-uid\":\"u\", \"batch.kubernetes.io/job-name\":\"pi\", \"controller-uid\":\"u\"}: must be 'other'",
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"batch.kubernetes.io/controller-uid\":\"u\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated",
            ]
        );
    }

    #[test]
    fn job_updates() {
        let old = job(json!({}), "Never");
        let new = job(json!({"completions": 3}), "Never");
        assert_eq!(
            messages("Job", &new, Some(&old)),
            ["spec.completions: Invalid value: 3: field is immutable"]
        );
    }

    #[test]
    fn cron_jobs() {
        let cj = |schedule: &str, policy: &str| {
            json!({"metadata": {"name": "hello", "namespace": "default"}, "spec": {
                "schedule": schedule, "concurrencyPolicy": policy,
                "jobTemplate": {"spec": {"template": pod_template("OnFailure")}}}})
        };
        assert_eq!(
            messages("CronJob", &cj("*/1 * * * *", "Allow"), None),
            Vec::<String>::new()
        );
        assert_eq!(
            messages("CronJob", &cj("every minute", "Sometimes"), None),
            [
                "spec.schedule: Invalid value: \"every minute\": expected exactly 5 fields, found 2: [every minute]",
                "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
            ]
        );
        assert_eq!(
            messages("CronJob", &cj("TZ=UTC 0 * * * *", "Allow"), None),
            ["spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"]
        );
        let mut long = cj("@daily", "Forbid");
        long["metadata"]["name"] = json!("a".repeat(53));
        assert_eq!(
            messages("CronJob", &long, None),
            [format!(
                "metadata.name: Invalid value: \"{}\": must be no more than 52 characters",
                "a".repeat(53)
            )]
        );
    }
}
