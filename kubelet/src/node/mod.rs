//! The node as the API sees it: registration of the Node object, its status (capacity,
//! allocatable, addresses, node info, conditions) and the heartbeat Lease in `kube-node-lease`.

pub mod facts;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

pub use facts::MachineFacts;

/// The version the kubelet reports (matching the API server's).
pub const KUBELET_VERSION: &str = "v1.33.0";
/// How long a lease lasts without renewal, in seconds.
pub const LEASE_DURATION_SECONDS: i32 = 40;
/// How often the lease is renewed.
pub const LEASE_RENEW_INTERVAL: Duration = Duration::from_secs(10);
/// What the eviction threshold keeps back from allocatable memory (`memory.available<100Mi`).
const EVICTION_RESERVED_MEMORY: u64 = 100 << 20;

/// Who the node is.
#[derive(Debug, Clone, Default)]
pub struct NodeConfig {
    pub name: String,
    /// The node's InternalIP.
    pub address: String,
    pub labels: BTreeMap<String, String>,
    /// Taints set at registration, as `{key, value, effect}` objects.
    pub taints: Vec<Value>,
    pub max_pods: u32,
    pub kubelet_port: u16,
}

/// What went wrong talking to the API about the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("registering node {name}: {source}")]
    Register {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("reporting the status of node {name}: {source}")]
    Status {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("renewing the lease of node {name}: {source}")]
    Lease {
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// The labels a kubelet puts on its node.
fn labels(config: &NodeConfig) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_owned(), config.name.clone()),
        ("kubernetes.io/os".to_owned(), "linux".to_owned()),
        ("kubernetes.io/arch".to_owned(), facts::ARCH.to_owned()),
        ("beta.kubernetes.io/os".to_owned(), "linux".to_owned()),
        ("beta.kubernetes.io/arch".to_owned(), facts::ARCH.to_owned()),
    ]);
    labels.extend(config.labels.clone());
    labels
}

/// Creates the Node if it does not exist; an existing one keeps its spec and gets the labels
/// the kubelet owns.
pub async fn register(client: &Client, config: &NodeConfig) -> Result<Node, NodeError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let err = |source| NodeError::Register {
        name: config.name.clone(),
        source,
    };
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": config.name,
            "labels": labels(config),
            "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": {"taints": config.taints},
    }))
    .unwrap_or_default();
    match nodes.create(&PostParams::default(), &node).await {
        Ok(created) => Ok(created),
        Err(kube::Error::Api(e)) if e.code == 409 => nodes
            .patch(
                &config.name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": labels(config)}})),
            )
            .await
            .map_err(err),
        Err(e) => Err(err(e)),
    }
}

/// The node's status as the kubelet reports it.
pub fn status(config: &NodeConfig, facts: &MachineFacts, now: &str) -> Value {
    let capacity = json!({
        "cpu": facts.cpus.to_string(),
        "memory": format!("{}Ki", facts.memory_bytes / 1024),
        "ephemeral-storage": format!("{}Ki", facts.storage_bytes / 1024),
        "pods": config.max_pods.to_string(),
        "hugepages-2Mi": "0",
    });
    let mut allocatable = capacity.clone();
    allocatable["memory"] = json!(format!(
        "{}Ki",
        facts.memory_bytes.saturating_sub(EVICTION_RESERVED_MEMORY) / 1024
    ));
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": kind, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now, "lastTransitionTime": now,
        })
    };
    json!({
        "capacity": capacity,
        "allocatable": allocatable,
        "addresses": [
            {"type": "InternalIP", "address": config.address},
            {"type": "Hostname", "address": config.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": config.kubelet_port}},
        "nodeInfo": {
            "machineID": facts.machine_id,
            "systemUUID": facts.system_uuid,
            "bootID": facts.boot_id,
            "kernelVersion": facts.kernel_version,
            "osImage": facts.os_image,
            "containerRuntimeVersion": format!("rkube://{}", env!("CARGO_PKG_VERSION")),
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": facts::ARCH,
        },
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
    })
}

/// Writes the node's status; conditions keep their transition times when unchanged.
pub async fn report_status(
    client: &Client,
    config: &NodeConfig,
    facts: &MachineFacts,
) -> Result<(), NodeError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let now = format!("{:.0}", jiff::Timestamp::now());
    let mut status = status(config, facts, &now);
    if let Ok(current) = nodes.get_status(&config.name).await {
        let previous = current
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default();
        if let Some(conditions) = status["conditions"].as_array_mut() {
            for c in conditions {
                let same = previous
                    .iter()
                    .find(|p| Some(p.type_.as_str()) == c["type"].as_str())
                    .filter(|p| Some(p.status.as_str()) == c["status"].as_str());
                if let Some(since) = same.and_then(|p| p.last_transition_time.as_ref()) {
                    c["lastTransitionTime"] = json!(since.0.to_string());
                }
            }
        }
    }
    nodes
        .patch_status(
            &config.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .map(drop)
        .map_err(|source| NodeError::Status {
            name: config.name.clone(),
            source,
        })
}

/// Creates or renews the node's Lease in `kube-node-lease`, owned by the Node.
pub async fn renew_lease(client: &Client, node: &Node) -> Result<(), NodeError> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let now = format!("{:.6}", jiff::Timestamp::now());
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": name,
            "namespace": "kube-node-lease",
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "Node", "name": name,
                "uid": node.metadata.uid.clone().unwrap_or_default(),
            }],
        },
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_DURATION_SECONDS,
            "renewTime": now,
        },
    });
    leases
        .patch(
            &name,
            &PatchParams::apply("kubelet").force(),
            &Patch::Apply(lease),
        )
        .await
        .map(drop)
        .map_err(|source| NodeError::Lease { name, source })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    #[test]
    fn status_reports_capacity_allocatable_and_ready() {
        let config = NodeConfig {
            name: "n1".into(),
            address: "192.0.2.5".into(),
            max_pods: 110,
            kubelet_port: 10250,
            ..Default::default()
        };
        let facts = MachineFacts {
            cpus: 2,
            memory_bytes: 4 << 30,
            storage_bytes: 100 << 30,
            ..Default::default()
        };
        let s = status(&config, &facts, "2026-11-24T00:00:00Z");
        assert_eq!(s["capacity"]["cpu"], "2");
        assert_eq!(s["capacity"]["memory"], "4194304Ki");
        assert_eq!(s["allocatable"]["memory"], "4091904Ki");
        assert_eq!(s["capacity"]["pods"], "110");
        assert_eq!(s["daemonEndpoints"]["kubeletEndpoint"]["Port"], 10250);
        assert_eq!(s["conditions"][3]["reason"], "KubeletReady");
        let _: k8s_openapi::api::core::v1::NodeStatus = serde_json::from_value(s).unwrap();
    }
}
