//! The Endpoints controller: a core/v1 Endpoints object, named as its Service, for every
//! Service with a selector (still read by many tools and by `kubectl describe service`), with
//! ready and not-ready addresses and their ports, as kube-controller-manager's
//! `endpoints-controller` writes it; deleted with its Service.

mod subsets;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, Controller, WatchStreamExt};
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::endpointslice::pods;
use crate::endpointslice::watch::{self, Backoff, PodTrigger};
use crate::Context;

/// Annotation: when the change that led to this version of the Endpoints happened.
const TRIGGER_TIME_ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";
/// Annotation: addresses were dropped to stay under capacity.
const OVER_CAPACITY_ANNOTATION: &str = "endpoints.kubernetes.io/over-capacity";
/// How often every Service is reconciled even without a change.
const RESYNC: Duration = Duration::from_secs(300);

/// Why a Service's Endpoints could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("failed to {action} the endpoints of {service}: {source}")]
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
    backoff: Backoff,
}

/// Runs the controller until `ctx.stop`.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    Box::pin(run(ctx))
}

async fn run(ctx: Context) {
    let client = ctx.client.clone();
    let (pods, pod_stream) = watch::pod_cache(&client);
    tokio::spawn(delete_with_services(client.clone(), ctx.stop.clone()));
    let controller = Controller::new(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    );
    let trigger = PodTrigger::new(controller.store(), pods.clone());
    let state = Arc::new(State {
        client: client.clone(),
        pods,
        backoff: Backoff::default(),
    });
    controller
        .watches(
            Api::<Endpoints>::all(client),
            watcher::Config::default(),
            |ep| {
                let name = ep.metadata.name.clone().unwrap_or_default();
                let namespace = ep.metadata.namespace.clone().unwrap_or_default();
                Some(ObjectRef::<Service>::new(&name).within(&namespace))
            },
        )
        .watches_stream(pod_stream, move |pod| trigger.services_for(&pod))
        .reconcile_all_on(watch::every(RESYNC))
        .graceful_shutdown_on(ctx.stop.clone().cancelled_owned())
        .run(reconcile, error_policy, state)
        .for_each(|result| {
            if let Err(error) = result {
                debug!(%error, "endpoints controller event");
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
    warn!(service = %key, %error, retry_in = ?delay, "failed to sync endpoints");
    Action::requeue(delay)
}

/// The latest change among the Service and its pods: creation, readiness flips, deletion.
fn trigger_time<'a>(svc: &Service, selected: impl IntoIterator<Item = &'a Pod>) -> Timestamp {
    let mut latest = svc
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0);
    for pod in selected {
        let ready_change = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .and_then(|c| c.last_transition_time.as_ref());
        let times = [
            pod.metadata.creation_timestamp.as_ref(),
            ready_change,
            pod.metadata.deletion_timestamp.as_ref(),
        ];
        for t in times.into_iter().flatten() {
            latest = latest.max(t.0);
        }
    }
    if latest == Timestamp::UNIX_EPOCH {
        Timestamp::now()
    } else {
        latest
    }
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
    let selected: Vec<Arc<Pod>> = state.pods.state_filter(|p| {
        p.metadata.namespace.as_deref() == Some(namespace.as_str()) && pods::selects(selector, p)
    });
    let computed = subsets::subsets(&svc, selected.iter().map(AsRef::as_ref));
    let api: Api<Endpoints> = Api::namespaced(state.client.clone(), namespace);
    // Read fresh: a cache could lag behind our own last write.
    let current = api.get_opt(name).await.map_err(fail("read"))?;
    let labels = pods::endpoint_labels(&svc);
    if let Some(current) = &current {
        let annotations = current.metadata.annotations.clone().unwrap_or_default();
        let same = current.subsets.clone().unwrap_or_default() == computed.subsets
            && current.metadata.labels.clone().unwrap_or_default() == labels
            && annotations.contains_key(OVER_CAPACITY_ANNOTATION) == computed.truncated;
        if same {
            state.backoff.reset(&key);
            return Ok(Action::await_change());
        }
    }
    let mut annotations: BTreeMap<String, String> = current
        .as_ref()
        .and_then(|c| c.metadata.annotations.clone())
        .unwrap_or_default();
    annotations.remove(OVER_CAPACITY_ANNOTATION);
    if computed.truncated {
        annotations.insert(OVER_CAPACITY_ANNOTATION.to_owned(), "truncated".to_owned());
    }
    let when = trigger_time(&svc, selected.iter().map(AsRef::as_ref));
    annotations.insert(TRIGGER_TIME_ANNOTATION.to_owned(), when.to_string());
    let endpoints = Endpoints {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            labels: Some(labels),
            annotations: Some(annotations),
            resource_version: current
                .as_ref()
                .and_then(|c| c.metadata.resource_version.clone()),
            ..ObjectMeta::default()
        },
        subsets: Some(computed.subsets),
    };
    debug!(service = %key, "writing endpoints");
    if current.is_some() {
        api.replace(name, &PostParams::default(), &endpoints)
            .await
            .map_err(fail("update"))?;
    } else {
        api.create(&PostParams::default(), &endpoints)
            .await
            .map_err(fail("create"))?;
    }
    state.backoff.reset(&key);
    Ok(Action::await_change())
}

/// Deletes a Service's Endpoints when the Service is deleted, as Kubernetes does.
async fn delete_with_services(client: Client, stop: CancellationToken) {
    let services = watcher(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff();
    let mut services = std::pin::pin!(services);
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            event = services.next() => event,
        };
        let svc = match event {
            Some(Ok(watcher::Event::Delete(svc))) => svc,
            Some(Ok(_)) => continue,
            Some(Err(error)) => {
                debug!(%error, "service watch failed; retrying");
                continue;
            }
            None => return,
        };
        let (Some(namespace), Some(name)) = (&svc.metadata.namespace, &svc.metadata.name) else {
            continue;
        };
        let api: Api<Endpoints> = Api::namespaced(client.clone(), namespace);
        for attempt in 0..5u32 {
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => break,
                Err(kube::Error::Api(s)) if s.code == 404 => break,
                Err(error) => {
                    warn!(service = %format!("{namespace}/{name}"), %error, "failed to delete endpoints");
                    tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
                }
            }
        }
    }
}
