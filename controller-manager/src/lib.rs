//! rkube's controller-manager: the reconcile loops that turn what users declare into what
//! runs, one module per controller, each level-triggered and fed by watches through the
//! Kubernetes API, as kube-controller-manager's.
//!
//! It runs inside `rkube server`, leader-elected on the Lease
//! `kube-system/kube-controller-manager`, so several servers run one active set of loops.

pub mod common;
pub mod deployment;
pub mod replicaset;

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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "localhost".to_owned(),
            leader_elect: true,
            disabled: Vec::new(),
        }
    }
}

/// Why the controller-manager stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Leader(#[from] rkube_api::client::LeaderError),
}

/// What every controller gets: a client and the token that stops it.
#[derive(Clone)]
pub struct Context {
    pub client: kube::Client,
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
    for (name, start) in CONTROLLERS {
        if config.disabled.iter().any(|d| d == name) {
            info!(controller = name, "controller disabled");
            continue;
        }
        let ctx = Context {
            client: client.clone(),
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
