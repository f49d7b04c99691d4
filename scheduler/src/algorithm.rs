//! Picking a node: run the filters over the nodes (starting where the last pod stopped, and
//! only until enough feasible nodes are found, as kube-scheduler's percentageOfNodesToScore
//! does), score the feasible ones, take the best (ties broken at random).

use crate::cache::{Cache, NodeInfo};
use crate::diagnosis::Diagnosis;
use crate::filters::{self, CycleState};
use crate::pod_info::PodInfo;
use crate::scores::{self, ScoreState};

/// Fewest feasible nodes to look for before scoring.
const MIN_FEASIBLE_NODES: usize = 100;

/// How many feasible nodes to find in a cluster of `nodes`: all up to 100, then a share
/// falling from 50 % (adaptive, as kube-scheduler's default) but never under 5 %.
pub fn feasible_to_find(nodes: usize) -> usize {
    if nodes <= MIN_FEASIBLE_NODES {
        return nodes;
    }
    let percent = (50usize.saturating_sub(nodes / 125)).max(5);
    (nodes * percent / 100).max(MIN_FEASIBLE_NODES)
}

/// A small fast random source for tie-breaking (xorshift; no need for quality).
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock.
    pub fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64);
        Self(seed | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

impl Default for Rng {
    fn default() -> Self {
        Self::new()
    }
}

/// Where the next scan starts, so successive pods look at different nodes first.
#[derive(Debug, Default)]
pub struct Picker {
    next_start: usize,
    rng: Rng,
}

impl Picker {
    /// Picks a node for `pod`, or says why none fits.
    pub fn pick(
        &mut self,
        pod: &PodInfo,
        cache: &Cache,
        cycle: &CycleState,
    ) -> Result<String, Diagnosis> {
        let nodes = cache.nodes();
        let total = nodes.len();
        let present = cache.node_count();
        let want = feasible_to_find(present);
        let mut feasible: Vec<&NodeInfo> = Vec::with_capacity(want.min(total));
        let mut diagnosis = Diagnosis {
            nodes: present,
            ..Diagnosis::default()
        };
        let start = if total == 0 {
            0
        } else {
            self.next_start % total
        };
        let mut scanned = 0;
        // A pod naming its node only needs that node checked.
        let named = pod.node_name.as_deref().and_then(|n| cache.node(n));
        if let Some(node) = named {
            if node.present {
                match filters::run(pod, node, cycle) {
                    Ok(()) => return Ok(node.name.clone()),
                    Err(rejection) => {
                        diagnosis.rejected.insert(node.name.clone(), rejection);
                    }
                }
            }
            for other in nodes.iter().filter(|n| n.present && n.name != node.name) {
                diagnosis.rejected.insert(
                    other.name.clone(),
                    filters::Rejection::unresolvable(filters::node_name::REASON),
                );
            }
            return Err(diagnosis);
        }
        for i in 0..total {
            let node = &nodes[(start + i) % total];
            scanned = i + 1;
            if !node.present {
                continue;
            }
            match filters::run(pod, node, cycle) {
                Ok(()) => {
                    feasible.push(node);
                    if feasible.len() >= want {
                        break;
                    }
                }
                Err(rejection) => {
                    diagnosis.rejected.insert(node.name.clone(), rejection);
                }
            }
        }
        self.next_start = start + scanned;
        match feasible.len() {
            0 => Err(diagnosis),
            1 => Ok(feasible[0].name.clone()),
            _ => {
                let state = ScoreState::new(pod, cache);
                let totals = scores::score(pod, &feasible, cycle, &state);
                let mut best = 0;
                let mut ties = 0u64;
                for (i, score) in totals.iter().enumerate() {
                    if *score > totals[best] {
                        best = i;
                        ties = 1;
                    } else if *score == totals[best] {
                        ties += 1;
                        if self.rng.next_u64().is_multiple_of(ties) {
                            best = i;
                        }
                    }
                }
                Ok(feasible[best].name.clone())
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Node;
    use std::sync::Arc;

    #[test]
    fn feasible_share() {
        assert_eq!(feasible_to_find(50), 50);
        assert_eq!(feasible_to_find(500), 230);
        assert_eq!(feasible_to_find(5000), 500);
        assert_eq!(feasible_to_find(50_000), 2500);
    }

    #[test]
    fn replicas_spread_over_nodes() {
        let mut cache = Cache::default();
        for name in ["n1", "n2", "n3"] {
            let node: Node = serde_json::from_value(serde_json::json!({
                "metadata": {"name": name},
                "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True"}]},
            }))
            .unwrap();
            cache.apply_node(&node);
        }
        let mut picker = Picker::default();
        for i in 0..6 {
            let pod = Arc::new(PodInfo {
                uid: format!("p{i}"),
                owner_uid: Some("rs".into()),
                non_zero: (100, 200 << 20),
                ..PodInfo::default()
            });
            let cycle = CycleState::new(&pod, &cache, Default::default());
            let node = picker.pick(&pod, &cache, &cycle).unwrap();
            cache.assume(&node, pod);
        }
        for name in ["n1", "n2", "n3"] {
            assert_eq!(cache.node(name).unwrap().pods.len(), 2, "{name}");
        }
    }
}
