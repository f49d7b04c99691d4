//! Fake nodes for tests of the scheduler and the controllers: Node objects with capacity,
//! a Ready condition and a node Lease, and no kubelet behind them; and the kubelet's side of
//! pod status (Running, Ready, Succeeded, Failed), set by the test on command.
//!
//! Nothing here sends a packet anywhere: the addresses written into objects are data only.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

/// A Node to create, with what the kubelet would report for it.
#[derive(Debug, Clone)]
pub struct FakeNode {
    pub name: String,
    pub cpu: String,
    pub memory: String,
    pub pods: String,
    pub labels: BTreeMap<String, String>,
    /// `spec.taints` entries, in their JSON form.
    pub taints: Vec<Value>,
    pub unschedulable: bool,
    /// Extra `status.capacity` (and allocatable) entries, e.g. `example.com/gpu: "2"`.
    pub extended: BTreeMap<String, String>,
}

impl FakeNode {
    /// A node with 4 CPUs, 16Gi of memory and room for 110 pods, labelled as the kubelet
    /// labels nodes (`kubernetes.io/hostname`, `kubernetes.io/os`, `kubernetes.io/arch`).
    pub fn new(name: &str) -> Self {
        let labels = [
            ("kubernetes.io/hostname", name),
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Self {
            name: name.to_owned(),
            cpu: "4".to_owned(),
            memory: "16Gi".to_owned(),
            pods: "110".to_owned(),
            labels,
            taints: Vec::new(),
            unschedulable: false,
            extended: BTreeMap::new(),
        }
    }

    #[must_use]
    pub fn cpu(mut self, cpu: &str) -> Self {
        cpu.clone_into(&mut self.cpu);
        self
    }

    #[must_use]
    pub fn memory(mut self, memory: &str) -> Self {
        memory.clone_into(&mut self.memory);
        self
    }

    #[must_use]
    pub fn pods(mut self, pods: &str) -> Self {
        pods.clone_into(&mut self.pods);
        self
    }

    #[must_use]
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Adds a taint, e.g. `taint("dedicated", "gpu", "NoSchedule")`.
    #[must_use]
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        self.taints
            .push(json!({"key": key, "value": value, "effect": effect}));
        self
    }

    #[must_use]
    pub fn unschedulable(mut self) -> Self {
        self.unschedulable = true;
        self
    }

    #[must_use]
    pub fn extended(mut self, resource: &str, count: &str) -> Self {
        self.extended.insert(resource.to_owned(), count.to_owned());
        self
    }

    /// Creates the Node, reports its status (capacity, allocatable, Ready) and its Lease.
    ///
    /// # Errors
    /// What the API server answers when a write fails.
    pub async fn create(&self, client: &Client) -> anyhow::Result<Node> {
        static NEXT_ADDRESS: AtomicU32 = AtomicU32::new(1);
        let nodes: Api<Node> = Api::all(client.clone());
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": self.labels},
            "spec": {"taints": self.taints, "unschedulable": self.unschedulable},
        }))?;
        nodes
            .create(&PostParams::default(), &node)
            .await
            .with_context(|| format!("failed to create node {}", self.name))?;
        let mut capacity = json!({
            "cpu": self.cpu,
            "memory": self.memory,
            "pods": self.pods,
            "ephemeral-storage": "100Gi",
        });
        for (resource, count) in &self.extended {
            capacity[resource] = json!(count);
        }
        let n = NEXT_ADDRESS.fetch_add(1, Ordering::Relaxed);
        let address = format!("192.0.2.{}", n % 250 + 1);
        let status = json!({"status": {
            "capacity": capacity,
            "allocatable": capacity,
            "addresses": [
                {"type": "InternalIP", "address": address},
                {"type": "Hostname", "address": self.name},
            ],
            "conditions": [ready_condition(true)],
            "nodeInfo": {
                "architecture": "amd64", "operatingSystem": "linux",
                "kubeletVersion": "v1.33.0", "kubeProxyVersion": "v1.33.0",
                "containerRuntimeVersion": "rkube://0.1.0", "kernelVersion": "",
                "osImage": "fake", "machineID": "", "systemUUID": "", "bootID": "",
            },
        }});
        let node = nodes
            .patch_status(&self.name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .with_context(|| format!("failed to report the status of node {}", self.name))?;
        renew_node_lease(client, &self.name).await?;
        Ok(node)
    }
}

