//! NodeName: a pod naming a node in `spec.nodeName` fits only there.

use super::{Rejection, Verdict};
use crate::cache::NodeInfo;
use crate::pod_info::PodInfo;

/// The reason for other nodes.
pub const REASON: &str = "node(s) didn't match the requested node name";

/// Rejects every node but the one the pod names.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Verdict {
    match &pod.node_name {
        Some(name) if *name != node.name => Err(Rejection::unresolvable(REASON)),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_node() {
        let pod = PodInfo {
            node_name: Some("a".into()),
            ..PodInfo::default()
        };
        let node = |n: &str| NodeInfo {
            name: n.into(),
            ..NodeInfo::default()
        };
        assert!(filter(&pod, &node("a")).is_ok());
        assert!(filter(&pod, &node("b")).is_err());
        assert!(filter(&PodInfo::default(), &node("b")).is_ok());
    }
}
