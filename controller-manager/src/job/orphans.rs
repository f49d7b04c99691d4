//! Releases pods whose Job is gone: the tracking finalizer would otherwise keep a pod that the
//! garbage collector deletes after its Job in `Terminating` for ever.

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::pods::{self, PodState};
use super::{sync, CONTROLLER_UID_LABEL};

/// Watches Job pods until `stop`, removing the tracking finalizer from finished or deleted
/// pods whose controlling Job no longer exists (or is another Job of the same name).
pub(crate) async fn release_orphans(client: kube::Client, stop: CancellationToken) {
    let all: Api<Pod> = Api::all(client.clone());
    let config = watcher::Config::default().labels(CONTROLLER_UID_LABEL);
    let events = watcher(all, config).default_backoff().touched_objects();
    let mut events = std::pin::pin!(events.take_until(stop.cancelled_owned()));
    while let Some(event) = events.next().await {
        let pod = match event {
            Ok(pod) => pod,
            Err(error) => {
                debug!(%error, "job pod watch interrupted, resuming");
                continue;
            }
        };
        if !pods::has_finalizer(&pod) || pods::state(&pod) == PodState::Active {
            continue;
        }
        if let Err(error) = release_if_orphan(&client, &pod).await {
            warn!(%error, pod = pod.metadata.name.as_deref().unwrap_or_default(), "failed to release an orphaned job pod");
        }
    }
}

async fn release_if_orphan(client: &kube::Client, pod: &Pod) -> Result<(), super::Error> {
    let Some(namespace) = pod.metadata.namespace.as_deref() else {
        return Ok(());
    };
    let Some(owner) = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true) && r.kind == "Job")
    else {
        // Not a Job's pod (any more): nothing of ours will ever count it.
        return sync::remove_finalizer(&Api::namespaced(client.clone(), namespace), pod).await;
    };
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    let job = jobs
        .get_opt(&owner.name)
        .await
        .map_err(super::Error::api(format!(
            "read job {namespace}/{}",
            owner.name
        )))?;
    if job.is_some_and(|j| j.metadata.uid.as_deref() == Some(owner.uid.as_str())) {
        return Ok(());
    }
    info!(
        namespace,
        pod = pod.metadata.name.as_deref().unwrap_or_default(),
        job = %owner.name,
        "releasing a pod whose job is gone"
    );
    sync::remove_finalizer(&Api::namespaced(client.clone(), namespace), pod).await
}
