//! NodeResourcesBalancedAllocation: nodes whose CPU and memory would be used in similar
//! proportions score higher.

use crate::cache::NodeInfo;
use crate::pod_info::PodInfo;
use crate::scores::MAX_SCORE;

/// `(1 - |cpu share - memory share| / 2) * 100` after placing the pod (the standard
/// deviation of two shares is half their difference).
pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let share = |used: i64, cap: i64| {
        if cap <= 0 {
            1.0
        } else {
            (used as f64 / cap as f64).min(1.0)
        }
    };
    let cpu = share(
        node.non_zero_requested.0 + pod.non_zero.0,
        node.allocatable.milli_cpu,
    );
    let memory = share(
        node.non_zero_requested.1 + pod.non_zero.1,
        node.allocatable.memory,
    );
    let std = (cpu - memory).abs() / 2.0;
    ((1.0 - std) * MAX_SCORE as f64) as i64
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn balance_is_preferred() {
        let mut node = NodeInfo::default();
        node.allocatable.milli_cpu = 1000;
        node.allocatable.memory = 1000;
        let even = PodInfo {
            non_zero: (500, 500),
            ..PodInfo::default()
        };
        let lopsided = PodInfo {
            non_zero: (1000, 0),
            ..PodInfo::default()
        };
        assert_eq!(score(&even, &node), 100);
        assert_eq!(score(&lopsided, &node), 50);
    }
}
