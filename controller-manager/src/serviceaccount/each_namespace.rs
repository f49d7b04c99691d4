//! A loop keeping one named object in every active namespace: watches namespaces and the
//! objects of that name, and asks the caller to make each namespace's object right.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::serde::de::DeserializeOwned;
use k8s_openapi::NamespaceResourceScope;
use kube::api::Api;
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::Resource;
use tracing::warn;

use crate::Context;

/// How soon a namespace whose object could not be made right is tried again.
const RETRY: Duration = Duration::from_secs(2);

/// Calls `ensure(namespace, current object)` for every active namespace whenever the
/// namespace or its object `name` changes, until `ctx.stop`; failed namespaces are retried.
pub(super) async fn keep_in_each_namespace<K, F, Fut>(ctx: &Context, name: &str, mut ensure: F)
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
    F: FnMut(String, Option<K>) -> Fut,
    Fut: Future<Output = Result<(), kube::Error>>,
{
    let namespaces = watcher(
        Api::<Namespace>::all(ctx.client.clone()),
        watcher::Config::default(),
    )
    .default_backoff();
    let objects = watcher(
        Api::<K>::all(ctx.client.clone()),
        watcher::Config::default().fields(&format!("metadata.name={name}")),
    )
    .default_backoff();
    futures::pin_mut!(namespaces, objects);
    let mut state = State::<K>::default();
    let mut retry = tokio::time::interval(RETRY);
    loop {
        tokio::select! {
            () = ctx.stop.cancelled() => return,
            event = namespaces.next() => match event {
                None => return,
                Some(Ok(event)) => state.namespace_event(event),
                Some(Err(error)) => warn!(%error, object = name, "failed to watch namespaces, retrying"),
            },
            event = objects.next() => match event {
                None => return,
                Some(Ok(event)) => state.object_event(event, name),
                Some(Err(error)) => warn!(%error, object = name, "failed to watch, retrying"),
            },
            _ = retry.tick() => {}
        }
        if !(state.namespaces_synced && state.objects_synced) {
            continue;
        }
        for ns in std::mem::take(&mut state.dirty) {
            if !state.active.contains(&ns) {
                continue;
            }
            let current = state.objects.get(&ns).cloned();
            if let Err(error) = ensure(ns.clone(), current).await {
                warn!(%error, namespace = %ns, object = name, "failed to make the object right, retrying");
                state.failed.insert(ns);
            }
        }
        state.dirty.append(&mut state.failed);
    }
}

struct State<K> {
    active: BTreeSet<String>,
    objects: BTreeMap<String, K>,
    dirty: BTreeSet<String>,
    failed: BTreeSet<String>,
    relist_namespaces: BTreeSet<String>,
    relist_objects: BTreeMap<String, K>,
    namespaces_synced: bool,
    objects_synced: bool,
}

impl<K> Default for State<K> {
    fn default() -> Self {
        Self {
            active: BTreeSet::new(),
            objects: BTreeMap::new(),
            dirty: BTreeSet::new(),
            failed: BTreeSet::new(),
            relist_namespaces: BTreeSet::new(),
            relist_objects: BTreeMap::new(),
            namespaces_synced: false,
            objects_synced: false,
        }
    }
}

impl<K: Resource> State<K> {
    fn namespace_event(&mut self, event: Event<Namespace>) {
        let active = |ns: &Namespace| {
            ns.metadata.deletion_timestamp.is_none()
                && ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
        };
        match event {
            Event::Init => self.relist_namespaces.clear(),
            Event::InitApply(ns) => {
                if let (true, Some(name)) = (active(&ns), ns.metadata.name) {
                    self.relist_namespaces.insert(name);
                }
            }
            Event::InitDone => {
                self.active = std::mem::take(&mut self.relist_namespaces);
                self.dirty.extend(self.active.iter().cloned());
                self.namespaces_synced = true;
            }
            Event::Apply(ns) => {
                let is_active = active(&ns);
                if let Some(name) = ns.metadata.name {
                    if is_active {
                        self.active.insert(name.clone());
                        self.dirty.insert(name);
                    } else {
                        self.active.remove(&name);
                    }
                }
            }
            Event::Delete(ns) => {
                if let Some(name) = ns.metadata.name {
                    self.active.remove(&name);
                }
            }
        }
    }

    fn object_event(&mut self, event: Event<K>, wanted: &str) {
        let ours = |obj: &K| {
            let meta = obj.meta();
            match (&meta.namespace, &meta.name) {
                (Some(ns), Some(name)) if name == wanted => Some(ns.clone()),
                _ => None,
            }
        };
        match event {
            Event::Init => self.relist_objects.clear(),
            Event::InitApply(obj) => {
                if let Some(ns) = ours(&obj) {
                    self.relist_objects.insert(ns, obj);
                }
            }
            Event::InitDone => {
                self.objects = std::mem::take(&mut self.relist_objects);
                self.dirty.extend(self.active.iter().cloned());
                self.objects_synced = true;
            }
            Event::Apply(obj) => {
                if let Some(ns) = ours(&obj) {
                    self.objects.insert(ns.clone(), obj);
                    self.dirty.insert(ns);
                }
            }
            Event::Delete(obj) => {
                if let Some(ns) = ours(&obj) {
                    self.objects.remove(&ns);
                    self.dirty.insert(ns);
                }
            }
        }
    }
}
