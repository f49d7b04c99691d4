//! VolumeBinding (the part for bound volumes): a pod using a PersistentVolumeClaim bound to
//! a PersistentVolume with node affinity fits only on nodes that affinity allows.

use k8s_openapi::api::core::v1::NodeSelectorTerm;

use super::{Rejection, Verdict};
use crate::cache::NodeInfo;
use crate::selector::node_terms_match;

/// The node is outside a bound volume's node affinity.
pub const REASON: &str = "node(s) had volume node affinity conflict";

/// The pod's volumes, resolved once per pod.
#[derive(Debug, Default, Clone)]
pub struct State {
    /// Required node affinity of each bound PersistentVolume the pod uses.
    pub required: Vec<Vec<NodeSelectorTerm>>,
    /// A problem that rejects every node (a missing or unbound claim).
    pub problem: Option<String>,
    /// Unbound claims of WaitForFirstConsumer classes, to be given the chosen node.
    pub delayed: Vec<String>,
    /// The node a claim of the pod was already promised to.
    pub selected_node: Option<String>,
}

/// Rejects nodes a bound volume cannot be used from.
pub fn filter(node: &NodeInfo, state: &State) -> Verdict {
    if let Some(problem) = &state.problem {
        return Err(Rejection::unresolvable(problem.clone()));
    }
    if state
        .selected_node
        .as_ref()
        .is_some_and(|selected| *selected != node.name)
    {
        return Err(Rejection::unresolvable(REASON));
    }
    if state
        .required
        .iter()
        .all(|terms| node_terms_match(terms, &node.labels, &node.name))
    {
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
    fn volume_affinity_limits_nodes() {
        let state = State {
            required: vec![vec![serde_json::from_value(json!({"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}))
            .unwrap()]],
            ..State::default()
        };
        let mut n1 = NodeInfo {
            name: "n1".into(),
            ..NodeInfo::default()
        };
        n1.labels
            .insert("kubernetes.io/hostname".into(), "n1".into());
        let mut n2 = NodeInfo {
            name: "n2".into(),
            ..NodeInfo::default()
        };
        n2.labels
            .insert("kubernetes.io/hostname".into(), "n2".into());
        assert!(filter(&n1, &state).is_ok());
        assert_eq!(filter(&n2, &state).unwrap_err().reasons, vec![REASON]);
        assert!(filter(&n2, &State::default()).is_ok());
    }
}
