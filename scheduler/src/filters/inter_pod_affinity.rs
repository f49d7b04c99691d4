//! InterPodAffinity (filter): the pod's required affinity and anti-affinity towards pods
//! already placed, and the required anti-affinity of placed pods towards it. Domains are
//! the values of each term's topology key on nodes.

use std::collections::{HashMap, HashSet};

use super::{Rejection, Verdict};
use crate::cache::{Cache, NodeInfo};
use crate::pod_info::PodInfo;

/// A placed pod's anti-affinity forbids this pod the node's domain.
pub const EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";
/// The pod's required affinity is not met on the node.
pub const AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// The pod's required anti-affinity is not met on the node.
pub const ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";

/// What the filter needs to know about placed pods, computed once per pod.
#[derive(Debug, Default)]
pub struct State {
    /// `(topology key, value)` domains where a placed pod's anti-affinity forbids this pod.
    pub forbidden: HashSet<(String, String)>,
    /// Per required affinity term: domain value -> matching pods.
    pub affinity_counts: Vec<HashMap<String, usize>>,
    /// No placed pod matches the affinity terms, but the pod matches them itself (the first
    /// pod of a group that wants to be together may go anywhere).
    pub affinity_self_match: bool,
    /// Per required anti-affinity term: domain values holding a matching pod.
    pub anti_domains: Vec<HashSet<String>>,
}

impl State {
    /// Scans the placed pods for what concerns `pod`.
    pub fn new(pod: &PodInfo, cache: &Cache) -> Self {
        let mut state = Self {
            affinity_counts: vec![HashMap::new(); pod.required_affinity.len()],
            anti_domains: vec![HashSet::new(); pod.required_anti_affinity.len()],
            ..Self::default()
        };
        let own_terms = !pod.required_affinity.is_empty() || !pod.required_anti_affinity.is_empty();
        if !own_terms && !cache.has_anti_affinity_pods() {
            return state;
        }
        for node in cache.nodes().iter().filter(|n| n.present) {
            for other in &node.pods {
                for term in &other.required_anti_affinity {
                    if let Some(value) = node.labels.get(&term.topology_key) {
                        if term.matches(pod) {
                            state
                                .forbidden
                                .insert((term.topology_key.clone(), value.clone()));
                        }
                    }
                }
                if !own_terms {
                    continue;
                }
                for (i, term) in pod.required_affinity.iter().enumerate() {
                    if let Some(value) = node.labels.get(&term.topology_key) {
                        if term.matches(other) {
                            *state.affinity_counts[i].entry(value.clone()).or_insert(0) += 1;
                        }
                    }
                }
                for (i, term) in pod.required_anti_affinity.iter().enumerate() {
                    if let Some(value) = node.labels.get(&term.topology_key) {
                        if term.matches(other) {
                            state.anti_domains[i].insert(value.clone());
                        }
                    }
                }
            }
        }
        state.affinity_self_match = !pod.required_affinity.is_empty()
            && state.affinity_counts.iter().all(HashMap::is_empty)
            && pod.required_affinity.iter().all(|t| t.matches(pod));
        state
    }
}

/// Rejects nodes where the pod's required (anti-)affinity or a placed pod's anti-affinity
/// is not satisfied.
pub fn filter(pod: &PodInfo, node: &NodeInfo, state: &State) -> Verdict {
    if state
        .forbidden
        .iter()
        .any(|(key, value)| node.labels.get(key) == Some(value))
    {
        return Err(Rejection::resolvable(EXISTING_ANTI_AFFINITY));
    }
    for (i, term) in pod.required_affinity.iter().enumerate() {
        let Some(value) = node.labels.get(&term.topology_key) else {
            return Err(Rejection::unresolvable(AFFINITY));
        };
        let present = state.affinity_counts[i].get(value).copied().unwrap_or(0) > 0;
        if !present && !state.affinity_self_match {
            return Err(Rejection::unresolvable(AFFINITY));
        }
    }
    for (i, term) in pod.required_anti_affinity.iter().enumerate() {
        if let Some(value) = node.labels.get(&term.topology_key) {
            if state.anti_domains[i].contains(value) {
                return Err(Rejection::resolvable(ANTI_AFFINITY));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pod_info::AffinityTerm;
    use k8s_openapi::api::core::v1::Node;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use std::sync::Arc;

    fn term(app: &str) -> AffinityTerm {
        AffinityTerm {
            selector: Some(LabelSelector {
                match_labels: Some([("app".to_owned(), app.to_owned())].into()),
                ..LabelSelector::default()
            }),
            namespaces: vec!["default".into()],
            all_namespaces: false,
            topology_key: "kubernetes.io/hostname".into(),
        }
    }

    fn pod(uid: &str, app: &str) -> PodInfo {
        PodInfo {
            uid: uid.into(),
            namespace: "default".into(),
            labels: [("app".to_owned(), app.to_owned())].into(),
            ..PodInfo::default()
        }
    }

    fn cache_with(placed: PodInfo) -> Cache {
        let mut cache = Cache::default();
        for name in ["n1", "n2"] {
            let node: Node = serde_json::from_value(serde_json::json!({"metadata": {
                "name": name, "labels": {"kubernetes.io/hostname": name}}}))
            .unwrap();
            cache.apply_node(&node);
        }
        cache.add_pod("n1", Arc::new(placed));
        cache
    }

    #[test]
    fn anti_affinity_both_ways() {
        let mut incoming = pod("b", "web");
        incoming.required_anti_affinity.push(term("web"));
        let cache = cache_with(pod("a", "web"));
        let state = State::new(&incoming, &cache);
        let n1 = cache.node("n1").unwrap();
        let n2 = cache.node("n2").unwrap();
        assert_eq!(
            filter(&incoming, n1, &state).unwrap_err().reasons,
            vec![ANTI_AFFINITY]
        );
        assert!(filter(&incoming, n2, &state).is_ok());

        let mut placed = pod("a", "web");
        placed.required_anti_affinity.push(term("web"));
        let cache = cache_with(placed);
        let plain = pod("b", "web");
        let state = State::new(&plain, &cache);
        let n1 = cache.node("n1").unwrap();
        assert_eq!(
            filter(&plain, n1, &state).unwrap_err().reasons,
            vec![EXISTING_ANTI_AFFINITY]
        );
    }

    #[test]
    fn affinity_follows_matching_pods() {
        let cache = cache_with(pod("a", "db"));
        let mut incoming = pod("b", "web");
        incoming.required_affinity.push(term("db"));
        let state = State::new(&incoming, &cache);
        assert!(filter(&incoming, cache.node("n1").unwrap(), &state).is_ok());
        assert_eq!(
            filter(&incoming, cache.node("n2").unwrap(), &state)
                .unwrap_err()
                .reasons,
            vec![AFFINITY]
        );
        // The first pod of a self-affine group may go anywhere.
        let mut first = pod("c", "cache");
        first.required_affinity.push(term("cache"));
        let state = State::new(&first, &cache);
        assert!(filter(&first, cache.node("n2").unwrap(), &state).is_ok());
    }
}
