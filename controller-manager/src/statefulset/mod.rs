//! The StatefulSet controller: pods with stable names and identities `<set>-<ordinal>`,
//! created in order (OrderedReady) or all at once (Parallel), claims from
//! volumeClaimTemplates, scale down from the highest ordinal, and the RollingUpdate (with a
//! partition) and OnDelete strategies, with the status `kubectl rollout status sts/<name>`
//! reads.
//!
//! Layout: `pods` builds pods and claims, `plan` decides the next steps (no I/O), this file
//! reads the cluster, takes the steps and writes the status.

mod plan;
mod pods;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::{watcher, Controller};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::{debug, info, warn};

use crate::history::{self, selector, Owner};
use crate::Context;
use plan::{Inputs, Revision, Step};

/// Why a reconcile failed (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to {action} for stateful set {name}: {source}")]
    Api {
        action: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("failed to keep the history of stateful set {name}: {source}")]
    History {
        name: String,
        #[source]
        source: history::Error,
    },
    #[error("stateful set {0} has no namespace or uid")]
    Incomplete(String),
    #[error("claim {claim} of stateful set {name} is being deleted; waiting for it to go")]
    ClaimTerminating { name: String, claim: String },
}

struct State {
    client: kube::Client,
    recorder: Recorder,
}

/// Starts the StatefulSet controller; it runs until `ctx.stop`.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    run(ctx).boxed()
}

async fn run(ctx: Context) {
    let client = ctx.client.clone();
    let config = watcher::Config::default();
    let reporter = Reporter {
        controller: "statefulset-controller".to_owned(),
        instance: None,
    };
    let state = Arc::new(State {
        client: client.clone(),
        recorder: Recorder::new(client.clone(), reporter),
    });
    let stop = ctx.stop.clone();
    Controller::new(Api::<StatefulSet>::all(client.clone()), config.clone())
        .owns(Api::<Pod>::all(client), config)
        .graceful_shutdown_on(async move { stop.cancelled().await })
        .run(reconcile, error_policy, state)
        .for_each(|result| async move {
            if let Err(err) = result {
                debug!(error = %err, "stateful set reconcile did not complete");
            }
        })
        .await;
    info!("statefulset controller stopped");
}

fn error_policy(set: Arc<StatefulSet>, err: &Error, _: Arc<State>) -> Action {
    warn!(statefulset = %set.name_any(), error = %err, "stateful set reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

fn api_err<'a>(action: &'static str, name: &'a str) -> impl FnOnce(kube::Error) -> Error + 'a {
    move |source| Error::Api {
        action,
        name: name.to_owned(),
        source,
    }
}

fn history_err(name: &str) -> impl FnOnce(history::Error) -> Error + '_ {
    move |source| Error::History {
        name: name.to_owned(),
        source,
    }
}

async fn reconcile(set: Arc<StatefulSet>, state: Arc<State>) -> Result<Action, Error> {
    let name = set.name_any();
    let (Some(ns), Some(uid)) = (set.namespace(), set.uid()) else {
        return Err(Error::Incomplete(name));
    };
    if set.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let client = &state.client;
    let spec = set.spec.clone().unwrap_or_default();
    let reference = OwnerReference {
        api_version: "apps/v1".to_owned(),
        kind: "StatefulSet".to_owned(),
        name: name.clone(),
        uid: uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let owner = Owner {
        namespace: ns.clone(),
        name: name.clone(),
        uid: uid.clone(),
        reference: reference.clone(),
        labels: spec.selector.match_labels.clone().unwrap_or_default(),
    };

    // Revisions: the update revision holds the template; the current one is what pods ran.
    let revisions = history::list(client, &owner)
        .await
        .map_err(history_err(&name))?;
    let data = history::template_patch(&spec.template).map_err(history_err(&name))?;
    let collisions = set
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0);
    let ensured = history::ensure(client, &owner, &revisions, data, collisions)
        .await
        .map_err(history_err(&name))?;
    let update_name = ensured.revision.name_any();
    let status_current = set
        .status
        .as_ref()
        .and_then(|s| s.current_revision.clone())
        .unwrap_or_default();
    let current = revisions
        .iter()
        .find(|r| r.name_any() == status_current)
        .unwrap_or(&ensured.revision)
        .clone();
    let current_name = current.name_any();

    // This set's pods, by ordinal.
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let mut params = ListParams::default();
    let labels = selector::match_labels_string(&owner.labels);
    if !labels.is_empty() {
        params = params.labels(&labels);
    }
    let owned: Vec<Pod> = pods_api
        .list(&params)
        .await
        .map_err(api_err("list pods", &name))?
        .items
        .into_iter()
        .filter(|p| selector::controlled_by(&p.metadata, &uid))
        .collect();
    let by_ordinal: BTreeMap<i32, &Pod> = owned
        .iter()
        .filter_map(|p| Some((pods::ordinal_of(&name, &p.name_any())?, p)))
        .collect();

    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let partition = match strategy.type_.as_deref().unwrap_or("RollingUpdate") {
        "OnDelete" => None,
        _ => Some(
            strategy
                .rolling_update
                .as_ref()
                .and_then(|r| r.partition)
                .unwrap_or(0),
        ),
    };
    let replicas = spec.replicas.unwrap_or(1);
    let inputs = Inputs {
        replicas,
        start: spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0),
        ordered: spec.pod_management_policy.as_deref() != Some("Parallel"),
        partition,
        current_revision: &current_name,
        update_revision: &update_name,
    };
    let steps = plan::plan(&by_ordinal, inputs);
    for step in &steps {
        take(&state, &set, &reference, step, &current, &ensured.revision).await?;
    }

    // Status.
    let now = Timestamp::now();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let available = |p: &Pod| history::pods::available(p, min_ready, now).is_yes();
    let counts = plan::counts(&by_ordinal, inputs, &available);
    let mut status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        replicas: counts.replicas,
        ready_replicas: Some(counts.ready),
        available_replicas: Some(counts.available),
        current_replicas: Some(counts.current),
        updated_replicas: Some(counts.updated),
        current_revision: Some(current_name.clone()),
        update_revision: Some(update_name.clone()),
        collision_count: Some(ensured.collision_count),
        conditions: set.status.as_ref().and_then(|s| s.conditions.clone()),
    };
    // Every pod at the update revision and ready: the update revision becomes current.
    if counts.updated == replicas && counts.ready == replicas && counts.replicas == replicas {
        status.current_revision = Some(update_name.clone());
        status.current_replicas = Some(counts.updated);
    }
    if set.status.as_ref() != Some(&status) {
        Api::<StatefulSet>::namespaced(client.clone(), &ns)
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": status})),
            )
            .await
            .map_err(api_err("update the status", &name))?;
    }

    // History cleanup: keep the current and update revisions and any a pod runs.
    let mut live: Vec<String> = owned
        .iter()
        .filter_map(|p| plan::revision_of(p).map(str::to_owned))
        .collect();
    live.extend(status.current_revision.clone());
    live.push(update_name.clone());
    let revisions = history::list(client, &owner)
        .await
        .map_err(history_err(&name))?;
    let is_live = |r: &ControllerRevision| live.contains(&r.name_any());
    history::truncate(
        client,
        &owner,
        &revisions,
        &is_live,
        spec.revision_history_limit,
    )
    .await
    .map_err(history_err(&name))?;

    let waiting_available = by_ordinal.values().any(|p| {
        matches!(
            history::pods::available(p, min_ready, now),
            history::pods::Availability::After(_)
        )
    });
    // Soon after acting (to see the result) or while a pod is about to become available.
    Ok(if !steps.is_empty() || waiting_available {
        Action::requeue(Duration::from_secs(1))
    } else {
        Action::requeue(Duration::from_secs(300))
    })
}

