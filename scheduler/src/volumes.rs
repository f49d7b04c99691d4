//! The claims and volumes the scheduler needs for volume binding: which PersistentVolume each
//! PersistentVolumeClaim is bound to, each volume's node affinity, and which StorageClasses
//! wait for the first consumer (their claims are bound once the scheduler picked a node, which
//! it names in the claim's `volume.kubernetes.io/selected-node` annotation).

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::{NodeSelectorTerm, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;

/// The annotation naming the node a delayed-binding claim is to be provisioned for.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";

/// What the scheduler knows of one claim.
#[derive(Debug, Default)]
struct Claim {
    /// The bound volume (empty when unbound).
    volume: String,
    class: String,
    selected_node: Option<String>,
}

use crate::filters::volume_binding;
use crate::pod_info::PodInfo;

/// Claims and volumes, fed by watches.
#[derive(Debug, Default)]
pub struct Volumes {
    /// `namespace/claim` -> what its spec and annotations say.
    claims: HashMap<String, Claim>,
    /// Volume name -> required node affinity terms.
    volumes: HashMap<String, Vec<NodeSelectorTerm>>,
    /// StorageClasses with `volumeBindingMode: WaitForFirstConsumer`.
    delayed_classes: HashSet<String>,
}

impl Volumes {
    /// Records a claim.
    pub fn apply_claim(&mut self, claim: &PersistentVolumeClaim) {
        let key = format!(
            "{}/{}",
            claim.metadata.namespace.as_deref().unwrap_or_default(),
            claim.metadata.name.as_deref().unwrap_or_default()
        );
        let spec = claim.spec.as_ref();
        let facts = Claim {
            volume: spec.and_then(|s| s.volume_name.clone()).unwrap_or_default(),
            class: spec
                .and_then(|s| s.storage_class_name.clone())
                .unwrap_or_default(),
            selected_node: claim
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(SELECTED_NODE).cloned()),
        };
        self.claims.insert(key, facts);
    }

    /// Records a StorageClass's binding mode.
    pub fn apply_class(&mut self, class: &StorageClass) {
        let name = class.metadata.name.clone().unwrap_or_default();
        if class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer") {
            self.delayed_classes.insert(name);
        } else {
            self.delayed_classes.remove(&name);
        }
    }

    /// Forgets a StorageClass.
    pub fn delete_class(&mut self, class: &StorageClass) {
        if let Some(name) = &class.metadata.name {
            self.delayed_classes.remove(name);
        }
    }

    /// Forgets a claim.
    pub fn delete_claim(&mut self, claim: &PersistentVolumeClaim) {
        let key = format!(
            "{}/{}",
            claim.metadata.namespace.as_deref().unwrap_or_default(),
            claim.metadata.name.as_deref().unwrap_or_default()
        );
        self.claims.remove(&key);
    }

    /// Records a volume.
    pub fn apply_volume(&mut self, volume: &PersistentVolume) {
        let Some(name) = volume.metadata.name.clone() else {
            return;
        };
        let terms = volume
            .spec
            .as_ref()
            .and_then(|s| s.node_affinity.as_ref())
            .and_then(|a| a.required.as_ref())
            .map(|r| r.node_selector_terms.clone())
            .unwrap_or_default();
        self.volumes.insert(name, terms);
    }

    /// Forgets a volume.
    pub fn delete_volume(&mut self, name: &str) {
        self.volumes.remove(name);
    }

    /// The volume facts for `pod`'s claims.
    pub fn state_for(&self, pod: &PodInfo) -> volume_binding::State {
        let mut state = volume_binding::State::default();
        for claim in &pod.claims {
            let key = format!("{}/{claim}", pod.namespace);
            match self.claims.get(&key) {
                None => {
                    state.problem = Some(format!("persistentvolumeclaim \"{claim}\" not found"));
                }
                Some(c) if c.volume.is_empty() && self.delayed_classes.contains(&c.class) => {
                    match &c.selected_node {
                        // Already promised to a node: the pod goes there.
                        Some(node) => state.selected_node = Some(node.clone()),
                        None => state.delayed.push(claim.clone()),
                    }
                }
                Some(c) if c.volume.is_empty() => {
                    state.problem =
                        Some("pod has unbound immediate PersistentVolumeClaims".to_owned());
                }
                Some(c) => {
                    if let Some(terms) = self.volumes.get(&c.volume).filter(|t| !t.is_empty()) {
                        state.required.push(terms.clone());
                    }
                }
            }
        }
        state
    }
}
