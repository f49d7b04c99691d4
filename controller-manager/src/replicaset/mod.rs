//! The ReplicaSet controller: keeps `spec.replicas` pods from the template, adopts matching
//! orphans, releases pods that stop matching, and reports status (kube-controller-manager's
//! `replicaset` controller).
//!
//! One pod watch feeds an [`OwnerIndex`] (pods by controller uid) shared by every reconcile;
//! pod changes enqueue the owning ReplicaSet, and orphans the ReplicaSets that select them.

mod decide;
mod reconcile;

use std::sync::Arc;

use crate::common::events::Recorder;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::Api;

use crate::common::expectations::Expectations;
use crate::common::index::{Change, OwnerIndex};
use crate::common::runner::Runner;
use crate::common::{owner, selector};
use crate::Context;

/// Reconciles running at once (each with several pod requests in flight).
const CONCURRENCY: u16 = 64;

/// What one reconcile needs.
struct Shared {
    client: kube::Client,
    pods: Arc<OwnerIndex<Pod>>,
    expectations: Expectations,
    recorder: Recorder,
    failures: crate::common::backoff::Failures,
}

/// Starts the controller; it runs until `ctx.stop`.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    Box::pin(run(ctx))
}

async fn run(ctx: Context) {
    let client = ctx.client.clone();
    let runner = Runner::new(Api::<ReplicaSet>::all(client.clone()));
    let sets = runner.store();
    let shared = Arc::new(Shared {
        client: client.clone(),
        pods: Arc::new(OwnerIndex::default()),
        expectations: Expectations::default(),
        recorder: Recorder::new(client.clone(), "replicaset-controller"),
        failures: crate::common::backoff::Failures::default(),
    });
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let feeder = {
        let shared = shared.clone();
        let stop = ctx.stop.clone();
        tokio::spawn(shared.pods.clone().feed(
            Api::<Pod>::all(client.clone()),
            stop,
            move |change| {
                for set in affected(&shared.expectations, &sets, change) {
                    let _ = tx.unbounded_send(set);
                }
            },
        ))
    };
    runner
        .run(
            rx,
            reconcile::reconcile,
            reconcile::error_policy,
            shared,
            CONCURRENCY,
            ctx.stop.clone(),
        )
        .await;
    feeder.abort();
    let _ = feeder.await;
}

/// The ReplicaSets a pod change concerns, noting observed creations and deletions.
fn affected(
    expectations: &Expectations,
    sets: &Store<ReplicaSet>,
    (old, new): Change<'_, Pod>,
) -> Vec<ObjectRef<ReplicaSet>> {
    let mut out = Vec::new();
    let key = |p: &Pod| {
        format!(
            "{}/{}",
            p.metadata.namespace.as_deref().unwrap_or_default(),
            p.metadata.name.as_deref().unwrap_or_default()
        )
    };
    if let (None, Some(pod)) = (old, new) {
        if let Some(uid) = owner::controller_uid(&pod.metadata) {
            expectations.creation_observed(uid);
        }
    }
    let gone_or_going = match (old, new) {
        (Some(pod), None) => Some(pod),
        (_, Some(pod)) if pod.metadata.deletion_timestamp.is_some() => Some(pod),
        _ => None,
    };
    if let Some(pod) = gone_or_going {
        if let Some(uid) = owner::controller_uid(&pod.metadata) {
            expectations.deletion_observed(uid, &key(pod));
        }
    }
    for pod in [old, new].into_iter().flatten() {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        match owner::controller_of(&pod.metadata) {
            Some(r) if r.kind == "ReplicaSet" => {
                out.push(ObjectRef::new(&r.name).within(ns));
            }
            Some(_) => {}
            None => {
                for rs in sets.state() {
                    let selects = rs.metadata.namespace.as_deref() == Some(ns)
                        && selector::matches(
                            rs.spec.as_ref().map(|s| &s.selector),
                            pod.metadata.labels.as_ref(),
                        );
                    if selects {
                        out.push(ObjectRef::from_obj(rs.as_ref()));
                    }
                }
            }
        }
    }
    out.dedup();
    out
}
