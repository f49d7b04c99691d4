//! NodeResourcesFit: the pod's requests fit in what the node has left (allocatable minus the
//! requests of the pods on it), and the node has room for one more pod.

use std::borrow::Cow;

use super::{Rejection, Verdict};
use crate::cache::NodeInfo;
use crate::pod_info::PodInfo;

/// Every resource that does not fit, in kube-scheduler's words ("Too many pods",
/// "Insufficient cpu", ...); empty when the pod fits.
pub fn insufficient(pod: &PodInfo, node: &NodeInfo) -> Vec<Cow<'static, str>> {
    let mut out = Vec::new();
    if node.pods.len() as i64 + 1 > node.allowed_pods {
        out.push(Cow::Borrowed("Too many pods"));
    }
    let want = &pod.requests;
    let have = &node.allocatable;
    let used = &node.requested;
    if want.milli_cpu > 0 && want.milli_cpu > have.milli_cpu - used.milli_cpu {
        out.push(Cow::Borrowed("Insufficient cpu"));
    }
    if want.memory > 0 && want.memory > have.memory - used.memory {
        out.push(Cow::Borrowed("Insufficient memory"));
    }
    if want.ephemeral_storage > 0
        && want.ephemeral_storage > have.ephemeral_storage - used.ephemeral_storage
    {
        out.push(Cow::Borrowed("Insufficient ephemeral-storage"));
    }
    for (name, amount) in &want.scalar {
        if *amount > 0 && *amount > have.scalar(name) - used.scalar(name) {
            out.push(Cow::Owned(format!("Insufficient {name}")));
        }
    }
    out
}

/// Rejects nodes without room for the pod.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Verdict {
    let reasons = insufficient(pod, node);
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Rejection {
            reasons,
            unresolvable: false,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn node(cpu: i64, pods: i64) -> NodeInfo {
        let mut n = NodeInfo {
            allowed_pods: pods,
            ..NodeInfo::default()
        };
        n.allocatable.milli_cpu = cpu;
        n.allocatable.memory = 1 << 30;
        n
    }

    fn pod(cpu: i64) -> PodInfo {
        let mut p = PodInfo::default();
        p.requests.milli_cpu = cpu;
        p
    }

    #[test]
    fn cpu_pods_and_extended() {
        assert!(filter(&pod(1000), &node(2000, 10)).is_ok());
        let busy = node(2000, 10).with_pod(pod(1500));
        assert_eq!(
            filter(&pod(1000), &busy).unwrap_err().reasons,
            vec!["Insufficient cpu"]
        );
        let full = node(2000, 1).with_pod(pod(0));
        assert_eq!(
            filter(&pod(0), &full).unwrap_err().reasons,
            vec!["Too many pods"]
        );
        let mut gpu = pod(0);
        gpu.requests.scalar.insert("example.com/gpu".into(), 1);
        assert_eq!(
            filter(&gpu, &node(1000, 10)).unwrap_err().reasons,
            vec!["Insufficient example.com/gpu"]
        );
    }
}
