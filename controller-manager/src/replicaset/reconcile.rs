//! One ReplicaSet sync: claim pods, create or delete the difference, write status.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use serde_json::{json, Value};
use tracing::{debug, info, warn};

use super::{decide, Shared};
use crate::common::events::EventType;
use crate::common::{owner, pods, selector};

/// Why a ReplicaSet sync failed; it is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to create pods: {0}")]
    Create(#[source] kube::Error),
    #[error("failed to delete pod {pod}: {source}")]
    Delete {
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("failed to {verb} pod {pod}: {source}")]
    Claim {
        verb: &'static str,
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("failed to update status: {0}")]
    Status(#[source] kube::Error),
}

/// Syncs one ReplicaSet.
///
/// # Errors
/// When an API request fails; the controller retries with backoff.
pub async fn reconcile(rs: Arc<ReplicaSet>, shared: Arc<Shared>) -> Result<Action, Error> {
    shared.pods.wait_synced().await;
    let (Some(uid), Some(ns)) = (rs.metadata.uid.clone(), rs.metadata.namespace.clone()) else {
        return Ok(Action::await_change());
    };
    let pods_api: Api<Pod> = Api::namespaced(shared.client.clone(), &ns);
    let active = claim(&rs, &uid, &ns, &pods_api, &shared).await?;

    let mut failure = None;
    let mut result = Ok(());
    if rs.metadata.deletion_timestamp.is_none() && shared.expectations.satisfied(&uid) {
        if let Err(error) = manage(&rs, &uid, &active, &pods_api, &shared).await {
            let reason = match error {
                Error::Delete { .. } => "FailedDelete",
                _ => "FailedCreate",
            };
            failure = Some((reason.to_owned(), error.to_string()));
            result = Err(error);
        }
    }

    let now = Timestamp::now();
    let status = decide::status(&rs, &active, failure, now);
    if rs.status.as_ref() != Some(&status) {
        let api: Api<ReplicaSet> = Api::namespaced(shared.client.clone(), &ns);
        api.patch_status(
            &rs.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status_json(&status) })),
        )
        .await
        .map_err(Error::Status)?;
    }
    result?;
    shared.failures.succeeded(&uid);

    let min_ready = rs
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let next = active
        .iter()
        .filter_map(|p| pods::until_available(p, min_ready, now))
        .min();
    Ok(match next {
        Some(wait) => Action::requeue(wait + Duration::from_millis(100)),
        None => Action::await_change(),
    })
}

/// Backs off on errors, per ReplicaSet.
pub fn error_policy(rs: Arc<ReplicaSet>, error: &Error, shared: Arc<Shared>) -> Action {
    let uid = rs.metadata.uid.as_deref().unwrap_or_default();
    let wait = shared.failures.failed(uid);
    warn!(replicaset = %rs.name_any(), namespace = rs.namespace().unwrap_or_default(), %error, ?wait, "replicaset sync failed");
    Action::requeue(wait)
}

/// The status as a merge patch: zero counts and absent fields are removed, as Kubernetes
/// omits them.
fn status_json(status: &ReplicaSetStatus) -> Value {
    let mut value = serde_json::to_value(status).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut value {
        for key in [
            "fullyLabeledReplicas",
            "readyReplicas",
            "availableReplicas",
            "observedGeneration",
            "conditions",
        ] {
            map.entry(key).or_insert(Value::Null);
        }
    }
    value
}

/// The active pods the ReplicaSet controls, after adopting matching orphans and releasing
/// pods whose labels stopped matching.
async fn claim(
    rs: &ReplicaSet,
    uid: &str,
    ns: &str,
    api: &Api<Pod>,
    shared: &Shared,
) -> Result<Vec<Arc<Pod>>, Error> {
    let sel = rs.spec.as_ref().map(|s| &s.selector);
    let mut mine = Vec::new();
    for pod in shared.pods.owned_by(uid) {
        if selector::matches(sel, pod.metadata.labels.as_ref())
            || rs.metadata.deletion_timestamp.is_some()
        {
            mine.push(pod);
        } else if pod.metadata.deletion_timestamp.is_none() {
            let refs: Vec<_> = pod
                .owner_references()
                .iter()
                .filter(|r| r.uid != uid)
                .cloned()
                .collect();
            set_owners(api, &pod, refs, "release").await?;
            info!(replicaset = %rs.name_any(), pod = %pod.name_any(), "released pod");
        }
    }
    if rs.metadata.deletion_timestamp.is_none() {
        if let Some(me) = owner::controller_ref(rs) {
            for pod in shared.pods.orphans_in(ns) {
                if pod.metadata.deletion_timestamp.is_some()
                    || !selector::matches(sel, pod.metadata.labels.as_ref())
                {
                    continue;
                }
                let mut refs = pod.owner_references().to_vec();
                refs.push(me.clone());
                let adopted = set_owners(api, &pod, refs, "adopt").await?;
                info!(replicaset = %rs.name_any(), pod = %pod.name_any(), "adopted pod");
                if let Some(adopted) = adopted {
                    mine.push(Arc::new(adopted));
                }
            }
        }
    }
    mine.retain(|p| pods::is_active(p));
    Ok(mine)
}

