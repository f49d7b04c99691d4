//! Defaulting of built-in objects as kube-apiserver does it for the versioned (v1) types.
//!
//! [`apply_defaults`] fills in, on an object in its JSON form, what Kubernetes 1.33's defaulting
//! functions fill in (`restartPolicy: Always`, `strategy.rollingUpdate` 25%/25%, a Service's
//! `targetPort`...), plus the few fields Kubernetes sets on create outside its defaulters but that
//! every stored object carries (a Namespace's `spec.finalizers` and phase, a Service's IP family
//! policy, a Pod's priority and initial status with its QoS class, a Secret's `stringData`
//! folded into `data`). Values the user gave are never replaced. Kinds without defaults are
//! left untouched.
//!
//! The API server also generates a Job's selector on create, once the Job has a uid:
//! [`generate_job_selector`].
//!
//! Run it before [`crate::validation::validate`], as the API server does: validation expects the
//! defaulted form.

mod apps;
mod autoscaling;
mod core;
mod pod;

use serde_json::{Map, Value};

pub use apps::generate_job_selector;
pub use autoscaling::DEFAULT_CPU_UTILIZATION;
pub use core::DEFAULT_CLIENT_IP_TIMEOUT_SECONDS;
pub use pod::{qos_class, DEFAULT_PRIORITY};

/// Fills in Kubernetes' defaults on `obj`, an object of `kind` in `group`/`version`.
pub fn apply_defaults(group: &str, version: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        ("", "Pod") => pod::default_pod(obj),
        ("", "PodTemplate") => {
            if let Some(t) = child(obj, "template") {
                pod::default_template(t);
            }
        }
        ("", "ReplicationController") => apps::default_replication_controller(obj),
        ("apps", "Deployment") => apps::default_deployment(obj),
        ("apps", "ReplicaSet") => apps::default_replica_set(obj),
        ("apps", "StatefulSet") => apps::default_stateful_set(obj),
        ("apps", "DaemonSet") => apps::default_daemon_set(obj),
        ("batch", "Job") => apps::default_job(obj),
        ("batch", "CronJob") => apps::default_cron_job(obj),
        ("", "Service") => core::default_service(obj),
        ("", "Namespace") => core::default_namespace(obj),
        ("", "Secret") => core::default_secret(obj),
        ("", "Node") => core::default_node(obj),
        ("", "PersistentVolumeClaim") => core::default_pvc(obj),
        ("", "PersistentVolume") => core::default_pv(obj),
        ("", "Endpoints") => core::default_endpoints(obj),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            core::default_role_binding(obj);
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => core::default_crd(obj),
        ("scheduling.k8s.io", "PriorityClass") => {
            set(obj, "preemptionPolicy", "PreemptLowerPriority".into());
        }
        ("storage.k8s.io", "StorageClass") => {
            set(obj, "reclaimPolicy", "Delete".into());
            set(obj, "volumeBindingMode", "Immediate".into());
        }
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaling::default_hpa(version, obj),
        _ => {}
    }
}

/// Sets `obj[key] = value` unless `obj` already has a non-null value there. Does nothing when
/// `obj` is not an object.
pub(crate) fn set(obj: &mut Value, key: &str, value: Value) {
    if let Some(m) = obj.as_object_mut() {
        set_in(m, key, value);
    }
}

/// [`set`] on a map.
pub(crate) fn set_in(m: &mut Map<String, Value>, key: &str, value: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.to_owned(), value);
    }
}

/// `obj[key]` if it is an object.
pub(crate) fn child<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    obj.get_mut(key).filter(|v| v.is_object())
}

/// `obj[key]`, created as `{}` when absent or null; `None` when `obj` is not an object.
pub(crate) fn child_or_new<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let m = obj.as_object_mut()?;
    let entry = m.entry(key.to_owned()).or_insert(Value::Null);
    if entry.is_null() {
        *entry = Value::Object(Map::new());
    }
    Some(entry).filter(|v| v.is_object())
}

/// The items of `obj[key]` if it is a list.
pub(crate) fn items<'a>(obj: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
    obj.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}
