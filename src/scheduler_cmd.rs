//! `rkube scheduler`: the scheduler alone, as a client of any cluster's API (a kubeconfig), for
//! running it apart from `rkube server` (benchmarks, a second scheduler name).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::shutdown::{run_until_signal, DRAIN_DEADLINE};

/// Flags of `rkube scheduler`.
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Kubeconfig to reach the API server with.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: PathBuf,

    /// Pods naming this `schedulerName` are scheduled; others are left alone.
    #[arg(long, default_value = "default-scheduler", value_name = "NAME")]
    pub scheduler_name: String,

    /// Take the `kube-system/kube-scheduler` Lease before scheduling (several schedulers then
    /// run one at a time).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub leader_elect: bool,
}

/// Runs the scheduler until SIGINT or SIGTERM.
///
/// # Errors
/// An unreadable kubeconfig, or the scheduler stopping on its own.
pub async fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    let client = rkube_api::client::from_kubeconfig(
        &args.kubeconfig,
        "kube-scheduler/v1.33.0 (linux/amd64) rkube",
    )
    .await
    .with_context(|| format!("failed to load {}", args.kubeconfig.display()))?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    let config = rkube_scheduler::Config {
        scheduler_name: args.scheduler_name,
        host,
        leader_elect: args.leader_elect,
    };
    let shutdown = CancellationToken::new();
    let work = {
        let shutdown = shutdown.clone();
        async move {
            rkube_scheduler::run(client, config, shutdown)
                .await
                .context("the scheduler stopped")
        }
    };
    run_until_signal(work, shutdown, DRAIN_DEADLINE).await
}
