//! The EndpointSlice controller: for every Service with a selector, `discovery.k8s.io/v1`
//! EndpointSlices (IPv4) listing the selected pods that have an IP, with their readiness,
//! node, zone and resolved ports, at most 100 endpoints a slice, rewritten as little as
//! possible, as kube-controller-manager's `endpointslice-controller` does.
//!
//! Slices of Services without a selector are someone else's and are left alone (the
//! `kubernetes` Service's slice is the API server's job in Kubernetes).

mod desired;
mod plan;
pub(crate) mod pods;
pub(crate) mod watch;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::runtime::{watcher, Controller};
use kube::{Api, Client};
use tracing::{debug, warn};

use crate::Context;
use plan::{MANAGED_BY, MANAGED_BY_LABEL, SERVICE_NAME_LABEL};
use watch::{Backoff, PodTrigger};

/// How often every Service is reconciled even without a change (node zones, missed events).
const RESYNC: Duration = Duration::from_secs(300);

/// Why a Service's slices could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("failed to {action} endpoint slices of {service}: {source}")]
    Api {
        action: &'static str,
        service: String,
        #[source]
        source: kube::Error,
    },
    #[error("failed to read the pod cache: {0}")]
    Cache(#[from] kube::runtime::reflector::store::WriterDropped),
}

/// What the reconciler reads.
struct State {
    client: Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    backoff: Backoff,
}

/// Runs the controller until `ctx.stop`.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    Box::pin(run(ctx))
}

async fn run(ctx: Context) {
    let client = ctx.client.clone();
    let (pods, pod_stream) = watch::pod_cache(&client);
    let nodes = watch::node_cache(&client, &ctx.stop);
    let managed = format!("{MANAGED_BY_LABEL}={MANAGED_BY}");
    let controller = Controller::new(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    );
    let trigger = PodTrigger::new(controller.store(), pods.clone());
    let state = Arc::new(State {
        client: client.clone(),
        pods,
        nodes,
        backoff: Backoff::default(),
    });
    controller
        .owns(
            Api::<EndpointSlice>::all(client),
            watcher::Config::default().labels(&managed),
        )
        .watches_stream(pod_stream, move |pod| trigger.services_for(&pod))
        .reconcile_all_on(watch::every(RESYNC))
        .graceful_shutdown_on(ctx.stop.clone().cancelled_owned())
        .run(reconcile, error_policy, state)
        .for_each(|result| {
            if let Err(error) = result {
                debug!(%error, "endpointslice controller event");
            }
            futures::future::ready(())
        })
        .await;
}

fn key(svc: &Service) -> String {
    format!(
        "{}/{}",
        svc.metadata.namespace.as_deref().unwrap_or_default(),
        svc.metadata.name.as_deref().unwrap_or_default()
    )
}

fn error_policy(svc: Arc<Service>, error: &Error, state: Arc<State>) -> Action {
    let key = key(&svc);
    let delay = state.backoff.next(&key);
    warn!(service = %key, %error, retry_in = ?delay, "failed to sync endpoint slices");
    Action::requeue(delay)
}

async fn reconcile(svc: Arc<Service>, state: Arc<State>) -> Result<Action, Error> {
    state.pods.wait_until_ready().await?;
    let key = key(&svc);
    let (Some(namespace), Some(name)) = (&svc.metadata.namespace, &svc.metadata.name) else {
        return Ok(Action::await_change());
    };
    if svc.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(selector) = pods::selector(&svc) else {
        return Ok(Action::await_change());
    };
    let fail = |action: &'static str| {
        let service = key.clone();
        move |source| Error::Api {
            action,
            service,
            source,
        }
    };
    let api: Api<EndpointSlice> = Api::namespaced(state.client.clone(), namespace);
    let mine = format!("{SERVICE_NAME_LABEL}={name},{MANAGED_BY_LABEL}={MANAGED_BY}");
    // Read the slices fresh from the API: a cache could lag behind our own last writes.
    let current = api
        .list(&ListParams::default().labels(&mine))
        .await
        .map_err(fail("list"))?
        .items;
    let selected: Vec<Arc<Pod>> = state.pods.state_filter(|p| {
        p.metadata.namespace.as_deref() == Some(namespace.as_str()) && pods::selects(selector, p)
    });
    let desired = desired::desired(&svc, selected.iter().map(AsRef::as_ref), |node| {
        watch::zone_of(&state.nodes, node)
    });
    let plan = plan::plan(&svc, desired, current);
    if !plan.is_empty() {
        debug!(
            service = %key,
            create = plan.create.len(),
            update = plan.update.len(),
            delete = plan.delete.len(),
            "writing endpoint slices"
        );
    }
    for slice in &plan.create {
        api.create(&PostParams::default(), slice)
            .await
            .map_err(fail("create"))?;
    }
    for slice in &plan.update {
        let slice_name = slice.metadata.name.as_deref().unwrap_or_default();
        api.replace(slice_name, &PostParams::default(), slice)
            .await
            .map_err(fail("update"))?;
    }
    for slice_name in &plan.delete {
        match api.delete(slice_name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(fail("delete")(e)),
        }
    }
    state.backoff.reset(&key);
    Ok(Action::await_change())
}
