//! PodTopologySpread (filter): with `whenUnsatisfiable: DoNotSchedule`, placing the pod must
//! not make its domain exceed the least-loaded domain by more than `maxSkew`.

use std::collections::HashMap;

use super::{Rejection, Verdict};
use crate::cache::{Cache, NodeInfo};
use crate::filters::node_affinity;
use crate::pod_info::PodInfo;
use crate::selector::label_selector_matches;

/// The domain would be too far above the least-loaded one.
pub const REASON: &str = "node(s) didn't match pod topology spread constraints";
/// The node lacks the topology key label.
pub const MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// Matching pods per domain for one constraint.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// Domain value -> matching pods (every eligible domain is present, zero included).
    pub per_domain: HashMap<String, i64>,
    /// The smallest count over the eligible domains.
    pub min: i64,
    /// Whether the pod itself matches the constraint's selector.
    pub self_match: bool,
}

/// Counts for each of the pod's constraints, in order.
#[derive(Debug, Default)]
pub struct State {
    /// One entry per `pod.spread` constraint.
    pub constraints: Vec<Counts>,
}

impl State {
    /// Counts matching pods per domain, over the nodes that match the pod's node affinity
    /// (Kubernetes' default `nodeAffinityPolicy: Honor`).
    pub fn new(pod: &PodInfo, cache: &Cache) -> Self {
        if pod.spread.is_empty() {
            return Self::default();
        }
        let mut constraints: Vec<Counts> = pod
            .spread
            .iter()
            .map(|c| Counts {
                self_match: c
                    .selector
                    .as_ref()
                    .is_some_and(|s| label_selector_matches(s, &pod.labels)),
                ..Counts::default()
            })
            .collect();
        for node in cache.nodes().iter().filter(|n| n.present) {
            if !node_affinity::matches(pod, node) {
                continue;
            }
            for (constraint, counts) in pod.spread.iter().zip(constraints.iter_mut()) {
                let Some(value) = node.labels.get(&constraint.topology_key) else {
                    continue;
                };
                let matching = constraint.selector.as_ref().map_or(0, |selector| {
                    node.pods
                        .iter()
                        .filter(|p| {
                            p.namespace == pod.namespace
                                && label_selector_matches(selector, &p.labels)
                        })
                        .count()
                });
                *counts.per_domain.entry(value.clone()).or_insert(0) += matching as i64;
            }
        }
        for counts in &mut constraints {
            counts.min = counts.per_domain.values().copied().min().unwrap_or(0);
        }
        Self { constraints }
    }
}

/// Rejects nodes where a DoNotSchedule constraint would be broken.
pub fn filter(pod: &PodInfo, node: &NodeInfo, state: &State) -> Verdict {
    for (constraint, counts) in pod.spread.iter().zip(&state.constraints) {
        if !constraint.hard {
            continue;
        }
        let Some(value) = node.labels.get(&constraint.topology_key) else {
            return Err(Rejection::unresolvable(MISSING_LABEL));
        };
        let here = counts.per_domain.get(value).copied().unwrap_or(0);
        let skew = here + i64::from(counts.self_match) - counts.min;
        if skew > i64::from(constraint.max_skew) {
            return Err(Rejection::resolvable(REASON));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pod_info::SpreadConstraint;
    use k8s_openapi::api::core::v1::Node;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use std::sync::Arc;

    fn pod(uid: &str) -> PodInfo {
        PodInfo {
            uid: uid.into(),
            namespace: "default".into(),
            labels: [("app".to_owned(), "web".to_owned())].into(),
            spread: vec![SpreadConstraint {
                max_skew: 1,
                topology_key: "zone".into(),
                hard: true,
                selector: Some(LabelSelector {
                    match_labels: Some([("app".to_owned(), "web".to_owned())].into()),
                    ..LabelSelector::default()
                }),
            }],
            ..PodInfo::default()
        }
    }

    #[test]
    fn skew_limits_the_fuller_zone() {
        let mut cache = Cache::default();
        for (name, zone) in [("a1", "a"), ("b1", "b")] {
            let node: Node = serde_json::from_value(serde_json::json!({"metadata": {
                "name": name, "labels": {"zone": zone}}}))
            .unwrap();
            cache.apply_node(&node);
        }
        let bare: Node =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "x"}})).unwrap();
        cache.apply_node(&bare);
        cache.add_pod("a1", Arc::new(pod("p1")));
        let incoming = pod("p2");
        let state = State::new(&incoming, &cache);
        assert_eq!(
            filter(&incoming, cache.node("a1").unwrap(), &state)
                .unwrap_err()
                .reasons,
            vec![REASON]
        );
        assert!(filter(&incoming, cache.node("b1").unwrap(), &state).is_ok());
        assert_eq!(
            filter(&incoming, cache.node("x").unwrap(), &state)
                .unwrap_err()
                .reasons,
            vec![MISSING_LABEL]
        );
    }
}
