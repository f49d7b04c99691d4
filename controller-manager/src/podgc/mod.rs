//! The pod garbage collector, as kube-controller-manager's `pod-garbage-collector`: pods
//! bound to nodes that no longer exist are deleted (once the node has been missing for a
//! while and the API confirms it), pods being deleted that were never scheduled are removed at
//! once, and finished pods beyond the threshold are deleted, oldest first.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};
use serde_json::json;
use tracing::{debug, info, warn};

use crate::Context;

/// How often the collector looks (Kubernetes' `gcCheckPeriod`).
const PERIOD: Duration = Duration::from_secs(20);
/// How long a node must be missing before its pods count as orphaned.
const QUARANTINE: Duration = Duration::from_secs(40);

/// Runs the collector until `ctx.stop`.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    Box::pin(run(ctx))
}

use crate::common::cache::spawn as cache;

async fn run(ctx: Context) {
    let pods = cache(Api::<Pod>::all(ctx.client.clone()), &ctx.stop);
    let nodes = cache(Api::<Node>::all(ctx.client.clone()), &ctx.stop);
    let threshold = ctx.config.terminated_pod_gc_threshold;
    // Nodes seen missing, and since when.
    let mut missing: HashMap<String, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = ctx.stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if pods.wait_until_ready().await.is_err() || nodes.wait_until_ready().await.is_err() {
            return;
        }
        let all = pods.state();
        gc_terminated(&ctx.client, &all, threshold).await;
        gc_orphaned(&ctx.client, &all, &nodes, &mut missing).await;
        gc_unscheduled_terminating(&ctx.client, &all).await;
    }
}

fn finished(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn key(pod: &Pod) -> (String, String) {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}

/// Deletes a pod; `force`: at once (grace period 0). A pod already gone is fine.
async fn delete(client: &Client, pod: &Pod, force: bool, why: &str) {
    let (namespace, name) = key(pod);
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let params = if force {
        DeleteParams::default().grace_period(0)
    } else {
        DeleteParams::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => info!(pod = %format!("{namespace}/{name}"), reason = why, "garbage-collected pod"),
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(error) => {
            warn!(pod = %format!("{namespace}/{name}"), %error, "failed to garbage-collect pod")
        }
    }
}

/// Deletes the oldest finished pods beyond `threshold`.
async fn gc_terminated(client: &Client, pods: &[Arc<Pod>], threshold: usize) {
    if threshold == 0 {
        return;
    }
    let mut done: Vec<&Arc<Pod>> = pods
        .iter()
        .filter(|p| finished(p) && p.metadata.deletion_timestamp.is_none())
        .collect();
    if done.len() <= threshold {
        return;
    }
    done.sort_by_key(|p| {
        p.metadata
            .creation_timestamp
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, |t| t.0)
    });
    let excess = done.len() - threshold;
    for pod in done.into_iter().take(excess) {
        delete(client, pod, false, "terminated pods over the threshold").await;
    }
}

/// Deletes pods bound to nodes missing for longer than [`QUARANTINE`] (confirmed by a read).
async fn gc_orphaned(
    client: &Client,
    pods: &[Arc<Pod>],
    nodes: &Store<Node>,
    missing: &mut HashMap<String, Instant>,
) {
    let bound: HashSet<&str> = pods
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.as_deref())
        .filter(|n| !n.is_empty())
        .collect();
    missing.retain(|n, _| bound.contains(n.as_str()) && nodes.get(&ObjectRef::new(n)).is_none());
    let api: Api<Node> = Api::all(client.clone());
    for node in bound {
        if nodes.get(&ObjectRef::new(node)).is_some() {
            continue;
        }
        let since = *missing.entry(node.to_owned()).or_insert_with(Instant::now);
        if since.elapsed() < QUARANTINE {
            continue;
        }
        match api.get_opt(node).await {
            Ok(None) => {}
            Ok(Some(_)) => continue,
            Err(error) => {
                warn!(node, %error, "failed to check whether a node exists");
                continue;
            }
        }
        for pod in pods
            .iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
        {
            mark_disrupted(client, pod).await;
            delete(client, pod, true, "bound to a node that no longer exists").await;
        }
    }
}

/// Notes on a pod why it goes, as Kubernetes does before deleting it.
async fn mark_disrupted(client: &Client, pod: &Pod) {
    if finished(pod) {
        return;
    }
    let (namespace, name) = key(pod);
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let patch = json!({"status": {"conditions": [{
        "type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
        "message": "PodGC: node no longer exists",
        "lastTransitionTime": Timestamp::now().to_string(),
    }]}});
    if let Err(error) = api
        .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
    {
        debug!(pod = %format!("{namespace}/{name}"), %error, "failed to mark pod disrupted");
    }
}

/// Force-deletes pods being deleted that were never scheduled (no kubelet will finish them).
async fn gc_unscheduled_terminating(client: &Client, pods: &[Arc<Pod>]) {
    for pod in pods {
        let unscheduled = pod
            .spec
            .as_ref()
            .is_none_or(|s| s.node_name.as_deref().is_none_or(str::is_empty));
        if unscheduled && pod.metadata.deletion_timestamp.is_some() {
            delete(client, pod, true, "deleted before being scheduled").await;
        }
    }
}
