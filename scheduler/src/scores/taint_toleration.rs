//! TaintToleration's score: fewer untolerated `PreferNoSchedule` taints is better.

use crate::cache::NodeInfo;
use crate::filters::taint_toleration::tolerates;
use crate::pod_info::PodInfo;

/// Raw score: how many PreferNoSchedule taints the pod does not tolerate (lower is better).
pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    node.taints
        .iter()
        .filter(|taint| taint.effect == "PreferNoSchedule")
        .filter(|taint| !pod.tolerations.iter().any(|t| tolerates(t, taint)))
        .count() as i64
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Taint;

    #[test]
    fn counts_prefer_no_schedule() {
        let node = NodeInfo {
            taints: vec![Taint {
                key: "k".into(),
                effect: "PreferNoSchedule".into(),
                ..Taint::default()
            }],
            ..NodeInfo::default()
        };
        assert_eq!(score(&PodInfo::default(), &node), 1);
    }
}
