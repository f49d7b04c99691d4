//! A cache of one kind of object fed by a single watch, indexed by controller uid, so a
//! controller finds the objects it owns (and the orphans it may adopt) without a LIST.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// `(namespace, name)`.
pub type Key = (String, String);

/// What an index entry is filed under: its controller's uid, or "orphan in namespace".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Owner {
    Controller(String),
    Orphan(String),
}

#[derive(Debug)]
struct Inner<K> {
    objects: HashMap<Key, Arc<K>>,
    by_owner: HashMap<Owner, HashSet<Key>>,
}

impl<K> Default for Inner<K> {
    fn default() -> Self {
        Self {
            objects: HashMap::new(),
            by_owner: HashMap::new(),
        }
    }
}

/// Objects of kind `K` by key, by controller uid and, for orphans, by namespace.
#[derive(Debug)]
pub struct OwnerIndex<K> {
    inner: RwLock<Inner<K>>,
    synced: watch::Sender<bool>,
}

impl<K> Default for OwnerIndex<K> {
    fn default() -> Self {
        Self {
            inner: RwLock::new(Inner::default()),
            synced: watch::Sender::new(false),
        }
    }
}

fn key_of<K: Resource>(obj: &K) -> Key {
    (
        obj.meta().namespace.clone().unwrap_or_default(),
        obj.meta().name.clone().unwrap_or_default(),
    )
}

fn owner_of<K: Resource>(obj: &K) -> Owner {
    match super::owner::controller_uid(obj.meta()) {
        Some(uid) => Owner::Controller(uid.to_owned()),
        None => Owner::Orphan(obj.meta().namespace.clone().unwrap_or_default()),
    }
}

impl<K: Resource> Inner<K> {
    fn remove(&mut self, key: &Key) -> Option<Arc<K>> {
        let old = self.objects.remove(key)?;
        let owner = owner_of(old.as_ref());
        if let Some(set) = self.by_owner.get_mut(&owner) {
            set.remove(key);
            if set.is_empty() {
                self.by_owner.remove(&owner);
            }
        }
        Some(old)
    }

    fn insert(&mut self, obj: Arc<K>) -> Option<Arc<K>> {
        let key = key_of(obj.as_ref());
        let old = self.remove(&key);
        self.by_owner
            .entry(owner_of(obj.as_ref()))
            .or_default()
            .insert(key.clone());
        self.objects.insert(key, obj);
        old
    }

    fn collect(&self, owner: &Owner) -> Vec<Arc<K>> {
        self.by_owner
            .get(owner)
            .into_iter()
            .flatten()
            .filter_map(|k| self.objects.get(k).cloned())
            .collect()
    }
}

/// A change seen in the watch: the object before (if known) and after (if still there).
pub type Change<'a, K> = (Option<&'a K>, Option<&'a K>);

impl<K> OwnerIndex<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    fn read<T>(&self, f: impl FnOnce(&Inner<K>) -> T) -> T {
        match self.inner.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut Inner<K>) -> T) -> T {
        match self.inner.write() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// The objects controlled by `uid`.
    #[must_use]
    pub fn owned_by(&self, uid: &str) -> Vec<Arc<K>> {
        self.read(|inner| inner.collect(&Owner::Controller(uid.to_owned())))
    }

    /// The objects in `namespace` with no controller.
    #[must_use]
    pub fn orphans_in(&self, namespace: &str) -> Vec<Arc<K>> {
        self.read(|inner| inner.collect(&Owner::Orphan(namespace.to_owned())))
    }

    /// Waits until the first full list has been loaded.
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.subscribe();
        // The sender lives as long as `self`, so this only ends once synced.
        let _ = rx.wait_for(|synced| *synced).await;
    }

    /// Keeps the index in step with a watch of `api` until `stop`, calling `on_change` for
    /// every object added, modified or deleted (relists included) after the index is updated.
    pub async fn feed(
        self: Arc<Self>,
        api: Api<K>,
        stop: CancellationToken,
        mut on_change: impl FnMut(Change<'_, K>) + Send,
    ) where
        K::DynamicType: Default,
    {
        let events = watcher(api, watcher::Config::default()).default_backoff();
        let mut events = std::pin::pin!(events);
        let mut relist: Option<HashMap<Key, Arc<K>>> = None;
        loop {
            let event = tokio::select! {
                () = stop.cancelled() => return,
                event = events.next() => event,
            };
            let Some(event) = event else { return };
            let event = match event {
                Ok(event) => event,
                Err(error) => {
                    warn!(kind = %K::kind(&K::DynamicType::default()), %error, "watch failed; retrying");
                    continue;
                }
            };
            match event {
                watcher::Event::Apply(obj) => {
                    let obj = Arc::new(obj);
                    let old = self.write(|inner| inner.insert(obj.clone()));
                    on_change((old.as_deref(), Some(&obj)));
                }
                watcher::Event::Delete(obj) => {
                    let old = self.write(|inner| inner.remove(&key_of(&obj)));
                    on_change((old.as_deref().or(Some(&obj)), None));
                }
                watcher::Event::Init => relist = Some(HashMap::new()),
                watcher::Event::InitApply(obj) => {
                    let obj = Arc::new(obj);
                    relist
                        .get_or_insert_with(HashMap::new)
                        .insert(key_of(obj.as_ref()), obj);
                }
                watcher::Event::InitDone => {
                    let fresh = relist.take().unwrap_or_default();
                    self.replace(fresh, &mut on_change);
                    self.synced.send_replace(true);
                }
            }
        }
    }

    /// Swaps in a fresh list, reporting what changed against the old contents.
    fn replace(&self, fresh: HashMap<Key, Arc<K>>, on_change: &mut impl FnMut(Change<'_, K>)) {
        let mut changes = Vec::new();
        self.write(|inner| {
            let gone: Vec<Key> = inner
                .objects
                .keys()
                .filter(|k| !fresh.contains_key(*k))
                .cloned()
                .collect();
            for key in gone {
                if let Some(old) = inner.remove(&key) {
                    changes.push((Some(old), None));
                }
            }
            for obj in fresh.into_values() {
                let old = inner.insert(obj.clone());
                let unchanged = old
                    .as_ref()
                    .is_some_and(|o| o.resource_version() == obj.resource_version());
                if !unchanged {
                    changes.push((old, Some(obj)));
                }
            }
        });
        for (old, new) in &changes {
            on_change((old.as_deref(), new.as_deref()));
        }
    }
}
