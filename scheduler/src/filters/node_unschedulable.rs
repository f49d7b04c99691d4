//! NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take only pods tolerating the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint.

use k8s_openapi::api::core::v1::Taint;

use super::{Rejection, Verdict};
use crate::cache::{NodeInfo, UNSCHEDULABLE_TAINT};
use crate::filters::taint_toleration::tolerates;
use crate::pod_info::PodInfo;

/// The reason for cordoned nodes.
pub const REASON: &str = "node(s) were unschedulable";

/// Rejects cordoned nodes unless the pod tolerates them.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Verdict {
    if !node.unschedulable {
        return Ok(());
    }
    let taint = Taint {
        key: UNSCHEDULABLE_TAINT.to_owned(),
        effect: "NoSchedule".to_owned(),
        ..Taint::default()
    };
    if pod.tolerations.iter().any(|t| tolerates(t, &taint)) {
        return Ok(());
    }
    Err(Rejection::unresolvable(REASON))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Toleration;

    #[test]
    fn cordoned_nodes_need_the_toleration() {
        let node = NodeInfo {
            unschedulable: true,
            present: true,
            ..NodeInfo::default()
        };
        let mut pod = PodInfo::default();
        assert_eq!(filter(&pod, &node).unwrap_err().reasons, vec![REASON]);
        pod.tolerations.push(Toleration {
            key: Some(UNSCHEDULABLE_TAINT.into()),
            operator: Some("Exists".into()),
            effect: Some("NoSchedule".into()),
            ..Toleration::default()
        });
        assert!(filter(&pod, &node).is_ok());
        assert!(filter(&PodInfo::default(), &NodeInfo::default()).is_ok());
    }
}
