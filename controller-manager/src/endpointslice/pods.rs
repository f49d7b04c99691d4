//! What the EndpointSlice and Endpoints controllers read off Services and Pods: which pods a
//! Service selects, whether a pod belongs in its endpoints, is ready, and which port each
//! Service port reaches on it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The Service's label selector, when it has one that selects pods (a Service with no selector
/// or an empty one has endpoints managed by someone else).
pub(crate) fn selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    svc.spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .filter(|s| !s.is_empty())
}

/// Whether the pod's labels carry every `key=value` of `selector`.
pub(crate) fn selects(selector: &BTreeMap<String, String>, pod: &Pod) -> bool {
    let labels = pod.metadata.labels.as_ref();
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Whether the Service publishes pods that are not ready (`publishNotReadyAddresses`).
pub(crate) fn publishes_not_ready(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// Whether the pod is being deleted.
pub(crate) fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Whether the pod belongs in a Service's endpoints at all: it has an IP, has not finished,
/// and is not being deleted unless terminating pods are wanted.
pub(crate) fn in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return false;
    }
    if pod_ip(pod).is_none() {
        return false;
    }
    include_terminating || !terminating(pod)
}

/// The pod's (first) IP address.
pub(crate) fn pod_ip(pod: &Pod) -> Option<&str> {
    let status = pod.status.as_ref()?;
    status
        .pod_ip
        .as_deref()
        .or_else(|| {
            status
                .pod_ips
                .as_ref()
                .and_then(|ips| ips.first())
                .map(|ip| ip.ip.as_str())
        })
        .filter(|ip| !ip.is_empty())
}

/// Whether the pod is Ready: its Ready condition is True and so is every readiness gate's.
pub(crate) fn ready(pod: &Pod) -> bool {
    let conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let is_true = |kind: &str| {
        conditions
            .iter()
            .any(|c| c.type_ == kind && c.status == "True")
    };
    let gates = pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_deref())
        .unwrap_or_default();
    is_true("Ready") && gates.iter().all(|g| is_true(&g.condition_type))
}

/// The reference an endpoint carries to its pod.
pub(crate) fn target_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".to_owned()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..ObjectReference::default()
    }
}

/// The pod's DNS hostname within a headless Service, as Kubernetes publishes it: only when the
/// pod's `subdomain` names the Service and the pod sets a `hostname`.
pub(crate) fn hostname(svc: &Service, pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let headless = svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None");
    let subdomain_matches = spec.subdomain.is_some() && spec.subdomain == svc.metadata.name;
    (headless && subdomain_matches)
        .then(|| spec.hostname.clone())
        .flatten()
        .filter(|h| !h.is_empty())
}

/// The port a Service port reaches on the pod: `targetPort` as a number, or the pod's
/// container port of that name and protocol; none when a named port is not on the pod.
pub(crate) fn target_port(port: &ServicePort, pod: &Pod) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) if *n == 0 => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            if let Ok(n) = name.parse::<i32>() {
                return Some(n);
            }
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            pod.spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
    }
}

/// The Service's ports.
pub(crate) fn service_ports(svc: &Service) -> &[ServicePort] {
    svc.spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default()
}

/// The labels the Service's endpoint objects carry: the Service's own, plus
/// `service.kubernetes.io/headless` for a headless Service.
pub(crate) fn endpoint_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = svc.metadata.labels.clone().unwrap_or_default();
    let headless = svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None");
    labels.remove(HEADLESS_LABEL);
    if headless {
        labels.insert(HEADLESS_LABEL.to_owned(), String::new());
    }
    labels
}

/// Label on the endpoints of a headless Service.
pub(crate) const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn named_and_numbered_target_ports() {
        let p = pod(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "ports": [
                {"name": "http", "containerPort": 8080},
                {"name": "dns", "containerPort": 53, "protocol": "UDP"},
            ]}]},
        }));
        let port = |v| serde_json::from_value::<ServicePort>(v).unwrap();
        assert_eq!(
            target_port(&port(json!({"port": 80, "targetPort": "http"})), &p),
            Some(8080)
        );
        assert_eq!(
            target_port(&port(json!({"port": 80, "targetPort": 9000})), &p),
            Some(9000)
        );
        assert_eq!(target_port(&port(json!({"port": 80})), &p), Some(80));
        assert_eq!(
            target_port(&port(json!({"port": 53, "targetPort": "dns"})), &p),
            None
        );
        assert_eq!(
            target_port(
                &port(json!({"port": 53, "targetPort": "dns", "protocol": "UDP"})),
                &p
            ),
            Some(53)
        );
        assert_eq!(
            target_port(&port(json!({"port": 80, "targetPort": "web"})), &p),
            None
        );
    }

    #[test]
    fn readiness_includes_gates() {
        let mut p = pod(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [], "readinessGates": [{"conditionType": "example.com/lb"}]},
            "status": {"podIP": "10.0.0.1", "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}]},
        }));
        assert!(!ready(&p));
        if let Some(c) = p.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            c.push(
                serde_json::from_value(json!({"type": "example.com/lb", "status": "True"}))
                    .unwrap(),
            );
        }
        assert!(ready(&p));
        assert!(in_endpoints(&p, false));
    }
}
