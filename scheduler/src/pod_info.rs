//! What the scheduler keeps of a pod: its requests, ports, tolerations and affinity terms,
//! computed once when the pod is seen, so that checking it against a node is cheap.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    NodeSelectorTerm, Pod, PodAffinityTerm, PreferredSchedulingTerm, Toleration,
    TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::resources::{pod_non_zero_requests, pod_requests, Resources};
use crate::selector::label_selector_matches;

/// A host port a container asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// Host IP, `0.0.0.0` when unset (every address).
    pub ip: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port number.
    pub port: i32,
}

impl HostPort {
    /// Whether two pods asking for these ports cannot share a node.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// One (anti-)affinity term with its namespaces resolved.
#[derive(Debug, Clone)]
pub struct AffinityTerm {
    /// Pods this term is about (`None` matches no pod, as in the API).
    pub selector: Option<LabelSelector>,
    /// Namespaces of the pods this term is about; empty with `all_namespaces` false means the
    /// owning pod's namespace.
    pub namespaces: Vec<String>,
    /// An empty `namespaceSelector`: every namespace.
    pub all_namespaces: bool,
    /// The node label whose values are the topology domains.
    pub topology_key: String,
}

impl AffinityTerm {
    fn new(term: &PodAffinityTerm, own_namespace: &str) -> Self {
        let all_namespaces = term.namespace_selector.as_ref().is_some_and(|s| {
            s.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
                && s.match_expressions.as_ref().is_none_or(Vec::is_empty)
        });
        let mut namespaces = term.namespaces.clone().unwrap_or_default();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.push(own_namespace.to_owned());
        }
        Self {
            selector: term.label_selector.clone(),
            namespaces,
            all_namespaces,
            topology_key: term.topology_key.clone(),
        }
    }

    /// Whether `pod` is one of the pods this term is about.
    pub fn matches(&self, pod: &PodInfo) -> bool {
        (self.all_namespaces || self.namespaces.contains(&pod.namespace))
            && self
                .selector
                .as_ref()
                .is_some_and(|s| label_selector_matches(s, &pod.labels))
    }
}

/// A topology spread constraint of the pod.
#[derive(Debug, Clone)]
pub struct SpreadConstraint {
    /// Largest allowed difference between domains.
    pub max_skew: i32,
    /// Node label naming the domains.
    pub topology_key: String,
    /// `DoNotSchedule` (a filter) or not (a score).
    pub hard: bool,
    /// Which pods are counted.
    pub selector: Option<LabelSelector>,
}

/// The scheduler's view of one pod.
#[derive(Debug, Clone, Default)]
pub struct PodInfo {
    /// `namespace/name`.
    pub key: String,
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// Requests as Kubernetes computes them.
    pub requests: Resources,
    /// CPU (millicores) and memory requests with defaults for containers without requests.
    pub non_zero: (i64, i64),
    /// Host ports asked for.
    pub host_ports: Vec<HostPort>,
    /// `spec.priority` (0 when unset).
    pub priority: i32,
    /// `spec.preemptionPolicy` is `Never`.
    pub never_preempt: bool,
    /// The UID of the pod's controller (e.g. its ReplicaSet), for default spreading.
    pub owner_uid: Option<String>,
    /// `spec.nodeName`.
    pub node_name: Option<String>,
    /// `spec.nodeSelector`.
    pub node_selector: BTreeMap<String, String>,
    /// Required node affinity terms (ORed).
    pub required_node_terms: Option<Vec<NodeSelectorTerm>>,
    /// Preferred node affinity terms.
    pub preferred_node_terms: Vec<PreferredSchedulingTerm>,
    /// `spec.tolerations`.
    pub tolerations: Vec<Toleration>,
    /// Required pod affinity terms.
    pub required_affinity: Vec<AffinityTerm>,
    /// Required pod anti-affinity terms.
    pub required_anti_affinity: Vec<AffinityTerm>,
    /// Preferred pod affinity terms with their weights.
    pub preferred_affinity: Vec<(i32, AffinityTerm)>,
    /// Preferred pod anti-affinity terms with their weights.
    pub preferred_anti_affinity: Vec<(i32, AffinityTerm)>,
    /// Topology spread constraints.
    pub spread: Vec<SpreadConstraint>,
    /// Container images.
    pub images: Vec<String>,
    /// Names of the PersistentVolumeClaims the pod mounts.
    pub claims: Vec<String>,
}