async fn set_owners(
    api: &Api<Pod>,
    pod: &Pod,
    refs: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
    verb: &'static str,
) -> Result<Option<Pod>, Error> {
    owner::set_owners(api, pod, refs)
        .await
        .map_err(|source| Error::Claim {
            verb,
            pod: pod.name_any(),
            source,
        })
}

/// Creates or deletes pods to reach `spec.replicas`.
async fn manage(
    rs: &ReplicaSet,
    uid: &str,
    active: &[Arc<Pod>],
    api: &Api<Pod>,
    shared: &Shared,
) -> Result<(), Error> {
    let want = rs
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1)
        .max(0);
    let want = usize::try_from(want).unwrap_or(0);
    if active.len() < want {
        let count = (want - active.len()).min(decide::BURST);
        create(rs, uid, count, api, shared).await
    } else if active.len() > want {
        let count = (active.len() - want).min(decide::BURST);
        delete(
            rs,
            uid,
            decide::pods_to_delete(active.to_vec(), count),
            api,
            shared,
        )
        .await
    } else {
        Ok(())
    }
}

/// A new pod from the template, named by the server from `<rs>-`.
fn pod_from_template(rs: &ReplicaSet) -> Option<Pod> {
    let template = rs.spec.as_ref()?.template.as_ref()?;
    let meta = template.metadata.clone().unwrap_or_default();
    Some(Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", rs.name_any())),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner::controller_ref(rs)?]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    })
}

/// Creates `count` pods in batches of 1, 2, 4, ... (slow start), stopping at the first
/// batch with an error so a failing template costs one request, not hundreds.
async fn create(
    rs: &ReplicaSet,
    uid: &str,
    count: usize,
    api: &Api<Pod>,
    shared: &Shared,
) -> Result<(), Error> {
    let Some(pod) = pod_from_template(rs) else {
        warn!(replicaset = %rs.name_any(), "replicaset has no pod template");
        return Ok(());
    };
    shared.expectations.expect_creations(uid, count);
    let mut remaining = count;
    let mut batch = 1;
    while remaining > 0 {
        let n = batch.min(remaining);
        remaining -= n;
        let params = PostParams::default();
        let results = join_all((0..n).map(|_| api.create(&params, &pod))).await;
        let mut first_error = None;
        for result in results {
            match result {
                Ok(created) => {
                    let msg = format!("Created pod: {}", created.name_any());
                    publish(shared, rs, EventType::Normal, "SuccessfulCreate", msg);
                }
                Err(error) => {
                    shared.expectations.creation_observed(uid);
                    let msg = format!("Error creating: {error}");
                    publish(shared, rs, EventType::Warning, "FailedCreate", msg);
                    first_error.get_or_insert(error);
                }
            }
        }
        if let Some(error) = first_error {
            for _ in 0..remaining {
                shared.expectations.creation_observed(uid);
            }
            return Err(Error::Create(error));
        }
        batch *= 2;
    }
    debug!(replicaset = %rs.name_any(), count, "created pods");
    Ok(())
}

/// Deletes the given pods, all requests in flight at once.
async fn delete(
    rs: &ReplicaSet,
    uid: &str,
    victims: Vec<Arc<Pod>>,
    api: &Api<Pod>,
    shared: &Shared,
) -> Result<(), Error> {
    let ns = rs.namespace().unwrap_or_default();
    let keys: Vec<String> = victims
        .iter()
        .map(|p| format!("{ns}/{}", p.name_any()))
        .collect();
    shared.expectations.expect_deletions(uid, keys.clone());
    let results = join_all(victims.iter().map(|p| async move {
        (
            p.name_any(),
            api.delete(&p.name_any(), &DeleteParams::default()).await,
        )
    }))
    .await;
    let mut first_error = None;
    for ((name, result), key) in results.into_iter().zip(keys) {
        match result {
            Ok(_) => {
                publish(
                    shared,
                    rs,
                    EventType::Normal,
                    "SuccessfulDelete",
                    format!("Deleted pod: {name}"),
                );
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {
                shared.expectations.deletion_observed(uid, &key)
            }
            Err(source) => {
                shared.expectations.deletion_observed(uid, &key);
                let msg = format!("Error deleting: {source}");
                publish(shared, rs, EventType::Warning, "FailedDelete", msg);
                first_error.get_or_insert(Error::Delete { pod: name, source });
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Records an event on the ReplicaSet without holding up the sync.
fn publish(shared: &Shared, rs: &ReplicaSet, kind: EventType, reason: &str, note: String) {
    shared
        .recorder
        .publish(rs.object_ref(&()), kind, reason, note);
}
