//! NodePorts: two pods asking for the same host port (protocol, and overlapping host IP)
//! never share a node.

use super::{Rejection, Verdict};
use crate::cache::NodeInfo;
use crate::pod_info::PodInfo;

/// The reason for nodes whose ports are taken.
pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// Rejects nodes where one of the pod's host ports is in use.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Verdict {
    let taken = pod
        .host_ports
        .iter()
        .any(|want| node.used_ports.iter().any(|used| used.conflicts(want)));
    if taken {
        Err(Rejection::resolvable(REASON))
    } else {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pod_info::HostPort;

    #[test]
    fn used_port_rejects() {
        let port = HostPort {
            ip: "0.0.0.0".into(),
            protocol: "TCP".into(),
            port: 80,
        };
        let pod = PodInfo {
            host_ports: vec![port.clone()],
            ..PodInfo::default()
        };
        let free = NodeInfo::default();
        assert!(filter(&pod, &free).is_ok());
        let busy = NodeInfo::default().with_pod(pod.clone());
        assert_eq!(filter(&pod, &busy).unwrap_err().reasons, vec![REASON]);
    }
}
