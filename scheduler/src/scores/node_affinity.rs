//! NodeAffinity's score: the sum of the weights of the preferred node affinity terms the
//! node matches.

use crate::cache::NodeInfo;
use crate::pod_info::PodInfo;
use crate::selector::node_term_matches;

/// Raw score: total weight of matching preferred terms.
pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    pod.preferred_node_terms
        .iter()
        .filter(|t| node_term_matches(&t.preference, &node.labels, &node.name))
        .map(|t| i64::from(t.weight))
        .sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn weights_add_up() {
        let pod = PodInfo {
            preferred_node_terms: serde_json::from_value(json!([
                {"weight": 10, "preference": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}},
                {"weight": 5, "preference": {"matchExpressions": [{"key": "b", "operator": "Exists"}]}},
            ]))
            .unwrap(),
            ..PodInfo::default()
        };
        let mut node = NodeInfo::default();
        node.labels.insert("a".into(), "1".into());
        assert_eq!(score(&pod, &node), 10);
        node.labels.insert("b".into(), "1".into());
        assert_eq!(score(&pod, &node), 15);
    }
}
