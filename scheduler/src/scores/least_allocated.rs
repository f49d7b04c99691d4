//! NodeResourcesFit's LeastAllocated score: nodes with more CPU and memory left score higher.

use crate::cache::NodeInfo;
use crate::pod_info::PodInfo;
use crate::scores::MAX_SCORE;

fn free_fraction(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_SCORE / capacity
}

/// The mean share of CPU and memory left after placing the pod, 0..=100.
pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let cpu = free_fraction(
        node.non_zero_requested.0 + pod.non_zero.0,
        node.allocatable.milli_cpu,
    );
    let memory = free_fraction(
        node.non_zero_requested.1 + pod.non_zero.1,
        node.allocatable.memory,
    );
    (cpu + memory) / 2
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn emptier_nodes_score_higher() {
        let mut empty = NodeInfo::default();
        empty.allocatable.milli_cpu = 4000;
        empty.allocatable.memory = 4000;
        let mut busy = empty.clone();
        busy.non_zero_requested = (2000, 2000);
        let pod = PodInfo {
            non_zero: (1000, 1000),
            ..PodInfo::default()
        };
        assert_eq!(score(&pod, &empty), 75);
        assert_eq!(score(&pod, &busy), 25);
    }
}
