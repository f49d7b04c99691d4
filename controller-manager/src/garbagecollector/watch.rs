//! One metadata watch per collectable resource, feeding the graph and waking the collector.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::discovery::{Resources, Served};
use super::graph::{Graph, Node, ResourceKey};

/// Resources the collector leaves alone, as Kubernetes does: events own nothing and are
/// owned by nothing that matters.
const IGNORED: &[(&str, &str)] = &[("", "events"), ("events.k8s.io", "events")];

struct Watch {
    served: Served,
    synced: Arc<AtomicBool>,
    task: JoinHandle<()>,
    stop: CancellationToken,
}

/// The running watches, by resource.
pub(super) struct Watches {
    client: kube::Client,
    graph: Arc<Mutex<Graph>>,
    changed: Arc<Notify>,
    running: HashMap<ResourceKey, Watch>,
    /// Set when a CustomResourceDefinition changes: the served resources may have too.
    pub definitions_changed: Arc<AtomicBool>,
}

impl Watches {
    pub fn new(client: kube::Client, graph: Arc<Mutex<Graph>>, changed: Arc<Notify>) -> Self {
        Self {
            client,
            graph,
            changed,
            running: HashMap::new(),
            definitions_changed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Watches every collectable resource of `resources`, and stops watching (and forgets
    /// the objects of) the ones no longer served.
    pub fn follow(&mut self, resources: &Resources, stop: &CancellationToken) {
        let wanted: HashMap<ResourceKey, &Served> = resources
            .all()
            .filter(|s| s.collectable)
            .filter(|s| {
                !IGNORED
                    .iter()
                    .any(|(g, p)| s.resource.group == *g && s.resource.plural == *p)
            })
            .map(|s| ((s.resource.group.clone(), s.resource.plural.clone()), s))
            .collect();
        let gone: Vec<ResourceKey> = self
            .running
            .iter()
            .filter(|(k, w)| wanted.get(*k).is_none_or(|s| **s != w.served))
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            if let Some(watch) = self.running.remove(&key) {
                info!(group = %key.0, resource = %key.1, "garbage collector: no longer watching");
                watch.stop.cancel();
                watch.task.abort();
                lock(&self.graph).forget_resource(&key);
            }
        }
        for (key, served) in wanted {
            if self.running.contains_key(&key) {
                continue;
            }
            debug!(group = %key.0, resource = %key.1, "garbage collector: watching");
            let synced = Arc::new(AtomicBool::new(false));
            let stop = stop.child_token();
            let task = tokio::spawn(watch_resource(
                self.client.clone(),
                served.clone(),
                self.graph.clone(),
                self.changed.clone(),
                synced.clone(),
                self.definitions_changed.clone(),
                stop.clone(),
            ));
            self.running.insert(
                key,
                Watch {
                    served: served.clone(),
                    synced,
                    task,
                    stop,
                },
            );
        }
    }

    /// Whether every watch has listed its resource at least once.
    pub fn synced(&self) -> bool {
        self.running
            .values()
            .all(|w| w.synced.load(Ordering::Acquire))
    }

    /// Stops every watch.
    pub fn stop_all(&mut self) {
        for (_, watch) in self.running.drain() {
            watch.stop.cancel();
            watch.task.abort();
        }
    }
}

/// The graph, even if a holder panicked (it holds plain data, always consistent between calls).
pub(super) fn lock(graph: &Mutex<Graph>) -> std::sync::MutexGuard<'_, Graph> {
    graph.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn watch_resource(
    client: kube::Client,
    served: Served,
    graph: Arc<Mutex<Graph>>,
    changed: Arc<Notify>,
    synced: Arc<AtomicBool>,
    definitions_changed: Arc<AtomicBool>,
    stop: CancellationToken,
) {
    let definitions = served.resource.group == "apiextensions.k8s.io"
        && served.resource.plural == "customresourcedefinitions";
    let key = (
        served.resource.group.clone(),
        served.resource.plural.clone(),
    );
    let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client, &served.resource);
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    let mut relist: Vec<Node> = Vec::new();
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            event = stream.next() => event,
        };
        let Some(event) = event else { return };
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                warn!(%error, group = %key.0, resource = %key.1, "garbage collector: watch failed, retrying");
                continue;
            }
        };
        if definitions && matches!(event, Event::Apply(_) | Event::Delete(_)) {
            definitions_changed.store(true, Ordering::Release);
        }
        match event {
            Event::Init => relist.clear(),
            Event::InitApply(obj) => relist.extend(Node::from_meta(&served, obj.metadata)),
            Event::InitDone => {
                lock(&graph).replace(&key, std::mem::take(&mut relist));
                synced.store(true, Ordering::Release);
            }
            Event::Apply(obj) => {
                if let Some(node) = Node::from_meta(&served, obj.metadata) {
                    lock(&graph).upsert(node);
                }
            }
            Event::Delete(obj) => {
                if let Some(uid) = obj.metadata.uid {
                    lock(&graph).remove(&uid);
                }
            }
        }
        changed.notify_one();
    }
}