/// Takes one step: creates a pod (its claims first) or deletes one.
async fn take(
    state: &State,
    set: &StatefulSet,
    reference: &OwnerReference,
    step: &Step,
    current: &ControllerRevision,
    update: &ControllerRevision,
) -> Result<(), Error> {
    let name = set.name_any();
    let ns = set.namespace().unwrap_or_default();
    let pods_api: Api<Pod> = Api::namespaced(state.client.clone(), &ns);
    match step {
        Step::Create { ordinal, revision } => {
            let (revision, fallback) = match revision {
                Revision::Current => (current, update),
                Revision::Update => (update, update),
            };
            let template = history::template_of(revision)
                .or_else(|| history::template_of(fallback))
                .or_else(|| set.spec.as_ref().map(|s| s.template.clone()))
                .unwrap_or_default();
            let pod = pods::new_pod(set, reference, &template, &revision.name_any(), *ordinal);
            let pod_name = pod.name_any();
            ensure_claims(state, set, reference, *ordinal, &pod_name).await?;
            match pods_api.create(&PostParams::default(), &pod).await {
                Ok(created) => {
                    info!(statefulset = %name, namespace = %ns, pod = %pod_name, "created stateful pod");
                    let note = format!("create Pod {pod_name} in StatefulSet {name} successful");
                    let related = Some(created.object_ref(&()));
                    emit(
                        state,
                        set,
                        EventType::Normal,
                        "SuccessfulCreate",
                        note,
                        related,
                    )
                    .await;
                }
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(err) => {
                    let note =
                        format!("create Pod {pod_name} in StatefulSet {name} failed error: {err}");
                    emit(state, set, EventType::Warning, "FailedCreate", note, None).await;
                    return Err(api_err("create a pod", &name)(err));
                }
            }
        }
        Step::Delete {
            ordinal,
            name: pod_name,
            condemned,
        } => {
            if *condemned {
                release_claims(state, set, *ordinal, pod_name, &pods_api).await?;
            }
            match pods_api.delete(pod_name, &DeleteParams::default()).await {
                Ok(deleted) => {
                    info!(statefulset = %name, namespace = %ns, pod = %pod_name, "deleted stateful pod");
                    let note = format!("delete Pod {pod_name} in StatefulSet {name} successful");
                    let related = Some(deleted_ref(deleted.left(), pod_name, set.namespace()));
                    emit(
                        state,
                        set,
                        EventType::Normal,
                        "SuccessfulDelete",
                        note,
                        related,
                    )
                    .await;
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(err) => return Err(api_err("delete a pod", &name)(err)),
            }
        }
    }
    Ok(())
}

/// Creates the claims of the pod with `ordinal` that do not exist yet.
async fn ensure_claims(
    state: &State,
    set: &StatefulSet,
    reference: &OwnerReference,
    ordinal: i32,
    pod_name: &str,
) -> Result<(), Error> {
    let name = set.name_any();
    let ns = set.namespace().unwrap_or_default();
    let api: Api<PersistentVolumeClaim> = Api::namespaced(state.client.clone(), &ns);
    for claim in pods::new_claims(set, reference, ordinal) {
        let claim_name = claim.name_any();
        match api
            .get_opt(&claim_name)
            .await
            .map_err(api_err("read a claim", &name))?
        {
            Some(found) if found.metadata.deletion_timestamp.is_some() => {
                return Err(Error::ClaimTerminating {
                    name,
                    claim: claim_name,
                })
            }
            Some(_) => {}
            None => match api.create(&PostParams::default(), &claim).await {
                Ok(created) => {
                    info!(statefulset = %name, claim = %claim_name, "created claim");
                    let note = format!(
                        "create Claim {claim_name} Pod {pod_name} in StatefulSet {name} success"
                    );
                    let related = Some(created.object_ref(&()));
                    emit(
                        state,
                        set,
                        EventType::Normal,
                        "SuccessfulCreate",
                        note,
                        related,
                    )
                    .await;
                }
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(err) => {
                    let note = format!(
                        "create Claim {claim_name} for Pod {pod_name} in StatefulSet {name} failed error: {err}"
                    );
                    emit(state, set, EventType::Warning, "FailedCreate", note, None).await;
                    return Err(api_err("create a claim", &name)(err));
                }
            },
        }
    }
    Ok(())
}

/// With `whenScaled: Delete`, gives a condemned pod's claims to the pod (and takes them from
/// the set, as Kubernetes does), so the garbage collector deletes them with the pod.
async fn release_claims(
    state: &State,
    set: &StatefulSet,
    ordinal: i32,
    pod_name: &str,
    pods_api: &Api<Pod>,
) -> Result<(), Error> {
    let name = set.name_any();
    let scaled_delete = set
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref())
        .and_then(|p| p.when_scaled.as_deref())
        == Some("Delete");
    if !scaled_delete {
        return Ok(());
    }
    let Some(pod) = pods_api
        .get_opt(pod_name)
        .await
        .map_err(api_err("read a pod", &name))?
    else {
        return Ok(());
    };
    let Some(pod_uid) = pod.uid() else {
        return Ok(());
    };
    let ns = set.namespace().unwrap_or_default();
    let api: Api<PersistentVolumeClaim> = Api::namespaced(state.client.clone(), &ns);
    let pod_ref = OwnerReference {
        api_version: "v1".to_owned(),
        kind: "Pod".to_owned(),
        name: pod_name.to_owned(),
        uid: pod_uid.clone(),
        controller: None,
        block_owner_deletion: Some(true),
    };
    let templates = set
        .spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.clone())
        .unwrap_or_default();
    for template in templates {
        let Some(template_name) = template.metadata.name.as_deref() else {
            continue;
        };
        let claim_name = pods::claim_name(template_name, &name, ordinal);
        let Some(claim) = api
            .get_opt(&claim_name)
            .await
            .map_err(api_err("read a claim", &name))?
        else {
            continue;
        };
        let mut owners = claim.metadata.owner_references.clone().unwrap_or_default();
        if owners.iter().any(|o| o.uid == pod_uid) {
            continue;
        }
        owners.retain(|o| Some(&o.uid) != set.metadata.uid.as_ref());
        owners.push(pod_ref.clone());
        let patch = json!({"metadata": {"ownerReferences": owners}});
        api.patch(&claim_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(api_err("hand a claim to its pod", &name))?;
    }
    Ok(())
}

/// Records an event on the stateful set; `related` (the pod or claim) keeps events about
/// different objects apart instead of counting them as one series.
async fn emit(
    state: &State,
    set: &StatefulSet,
    type_: EventType,
    reason: &str,
    note: String,
    related: Option<ObjectReference>,
) {
    crate::common::events::publish_with(
        &state.recorder,
        &set.object_ref(&()),
        type_,
        reason,
        note,
        related,
    )
    .await;
}

/// The pod a delete call answered about: the object when the API returns it, else its name
/// (an immediate delete answers with a Status).
fn deleted_ref(answer: Option<Pod>, name: &str, namespace: Option<String>) -> ObjectReference {
    match answer {
        Some(pod) => pod.object_ref(&()),
        None => ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("Pod".to_owned()),
            name: Some(name.to_owned()),
            namespace,
            ..ObjectReference::default()
        },
    }
}
