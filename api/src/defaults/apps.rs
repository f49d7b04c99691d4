//! Workload defaults: Deployments, ReplicaSets, StatefulSets, DaemonSets, ReplicationControllers,
//! Jobs, CronJobs.

use serde_json::{json, Value};

use super::pod::{default_template, default_workload_template};
use super::{child, child_or_new, items, set};

/// Defaults a Deployment (`apps/v1`).
pub(crate) fn default_deployment(obj: &mut Value) {
    default_workload_template(obj);
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    set(spec, "replicas", 1.into());
    if let Some(strategy) = child_or_new(spec, "strategy") {
        set(strategy, "type", "RollingUpdate".into());
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            if let Some(r) = child_or_new(strategy, "rollingUpdate") {
                set(r, "maxUnavailable", "25%".into());
                set(r, "maxSurge", "25%".into());
            }
        }
    }
    set(spec, "revisionHistoryLimit", 10.into());
    set(spec, "progressDeadlineSeconds", 600.into());
}

/// Defaults a ReplicaSet (`apps/v1`).
pub(crate) fn default_replica_set(obj: &mut Value) {
    default_workload_template(obj);
    if let Some(spec) = child(obj, "spec") {
        set(spec, "replicas", 1.into());
    }
}

/// Defaults a ReplicationController: replicas, and selector and labels from the template.
pub(crate) fn default_replication_controller(obj: &mut Value) {
    default_workload_template(obj);
    let template_labels = obj
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
        .cloned();
    if let Some(spec) = child(obj, "spec") {
        set(spec, "replicas", 1.into());
        if let Some(labels) = &template_labels {
            let empty = spec
                .get("selector")
                .and_then(Value::as_object)
                .is_none_or(|m| m.is_empty());
            if empty {
                spec["selector"] = labels.clone();
            }
        }
    }
    copy_template_labels(obj, template_labels);
}

/// Sets `metadata.labels` to the template's labels when the object has none (ReplicationControllers
/// and Jobs).
fn copy_template_labels(obj: &mut Value, template_labels: Option<Value>) {
    let Some(labels) = template_labels else {
        return;
    };
    if let Some(meta) = child_or_new(obj, "metadata") {
        let empty = meta
            .get("labels")
            .and_then(Value::as_object)
            .is_none_or(|m| m.is_empty());
        if empty {
            meta["labels"] = labels;
        }
    }
}

/// Defaults a StatefulSet (`apps/v1`).
pub(crate) fn default_stateful_set(obj: &mut Value) {
    default_workload_template(obj);
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    set(spec, "podManagementPolicy", "OrderedReady".into());
    if let Some(strategy) = child_or_new(spec, "updateStrategy") {
        if strategy.get("type").is_none_or(Value::is_null) {
            set(strategy, "type", "RollingUpdate".into());
            set(strategy, "rollingUpdate", json!({}));
        }
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            if let Some(r) = child(strategy, "rollingUpdate") {
                set(r, "partition", 0.into());
            }
        }
    }
    if let Some(policy) = child_or_new(spec, "persistentVolumeClaimRetentionPolicy") {
        set(policy, "whenDeleted", "Retain".into());
        set(policy, "whenScaled", "Retain".into());
    }
    set(spec, "replicas", 1.into());
    set(spec, "revisionHistoryLimit", 10.into());
    for claim in items(spec, "volumeClaimTemplates") {
        if let Some(s) = child(claim, "spec") {
            set(s, "volumeMode", "Filesystem".into());
        }
        if let Some(status) = child_or_new(claim, "status") {
            set(status, "phase", "Pending".into());
        }
    }
}

/// Defaults a DaemonSet (`apps/v1`).
pub(crate) fn default_daemon_set(obj: &mut Value) {
    default_workload_template(obj);
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    if let Some(strategy) = child_or_new(spec, "updateStrategy") {
        set(strategy, "type", "RollingUpdate".into());
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            if let Some(r) = child_or_new(strategy, "rollingUpdate") {
                set(r, "maxUnavailable", 1.into());
                set(r, "maxSurge", 0.into());
            }
        }
    }
    set(spec, "revisionHistoryLimit", 10.into());
}

