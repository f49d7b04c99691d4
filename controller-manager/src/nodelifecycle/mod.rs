//! The node lifecycle controller, as kube-controller-manager's `node-lifecycle-controller`:
//! a node that neither renews its Lease (in `kube-node-lease`) nor posts its Ready condition
//! for the grace period gets its conditions set Unknown ("Kubelet stopped posting node
//! status."); nodes not Ready get the `not-ready` (False) or `unreachable` (Unknown) NoExecute
//! and NoSchedule taints, removed when the node is Ready again; pods on a not-ready node are
//! marked not Ready, and pods on a node with NoExecute taints are evicted once their
//! toleration runs out.

mod monitor;
mod taints;

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::{Api, Client};
use tracing::info;

use crate::Context;

/// The namespace of node Leases.
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// The name this controller reports events as.
const REPORTER: &str = "node-controller";

/// Why a pass over the nodes could not finish a write.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("failed to {action} {object}: {source}")]
    Api {
        action: &'static str,
        object: String,
        #[source]
        source: kube::Error,
    },
}

/// Runs the controller until `ctx.stop`.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    Box::pin(run(ctx))
}

use crate::common::cache::spawn as cache;

/// What one pass reads and remembers.
pub(crate) struct Caches {
    pub client: Client,
    pub nodes: Store<Node>,
    pub leases: Store<Lease>,
    pub pods: Store<Pod>,
    pub recorder: Recorder,
}

async fn run(ctx: Context) {
    let client = ctx.client.clone();
    let caches = Caches {
        nodes: cache(Api::<Node>::all(client.clone()), &ctx.stop),
        leases: cache(
            Api::<Lease>::namespaced(client.clone(), NODE_LEASE_NAMESPACE),
            &ctx.stop,
        ),
        pods: cache(Api::<Pod>::all(client.clone()), &ctx.stop),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: REPORTER.to_owned(),
                instance: None,
            },
        ),
        client,
    };
    let ready = async {
        let _ = caches.nodes.wait_until_ready().await;
        let _ = caches.leases.wait_until_ready().await;
        let _ = caches.pods.wait_until_ready().await;
    };
    tokio::select! {
        () = ctx.stop.cancelled() => return,
        () = ready => {}
    }
    let grace = ctx.config.node_monitor_grace_period;
    // Look several times per grace period, at most every 5 s (Kubernetes' monitor period).
    let period = (grace / 8).clamp(Duration::from_millis(250), Duration::from_secs(5));
    info!(grace = ?grace, period = ?period, "node lifecycle controller started");
    let mut monitor = monitor::Monitor::new(grace);
    let mut health: HashMap<String, String> = HashMap::new();
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = ctx.stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        monitor.pass(&caches, &mut health).await;
    }
}
