//! One pass of the node lifecycle controller over its caches: node health from heartbeats,
//! Ready=Unknown for silent nodes, taints, not-ready pods and taint-based evictions.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource};
use serde_json::json;
use tracing::{info, warn};

use super::taints::{self, Eviction};
use super::{Caches, Error};

/// What was last seen of a node's heartbeats, and when that last changed (by our clock, so
/// skewed node clocks do not matter).
#[derive(Debug)]
struct Probe {
    heartbeat: Option<Timestamp>,
    renew: Option<Timestamp>,
    seen: Instant,
}

/// The node lifecycle controller's memory between passes.
#[derive(Debug)]
pub(crate) struct Monitor {
    grace: Duration,
    probes: HashMap<String, Probe>,
    /// Pods already evicted (by uid), so a slow deletion is not repeated.
    evicted: HashSet<String>,
}

fn ready_condition(node: &Node) -> Option<&NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

fn fail(action: &'static str, object: String) -> impl FnOnce(kube::Error) -> Error {
    move |source| Error::Api {
        action,
        object,
        source,
    }
}

impl Monitor {
    pub(crate) fn new(grace: Duration) -> Self {
        Self {
            grace,
            probes: HashMap::new(),
            evicted: HashSet::new(),
        }
    }

    /// Looks at every node and every pod once. `health` holds each node's Ready status as of
    /// the previous pass, to report transitions.
    pub(crate) async fn pass(&mut self, c: &Caches, health: &mut HashMap<String, String>) {
        let nodes = c.nodes.state();
        let names: HashSet<String> = nodes
            .iter()
            .filter_map(|n| n.metadata.name.clone())
            .collect();
        self.probes.retain(|n, _| names.contains(n));
        health.retain(|n, _| names.contains(n));
        for node in &nodes {
            let Some(name) = node.metadata.name.clone() else {
                continue;
            };
            let ready = match self.observe(c, node, &name).await {
                Ok(ready) => ready,
                Err(error) => {
                    warn!(node = %name, %error, "failed to update node status");
                    continue;
                }
            };
            let before = health.insert(name.clone(), ready.clone());
            if let Some(before) = before.filter(|b| *b != ready) {
                let (kind, status) = if ready == "True" {
                    (EventType::Normal, "NodeReady")
                } else {
                    (EventType::Normal, "NodeNotReady")
                };
                info!(node = %name, from = %before, to = %ready, "node readiness changed");
                publish(
                    c,
                    node.as_ref(),
                    kind,
                    status,
                    format!("Node {name} status is now: {status}"),
                )
                .await;
            }
            if let Err(error) = self.retaint(c, node, &name, &ready).await {
                warn!(node = %name, %error, "failed to update node taints");
            }
            if ready != "True" {
                mark_pods_not_ready(c, &name).await;
            }
        }
        self.evict(c).await;
    }

    /// Updates the node's probe and, when it has been silent past the grace period, sets its
    /// conditions Unknown. Returns the node's Ready status as it now stands.
    async fn observe(&mut self, c: &Caches, node: &Node, name: &str) -> Result<String, Error> {
        let condition = ready_condition(node);
        let heartbeat = condition
            .and_then(|r| r.last_heartbeat_time.as_ref())
            .map(|t| t.0);
        let renew = c
            .leases
            .get(&ObjectRef::new(name).within(super::NODE_LEASE_NAMESPACE))
            .and_then(|l| l.spec.as_ref()?.renew_time.as_ref().map(|t| t.0));
        let now = Instant::now();
        let probe = self.probes.entry(name.to_owned()).or_insert(Probe {
            heartbeat,
            renew,
            seen: now,
        });
        if probe.heartbeat != heartbeat || probe.renew != renew {
            probe.heartbeat = heartbeat;
            probe.renew = renew;
            probe.seen = now;
        }
        let status = condition
            .map_or("Unknown", |r| r.status.as_str())
            .to_owned();
        let silent = now.duration_since(probe.seen) > self.grace;
        let already_unknown = condition.is_some_and(|r| r.status == "Unknown");
        if !silent || already_unknown {
            return Ok(status);
        }
        info!(node = %name, grace = ?self.grace, "node stopped posting status; marking it Unknown");
        mark_unknown(c, node, name).await?;
        Ok("Unknown".to_owned())
    }

    async fn retaint(&self, c: &Caches, node: &Node, name: &str, ready: &str) -> Result<(), Error> {
        let current = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        let Some(next) = taints::retaint(&current, ready, Timestamp::now()) else {
            return Ok(());
        };
        info!(node = %name, ready = %ready, "updating node taints");
        let patch = json!({
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "spec": {"taints": if next.is_empty() { serde_json::Value::Null } else { json!(next) }},
        });
        Api::<Node>::all(c.client.clone())
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(fail("taint node", name.to_owned()))?;
        Ok(())
    }

