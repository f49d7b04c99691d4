//! The DaemonSet's decisions, without I/O: from each node's fit and the pods on it, which
//! pods to create and delete (the one-pod-per-node rule, then the update strategy), and the
//! status that results.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSetStatus;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use super::nodes::Fit;
use crate::history::pods::{self, Availability};
use crate::history::HASH_LABEL;

/// How pods are replaced when the template changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Replace pods, at most `max_unavailable` nodes without an available pod, or at most
    /// `max_surge` extra new pods waiting to become available.
    RollingUpdate {
        max_unavailable: i32,
        max_surge: i32,
    },
    /// Replace a pod only when the user deletes it.
    OnDelete,
}

/// One node as the plan sees it.
#[derive(Debug)]
pub struct NodeState<'a> {
    pub fit: Fit,
    /// The DaemonSet's pods on (or pinned to) the node, not being deleted.
    pub pods: Vec<&'a Pod>,
}

/// What to do.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Nodes to create a pod for.
    pub create: Vec<String>,
    /// Pods to delete, by name.
    pub delete: Vec<String>,
    /// Look again after this long (a pod becoming available with minReadySeconds).
    pub requeue: Option<Duration>,
}

/// Everything the plan needs besides the nodes.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub hash: &'a str,
    pub strategy: Strategy,
    pub min_ready_seconds: i32,
    pub now: Timestamp,
}

fn hash_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(HASH_LABEL))
        .map(String::as_str)
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// Decides creations and deletions for every node.
#[must_use]
pub fn plan(nodes: &BTreeMap<String, NodeState<'_>>, inputs: Inputs<'_>) -> Plan {
    let mut out = Plan::default();
    let available = |p: &Pod| pods::available(p, inputs.min_ready_seconds, inputs.now);
    let surge = match inputs.strategy {
        Strategy::RollingUpdate { max_surge, .. } => max_surge,
        Strategy::OnDelete => 0,
    };
    // After the per-node rule: (node, old pods kept, new pod kept) for nodes that should run.
    let mut kept: Vec<(&str, Vec<&Pod>, Option<&Pod>)> = Vec::new();
    for (name, node) in nodes {
        let (failed, live): (Vec<&Pod>, Vec<&Pod>) =
            node.pods.iter().partition(|p| pods::phase(p) == "Failed");
        out.delete.extend(failed.iter().map(|p| name_of(p)));
        if !node.fit.should_continue {
            out.delete.extend(live.iter().map(|p| name_of(p)));
            continue;
        }
        if live.is_empty() {
            if node.fit.should_run {
                out.create.push(name.clone());
            }
            continue;
        }
        let (mut new, mut old): (Vec<&Pod>, Vec<&Pod>) = live
            .into_iter()
            .partition(|p| hash_of(p) == Some(inputs.hash));
        // Best first: available, then oldest.
        let rank = |p: &&Pod| {
            (
                !available(p).is_yes(),
                p.metadata.creation_timestamp.as_ref().map(|t| t.0),
            )
        };
        new.sort_by_key(rank);
        old.sort_by_key(rank);
        let keep_new = new.first().copied();
        out.delete.extend(new.iter().skip(1).map(|p| name_of(p)));
        let old_kept: Vec<&Pod> = if keep_new.is_some() && surge > 0 {
            // Surging: the old pod stays until the new one is available.
            old.into_iter().take(1).collect()
        } else if keep_new.is_some() {
            out.delete.extend(old.iter().map(|p| name_of(p)));
            Vec::new()
        } else {
            out.delete.extend(old.iter().skip(1).map(|p| name_of(p)));
            old.into_iter().take(1).collect()
        };
        if node.fit.should_run {
            kept.push((name.as_str(), old_kept, keep_new));
        }
    }
    if let Strategy::RollingUpdate {
        max_unavailable, ..
    } = inputs.strategy
    {
        roll(&kept, max_unavailable, surge, &available, &mut out);
    }
    out.requeue = nodes
        .values()
        .flat_map(|n| n.pods.iter())
        .filter_map(|p| match available(p) {
            Availability::After(d) => Some(Duration::from_secs_f64(d.as_secs_f64().max(0.0))),
            _ => None,
        })
        .min();
    out
}

