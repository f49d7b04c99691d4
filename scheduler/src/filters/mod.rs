//! Filter plugins: each says whether a pod may run on a node, and if not, why (in
//! kube-scheduler's words, which end up in the pod's FailedScheduling message).
//!
//! They run in kube-scheduler's order and stop at the first that rejects a node.

pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_unschedulable;
pub mod resources_fit;
pub mod taint_toleration;
pub mod topology_spread;
pub mod volume_binding;

use std::borrow::Cow;

use crate::cache::{Cache, NodeInfo};
use crate::pod_info::PodInfo;

/// Why a node was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// One or more reasons, each counted once per node in the failure message.
    pub reasons: Vec<Cow<'static, str>>,
    /// Evicting pods from the node would not help (the node itself does not suit the pod).
    pub unresolvable: bool,
}

impl Rejection {
    /// A rejection that evicting pods could fix.
    pub fn resolvable(reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            reasons: vec![reason.into()],
            unresolvable: false,
        }
    }

    /// A rejection that evicting pods cannot fix.
    pub fn unresolvable(reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            reasons: vec![reason.into()],
            unresolvable: true,
        }
    }
}

/// What a filter returns.
pub type Verdict = Result<(), Rejection>;

/// What the filters and scores compute once per pod, before looking at nodes.
#[derive(Debug, Default)]
pub struct CycleState {
    /// Inter-pod affinity facts about the cluster.
    pub affinity: inter_pod_affinity::State,
    /// Topology spread counts.
    pub spread: topology_spread::State,
    /// Node affinity of the bound volumes the pod uses.
    pub volumes: volume_binding::State,
}

impl CycleState {
    /// Computes the per-pod state from the cache.
    pub fn new(pod: &PodInfo, cache: &Cache, volumes: volume_binding::State) -> Self {
        Self {
            affinity: inter_pod_affinity::State::new(pod, cache),
            spread: topology_spread::State::new(pod, cache),
            volumes,
        }
    }
}

/// Runs every filter on one node, stopping at the first rejection.
pub fn run(pod: &PodInfo, node: &NodeInfo, state: &CycleState) -> Verdict {
    node_unschedulable::filter(pod, node)?;
    node_name::filter(pod, node)?;
    taint_toleration::filter(pod, node)?;
    node_affinity::filter(pod, node)?;
    node_ports::filter(pod, node)?;
    resources_fit::filter(pod, node)?;
    volume_binding::filter(node, &state.volumes)?;
    topology_spread::filter(pod, node, &state.spread)?;
    inter_pod_affinity::filter(pod, node, &state.affinity)?;
    Ok(())
}
