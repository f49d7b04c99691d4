//! rkube's scheduler: watches pods with no node and the nodes of the cluster through the
//! Kubernetes API, picks a node for each pod and POSTs its binding, as kube-scheduler does.
//!
//! It runs inside `rkube server` (leader-elected on the Lease `kube-system/kube-scheduler`,
//! so several servers run one active scheduler) and can run alone against any cluster.
//!
//! Layout: `scheduler` (the loop: watches in, decisions, bindings out), `queue` (active,
//! backoff and unschedulable pods), `cache` (nodes and the pods on them), `pod_info`
//! and `resources` (what a pod asks for), `filters/` and `scores/` (one plugin per file,
//! pure functions), `algorithm` (filter, score, pick), `preemption`, `diagnosis` (the
//! FailedScheduling message), `binder` (the API writes), `volumes` and `priority`.

pub mod algorithm;
pub mod binder;
pub mod cache;
pub mod diagnosis;
pub mod filters;
pub mod pod_info;
pub mod preemption;
pub mod priority;
pub mod queue;
pub mod resources;
mod scheduler;
pub mod scores;
pub mod selector;
pub mod volumes;

use rkube_api::client::LeaderElection;
use tokio_util::sync::CancellationToken;

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Pods whose `spec.schedulerName` is this are ours; others are left alone.
    pub scheduler_name: String,
    /// This machine's name, part of the leader-election identity.
    pub host: String,
    /// Campaign for the Lease before scheduling (off: schedule at once, e.g. in benchmarks).
    pub leader_elect: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            scheduler_name: "default-scheduler".to_owned(),
            host: "localhost".to_owned(),
            leader_elect: true,
        }
    }
}

/// Why the scheduler stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Leader(#[from] rkube_api::client::LeaderError),
}

/// Runs the scheduler until `shutdown`.
///
/// # Errors
/// When it cannot go on (the API errors it meets while running are retried, not returned).
pub async fn run(
    client: kube::Client,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    if !config.leader_elect {
        schedule(client, config, shutdown).await;
        return Ok(());
    }
    let election = LeaderElection::new("kube-scheduler", &config.host);
    election
        .run(client.clone(), shutdown, move |term| {
            schedule(client.clone(), config.clone(), term)
        })
        .await?;
    Ok(())
}

/// Schedules pods while `term` is not cancelled (while this process leads).
async fn schedule(client: kube::Client, config: Config, term: CancellationToken) {
    tracing::info!(scheduler = %config.scheduler_name, "scheduler started");
    scheduler::run(client, config, term).await;
}