fn ready_condition(ready: bool) -> Value {
    let now = Timestamp::now().to_string();
    let (status, reason, message) = if ready {
        ("True", "KubeletReady", "kubelet is posting ready status")
    } else {
        ("False", "KubeletNotReady", "the test marked this node not ready")
    };
    json!({
        "type": "Ready", "status": status, "reason": reason, "message": message,
        "lastHeartbeatTime": now, "lastTransitionTime": now,
    })
}

/// Creates or renews the node's Lease in `kube-node-lease`, as the kubelet does every 10 s.
///
/// # Errors
/// What the API server answers when the write fails.
pub async fn renew_node_lease(client: &Client, node: &str) -> anyhow::Result<()> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let now = Timestamp::now().to_string();
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": node, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": now},
    });
    leases
        .patch(
            node,
            &PatchParams::apply("fake-kubelet").force(),
            &Patch::Apply(&lease),
        )
        .await
        .with_context(|| format!("failed to renew the lease of node {node}"))?;
    Ok(())
}

/// Reports the node Ready or not (its Ready condition, with a fresh heartbeat).
///
/// # Errors
/// What the API server answers when the write fails.
pub async fn set_node_ready(client: &Client, node: &str, ready: bool) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let patch = json!({"status": {"conditions": [ready_condition(ready)]}});
    nodes
        .patch_status(node, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .with_context(|| format!("failed to report node {node} ready={ready}"))?;
    Ok(())
}

/// Reports the pod Running with every container started, and Ready or not, as a kubelet
/// would after starting it (pod IP and host IP included).
///
/// # Errors
/// When the pod cannot be read or its status written.
pub async fn mark_pod_running(
    client: &Client,
    namespace: &str,
    name: &str,
    ready: bool,
) -> anyhow::Result<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod = pods.get(name).await?;
    let now = Timestamp::now().to_string();
    let statuses: Vec<Value> = containers(&pod)
        .map(|(container, image)| {
            json!({
                "name": container, "image": image, "imageID": format!("{image}@sha256:fake"),
                "ready": ready, "started": true, "restartCount": 0,
                "containerID": format!("rkube://{name}-{container}"),
                "state": {"running": {"startedAt": now}},
            })
        })
        .collect();
    let flag = if ready { "True" } else { "False" };
    let condition = |kind: &str, status: &str| {
        json!({"type": kind, "status": status, "lastTransitionTime": now, "lastProbeTime": null})
    };
    let ip = fake_pod_ip(&pod);
    let patch = json!({"status": {
        "phase": "Running",
        "hostIP": "192.0.2.1",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": now,
        "conditions": [
            condition("PodScheduled", "True"),
            condition("Initialized", "True"),
            condition("ContainersReady", flag),
            condition("Ready", flag),
        ],
        "containerStatuses": statuses,
    }});
    pods
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("failed to mark pod {namespace}/{name} running"))
}

/// Reports the pod finished: Succeeded (every container exited 0) or Failed (exit code 1).
///
/// # Errors
/// When the pod cannot be read or its status written.
pub async fn mark_pod_finished(
    client: &Client,
    namespace: &str,
    name: &str,
    succeeded: bool,
) -> anyhow::Result<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod = pods.get(name).await?;
    let now = Timestamp::now().to_string();
    let (phase, code, reason) = if succeeded {
        ("Succeeded", 0, "Completed")
    } else {
        ("Failed", 1, "Error")
    };
    let statuses: Vec<Value> = containers(&pod)
        .map(|(container, image)| {
            json!({
                "name": container, "image": image, "imageID": format!("{image}@sha256:fake"),
                "ready": false, "started": false, "restartCount": 0,
                "state": {"terminated": {
                    "exitCode": code, "reason": reason, "startedAt": now, "finishedAt": now,
                }},
            })
        })
        .collect();
    let condition = |kind: &str| {
        json!({"type": kind, "status": "False", "reason": "PodCompleted", "lastTransitionTime": now})
    };
    let patch = json!({"status": {
        "phase": phase,
        "conditions": [condition("Ready"), condition("ContainersReady")],
        "containerStatuses": statuses,
    }});
    pods
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("failed to mark pod {namespace}/{name} {phase}"))
}

fn containers(pod: &Pod) -> impl Iterator<Item = (String, String)> + '_ {
    pod.spec.iter().flat_map(|spec| {
        spec.containers
            .iter()
            .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
    })
}

/// A stable made-up address in 10.244.0.0/16 for the pod (data only, never routed).
fn fake_pod_ip(pod: &Pod) -> String {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let hash = uid
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("10.244.{}.{}", (hash >> 8) % 256, hash % 254 + 1)
}

/// Polls `check` every 100 ms until it returns `Some`, for up to `timeout`.
///
/// # Errors
/// When `timeout` passes first, naming `what`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
