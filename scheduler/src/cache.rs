//! The scheduler's picture of the cluster: every node with the pods bound (or assumed) to it
//! and the aggregates the filters and scores read (requested resources, used host ports,
//! replicas per workload), kept up to date from the watches and from the scheduler's own
//! placements.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Taint};

use crate::pod_info::{HostPort, PodInfo};
use crate::resources::{node_allocatable, Resources};

/// Taint the node lifecycle controller puts on nodes that are not Ready; the scheduler
/// treats a node whose Ready condition is not True as carrying it even before the
/// controller has written it.
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
/// Taint meaning "cordoned", tolerated by pods that may run on cordoned nodes.
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// One node and what is on it.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    /// `metadata.name`.
    pub name: String,
    /// Whether the Node object exists (pods can be seen bound to a node before it is).
    pub present: bool,
    /// `metadata.labels`.
    pub labels: std::collections::BTreeMap<String, String>,
    /// `spec.taints`, plus the not-ready taint when the node is not Ready.
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// Allocatable resources.
    pub allocatable: Resources,
    /// How many pods the node takes.
    pub allowed_pods: i64,
    /// Images on the node with their sizes in bytes.
    pub images: HashMap<String, i64>,
    /// Sum of the requests of the pods on the node.
    pub requested: Resources,
    /// CPU and memory requested, with defaults for containers without requests (scoring).
    pub non_zero_requested: (i64, i64),
    /// The pods on the node.
    pub pods: Vec<Arc<PodInfo>>,
    /// Host ports in use.
    pub used_ports: Vec<HostPort>,
    /// Pods per controller UID on this node (default spreading).
    pub owners: HashMap<String, u32>,
}

impl NodeInfo {
    fn set_node(&mut self, node: &Node) {
        self.present = true;
        self.labels = node.metadata.labels.clone().unwrap_or_default();
        let spec = node.spec.as_ref();
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        self.taints = spec.and_then(|s| s.taints.clone()).unwrap_or_default();
        let ready = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "True");
        if !ready && !self.taints.iter().any(|t| t.key == NOT_READY_TAINT) {
            self.taints.push(Taint {
                key: NOT_READY_TAINT.to_owned(),
                effect: "NoSchedule".to_owned(),
                ..Taint::default()
            });
        }
        (self.allocatable, self.allowed_pods) = node_allocatable(node);
        self.images.clear();
        for image in node.status.iter().flat_map(|s| s.images.iter().flatten()) {
            for name in image.names.iter().flatten() {
                self.images
                    .insert(name.clone(), image.size_bytes.unwrap_or(0));
            }
        }
    }

    pub(crate) fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.0 += pod.non_zero.0;
        self.non_zero_requested.1 += pod.non_zero.1;
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if let Some(owner) = &pod.owner_uid {
            *self.owners.entry(owner.clone()).or_insert(0) += 1;
        }
        self.pods.push(pod);
    }

    pub(crate) fn remove_pod(&mut self, uid: &str) {
        let Some(at) = self.pods.iter().position(|p| p.uid == uid) else {
            return;
        };
        let pod = self.pods.swap_remove(at);
        self.requested.sub(&pod.requests);
        self.non_zero_requested.0 -= pod.non_zero.0;
        self.non_zero_requested.1 -= pod.non_zero.1;
        for port in &pod.host_ports {
            if let Some(i) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.swap_remove(i);
            }
        }
        if let Some(owner) = &pod.owner_uid {
            if let Some(n) = self.owners.get_mut(owner) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.owners.remove(owner);
                }
            }
        }
    }

    /// A node built from a Node object, with no pods (for tests and benchmarks).
    pub fn from_node(node: &Node) -> Self {
        let mut info = Self {
            name: node.metadata.name.clone().unwrap_or_default(),
            ..Self::default()
        };
        info.set_node(node);
        info
    }

    /// Adds a pod to the node (for tests).
    pub fn with_pod(mut self, pod: PodInfo) -> Self {
        self.add_pod(Arc::new(pod));
        self
    }
}

/// Every node with its pods, in a stable order for scanning.
#[derive(Debug, Default)]
pub struct Cache {
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// Pod UID -> the node it is on.
    pods: HashMap<String, String>,
    /// Pods placed by this scheduler whose binding is not yet seen in the watch.
    assumed: HashSet<String>,
    /// How many pods in the cache have required anti-affinity terms (lets the common case
    /// skip the scan for them).
    anti_affinity_pods: usize,
}

