//! The Deployment controller: one ReplicaSet per pod template (named by its hash), rolled
//! out by RollingUpdate or Recreate, with revision history, pause, proportional scaling and
//! the Progressing and Available conditions `kubectl rollout status` reads
//! (kube-controller-manager's `deployment` controller).
//!
//! One ReplicaSet watch feeds an [`OwnerIndex`] (ReplicaSets by controller uid); its changes
//! enqueue the owning Deployment, and for orphans the Deployments that select them.

mod hash;
mod revision;
mod rolling;
mod rollout;
mod status;
mod sync;

use std::sync::Arc;

use crate::common::events::Recorder;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::Api;

use crate::common::backoff::Failures;
use crate::common::index::{Change, OwnerIndex};
use crate::common::runner::Runner;
use crate::common::{owner, selector};
use crate::Context;

/// Reconciles running at once.
const CONCURRENCY: u16 = 32;

/// What one reconcile needs.
struct Shared {
    client: kube::Client,
    sets: Arc<OwnerIndex<ReplicaSet>>,
    recorder: Recorder,
    failures: Failures,
}

/// Starts the controller; it runs until `ctx.stop`.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    Box::pin(run(ctx))
}

async fn run(ctx: Context) {
    let client = ctx.client.clone();
    let runner = Runner::new(Api::<Deployment>::all(client.clone()));
    let deployments = runner.store();
    let shared = Arc::new(Shared {
        client: client.clone(),
        sets: Arc::new(OwnerIndex::default()),
        recorder: Recorder::new(client.clone(), "deployment-controller"),
        failures: Failures::default(),
    });
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let feeder = tokio::spawn(shared.sets.clone().feed(
        Api::<ReplicaSet>::all(client.clone()),
        ctx.stop.clone(),
        move |change| {
            for d in affected(&deployments, change) {
                let _ = tx.unbounded_send(d);
            }
        },
    ));
    runner
        .run(
            rx,
            sync::reconcile,
            sync::error_policy,
            shared,
            CONCURRENCY,
            ctx.stop.clone(),
        )
        .await;
    feeder.abort();
    let _ = feeder.await;
}

/// The Deployments a ReplicaSet change concerns.
fn affected(
    deployments: &Store<Deployment>,
    (old, new): Change<'_, ReplicaSet>,
) -> Vec<ObjectRef<Deployment>> {
    let mut out = Vec::new();
    for rs in [old, new].into_iter().flatten() {
        let ns = rs.metadata.namespace.as_deref().unwrap_or_default();
        match owner::controller_of(&rs.metadata) {
            Some(r) if r.kind == "Deployment" => out.push(ObjectRef::new(&r.name).within(ns)),
            Some(_) => {}
            None => {
                for d in deployments.state() {
                    let selects = d.metadata.namespace.as_deref() == Some(ns)
                        && selector::matches(
                            d.spec.as_ref().map(|s| &s.selector),
                            rs.metadata.labels.as_ref(),
                        );
                    if selects {
                        out.push(ObjectRef::from_obj(d.as_ref()));
                    }
                }
            }
        }
    }
    out.dedup();
    out
}
