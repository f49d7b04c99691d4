//! The claims and volumes the scheduler needs for volume node affinity: which
//! PersistentVolume each PersistentVolumeClaim is bound to, and each volume's node affinity.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{NodeSelectorTerm, PersistentVolume, PersistentVolumeClaim};

use crate::filters::volume_binding;
use crate::pod_info::PodInfo;

/// Claims and volumes, fed by watches.
#[derive(Debug, Default)]
pub struct Volumes {
    /// `namespace/claim` -> bound volume name (empty when unbound).
    claims: HashMap<String, String>,
    /// Volume name -> required node affinity terms.
    volumes: HashMap<String, Vec<NodeSelectorTerm>>,
}

impl Volumes {
    /// Records a claim.
    pub fn apply_claim(&mut self, claim: &PersistentVolumeClaim) {
        let key = format!(
            "{}/{}",
            claim.metadata.namespace.as_deref().unwrap_or_default(),
            claim.metadata.name.as_deref().unwrap_or_default()
        );
        let volume = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.clone())
            .unwrap_or_default();
        self.claims.insert(key, volume);
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
                Some(volume) if volume.is_empty() => {
                    state.problem =
                        Some("pod has unbound immediate PersistentVolumeClaims".to_owned());
                }
                Some(volume) => {
                    if let Some(terms) = self.volumes.get(volume).filter(|t| !t.is_empty()) {
                        state.required.push(terms.clone());
                    }
                }
            }
        }
        state
    }
}