    /// Deletes the pods whose toleration of their node's NoExecute taints has run out.
    async fn evict(&mut self, c: &Caches) {
        let now = Timestamp::now();
        let pods = c.pods.state();
        let live: HashSet<&str> = pods
            .iter()
            .filter_map(|p| p.metadata.uid.as_deref())
            .collect();
        self.evicted.retain(|uid| live.contains(uid.as_str()));
        for pod in &pods {
            let Some(spec) = pod.spec.as_ref() else {
                continue;
            };
            let Some(node_name) = spec.node_name.as_deref() else {
                continue;
            };
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            if pod.metadata.deletion_timestamp.is_some() || self.evicted.contains(&uid) {
                continue;
            }
            let Some(node) = c.nodes.get(&ObjectRef::new(node_name)) else {
                continue;
            };
            let node_taints = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_deref())
                .unwrap_or_default();
            let tolerations = spec.tolerations.as_deref().unwrap_or_default();
            match taints::eviction(tolerations, node_taints, now) {
                Eviction::At(at) if at <= now => {}
                _ => continue,
            }
            match evict(c, pod).await {
                Ok(()) => {
                    self.evicted.insert(uid);
                }
                Err(error) => warn!(%error, "failed to evict pod"),
            }
        }
    }
}

/// Sets every condition the kubelet posts to Unknown.
async fn mark_unknown(c: &Caches, node: &Node, name: &str) -> Result<(), Error> {
    let now = Timestamp::now();
    let existing: Vec<&NodeCondition> = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .collect();
    let kubelet_kinds = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];
    let mut conditions: Vec<serde_json::Value> = existing
        .iter()
        .filter(|c| kubelet_kinds.contains(&c.type_.as_str()))
        .map(|c| {
            json!({
                "type": c.type_, "status": "Unknown", "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
                "lastHeartbeatTime": c.last_heartbeat_time, "lastTransitionTime": now.to_string(),
            })
        })
        .collect();
    if !existing.iter().any(|c| c.type_ == "Ready") {
        conditions.push(json!({
            "type": "Ready", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
            "message": "Kubelet never posted node status.",
            "lastHeartbeatTime": now.to_string(), "lastTransitionTime": now.to_string(),
        }));
    }
    let patch = json!({"status": {"conditions": conditions}});
    Api::<Node>::all(c.client.clone())
        .patch_status(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .map_err(fail("mark Unknown", format!("node {name}")))?;
    Ok(())
}

use crate::common::pods::is_ready as pod_ready;

/// Sets the Ready condition of the node's pods False, as the kubelet cannot.
async fn mark_pods_not_ready(c: &Caches, node: &str) {
    let now = Timestamp::now().to_string();
    let pods = c.pods.state_filter(|p| {
        p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node) && pod_ready(p)
    });
    for pod in pods {
        let (Some(namespace), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) else {
            continue;
        };
        let patch = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime": now},
        ]}});
        let api: Api<Pod> = Api::namespaced(c.client.clone(), namespace);
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
        {
            Ok(_) => {
                info!(pod = %format!("{namespace}/{name}"), node, "marked pod not ready");
                publish(
                    c,
                    pod.as_ref(),
                    EventType::Warning,
                    "NodeNotReady",
                    "Node is not ready".to_owned(),
                )
                .await;
            }
            Err(error) => {
                warn!(pod = %format!("{namespace}/{name}"), %error, "failed to mark pod not ready")
            }
        }
    }
}

/// Deletes a pod whose node's NoExecute taints it no longer tolerates.
async fn evict(c: &Caches, pod: &Pod) -> Result<(), Error> {
    let (Some(namespace), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) else {
        return Ok(());
    };
    let key = format!("{namespace}/{name}");
    let api: Api<Pod> = Api::namespaced(c.client.clone(), namespace);
    let condition = json!({"status": {"conditions": [{
        "type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint",
        "lastTransitionTime": Timestamp::now().to_string(),
    }]}});
    if let Err(error) = api
        .patch_status(name, &PatchParams::default(), &Patch::Strategic(&condition))
        .await
    {
        warn!(pod = %key, %error, "failed to add the DisruptionTarget condition");
    }
    publish(
        c,
        pod,
        EventType::Normal,
        "TaintManagerEviction",
        format!("Marking for deletion Pod {key}"),
    )
    .await;
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => {
            info!(pod = %key, "evicted pod from a tainted node");
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(fail("evict pod", key)(e)),
    }
}

/// Records an event about `obj`; a failure is only logged.
async fn publish<K: Resource<DynamicType = ()>>(
    c: &Caches,
    obj: &K,
    type_: EventType,
    reason: &str,
    note: String,
) {
    crate::common::events::publish_with(
        &c.recorder,
        &obj.object_ref(&()),
        type_,
        reason,
        note,
        None,
    )
    .await;
}
