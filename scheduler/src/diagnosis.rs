//! Why a pod fits nowhere, worded as kube-scheduler words it:
//! `0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient
//! cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No
//! preemption victims found for incoming pod.`

use std::collections::{BTreeMap, HashMap};

use crate::filters::Rejection;

/// Preemption reason for nodes whose rejection evictions cannot fix.
pub const PREEMPTION_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// Preemption reason for nodes where evicting lower-priority pods would not make room.
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// The rejections of every node for one pod.
#[derive(Debug, Default, Clone)]
pub struct Diagnosis {
    /// Nodes considered.
    pub nodes: usize,
    /// Node name -> why it was rejected.
    pub rejected: HashMap<String, Rejection>,
}

/// `<count> <reason>` items sorted as strings, joined by ", ".
fn histogram<'a>(reasons: impl Iterator<Item = &'a str>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for reason in reasons {
        *counts.entry(reason).or_insert(0) += 1;
    }
    let mut items: Vec<String> = counts
        .into_iter()
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect();
    items.sort();
    items.join(", ")
}

impl Diagnosis {
    /// The first sentence: `0/N nodes are available: ...`.
    pub fn message(&self) -> String {
        if self.nodes == 0 {
            return "no nodes available to schedule pods".to_owned();
        }
        let reasons = self
            .rejected
            .values()
            .flat_map(|r| r.reasons.iter().map(|s| s.as_ref()));
        format!(
            "0/{} nodes are available: {}.",
            self.nodes,
            histogram(reasons)
        )
    }

    /// The sentence about preemption, given the per-node preemption outcome.
    pub fn preemption_message(nodes: usize, outcome: &[&str]) -> String {
        format!(
            "preemption: 0/{nodes} nodes are available: {}.",
            histogram(outcome.iter().copied())
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kube_scheduler_wording() {
        let mut d = Diagnosis {
            nodes: 3,
            ..Diagnosis::default()
        };
        d.rejected.insert(
            "a".into(),
            Rejection::unresolvable("node(s) had untolerated taint {dedicated: gpu}"),
        );
        d.rejected
            .insert("b".into(), Rejection::resolvable("Insufficient cpu"));
        d.rejected
            .insert("c".into(), Rejection::resolvable("Insufficient cpu"));
        assert_eq!(
            d.message(),
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu."
        );
        assert_eq!(
            Diagnosis::preemption_message(3, &[PREEMPTION_NOT_HELPFUL, NO_VICTIMS, NO_VICTIMS]),
            "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
        );
    }
}