impl Cache {
    /// The nodes, in a stable order (placeholders for unknown nodes included; skip those
    /// whose `present` is false).
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// How many Node objects exist.
    pub fn node_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.present).count()
    }

    /// Whether some pod in the cluster has required anti-affinity.
    pub fn has_anti_affinity_pods(&self) -> bool {
        self.anti_affinity_pods > 0
    }

    /// The node named `name`.
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    fn slot(&mut self, name: &str) -> &mut NodeInfo {
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.nodes.push(NodeInfo {
                    name: name.to_owned(),
                    ..NodeInfo::default()
                });
                self.index.insert(name.to_owned(), self.nodes.len() - 1);
                self.nodes.len() - 1
            }
        };
        &mut self.nodes[i]
    }

    /// Adds or updates a node.
    pub fn apply_node(&mut self, node: &Node) {
        let Some(name) = node.metadata.name.as_deref() else {
            return;
        };
        self.slot(name).set_node(node);
    }

    /// Forgets a node; the pods still bound to it keep a placeholder until they go.
    pub fn delete_node(&mut self, name: &str) {
        let Some(&i) = self.index.get(name) else {
            return;
        };
        if self.nodes[i].pods.is_empty() {
            self.index.remove(name);
            self.nodes.swap_remove(i);
            if let Some(moved) = self.nodes.get(i) {
                self.index.insert(moved.name.clone(), i);
            }
        } else {
            // Keep the pods (they still hold their places until deleted); the node is gone.
            let info = &mut self.nodes[i];
            info.present = false;
            info.labels.clear();
            info.taints.clear();
            info.allocatable = Resources::default();
            info.allowed_pods = 0;
        }
    }

    /// Replaces the set of nodes after a relist, keeping the pods.
    pub fn retain_nodes(&mut self, names: &HashSet<String>) {
        let gone: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.present && !names.contains(&n.name))
            .map(|n| n.name.clone())
            .collect();
        for name in gone {
            self.delete_node(&name);
        }
    }

    /// Records that `pod` is on `node` (bound, or assumed by this scheduler).
    pub fn add_pod(&mut self, node: &str, pod: Arc<PodInfo>) {
        self.remove_pod(&pod.uid);
        if !pod.required_anti_affinity.is_empty() {
            self.anti_affinity_pods += 1;
        }
        self.pods.insert(pod.uid.clone(), node.to_owned());
        self.slot(node).add_pod(pod);
    }

    /// Records that this scheduler placed `pod` on `node` and is binding it.
    pub fn assume(&mut self, node: &str, pod: Arc<PodInfo>) {
        let uid = pod.uid.clone();
        self.add_pod(node, pod);
        self.assumed.insert(uid);
    }

    /// Whether the pod is assumed and not yet seen bound.
    pub fn is_assumed(&self, uid: &str) -> bool {
        self.assumed.contains(uid)
    }

    /// The binding was seen in the watch: the pod is no longer only assumed.
    pub fn confirm(&mut self, uid: &str) {
        self.assumed.remove(uid);
    }

    /// The node the pod is on, if any.
    pub fn node_of(&self, uid: &str) -> Option<&str> {
        self.pods.get(uid).map(String::as_str)
    }

    /// Removes a pod (deleted, finished, or its binding failed).
    pub fn remove_pod(&mut self, uid: &str) {
        self.assumed.remove(uid);
        let Some(node) = self.pods.remove(uid) else {
            return;
        };
        let Some(&i) = self.index.get(&node) else {
            return;
        };
        let info = &mut self.nodes[i];
        if info
            .pods
            .iter()
            .any(|p| p.uid == uid && !p.required_anti_affinity.is_empty())
        {
            self.anti_affinity_pods = self.anti_affinity_pods.saturating_sub(1);
        }
        info.remove_pod(uid);
        if !info.present && info.pods.is_empty() {
            self.delete_node(&node);
        }
    }

    /// UIDs of every pod in the cache (for relists).
    pub fn pod_uids(&self) -> Vec<String> {
        self.pods.keys().cloned().collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, ready: bool) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "10"},
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]},
        }))
        .unwrap()
    }

    fn pod(uid: &str, cpu: i64) -> Arc<PodInfo> {
        let mut p = PodInfo {
            uid: uid.into(),
            ..PodInfo::default()
        };
        p.requests.milli_cpu = cpu;
        Arc::new(p)
    }

    #[test]
    fn pods_add_and_remove_requests() {
        let mut cache = Cache::default();
        cache.apply_node(&node("n1", true));
        cache.assume("n1", pod("a", 500));
        cache.add_pod("n1", pod("b", 250));
        assert_eq!(cache.node("n1").unwrap().requested.milli_cpu, 750);
        assert!(cache.is_assumed("a"));
        cache.remove_pod("a");
        assert_eq!(cache.node("n1").unwrap().requested.milli_cpu, 250);
        assert_eq!(cache.node("n1").unwrap().allocatable.milli_cpu, 2000);
    }

    #[test]
    fn not_ready_nodes_carry_the_not_ready_taint() {
        let mut cache = Cache::default();
        cache.apply_node(&node("n1", false));
        assert_eq!(cache.node("n1").unwrap().taints[0].key, NOT_READY_TAINT);
    }

    #[test]
    fn pods_on_unknown_nodes_keep_a_placeholder() {
        let mut cache = Cache::default();
        cache.add_pod("ghost", pod("a", 1));
        assert!(!cache.node("ghost").unwrap().present);
        cache.apply_node(&node("ghost", true));
        assert!(cache.node("ghost").unwrap().present);
        assert_eq!(cache.node_count(), 1);
        cache.delete_node("ghost");
        cache.remove_pod("a");
        assert!(cache.node("ghost").is_none());
    }
}
