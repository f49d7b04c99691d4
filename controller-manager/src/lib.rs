//! rkube's controller-manager: the reconcile loops that turn what users declare into what
//! runs, one module per controller, each level-triggered and fed by watches through the
//! Kubernetes API, as kube-controller-manager's.
//!
//! It runs inside `rkube server`, leader-elected on the Lease
//! `kube-system/kube-controller-manager`, so several servers run one active set of loops.

mod batch;
pub mod common;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
mod disruption;
mod endpoints;
mod endpointslice;
mod garbagecollector;
pub mod history;
pub mod job;
mod namespace;
mod nodelifecycle;
mod persistentvolume;
mod podgc;
pub mod replicaset;
mod serviceaccount;
pub mod statefulset;
pub mod ttlafterfinished;

use std::time::Duration;

use rkube_api::client::LeaderElection;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

/// How the controller-manager runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// This machine's name, part of the leader-election identity.
    pub host: String,
    /// Campaign for the Lease before reconciling (off: start at once).
    pub leader_elect: bool,
    /// Controllers not to run, by name (e.g. `namespace`).
    pub disabled: Vec<String>,
    /// Where the local-path provisioner puts volumes on each node.
    pub storage_dir: String,
    /// How long a node may go without renewing its Lease or posting its Ready condition
    /// before the node lifecycle controller marks it Unknown (kube-controller-manager's
    /// `--node-monitor-grace-period`, 40 s).
    pub node_monitor_grace_period: Duration,
    /// Terminated pods kept before the pod garbage collector deletes the oldest
    /// (`--terminated-pod-gc-threshold`, 12500).
    pub terminated_pod_gc_threshold: usize,
    /// The cluster CA certificate (PEM) published in every namespace as `kube-root-ca.crt`.
    pub root_ca: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "localhost".to_owned(),
            leader_elect: true,
            disabled: Vec::new(),
            storage_dir: "/var/lib/rkube/storage".to_owned(),
            node_monitor_grace_period: Duration::from_secs(40),
            terminated_pod_gc_threshold: 12_500,
            root_ca: None,
        }
    }
}

/// Why the controller-manager stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Leader(#[from] rkube_api::client::LeaderError),
}

/// What every controller gets: a client, the configuration and the token that stops it.
#[derive(Clone)]
pub struct Context {
    pub client: kube::Client,
    /// The controller-manager's configuration (timings and thresholds some controllers read).
    pub config: std::sync::Arc<Config>,
    pub stop: CancellationToken,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

/// A controller's entry point: reconciles until `ctx.stop`, retrying API errors itself.
type Start = fn(Context) -> futures::future::BoxFuture<'static, ()>;

/// Every controller, by name.
const CONTROLLERS: &[(&str, Start)] = &[
    ("deployment", deployment::start),
    ("replicaset", replicaset::start),
    ("disruption", disruption::start),
    ("persistentvolume-binder", persistentvolume::start),
    ("endpointslice", endpointslice::start),
    ("endpoints", endpoints::start),
    ("nodelifecycle", nodelifecycle::start),
    ("podgc", podgc::start),
    ("job", job::start),
    ("cronjob", cronjob::start),
    ("ttl-after-finished", ttlafterfinished::start),
    ("garbagecollector", garbagecollector::start),
    ("namespace", namespace::start),
    ("serviceaccount", serviceaccount::start),
    ("root-ca-cert-publisher", serviceaccount::rootca::start),
    ("daemonset", daemonset::start),
    ("statefulset", statefulset::start),
];

/// Runs the enabled controllers until `shutdown`.
///
/// # Errors
/// When leader election gives up.
pub async fn run(
    client: kube::Client,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    if !config.leader_elect {
        run_controllers(client, config, shutdown).await;
        return Ok(());
    }
    let election = LeaderElection::new("kube-controller-manager", &config.host);
    election
        .run(client.clone(), shutdown, move |term| {
            run_controllers(client.clone(), config.clone(), term)
        })
        .await?;
    Ok(())
}

/// Runs every enabled controller while `stop` is not cancelled, and waits for them to end.
async fn run_controllers(client: kube::Client, config: Config, stop: CancellationToken) {
    let mut tasks = JoinSet::new();
    let shared = std::sync::Arc::new(config.clone());
    for (name, start) in CONTROLLERS {
        if config.disabled.iter().any(|d| d == name) {
            info!(controller = name, "controller disabled");
            continue;
        }
        let ctx = Context {
            client: client.clone(),
            config: shared.clone(),
            stop: stop.clone(),
        };
        info!(controller = name, "starting controller");
        tasks.spawn(start(ctx));
    }
    // Controllers end only when `stop` is cancelled; one that ends (or panics) early is logged.
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            Some(joined) = tasks.join_next() => log_early_end(joined),
        }
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(panic) = joined {
            error!(%panic, "a controller task failed");
        }
    }
}

fn log_early_end(joined: Result<(), tokio::task::JoinError>) {
    match joined {
        Ok(()) => error!("a controller ended before being stopped"),
        Err(panic) => error!(%panic, "a controller task failed"),
    }
}