/// Defaults a Job (`batch/v1`).
pub(crate) fn default_job(obj: &mut Value) {
    default_workload_template(obj);
    let template_labels = obj
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
        .cloned();
    if let Some(spec) = child(obj, "spec") {
        default_job_spec(spec);
    }
    copy_template_labels(obj, template_labels);
}

/// Gives a new Job the selector Kubernetes generates on create unless `spec.manualSelector` is
/// true: the pod template gets the job-name and controller-uid labels (new and legacy keys,
/// unless set), and the selector matches `batch.kubernetes.io/controller-uid=<uid>`.
///
/// Needs `metadata.uid` (and `metadata.name`), so the API server calls it once it has assigned
/// them, before validation.
pub fn generate_job_selector(obj: &mut Value) {
    use crate::names::{
        LABEL_JOB_CONTROLLER_UID, LABEL_JOB_CONTROLLER_UID_LEGACY, LABEL_JOB_NAME,
        LABEL_JOB_NAME_LEGACY,
    };
    let manual = obj.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true);
    if manual {
        return;
    }
    let field = |obj: &Value, p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let name = field(obj, "/metadata/name");
    let uid = field(obj, "/metadata/uid");
    let Some(spec) = child_or_new(obj, "spec") else {
        return;
    };
    if let Some(labels) = child_or_new(spec, "template")
        .and_then(|t| child_or_new(t, "metadata"))
        .and_then(|m| child_or_new(m, "labels"))
    {
        for key in [LABEL_JOB_NAME_LEGACY, LABEL_JOB_NAME] {
            set(labels, key, name.clone().into());
        }
        for key in [LABEL_JOB_CONTROLLER_UID_LEGACY, LABEL_JOB_CONTROLLER_UID] {
            set(labels, key, uid.clone().into());
        }
    }
    if let Some(match_labels) =
        child_or_new(spec, "selector").and_then(|s| child_or_new(s, "matchLabels"))
    {
        set(match_labels, LABEL_JOB_CONTROLLER_UID, uid.into());
    }
}

