//! The TTL-after-finished controller: deletes finished Jobs once their
//! `ttlSecondsAfterFinished` has passed, letting the garbage collector take their pods.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::Api;
use tracing::{debug, info, warn};

use crate::Context;

/// Why a pass failed (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to {action}: {source}")]
    Api {
        action: String,
        #[source]
        source: kube::Error,
    },
}

/// Starts the TTL-after-finished controller.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    run(ctx).boxed()
}

async fn run(ctx: Context) {
    let jobs: Api<Job> = Api::all(ctx.client.clone());
    let stop = ctx.stop.clone();
    Controller::new(jobs, watcher::Config::default())
        .graceful_shutdown_on(async move { stop.cancelled().await })
        .run(reconcile, error_policy, Arc::new(ctx.client.clone()))
        .for_each(|result| async move {
            if let Err(error) = result {
                debug!(%error, "ttl-after-finished controller event");
            }
        })
        .await;
}

/// When a Job may be deleted: its finish time plus its TTL; `None` when it has no TTL or
/// has not finished.
pub fn expiry(job: &Job) -> Option<Timestamp> {
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let status = job.status.as_ref()?;
    let finished = status
        .conditions
        .iter()
        .flatten()
        .filter(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .find_map(|c| c.last_transition_time.as_ref().map(|t| t.0))
        .or_else(|| status.completion_time.as_ref().map(|t| t.0))?;
    finished
        .checked_add(SignedDuration::from_secs(i64::from(ttl)))
        .ok()
}

async fn reconcile(job: Arc<Job>, client: Arc<kube::Client>) -> Result<Action, Error> {
    if job.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(expires) = expiry(&job) else {
        return Ok(Action::await_change());
    };
    let now = Timestamp::now();
    if expires > now {
        let left =
            Duration::try_from(expires.duration_since(now)).unwrap_or(Duration::from_secs(1));
        return Ok(Action::requeue(left));
    }
    let (Some(namespace), Some(name)) = (
        job.metadata.namespace.as_deref(),
        job.metadata.name.as_deref(),
    ) else {
        return Ok(Action::await_change());
    };
    let jobs: Api<Job> = Api::namespaced((*client).clone(), namespace);
    // The cache may be stale: the TTL or the Job may have changed since.
    let fresh = jobs.get_opt(name).await.map_err(|source| Error::Api {
        action: format!("read job {namespace}/{name}"),
        source,
    })?;
    let Some(fresh) = fresh else {
        return Ok(Action::await_change());
    };
    if expiry(&fresh).is_none_or(|e| e > now) {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        preconditions: Some(Preconditions {
            uid: fresh.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match jobs.delete(name, &params).await {
        Ok(_) => {
            info!(namespace, job = name, "deleted finished job after its TTL");
            Ok(Action::await_change())
        }
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(Action::await_change()),
        Err(source) => Err(Error::Api {
            action: format!("delete job {namespace}/{name}"),
            source,
        }),
    }
}

fn error_policy(job: Arc<Job>, error: &Error, _client: Arc<kube::Client>) -> Action {
    warn!(
        namespace = job.metadata.namespace.as_deref().unwrap_or_default(),
        job = job.metadata.name.as_deref().unwrap_or_default(),
        %error,
        "ttl-after-finished pass failed, retrying"
    );
    Action::requeue(Duration::from_secs(2))
}
