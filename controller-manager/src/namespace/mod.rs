//! The namespace controller: empties a namespace being deleted (every object of every
//! namespaced resource), shows progress in its conditions, and once nothing is left removes
//! the `kubernetes` finalizer through `namespaces/{name}/finalize` so the namespace goes.

mod conditions;
mod content;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use serde_json::json;
use tracing::{info, warn};

use crate::garbagecollector::discovery::Resources;
use crate::Context;
use conditions::Outcome;

/// The finalizer the namespace controller owns.
const FINALIZER: &str = "kubernetes";
/// How often a namespace still holding content is looked at again.
const RECHECK: Duration = Duration::from_secs(2);

/// Starts the namespace controller.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    run(ctx).boxed()
}

async fn run(ctx: Context) {
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    let stream = watcher(api.clone(), watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    // Namespaces being deleted, by name; the relist buffer while a list is under way.
    let mut terminating: BTreeMap<String, Namespace> = BTreeMap::new();
    let mut relist: BTreeMap<String, Namespace> = BTreeMap::new();
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = ctx.stop.cancelled() => return,
            event = stream.next() => match event {
                None => return,
                Some(Err(error)) => {
                    warn!(%error, "namespace controller: watch failed, retrying");
                    continue;
                }
                Some(Ok(Event::Init)) => { relist.clear(); continue; }
                Some(Ok(Event::InitApply(ns))) => { keep(&mut relist, ns); continue; }
                Some(Ok(Event::InitDone)) => terminating = std::mem::take(&mut relist),
                Some(Ok(Event::Apply(ns))) => keep(&mut terminating, ns),
                Some(Ok(Event::Delete(ns))) => {
                    if let Some(name) = ns.metadata.name { terminating.remove(&name); }
                    continue;
                }
            },
            _ = recheck.tick() => {}
        }
        if terminating.is_empty() {
            continue;
        }
        let resources = Resources::discover(&ctx.client).await;
        let mut finished = Vec::new();
        for (name, ns) in &terminating {
            match sync(&api, &ctx.client, &resources, ns).await {
                Ok(true) => finished.push(name.clone()),
                Ok(false) => {}
                Err(error) => {
                    warn!(%error, namespace = %name, "namespace controller: failed, retrying")
                }
            }
        }
        for name in finished {
            terminating.remove(&name);
        }
    }
}

/// Tracks `ns` if it is being deleted and still carries this controller's finalizer.
fn keep(map: &mut BTreeMap<String, Namespace>, ns: Namespace) {
    let Some(name) = ns.metadata.name.clone() else {
        return;
    };
    if ns.metadata.deletion_timestamp.is_some() && has_finalizer(&ns) {
        map.insert(name, ns);
    } else {
        map.remove(&name);
    }
}

fn has_finalizer(ns: &Namespace) -> bool {
    ns.spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|f| f == FINALIZER))
}

/// One round on a terminating namespace: delete content, show conditions, finalize once
/// empty. Returns whether the namespace was finalized.
async fn sync(
    api: &Api<Namespace>,
    client: &kube::Client,
    resources: &Result<Resources, kube::Error>,
    ns: &Namespace,
) -> Result<bool, kube::Error> {
    let Some(name) = ns.metadata.name.as_deref() else {
        return Ok(true);
    };
    let outcome = match resources {
        Ok(resources) => content::delete_all(client, resources, name).await,
        Err(error) => Outcome {
            discovery_failure: Some(error.to_string()),
            ..Outcome::default()
        },
    };
    // The namespace as it is now (the watch's copy may be behind our own status writes).
    let Some(current) = api.get_opt(name).await? else {
        return Ok(true);
    };
    if outcome.is_empty() {
        finalize(api, current).await?;
        return Ok(true);
    }
    write_conditions(api, &current, &outcome).await?;
    Ok(false)
}

async fn write_conditions(
    api: &Api<Namespace>,
    ns: &Namespace,
    outcome: &Outcome,
) -> Result<(), kube::Error> {
    let Some(name) = ns.metadata.name.as_deref() else {
        return Ok(());
    };
    let previous: &[NamespaceCondition] = ns
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let next = conditions::conditions(outcome, previous, &now);
    if next == previous {
        return Ok(());
    }
    let patch = json!({"status": {"conditions": next}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Removes the `kubernetes` finalizer: with no other finalizer, the server deletes the namespace.
async fn finalize(api: &Api<Namespace>, mut ns: Namespace) -> Result<(), kube::Error> {
    let Some(name) = ns.metadata.name.clone() else {
        return Ok(());
    };
    if let Some(spec) = ns.spec.as_mut() {
        if let Some(finalizers) = spec.finalizers.as_mut() {
            finalizers.retain(|f| f != FINALIZER);
        }
    }
    info!(namespace = %name, "namespace controller: content gone, finalizing");
    match api
        .replace_subresource("finalize", &name, &PostParams::default(), &ns)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}