/// Kubernetes' `SetDefaults_Job` on a job spec.
fn default_job_spec(spec: &mut Value) {
    let unset = |v: &Value, k: &str| v.get(k).is_none_or(Value::is_null);
    if unset(spec, "completions") && unset(spec, "parallelism") {
        set(spec, "completions", 1.into());
    }
    set(spec, "parallelism", 1.into());
    let backoff = if unset(spec, "backoffLimitPerIndex") {
        6
    } else {
        i64::from(i32::MAX)
    };
    set(spec, "backoffLimit", backoff.into());
    set(spec, "completionMode", "NonIndexed".into());
    set(spec, "suspend", false.into());
    let has_failure_policy = !unset(spec, "podFailurePolicy");
    if let Some(policy) = child(spec, "podFailurePolicy") {
        for rule in items(policy, "rules") {
            for cond in items(rule, "onPodConditions") {
                set(cond, "status", "True".into());
            }
        }
    }
    let replacement = if has_failure_policy {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    set(spec, "podReplacementPolicy", replacement.into());
}

/// Defaults a CronJob (`batch/v1`). The job template's spec is not given Job defaults (Kubernetes
/// does not either); its pod template is.
pub(crate) fn default_cron_job(obj: &mut Value) {
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    set(spec, "concurrencyPolicy", "Allow".into());
    set(spec, "suspend", false.into());
    set(spec, "successfulJobsHistoryLimit", 3.into());
    set(spec, "failedJobsHistoryLimit", 1.into());
    if let Some(t) = child(spec, "jobTemplate")
        .and_then(|j| child(j, "spec"))
        .and_then(|s| child(s, "template"))
    {
        default_template(t);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::apply_defaults;

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}})
    }

    fn defaulted_template(restart: &str) -> Value {
        json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                "imagePullPolicy": "IfNotPresent", "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File"}],
                "restartPolicy": restart, "dnsPolicy": "ClusterFirst",
                "terminationGracePeriodSeconds": 30, "securityContext": {},
                "schedulerName": "default-scheduler"}})
    }

    #[test]
    fn deployment() {
        let mut d = json!({"metadata": {"name": "web"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}}, "template": template()}});
        apply_defaults("apps", "v1", "Deployment", &mut d);
        assert_eq!(
            d,
            json!({"metadata": {"name": "web"}, "spec": {
                "replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": defaulted_template("Always"),
                "strategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}})
        );
        let mut recreate = json!({"spec": {"strategy": {"type": "Recreate"}}});
        apply_defaults("apps", "v1", "Deployment", &mut recreate);
        assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn replica_and_daemon_sets() {
        let mut rs = json!({"spec": {"template": template()}});
        apply_defaults("apps", "v1", "ReplicaSet", &mut rs);
        assert_eq!(rs["spec"]["replicas"], 1);
        assert_eq!(rs["spec"]["template"], defaulted_template("Always"));
        let mut ds = json!({"spec": {"template": template()}});
        apply_defaults("apps", "v1", "DaemonSet", &mut ds);
        assert_eq!(
            ds,
            json!({"spec": {"template": defaulted_template("Always"),
                "updateStrategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                "revisionHistoryLimit": 10}})
        );
    }

    #[test]
    fn stateful_set() {
        let mut sts = json!({"spec": {"serviceName": "db", "template": template(),
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}});
        apply_defaults("apps", "v1", "StatefulSet", &mut sts);
        assert_eq!(
            sts,
            json!({"spec": {"serviceName": "db", "template": defaulted_template("Always"),
                "replicas": 1, "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "revisionHistoryLimit": 10,
                "volumeClaimTemplates": [{"metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                        "volumeMode": "Filesystem"},
                    "status": {"phase": "Pending"}}]}})
        );
    }

    #[test]
    fn job_and_cron_job() {
        let mut job = json!({"metadata": {"name": "pi"}, "spec": {"template": template()}});
        job["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        apply_defaults("batch", "v1", "Job", &mut job);
        assert_eq!(
            job,
            json!({"metadata": {"name": "pi", "labels": {"app": "web"}}, "spec": {
                "template": defaulted_template("Never"),
                "completions": 1, "parallelism": 1, "backoffLimit": 6,
                "completionMode": "NonIndexed", "suspend": false,
                "podReplacementPolicy": "TerminatingOrFailed"}})
        );
        let mut parallel = json!({"spec": {"parallelism": 3}});
        apply_defaults("batch", "v1", "Job", &mut parallel);
        assert!(parallel["spec"].get("completions").is_none());
        let mut cj = json!({"spec": {"schedule": "* * * * *",
            "jobTemplate": {"spec": {"template": template()}}}});
        apply_defaults("batch", "v1", "CronJob", &mut cj);
        assert_eq!(
            cj,
            json!({"spec": {"schedule": "* * * * *", "concurrencyPolicy": "Allow",
                "suspend": false, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                "jobTemplate": {"spec": {"template": defaulted_template("Always")}}}})
        );
    }

    #[test]
    fn job_selector() {
        let mut job =
            json!({"metadata": {"name": "pi", "uid": "u1"}, "spec": {"template": template()}});
        super::generate_job_selector(&mut job);
        assert_eq!(
            job["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}})
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"],
            json!({"app": "web", "job-name": "pi", "batch.kubernetes.io/job-name": "pi",
                "controller-uid": "u1", "batch.kubernetes.io/controller-uid": "u1"})
        );
        let mut manual =
            json!({"spec": {"manualSelector": true, "selector": {"matchLabels": {"a": "b"}}}});
        super::generate_job_selector(&mut manual);
        assert_eq!(
            manual["spec"]["selector"],
            json!({"matchLabels": {"a": "b"}})
        );
    }

    #[test]
    fn replication_controller() {
        let mut rc = json!({"metadata": {"name": "rc"}, "spec": {"template": template()}});
        apply_defaults("", "v1", "ReplicationController", &mut rc);
        assert_eq!(rc["spec"]["selector"], json!({"app": "web"}));
        assert_eq!(rc["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(rc["spec"]["replicas"], 1);
    }
}
