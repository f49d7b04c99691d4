//! The Priority admission step and the built-in PriorityClasses.
//!
//! A new pod's `spec.priorityClassName` is resolved to the class's value and preemption policy,
//! written into `spec.priority` and `spec.preemptionPolicy` (which the scheduler reads); a pod
//! naming no class gets the cluster's `globalDefault` class if there is one, else priority 0. A
//! class that does not exist, or a priority given by hand that disagrees with the class, is
//! refused as Kubernetes refuses them. The two system classes exist in every cluster.

use serde_json::{json, Value};

use crate::rest::cache_of;
use crate::status::{ApiError, ApiResult};
use crate::{object, ApiServer};

/// The classes every cluster has: (name, value, description).
pub const SYSTEM_CLASSES: &[(&str, i64, &str)] = &[
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

const DEFAULT_PREEMPTION: &str = "PreemptLowerPriority";

/// Whether `resource` is core Pods.
pub fn is_pod(resource: &crate::resources::ServedResource) -> bool {
    resource.group.is_empty() && resource.kind == "Pod"
}

/// Resolves a new pod's priority from its PriorityClass.
pub fn admit_pod(server: &ApiServer, pod: &mut Value) -> ApiResult<()> {
    let name = object::meta_str(pod, "name").unwrap_or_default().to_owned();
    let forbidden = |why: String| ApiError::forbidden("", "pods", &name, &why);
    let classes = all_classes(server);
    let wanted = pod
        .pointer("/spec/priorityClassName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let class = match &wanted {
        Some(wanted) => Some(
            classes
                .iter()
                .find(|c| object::meta_str(c, "name") == Some(wanted.as_str()))
                .ok_or_else(|| {
                    forbidden(format!("no PriorityClass with name {wanted} was found"))
                })?,
        ),
        None => default_class(&classes),
    };
    let (value, policy) = match class {
        Some(c) => (
            c.get("value").and_then(Value::as_i64).unwrap_or(0),
            c.get("preemptionPolicy")
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_PREEMPTION)
                .to_owned(),
        ),
        None => (0, DEFAULT_PREEMPTION.to_owned()),
    };
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    if let Some(given) = spec.get("priority").and_then(Value::as_i64) {
        if given != value {
            return Err(forbidden(format!(
                "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {value} from the given PriorityClass name"
            )));
        }
    }
    if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str) {
        if class.is_some() && given != policy {
            return Err(forbidden(format!(
                "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
            )));
        }
    }
    if let (None, Some(c)) = (&wanted, class) {
        if let Some(n) = object::meta_str(c, "name") {
            spec.insert("priorityClassName".into(), json!(n));
        }
    }
    spec.insert("priority".into(), json!(value));
    spec.entry("preemptionPolicy").or_insert(json!(policy));
    Ok(())
}

/// Every stored PriorityClass.
fn all_classes(server: &ApiServer) -> Vec<Value> {
    let Some(resource) = server
        .catalog
        .lookup("scheduling.k8s.io", "v1", "priorityclasses")
    else {
        return Vec::new();
    };
    let (entries, _) = cache_of(server, &resource).list(&resource.prefix(None));
    entries.iter().map(|e| e.obj.clone()).collect()
}

/// The `globalDefault` class; the lowest when several claim it, as Kubernetes picks.
fn default_class(classes: &[Value]) -> Option<&Value> {
    classes
        .iter()
        .filter(|c| c.get("globalDefault").and_then(Value::as_bool) == Some(true))
        .min_by_key(|c| c.get("value").and_then(Value::as_i64).unwrap_or(0))
}

/// Creates the system PriorityClasses if they are missing.
pub async fn ensure_system_classes(server: &ApiServer) -> ApiResult<()> {
    let resource = server
        .catalog
        .lookup("scheduling.k8s.io", "v1", "priorityclasses")
        .ok_or_else(|| ApiError::internal("priorityclasses are not served"))?;
    for (name, value, description) in SYSTEM_CLASSES {
        let obj = json!({
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {
                "name": name,
                "uid": uuid::Uuid::new_v4().to_string(),
                "creationTimestamp": object::now_rfc3339(),
                "generation": 1,
            },
            "value": value,
            "globalDefault": false,
            "description": description,
            "preemptionPolicy": DEFAULT_PREEMPTION,
        });
        let key = resource.key(None, name);
        match server
            .backend
            .create(key.as_bytes(), object::encode(&obj)?, 0)
            .await
        {
            Ok(_) | Err(rkube_store::backend::Error::AlreadyExists { .. }) => {}
            Err(e) => {
                return Err(ApiError::from_storage(
                    e,
                    "scheduling.k8s.io",
                    "priorityclasses",
                    name,
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    #[test]
    fn the_lowest_global_default_wins() {
        let classes = vec![
            json!({"metadata": {"name": "a"}, "value": 10, "globalDefault": true}),
            json!({"metadata": {"name": "b"}, "value": 5, "globalDefault": true}),
            json!({"metadata": {"name": "c"}, "value": 1}),
        ];
        assert_eq!(
            object::meta_str(default_class(&classes).unwrap(), "name"),
            Some("b")
        );
        assert!(default_class(&classes[2..]).is_none());
    }
}
