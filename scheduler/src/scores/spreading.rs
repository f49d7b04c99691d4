//! PodTopologySpread's score: `ScheduleAnyway` constraints, and by default the replicas of
//! one workload (pods with the same controller) spread across nodes. Fewer matching pods in
//! the node's domains is better.

use crate::cache::NodeInfo;
use crate::filters::topology_spread;
use crate::pod_info::PodInfo;

/// Raw score: matching pods in the node's domains of the soft constraints, plus the pod's
/// siblings (same controller) already on the node (lower is better).
pub fn score(pod: &PodInfo, node: &NodeInfo, state: &topology_spread::State) -> i64 {
    let mut raw = pod
        .owner_uid
        .as_ref()
        .and_then(|owner| node.owners.get(owner))
        .map_or(0, |n| i64::from(*n));
    for (constraint, counts) in pod.spread.iter().zip(&state.constraints) {
        if constraint.hard {
            continue;
        }
        if let Some(value) = node.labels.get(&constraint.topology_key) {
            raw += counts.per_domain.get(value).copied().unwrap_or(0);
        }
    }
    raw
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn siblings_count_against_a_node() {
        let pod = PodInfo {
            owner_uid: Some("rs".into()),
            ..PodInfo::default()
        };
        let sibling = PodInfo {
            uid: "s".into(),
            owner_uid: Some("rs".into()),
            ..PodInfo::default()
        };
        let busy = NodeInfo::default().with_pod(sibling);
        let state = topology_spread::State::default();
        assert_eq!(score(&pod, &busy, &state), 1);
        assert_eq!(score(&pod, &NodeInfo::default(), &state), 0);
    }
}
