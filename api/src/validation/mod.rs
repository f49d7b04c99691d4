//! Validation of built-in objects as kube-apiserver does it: field errors with Kubernetes' texts.
//!
//! [`validate`] checks one object in its JSON form (camelCase fields, as stored) and returns every
//! problem it finds as a [`FieldError`], in the order Kubernetes reports them. The object is
//! expected to have been defaulted first ([`crate::defaults::apply_defaults`]), as the API server
//! does: fields Kubernetes always defaults (a pod's `restartPolicy`, a Service's
//! `sessionAffinity`...) are reported as required when absent.
//!
//! [`FieldError`]'s `Display` is Kubernetes' field error text (`spec.replicas: Invalid value: -1:
//! must be greater than or equal to 0`), and [`invalid_message`] builds the message of the 422
//! `Status` that kubectl prints.
//!
//! A 422 `Status` carries one `StatusCause` per error: `reason` is [`ErrorKind::reason`], `field`
//! is [`FieldError::field`], `message` is [`FieldError::body`].
//!
//! What the API server does around validation is left to it, as in Kubernetes: generating a new
//! Job's selector ([`crate::defaults::generate_job_selector`]), allocating cluster IPs and node
//! ports, setting `resourceVersion` on unconditional updates and carrying `uid` and
//! `creationTimestamp` over, and admission (service accounts, priorities, default tolerations).
//!
//! Bad values print as Go prints them, including the Go structs Kubernetes puts in some
//! messages (`intstr.IntOrString{...}`, `v1.LabelSelector{...}`); values Kubernetes would print
//! as deep structs (whole pod templates, quantities) print as JSON instead.

mod apps;
mod autoscaling;
mod batch;
mod cluster;
mod config;
mod crd;
mod cron;
mod daemonset;
mod error;
mod meta;
mod networking;
mod pod;
mod pod_container;
mod pod_update;
mod probe;
mod render;
mod resources;
mod rules;
mod service;
mod statefulset;

pub use config::MAX_DATA_SIZE;
pub use error::{invalid_message, ErrorKind, FieldError};
pub use meta::TOTAL_ANNOTATION_SIZE_LIMIT;
pub use service::NODE_PORT_RANGE;

use serde_json::Value;

use crate::registry;

/// How an object's `metadata.name` is checked, which depends on its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// A DNS-1123 subdomain: most kinds.
    Dns1123Subdomain,
    /// A DNS-1123 label: Namespaces, StatefulSets.
    Dns1123Label,
    /// A DNS-1035 label (starts with a letter): Services.
    Dns1035Label,
    /// Anything usable as a URL path segment: RBAC objects, HorizontalPodAutoscalers.
    PathSegment,
}

impl NameRule {
    /// The rule Kubernetes applies to names of `kind` in `group`.
    pub fn for_kind(group: &str, kind: &str) -> NameRule {
        match (group, kind) {
            ("", "Namespace") => NameRule::Dns1123Label,
            ("", "Service") => NameRule::Dns1035Label,
            ("apps", "StatefulSet") => NameRule::Dns1123Label,
            ("rbac.authorization.k8s.io", _) | ("autoscaling", "HorizontalPodAutoscaler") => {
                NameRule::PathSegment
            }
            _ => NameRule::Dns1123Subdomain,
        }
    }
}

/// Validates only `obj`'s `metadata`, for custom resources: their scope comes from their
/// CustomResourceDefinition, and their names are DNS-1123 subdomains
/// ([`NameRule::Dns1123Subdomain`]).
pub fn validate_metadata(
    obj: &Value,
    old: Option<&Value>,
    namespaced: bool,
    rule: NameRule,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match old {
        Some(old) => meta::validate_update(obj, old, &mut errs),
        None => meta::validate_create(obj, Some(namespaced), rule, &mut errs),
    }
    errs
}

/// Validates `obj`, an object of `kind` in API group `group` (`""` for core), as kube-apiserver
/// does on create (`old` is `None`) or on update (`old` is the stored object).
///
/// Returns every problem found; an empty list means the object is valid. Kinds this module does
/// not know (custom resources) get their `metadata` checked only, with no namespace rule (see
/// [`validate_metadata`]).
pub fn validate(group: &str, kind: &str, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let namespaced = registry::by_kind(kind)
        .find(|r| r.group == group)
        .map(|r| r.is_namespaced());
    let mut errs = Vec::new();
    let name_rule = NameRule::for_kind(group, kind);
    match (old, group, kind) {
        (Some(old), _, _) => meta::validate_update(obj, old, &mut errs),
        (None, "apiextensions.k8s.io", "CustomResourceDefinition") => {
            crd::validate_meta(obj, &mut errs);
        }
        (None, _, _) => meta::validate_create(obj, namespaced, name_rule, &mut errs),
    }
    if namespaced.is_some() && group != "apiextensions.k8s.io" {
        meta::validate_kube_finalizers(obj, &mut errs);
    }
    match (group, kind) {
        ("", "Pod") => pod::validate_pod(obj, old, &mut errs),
        ("", "PodTemplate") => pod::validate_template(obj, "template", &mut errs),
        ("", "ReplicationController") => apps::validate_replication_controller(obj, &mut errs),
        ("apps", "Deployment") => apps::validate_deployment(obj, old, &mut errs),
        ("apps", "ReplicaSet") => apps::validate_replica_set(obj, old, &mut errs),
        ("apps", "StatefulSet") => statefulset::validate_stateful_set(obj, old, &mut errs),
        ("apps", "DaemonSet") => daemonset::validate_daemon_set(obj, old, &mut errs),
        ("batch", "Job") => batch::validate_job(obj, old, &mut errs),
        ("batch", "CronJob") => batch::validate_cron_job(obj, old, &mut errs),
        ("", "Service") => service::validate_service(obj, old, &mut errs),
        ("", "ConfigMap") => config::validate_config_map(obj, old, &mut errs),
        ("", "Secret") => config::validate_secret(obj, old, &mut errs),
        ("", "Namespace") if old.is_none() => cluster::validate_namespace(obj, &mut errs),
        ("", "Node") => cluster::validate_node(obj, old, &mut errs),
        ("coordination.k8s.io", "Lease") => cluster::validate_lease(obj, &mut errs),
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaling::validate_hpa(obj, &mut errs),
        ("networking.k8s.io", "Ingress") => {
            networking::validate_ingress(obj, &mut errs);
            if old.is_none() {
                networking::validate_ingress_class_annotation(obj, &mut errs);
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd::validate_crd(obj, &mut errs),
        _ => {}
    }
    errs
}

/// Test helper: `obj` with the `resourceVersion` an update carries (when `old` is given).
#[cfg(test)]
pub(crate) fn versioned(obj: &Value, old: Option<&Value>) -> Value {
    let mut obj = obj.clone();
    if old.is_some() {
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.entry("resourceVersion").or_insert_with(|| "2".into());
        }
    }
    obj
}
