//! NodeAffinity: `spec.nodeSelector` and required node affinity.

use super::{Rejection, Verdict};
use crate::cache::NodeInfo;
use crate::pod_info::PodInfo;
use crate::selector::node_terms_match;

/// The reason for nodes that do not match.
pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

/// Whether the node satisfies the pod's node selector and required node affinity.
pub fn matches(pod: &PodInfo, node: &NodeInfo) -> bool {
    pod.node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v))
        && pod
            .required_node_terms
            .as_ref()
            .is_none_or(|terms| node_terms_match(terms, &node.labels, &node.name))
}

/// Rejects nodes that do not match the pod's node selector or required node affinity.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Verdict {
    if matches(pod, node) {
        Ok(())
    } else {
        Err(Rejection::unresolvable(REASON))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selector_and_required_terms() {
        let mut node = NodeInfo::default();
        node.labels.insert("disk".into(), "ssd".into());
        let mut pod = PodInfo::default();
        pod.node_selector.insert("disk".into(), "ssd".into());
        assert!(filter(&pod, &node).is_ok());
        pod.required_node_terms = Some(vec![serde_json::from_value(json!(
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
        ))
        .unwrap()]);
        assert_eq!(filter(&pod, &node).unwrap_err().reasons, vec![REASON]);
        node.labels.insert("zone".into(), "a".into());
        assert!(filter(&pod, &node).is_ok());
    }
}
