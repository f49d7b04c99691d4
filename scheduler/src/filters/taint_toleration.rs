//! TaintToleration: a node's NoSchedule and NoExecute taints keep off pods that do not
//! tolerate them.

use k8s_openapi::api::core::v1::{Taint, Toleration};

use super::{Rejection, Verdict};
use crate::cache::NodeInfo;
use crate::pod_info::PodInfo;

/// Whether `toleration` tolerates `taint` (key, operator and effect as the API defines them).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = toleration.effect.as_deref().filter(|e| !e.is_empty()) {
        if effect != taint.effect {
            return false;
        }
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            !key.is_empty()
                && toleration.value.as_deref().unwrap_or_default()
                    == taint.value.as_deref().unwrap_or_default()
        }
        _ => false,
    }
}

/// Rejects the node if it has a NoSchedule or NoExecute taint the pod does not tolerate,
/// naming the first such taint.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Verdict {
    let untolerated = node.taints.iter().find(|taint| {
        matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute")
            && !pod.tolerations.iter().any(|t| tolerates(t, taint))
    });
    match untolerated {
        None => Ok(()),
        Some(taint) => Err(Rejection::unresolvable(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            taint.key,
            taint.value.as_deref().unwrap_or_default()
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: Some(value.into()),
            effect: effect.into(),
            ..Taint::default()
        }
    }

    fn toleration(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        Toleration {
            key: Some(key.into()),
            operator: Some(op.into()),
            value: Some(value.into()),
            effect: (!effect.is_empty()).then(|| effect.into()),
            ..Toleration::default()
        }
    }

    #[test]
    fn toleration_matching() {
        let t = taint("dedicated", "gpu", "NoSchedule");
        assert!(tolerates(
            &toleration("dedicated", "Equal", "gpu", "NoSchedule"),
            &t
        ));
        assert!(tolerates(&toleration("dedicated", "Exists", "", ""), &t));
        assert!(!tolerates(&toleration("dedicated", "Equal", "cpu", ""), &t));
        assert!(!tolerates(
            &toleration("dedicated", "Equal", "gpu", "NoExecute"),
            &t
        ));
        let everything = Toleration {
            operator: Some("Exists".into()),
            ..Toleration::default()
        };
        assert!(tolerates(&everything, &t));
    }

    #[test]
    fn untolerated_taint_is_named() {
        let node = NodeInfo {
            taints: vec![
                taint("soft", "x", "PreferNoSchedule"),
                taint("dedicated", "gpu", "NoSchedule"),
            ],
            ..NodeInfo::default()
        };
        let err = filter(&PodInfo::default(), &node).unwrap_err();
        assert_eq!(
            err.reasons,
            vec!["node(s) had untolerated taint {dedicated: gpu}"]
        );
        let pod = PodInfo {
            tolerations: vec![toleration("dedicated", "Equal", "gpu", "NoSchedule")],
            ..PodInfo::default()
        };
        assert!(filter(&pod, &node).is_ok());
    }
}
