//! InterPodAffinity's score: preferred affinity (and anti-affinity) of the pod towards pods
//! in each node's domains.

use std::collections::HashMap;

use crate::cache::{Cache, NodeInfo};
use crate::pod_info::PodInfo;

/// Weight per `(topology key, value)` domain, computed once per pod.
#[derive(Debug, Default)]
pub struct State {
    /// Summed weights (anti-affinity negative) per domain.
    pub per_domain: HashMap<(String, String), i64>,
    has_terms: bool,
}

impl State {
    /// Sums, for every placed pod matching one of the pod's preferred terms, that term's
    /// weight into the placed pod's domain.
    pub fn new(pod: &PodInfo, cache: &Cache) -> Self {
        let has_terms =
            !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
        let mut per_domain = HashMap::new();
        if !has_terms {
            return Self::default();
        }
        let terms = pod
            .preferred_affinity
            .iter()
            .map(|(w, t)| (i64::from(*w), t))
            .chain(
                pod.preferred_anti_affinity
                    .iter()
                    .map(|(w, t)| (-i64::from(*w), t)),
            );
        let terms: Vec<_> = terms.collect();
        for node in cache.nodes().iter().filter(|n| n.present) {
            for other in &node.pods {
                for (weight, term) in &terms {
                    if let Some(value) = node.labels.get(&term.topology_key) {
                        if term.matches(other) {
                            *per_domain
                                .entry((term.topology_key.clone(), value.clone()))
                                .or_insert(0) += weight;
                        }
                    }
                }
            }
        }
        Self {
            per_domain,
            has_terms,
        }
    }

    /// Whether the pod has preferred inter-pod terms at all.
    pub fn active(&self) -> bool {
        self.has_terms
    }

    /// Raw score of a node: the weights of the domains it belongs to.
    pub fn score(&self, node: &NodeInfo) -> i64 {
        self.per_domain
            .iter()
            .filter(|((key, value), _)| node.labels.get(key) == Some(value))
            .map(|(_, w)| *w)
            .sum()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pod_info::AffinityTerm;
    use k8s_openapi::api::core::v1::Node;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use std::sync::Arc;

    #[test]
    fn anti_affinity_weighs_against_busy_nodes() {
        let mut cache = Cache::default();
        for name in ["n1", "n2"] {
            let node: Node = serde_json::from_value(serde_json::json!({"metadata": {
                "name": name, "labels": {"h": name}}}))
            .unwrap();
            cache.apply_node(&node);
        }
        let labels: std::collections::BTreeMap<String, String> =
            [("app".to_owned(), "x".to_owned())].into();
        cache.add_pod(
            "n1",
            Arc::new(PodInfo {
                uid: "a".into(),
                namespace: "d".into(),
                labels: labels.clone(),
                ..PodInfo::default()
            }),
        );
        let term = AffinityTerm {
            selector: Some(LabelSelector {
                match_labels: Some(labels),
                ..LabelSelector::default()
            }),
            namespaces: vec!["d".into()],
            all_namespaces: false,
            topology_key: "h".into(),
        };
        let pod = PodInfo {
            preferred_anti_affinity: vec![(50, term)],
            ..PodInfo::default()
        };
        let state = State::new(&pod, &cache);
        assert_eq!(state.score(cache.node("n1").unwrap()), -50);
        assert_eq!(state.score(cache.node("n2").unwrap()), 0);
    }
}
