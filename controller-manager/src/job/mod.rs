//! The Job controller: runs a Job's pods to completion, as kube-controller-manager's.
//!
//! Layout: [`pods`] classifies a Job's pods and builds new ones from the template,
//! [`failure_policy`] judges failed pods by `spec.podFailurePolicy`,
//! [`indexes`] reads and writes `status.completedIndexes`, [`sync`] is the reconcile pass
//! (count finished pods through the tracking finalizer, decide success or failure, create or
//! delete pods, write status), and [`orphans`] releases pods whose Job is gone.

mod failure_policy;
mod indexes;
mod orphans;
mod pods;
mod sync;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;
use kube::Api;
use tracing::{debug, warn};

use crate::Context;

/// The finalizer the controller puts on every pod it creates, removed once the pod is counted.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// Label and annotation carrying an Indexed Job pod's completion index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// Label naming the Job a pod belongs to.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// Label carrying the uid of the Job a pod belongs to.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";

/// How the Job controller runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Delay before recreating a pod after the first failure; it doubles with each failure.
    pub backoff_base: Duration,
    /// The longest delay before recreating a failed pod.
    pub backoff_max: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(360),
        }
    }
}

/// Why a reconcile pass failed (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to {action}: {source}")]
    Api {
        action: String,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let action = action.into();
        move |source| Self::Api { action, source }
    }
}

/// What a reconcile pass shares.
pub(crate) struct Shared {
    pub(crate) client: kube::Client,
    pub(crate) recorder: Recorder,
    pub(crate) config: Config,
}

/// Starts the Job controller with the default back-off (10 s doubling to 6 min).
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    run(ctx, Config::default()).boxed()
}

/// Runs the Job controller with `config` until `ctx.stop` is cancelled.
pub async fn run(ctx: Context, config: Config) {
    let jobs: Api<Job> = Api::all(ctx.client.clone());
    let pods: Api<Pod> = Api::all(ctx.client.clone());
    let reporter = Reporter {
        controller: "job-controller".to_owned(),
        instance: None,
    };
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        recorder: Recorder::new(ctx.client.clone(), reporter),
        config,
    });
    let orphans = tokio::spawn(orphans::release_orphans(
        ctx.client.clone(),
        ctx.stop.clone(),
    ));
    let stop = ctx.stop.clone();
    Controller::new(jobs, watcher::Config::default())
        // Only pods labelled as some Job's: the rest of the cluster's pods are not our concern.
        .owns(
            pods,
            watcher::Config::default().labels(CONTROLLER_UID_LABEL),
        )
        .graceful_shutdown_on(async move { stop.cancelled().await })
        .run(reconcile, error_policy, shared)
        .for_each(|result| async move {
            match result {
                Ok((job, _)) => debug!(job = %job, "job reconciled"),
                Err(error) => debug!(%error, "job controller event"),
            }
        })
        .await;
    if let Err(error) = orphans.await {
        warn!(%error, "the job pod watch ended abnormally");
    }
}

async fn reconcile(job: Arc<Job>, shared: Arc<Shared>) -> Result<Action, Error> {
    sync::sync_job(&job, &shared).await
}

fn error_policy(job: Arc<Job>, error: &Error, _shared: Arc<Shared>) -> Action {
    warn!(
        namespace = job.metadata.namespace.as_deref().unwrap_or_default(),
        job = job.metadata.name.as_deref().unwrap_or_default(),
        %error,
        "job reconcile failed, retrying"
    );
    Action::requeue(Duration::from_secs(1))
}
