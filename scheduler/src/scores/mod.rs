//! Score plugins: each rates a feasible node from 0 to 100 for the pod; the weighted sum
//! (kube-scheduler's default weights) picks the node.

pub mod balanced_allocation;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod least_allocated;
pub mod node_affinity;
pub mod spreading;
pub mod taint_toleration;

use crate::cache::{Cache, NodeInfo};
use crate::filters::CycleState;
use crate::pod_info::PodInfo;

/// Highest score of one plugin.
pub const MAX_SCORE: i64 = 100;

/// Per-pod data the scores share, computed once.
#[derive(Debug, Default)]
pub struct ScoreState {
    /// Preferred inter-pod affinity weights per domain.
    pub affinity: inter_pod_affinity::State,
}

impl ScoreState {
    /// Computes the per-pod score state.
    pub fn new(pod: &PodInfo, cache: &Cache) -> Self {
        Self {
            affinity: inter_pod_affinity::State::new(pod, cache),
        }
    }
}

/// Rescales raw scores to 0..=100 (highest raw gets 100); `reverse` makes the lowest raw
/// best. All-equal raws score 100 (or 0 when not reversed and all zero).
fn normalize(raw: &mut [i64], reverse: bool) {
    let max = raw.iter().copied().max().unwrap_or(0);
    let min = raw.iter().copied().min().unwrap_or(0);
    for r in raw.iter_mut() {
        *r = if reverse {
            if max == 0 {
                MAX_SCORE
            } else {
                MAX_SCORE - *r * MAX_SCORE / max
            }
        } else if max == min {
            if max == 0 {
                0
            } else {
                MAX_SCORE
            }
        } else if min < 0 {
            (*r - min) * MAX_SCORE / (max - min)
        } else if max == 0 {
            0
        } else {
            *r * MAX_SCORE / max
        };
    }
}

/// Weighted total score of each node in `nodes`, same order.
pub fn score(
    pod: &PodInfo,
    nodes: &[&NodeInfo],
    cycle: &CycleState,
    state: &ScoreState,
) -> Vec<i64> {
    let mut total = vec![0i64; nodes.len()];
    let mut add = |raw: Vec<i64>, weight: i64| {
        for (t, r) in total.iter_mut().zip(raw) {
            *t += r * weight;
        }
    };
    // Already 0..=100.
    add(
        nodes
            .iter()
            .map(|n| least_allocated::score(pod, n))
            .collect(),
        1,
    );
    add(
        nodes
            .iter()
            .map(|n| balanced_allocation::score(pod, n))
            .collect(),
        1,
    );
    add(
        nodes
            .iter()
            .map(|n| image_locality::score(pod, n))
            .collect(),
        1,
    );

    if !pod.preferred_node_terms.is_empty() {
        let mut raw: Vec<i64> = nodes.iter().map(|n| node_affinity::score(pod, n)).collect();
        normalize(&mut raw, false);
        add(raw, 2);
    }
    let mut raw: Vec<i64> = nodes
        .iter()
        .map(|n| taint_toleration::score(pod, n))
        .collect();
    normalize(&mut raw, true);
    add(raw, 3);
    if state.affinity.active() {
        let mut raw: Vec<i64> = nodes.iter().map(|n| state.affinity.score(n)).collect();
        normalize(&mut raw, false);
        add(raw, 2);
    }
    let mut raw: Vec<i64> = nodes
        .iter()
        .map(|n| spreading::score(pod, n, &cycle.spread))
        .collect();
    normalize(&mut raw, true);
    add(raw, 2);
    total
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn normalization() {
        let mut raw = vec![0, 5, 10];
        normalize(&mut raw, false);
        assert_eq!(raw, vec![0, 50, 100]);
        let mut raw = vec![0, 5, 10];
        normalize(&mut raw, true);
        assert_eq!(raw, vec![100, 50, 0]);
        let mut raw = vec![-10, 0, 10];
        normalize(&mut raw, false);
        assert_eq!(raw, vec![0, 50, 100]);
    }
}
