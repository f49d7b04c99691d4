//! The watches behind the per-Service controllers (EndpointSlice, Endpoints): a pod cache whose
//! changes trigger the Services selecting the pod (before and after a label change), a node
//! cache for zones, and a per-Service retry backoff.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures::Stream;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;

use super::pods;

/// Label on a Node naming its zone.
pub(crate) const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// A reflected watch of every pod: the cache, and the stream of changed pods that keeps it
/// filled (to be polled by the controller that uses it).
pub(crate) fn pod_cache(
    client: &Client,
) -> (
    Store<Pod>,
    impl Stream<Item = Result<Pod, watcher::Error>> + Send + 'static,
) {
    let (reader, writer) = reflector::store();
    let stream = watcher(Api::<Pod>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .touched_objects();
    (reader, stream)
}

/// A node cache, kept filled by a task that ends with `stop`.
pub(crate) fn node_cache(client: &Client, stop: &CancellationToken) -> Store<Node> {
    crate::common::cache::spawn(Api::<Node>::all(client.clone()), stop)
}

/// The zone of a node, from its `topology.kubernetes.io/zone` label.
pub(crate) fn zone_of(nodes: &Store<Node>, node: &str) -> Option<String> {
    nodes
        .get(&ObjectRef::new(node))
        .and_then(|n| n.metadata.labels.as_ref()?.get(ZONE_LABEL).cloned())
}

/// Which Services a pod change concerns: those selecting the pod now, and those that selected
/// it at its previous change (so a pod relabelled away from a Service leaves its endpoints).
#[derive(Debug)]
pub(crate) struct PodTrigger {
    services: Store<Service>,
    pods: Store<Pod>,
    last: Mutex<HashMap<String, Vec<ObjectRef<Service>>>>,
}

impl PodTrigger {
    pub(crate) fn new(services: Store<Service>, pods: Store<Pod>) -> Self {
        Self {
            services,
            pods,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// The Services to reconcile for a change of `pod`.
    pub(crate) fn services_for(&self, pod: &Pod) -> Vec<ObjectRef<Service>> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let now: Vec<ObjectRef<Service>> = self
            .services
            .state()
            .iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(namespace))
            .filter(|s| pods::selector(s).is_some_and(|sel| pods::selects(sel, pod)))
            .map(|s| ObjectRef::from_obj(s.as_ref()))
            .collect();
        let gone = self.pods.get(&ObjectRef::from_obj(pod)).is_none();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let before = if gone {
            last.remove(&uid).unwrap_or_default()
        } else {
            last.insert(uid, now.clone()).unwrap_or_default()
        };
        // Forget pods deleted while nobody looked, now and then.
        if last.len() > 2 * self.pods.len() + 1024 {
            let live: std::collections::HashSet<String> = self
                .pods
                .state()
                .iter()
                .filter_map(|p| p.metadata.uid.clone())
                .collect();
            last.retain(|uid, _| live.contains(uid));
        }
        let mut all = now;
        for s in before {
            if !all.contains(&s) {
                all.push(s);
            }
        }
        all
    }
}

/// Per-object retry delays: doubling from 1 s up to 2 min, reset after a success.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// The delay before retrying `key` after one more failure.
    pub(crate) fn next(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let n = failures.entry(key.to_owned()).or_insert(0);
        *n = n.saturating_add(1);
        let secs = 1u64 << (*n - 1).min(7);
        Duration::from_secs(secs.min(120))
    }

    /// Forgets the failures of `key`.
    pub(crate) fn reset(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

/// A stream that yields every `period`, for periodic resyncs.
pub(crate) fn every(period: Duration) -> impl Stream<Item = ()> + Send + 'static {
    futures::stream::unfold((), move |()| async move {
        tokio::time::sleep(period).await;
        Some(((), ()))
    })
}