/// The rolling update over nodes that keep a pod: delete old pods within the unavailability
/// budget, or surge new pods beside available old ones and retire the old ones once the new
/// ones are available.
fn roll(
    kept: &[(&str, Vec<&Pod>, Option<&Pod>)],
    max_unavailable: i32,
    max_surge: i32,
    available: &dyn Fn(&Pod) -> Availability,
    out: &mut Plan,
) {
    if max_surge > 0 {
        let mut surging = kept
            .iter()
            .filter(|(_, old, new)| !old.is_empty() && new.is_some_and(|n| !available(n).is_yes()))
            .count();
        for (node, old, new) in kept {
            let Some(old_pod) = old.first() else { continue };
            match new {
                Some(n) if available(n).is_yes() => out.delete.push(name_of(old_pod)),
                Some(_) => {}
                None if !available(old_pod).is_yes() => out.create.push((*node).to_owned()),
                None if surging < usize::try_from(max_surge).unwrap_or(0) => {
                    surging += 1;
                    out.create.push((*node).to_owned());
                }
                None => {}
            }
        }
        return;
    }
    let unavailable = kept
        .iter()
        .filter(|(_, old, new)| {
            !new.iter()
                .copied()
                .chain(old.iter().copied())
                .any(|p| available(p).is_yes())
        })
        .count();
    // Nodes with no pod at all are unavailable too; they are in `out.create` already.
    let unavailable = unavailable + out.create.len();
    let mut budget = usize::try_from(max_unavailable.max(0))
        .unwrap_or(0)
        .saturating_sub(unavailable);
    for (_, old, new) in kept {
        let (Some(old_pod), None) = (old.first(), new) else {
            continue;
        };
        if !available(old_pod).is_yes() {
            out.delete.push(name_of(old_pod));
        } else if budget > 0 {
            budget -= 1;
            out.delete.push(name_of(old_pod));
        }
    }
}

/// The status the DaemonSet reports for these nodes.
#[must_use]
pub fn status(
    nodes: &BTreeMap<String, NodeState<'_>>,
    inputs: Inputs<'_>,
    generation: Option<i64>,
) -> DaemonSetStatus {
    let mut s = DaemonSetStatus {
        observed_generation: generation,
        ..DaemonSetStatus::default()
    };
    for node in nodes.values() {
        let live: Vec<&Pod> = node
            .pods
            .iter()
            .copied()
            .filter(|p| pods::phase(p) != "Failed")
            .collect();
        if !node.fit.should_run {
            if !live.is_empty() {
                s.number_misscheduled += 1;
            }
            continue;
        }
        s.desired_number_scheduled += 1;
        if live.is_empty() {
            continue;
        }
        s.current_number_scheduled += 1;
        let new = live.iter().find(|p| hash_of(p) == Some(inputs.hash));
        if new.is_some() {
            s.updated_number_scheduled = Some(s.updated_number_scheduled.unwrap_or(0) + 1);
        }
        // The pod that stands for the node: the new one when there is one.
        let Some(pod) = new.or(live.first()) else {
            continue;
        };
        if pods::ready_since(pod).is_some() {
            s.number_ready += 1;
        }
        if pods::available(pod, inputs.min_ready_seconds, inputs.now).is_yes() {
            s.number_available = Some(s.number_available.unwrap_or(0) + 1);
        }
    }
    let available = s.number_available.unwrap_or(0);
    s.number_unavailable = Some(s.desired_number_scheduled - available);
    s.updated_number_scheduled.get_or_insert(0);
    s.number_available.get_or_insert(0);
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests;
