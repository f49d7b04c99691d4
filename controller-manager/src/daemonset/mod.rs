//! The DaemonSet controller: one pod per eligible node, pinned there by node affinity,
//! following nodes as they join, change and leave, replaced by the RollingUpdate or OnDelete
//! strategy, with the status `kubectl rollout status ds/<name>` reads.
//!
//! Layout: `nodes` decides where a daemon pod belongs, `plan` decides what to create and
//! delete (no I/O), this file reads the cluster, applies the plan and writes the status.

mod nodes;
mod plan;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{watcher, Controller};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::{debug, info, warn};

use crate::history::{self, selector, Owner, HASH_LABEL};
use crate::Context;
use plan::{Inputs, NodeState, Strategy};

/// Why a reconcile failed (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to {action} for daemon set {name}: {source}")]
    Api {
        action: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("failed to keep the history of daemon set {name}: {source}")]
    History {
        name: String,
        #[source]
        source: history::Error,
    },
    #[error("daemon set {0} has no namespace or uid")]
    Incomplete(String),
}

struct State {
    client: kube::Client,
    recorder: Recorder,
}

/// Starts the DaemonSet controller; it runs until `ctx.stop`.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    run(ctx).boxed()
}

async fn run(ctx: Context) {
    let client = ctx.client.clone();
    let config = watcher::Config::default();
    let controller = Controller::new(Api::<DaemonSet>::all(client.clone()), config.clone());
    let store = controller.store();
    let reporter = Reporter {
        controller: "daemonset-controller".to_owned(),
        instance: None,
    };
    let state = Arc::new(State {
        client: client.clone(),
        recorder: Recorder::new(client.clone(), reporter),
    });
    let stop = ctx.stop.clone();
    controller
        .owns(Api::<Pod>::all(client.clone()), config.clone())
        .watches(Api::<Node>::all(client), config, move |_node: Node| {
            store
                .state()
                .iter()
                .map(|ds| ObjectRef::from_obj(ds.as_ref()))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(async move { stop.cancelled().await })
        .run(reconcile, error_policy, state)
        .for_each(|result| async move {
            if let Err(err) = result {
                debug!(error = %err, "daemon set reconcile did not complete");
            }
        })
        .await;
    info!("daemonset controller stopped");
}

fn error_policy(ds: Arc<DaemonSet>, err: &Error, _: Arc<State>) -> Action {
    warn!(daemonset = %ds.name_any(), error = %err, "daemon set reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

fn api_err<'a>(action: &'static str, name: &'a str) -> impl FnOnce(kube::Error) -> Error + 'a {
    move |source| Error::Api {
        action,
        name: name.to_owned(),
        source,
    }
}

async fn reconcile(ds: Arc<DaemonSet>, state: Arc<State>) -> Result<Action, Error> {
    let name = ds.name_any();
    let (Some(ns), Some(uid)) = (ds.namespace(), ds.uid()) else {
        return Err(Error::Incomplete(name));
    };
    if ds.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let client = &state.client;
    let spec = ds.spec.clone().unwrap_or_default();
    let owner = Owner {
        namespace: ns.clone(),
        name: name.clone(),
        uid: uid.clone(),
        reference: owner_reference(&ds, &uid),
        labels: spec.selector.match_labels.clone().unwrap_or_default(),
    };

    // History: the revision of the current template.
    let revisions = history::list(client, &owner)
        .await
        .map_err(|source| Error::History {
            name: name.clone(),
            source,
        })?;
    let data = history::template_patch(&spec.template).map_err(|source| Error::History {
        name: name.clone(),
        source,
    })?;
    let collisions = ds
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0);
    let current = history::ensure(client, &owner, &revisions, data, collisions)
        .await
        .map_err(|source| Error::History {
            name: name.clone(),
            source,
        })?;
    let hash = history::hash_of(&current.revision);

    // The cluster: nodes and this DaemonSet's pods.
    let all_nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(api_err("list nodes", &name))?
        .items;
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

    let mut template_spec = spec.template.spec.clone().unwrap_or_default();
    nodes::add_daemon_tolerations(&mut template_spec);
    let mut by_node: BTreeMap<String, NodeState<'_>> = all_nodes
        .iter()
        .filter_map(|n| {
            let fit = nodes::fit(&template_spec, n);
            Some((
                n.metadata.name.clone()?,
                NodeState {
                    fit,
                    pods: Vec::new(),
                },
            ))
        })
        .collect();
    let mut orphaned = Vec::new();
    for pod in owned.iter().filter(|p| !history::pods::terminating(p)) {
        match nodes::target_node(pod.spec.as_ref()) {
            Some(node) => match by_node.get_mut(&node) {
                Some(state) => state.pods.push(pod),
                None => orphaned.push(pod.name_any()),
            },
            None => orphaned.push(pod.name_any()),
        }
    }

    let strategy = strategy(
        &spec.update_strategy,
        by_node.values().filter(|n| n.fit.should_run).count(),
    );
    let inputs = Inputs {
        hash: &hash,
        strategy,
        min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
        now: Timestamp::now(),
    };
    let decided = plan::plan(&by_node, inputs);

    // Apply: deletions first (pods of nodes gone are removed at once, as the pod GC would).
    let force = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    for pod in &orphaned {
        delete_pod(&state, &ds, &pods_api, pod, &force).await?;
    }
    for pod in &decided.delete {
        delete_pod(&state, &ds, &pods_api, pod, &DeleteParams::default()).await?;
    }
    for node in &decided.create {
        let pod = new_pod(&spec.template, &template_spec, &owner, &hash, node);
        match pods_api.create(&PostParams::default(), &pod).await {
            Ok(created) => {
                let pod_name = created.name_any();
                info!(daemonset = %name, namespace = %ns, pod = %pod_name, node = %node, "created daemon pod");
                publish(
                    &state,
                    &ds,
                    "SuccessfulCreate",
                    format!("Created pod: {pod_name}"),
                    Some(created.object_ref(&())),
                )
                .await;
            }
            Err(err) => {
                publish_warning(
                    &state,
                    &ds,
                    "FailedCreate",
                    format!("Error creating: {err}"),
                )
                .await;
                return Err(api_err("create a pod", &name)(err));
            }
        }
    }

    // Status, from the pods as they were read plus what was just done.
    let mut status = plan::status(&by_node, inputs, ds.metadata.generation);
    status.collision_count = (current.collision_count > 0).then_some(current.collision_count);
    if ds.status.as_ref() != Some(&status) {
        let patch = json!({"status": status});
        Api::<DaemonSet>::namespaced(client.clone(), &ns)
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(api_err("update the status", &name))?;
    }

    // History cleanup: keep revisions that pods still use.
    let mut live: Vec<String> = owned
        .iter()
        .filter_map(|p| p.labels().get(HASH_LABEL).cloned())
        .collect();
    live.push(hash.clone());
    let revisions: Vec<ControllerRevision> =
        history::list(client, &owner)
            .await
            .map_err(|source| Error::History {
                name: name.clone(),
                source,
            })?;
    let is_live = |r: &ControllerRevision| live.contains(&history::hash_of(r));
    history::truncate(
        client,
        &owner,
        &revisions,
        &is_live,
        spec.revision_history_limit,
    )
    .await
    .map_err(|source| Error::History {
        name: name.clone(),
        source,
    })?;

    let busy = !decided.create.is_empty() || !decided.delete.is_empty() || !orphaned.is_empty();
    Ok(match (busy, decided.requeue) {
        (true, _) => Action::requeue(Duration::from_secs(1)),
        (false, Some(after)) => Action::requeue(after + Duration::from_millis(100)),
        (false, None) => Action::requeue(Duration::from_secs(300)),
    })
}

/// The update strategy with its percentages resolved against `desired` nodes.
fn strategy(
    update: &Option<k8s_openapi::api::apps::v1::DaemonSetUpdateStrategy>,
    desired: usize,
) -> Strategy {
    let kind = update
        .as_ref()
        .and_then(|u| u.type_.as_deref())
        .unwrap_or("RollingUpdate");
    if kind == "OnDelete" {
        return Strategy::OnDelete;
    }
    let rolling = update.as_ref().and_then(|u| u.rolling_update.as_ref());
    let desired = i32::try_from(desired).unwrap_or(i32::MAX);
    let surge = resolve(rolling.and_then(|r| r.max_surge.as_ref()), desired, 0);
    let mut unavailable = resolve(rolling.and_then(|r| r.max_unavailable.as_ref()), desired, 1);
    if surge == 0 && unavailable == 0 {
        // Both zero would never progress; Kubernetes' validation forbids it, be safe anyway.
        unavailable = 1;
    }
    Strategy::RollingUpdate {
        max_unavailable: unavailable,
        max_surge: surge,
    }
}

/// An int-or-percent against `total`, percentages rounded up.
fn resolve(value: Option<&IntOrString>, total: i32, default: i32) -> i32 {
    match value {
        None => default,
        Some(IntOrString::Int(n)) => (*n).max(0),
        Some(IntOrString::String(s)) => {
            let Some(pct) = s
                .strip_suffix('%')
                .and_then(|p| p.trim().parse::<i64>().ok())
            else {
                return default;
            };
            let scaled = (i64::from(total) * pct.max(0) + 99) / 100;
            i32::try_from(scaled).unwrap_or(i32::MAX)
        }
    }
}

fn owner_reference(ds: &DaemonSet, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".to_owned(),
        kind: "DaemonSet".to_owned(),
        name: ds.name_any(),
        uid: uid.to_owned(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A daemon pod for `node`: the template, the revision hash label, the daemon tolerations and
/// node affinity pinning it to the node.
fn new_pod(
    template: &PodTemplateSpec,
    spec: &k8s_openapi::api::core::v1::PodSpec,
    owner: &Owner,
    hash: &str,
    node: &str,
) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.clone().unwrap_or_default();
    labels.insert(HASH_LABEL.to_owned(), hash.to_owned());
    let mut spec = spec.clone();
    nodes::pin_to_node(&mut spec, node);
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", owner.name)),
            namespace: Some(owner.namespace.clone()),
            labels: Some(labels),
            annotations: meta.annotations,
            owner_references: Some(vec![owner.reference.clone()]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

async fn delete_pod(
    state: &State,
    ds: &DaemonSet,
    api: &Api<Pod>,
    pod: &str,
    params: &DeleteParams,
) -> Result<(), Error> {
    match api.delete(pod, params).await {
        Ok(deleted) => {
            info!(daemonset = %ds.name_any(), pod = %pod, "deleted daemon pod");
            let related = Some(deleted_ref(deleted.left(), pod, ds.namespace()));
            let note = format!("Deleted pod: {pod}");
            publish(state, ds, "SuccessfulDelete", note, related).await;
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(err) => Err(api_err("delete a pod", &ds.name_any())(err)),
    }
}

async fn publish(
    state: &State,
    ds: &DaemonSet,
    reason: &str,
    note: String,
    related: Option<ObjectReference>,
) {
    emit(state, ds, EventType::Normal, reason, note, related).await;
}

async fn publish_warning(state: &State, ds: &DaemonSet, reason: &str, note: String) {
    emit(state, ds, EventType::Warning, reason, note, None).await;
}

/// Records an event on the daemon set; `related` (the pod) keeps events about different pods
/// apart instead of counting them as one series.
async fn emit(
    state: &State,
    ds: &DaemonSet,
    type_: EventType,
    reason: &str,
    note: String,
    related: Option<ObjectReference>,
) {
    crate::common::events::publish_with(
        &state.recorder,
        &ds.object_ref(&()),
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