impl PodInfo {
    /// Computes the view of `pod`.
    pub fn new(pod: &Pod) -> Self {
        let meta = &pod.metadata;
        let namespace = meta.namespace.clone().unwrap_or_default();
        let name = meta.name.clone().unwrap_or_default();
        let mut info = Self {
            key: format!("{namespace}/{name}"),
            uid: meta.uid.clone().unwrap_or_default(),
            labels: meta.labels.clone().unwrap_or_default(),
            owner_uid: meta
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.controller == Some(true))
                .map(|o| o.uid.clone()),
            namespace,
            name,
            ..Self::default()
        };
        let Some(spec) = &pod.spec else {
            return info;
        };
        info.requests = pod_requests(spec);
        info.non_zero = pod_non_zero_requests(spec);
        info.priority = spec.priority.unwrap_or(0);
        info.never_preempt = spec.preemption_policy.as_deref() == Some("Never");
        info.node_name = spec.node_name.clone().filter(|n| !n.is_empty());
        info.node_selector = spec.node_selector.clone().unwrap_or_default();
        info.tolerations = spec.tolerations.clone().unwrap_or_default();
        for container in spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
        {
            if let Some(image) = &container.image {
                info.images.push(image.clone());
            }
            for port in container.ports.iter().flatten() {
                match port.host_port {
                    Some(p) if p > 0 => info.host_ports.push(HostPort {
                        ip: port
                            .host_ip
                            .clone()
                            .filter(|ip| !ip.is_empty())
                            .unwrap_or_else(|| "0.0.0.0".to_owned()),
                        protocol: port.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
                        port: p,
                    }),
                    _ => {}
                }
            }
        }
        for volume in spec.volumes.iter().flatten() {
            if let Some(claim) = &volume.persistent_volume_claim {
                info.claims.push(claim.claim_name.clone());
            }
        }
        info.spread = spec
            .topology_spread_constraints
            .iter()
            .flatten()
            .map(|c: &TopologySpreadConstraint| SpreadConstraint {
                max_skew: c.max_skew.max(1),
                topology_key: c.topology_key.clone(),
                hard: c.when_unsatisfiable != "ScheduleAnyway",
                selector: c.label_selector.clone(),
            })
            .collect();
        if let Some(affinity) = &spec.affinity {
            if let Some(node) = &affinity.node_affinity {
                info.required_node_terms = node
                    .required_during_scheduling_ignored_during_execution
                    .as_ref()
                    .map(|s| s.node_selector_terms.clone());
                info.preferred_node_terms = node
                    .preferred_during_scheduling_ignored_during_execution
                    .clone()
                    .unwrap_or_default();
            }
            let ns = info.namespace.clone();
            if let Some(a) = &affinity.pod_affinity {
                info.required_affinity = terms(
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref(),
                    &ns,
                );
                info.preferred_affinity = a
                    .preferred_during_scheduling_ignored_during_execution
                    .iter()
                    .flatten()
                    .map(|w| (w.weight, AffinityTerm::new(&w.pod_affinity_term, &ns)))
                    .collect();
            }
            if let Some(a) = &affinity.pod_anti_affinity {
                info.required_anti_affinity = terms(
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref(),
                    &ns,
                );
                info.preferred_anti_affinity = a
                    .preferred_during_scheduling_ignored_during_execution
                    .iter()
                    .flatten()
                    .map(|w| (w.weight, AffinityTerm::new(&w.pod_affinity_term, &ns)))
                    .collect();
            }
        }
        info
    }

    /// Whether the pod has any inter-pod affinity of its own (required or preferred).
    pub fn has_pod_affinity(&self) -> bool {
        !self.required_affinity.is_empty()
            || !self.required_anti_affinity.is_empty()
            || !self.preferred_affinity.is_empty()
            || !self.preferred_anti_affinity.is_empty()
    }
}

fn terms(list: Option<&Vec<PodAffinityTerm>>, namespace: &str) -> Vec<AffinityTerm> {
    list.iter()
        .flat_map(|l| l.iter())
        .map(|t| AffinityTerm::new(t, namespace))
        .collect()
}

/// Whether the pod has finished (its resources are free again).
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_ports_owner_and_terms() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "a"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                    "uid": "rs-uid", "controller": true}]},
            "spec": {
                "containers": [{"name": "c", "image": "nginx",
                    "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}]}],
                "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "a"}}, "topologyKey": "kubernetes.io/hostname"}
                ]}},
            },
        }))
        .unwrap();
        let info = PodInfo::new(&pod);
        assert_eq!(info.key, "ns/p");
        assert_eq!(info.owner_uid.as_deref(), Some("rs-uid"));
        assert_eq!(
            info.host_ports,
            vec![HostPort {
                ip: "0.0.0.0".into(),
                protocol: "TCP".into(),
                port: 8080
            }]
        );
        assert_eq!(info.required_anti_affinity.len(), 1);
        assert!(info.required_anti_affinity[0].matches(&info));
        let other = PodInfo {
            namespace: "other".into(),
            ..info.clone()
        };
        assert!(!info.required_anti_affinity[0].matches(&other));
    }

    #[test]
    fn host_ports_conflict_on_wildcard_ip() {
        let p = |ip: &str, port| HostPort {
            ip: ip.into(),
            protocol: "TCP".into(),
            port,
        };
        assert!(p("0.0.0.0", 80).conflicts(&p("10.0.0.1", 80)));
        assert!(!p("10.0.0.2", 80).conflicts(&p("10.0.0.1", 80)));
        assert!(!p("0.0.0.0", 80).conflicts(&p("0.0.0.0", 81)));
    }
}
