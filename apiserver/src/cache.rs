//! The watch cache: one store watch per resource serves every list and watch of it.
//!
//! A cache holds the current objects of one storage prefix and a window of recent changes. It is
//! fed by one list and then one watch on the store; a watch request replays the changes after
//! its resourceVersion from the window and then follows live changes, so a thousand watchers
//! cost one store watch. A resourceVersion older than the window answers 410 Gone, as
//! Kubernetes does, and the client lists again.
//!
//! Consistent reads (a list without resourceVersion) first learn the store's current revision
//! with a linearizable read, then ask the store for a progress report on the cache's watch and
//! wait until the cache has caught up to that revision.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use parking_lot::RwLock;
use rkube_store::backend::{self, Backend, EventKind, ListRequest, WatchMessage, WatchRequest};
use serde_json::Value;
use tokio::sync::{broadcast, watch, Notify};

use crate::object;
use crate::status::{ApiError, ApiResult};

/// Changes kept for watches that resume from a resourceVersion.
const WINDOW: usize = 10_000;
/// Buffer of a watcher; one that falls further behind is closed and resumes by itself.
const SUBSCRIBER_BUFFER: usize = 4_096;
/// How long a consistent read waits for the cache before reading the store directly.
const FRESHNESS_WAIT: Duration = Duration::from_secs(3);

/// One object as the cache holds it (resourceVersion set), with its JSON encoding made once so
/// that lists and watches copy bytes instead of serializing the object for every reader.
#[derive(Debug)]
pub struct Entry {
    pub key: String,
    pub obj: Value,
    pub revision: i64,
    pub json: bytes::Bytes,
}

impl Entry {
    pub fn new(key: String, obj: Value, revision: i64) -> Entry {
        let json = bytes::Bytes::from(serde_json::to_vec(&obj).unwrap_or_default());
        Entry {
            key,
            obj,
            revision,
            json,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change: the object after it (for a delete, the last version with the delete's revision)
/// and the version before it.
#[derive(Debug)]
pub struct Event {
    pub kind: EventType,
    pub obj: Arc<Entry>,
    pub prev: Option<Arc<Entry>>,
}

impl Event {
    pub fn revision(&self) -> i64 {
        self.obj.revision
    }
}

#[derive(Debug)]
struct State {
    objects: BTreeMap<String, Arc<Entry>>,
    /// The cache reflects the store up to this revision.
    revision: i64,
    /// The window holds every change after this revision.
    start: i64,
    events: VecDeque<Arc<Event>>,
    live: broadcast::Sender<Arc<Event>>,
    ready: bool,
}

/// What a watch starts with: the changes (or current objects) to send first, then live ones.
#[derive(Debug)]
pub struct Subscription {
    pub initial: Vec<Arc<Event>>,
    pub live: broadcast::Receiver<Arc<Event>>,
    /// The revision the initial part brings the watcher to.
    pub revision: i64,
}

/// The cache of one storage prefix.
#[derive(Debug)]
pub struct WatchCache {
    prefix: String,
    backend: Arc<dyn Backend>,
    state: RwLock<State>,
    revision_tx: watch::Sender<i64>,
    progress: Arc<Notify>,
}

impl WatchCache {
    /// Starts a cache of `prefix`, fed in the background until the returned cache is dropped
    /// by everyone (the feeder holds a weak reference).
    pub fn start(backend: Arc<dyn Backend>, prefix: String) -> Arc<Self> {
        let (live, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        let (revision_tx, _) = watch::channel(0);
        let cache = Arc::new(WatchCache {
            prefix,
            backend,
            state: RwLock::new(State {
                objects: BTreeMap::new(),
                revision: 0,
                start: 0,
                events: VecDeque::new(),
                live,
                ready: false,
            }),
            revision_tx,
            progress: Arc::new(Notify::new()),
        });
        let weak = Arc::downgrade(&cache);
        tokio::spawn(async move {
            loop {
                let Some(cache) = weak.upgrade() else { return };
                if let Err(e) = cache.feed().await {
                    tracing::warn!(prefix = %cache.prefix, error = %e, "watch cache restarts");
                }
                drop(cache);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        cache
    }

    /// One list-then-watch cycle; returns when the store watch ends.
    async fn feed(self: &Arc<Self>) -> Result<(), backend::Error> {
        let mut objects = BTreeMap::new();
        let mut start = None;
        let mut revision = 0;
        loop {
            let page = self
                .backend
                .list(ListRequest {
                    prefix: self.prefix.as_bytes().to_vec(),
                    start: start.take(),
                    limit: 10_000,
                    revision,
                })
                .await?;
            revision = page.revision;
            for r in &page.records {
                if let Some(entry) = entry_of(&r.key, &r.value, r.mod_revision) {
                    objects.insert(entry.key.clone(), Arc::new(entry));
                }
            }
            if !page.more {
                break;
            }
            if let Some(last) = page.records.last() {
                let mut next = last.key.clone();
                next.push(0);
                start = Some(next);
            }
        }
        let mut stream = self
            .backend
            .watch(WatchRequest {
                prefix: self.prefix.as_bytes().to_vec(),
                start_revision: revision + 1,
                prev: false,
                progress: true,
                progress_requests: Some(self.progress.clone()),
            })
            .await?;
        {
            let mut state = self.state.write();
            let (live, _) = broadcast::channel(SUBSCRIBER_BUFFER);
            // Replacing the sender ends every watcher of the previous cycle: they resume by
            // themselves from their last resourceVersion.
            *state = State {
                objects,
                revision,
                start: revision,
                events: VecDeque::new(),
                live,
                ready: true,
            };
        }
        self.revision_tx.send_replace(revision);
        tracing::debug!(prefix = %self.prefix, revision, "watch cache synced");
        while let Some(message) = stream.next().await {
            match message? {
                WatchMessage::Progress(rev) => {
                    let mut state = self.state.write();
                    if rev > state.revision {
                        state.revision = rev;
                    }
                    let rev = state.revision;
                    drop(state);
                    self.revision_tx.send_replace(rev);
                }
                WatchMessage::Events(events) => {
                    let mut state = self.state.write();
                    for e in events {
                        let key = String::from_utf8_lossy(&e.record.key).into_owned();
                        let prev = state.objects.get(&key).cloned();
                        let event = match e.kind {
                            EventKind::Put => {
                                let Some(entry) =
                                    entry_of(&e.record.key, &e.record.value, e.record.mod_revision)
                                else {
                                    continue;
                                };
                                let entry = Arc::new(entry);
                                state.objects.insert(key, entry.clone());
                                Event {
                                    kind: if prev.is_some() {
                                        EventType::Modified
                                    } else {
                                        EventType::Added
                                    },
                                    obj: entry,
                                    prev,
                                }
                            }
                            EventKind::Delete => {
                                state.objects.remove(&key);
                                let Some(prev) = prev else { continue };
                                let mut obj = prev.obj.clone();
                                object::set_resource_version(&mut obj, e.record.mod_revision);
                                Event {
                                    kind: EventType::Deleted,
                                    obj: Arc::new(Entry::new(key, obj, e.record.mod_revision)),
                                    prev: Some(prev),
                                }
                            }
                        };
                        let event = Arc::new(event);
                        state.revision = state.revision.max(event.revision());
                        if state.events.len() == WINDOW {
                            if let Some(old) = state.events.pop_front() {
                                state.start = old.revision();
                            }
                        }
                        state.events.push_back(event.clone());
                        // No receivers is fine: nobody watches right now.
                        let _ = state.live.send(event);
                    }
                    let rev = state.revision;
                    drop(state);
                    self.revision_tx.send_replace(rev);
                }
            }
        }
        Err(backend::Error::Unavailable("store watch ended".into()))
    }

    /// Waits until the cache has reached `revision`. When it has not yet, a progress report is
    /// asked of the store: a resource nobody writes advances only through those, and a client
    /// may well ask for the revision of a list served from the store (kube-rs watchers do).
    pub async fn wait_for(&self, revision: i64, timeout: Duration) -> bool {
        let mut rx = self.revision_tx.subscribe();
        if *rx.borrow() < revision {
            self.progress.notify_one();
        }
        let reached = tokio::time::timeout(timeout, rx.wait_for(|r| *r >= revision)).await;
        matches!(reached, Ok(Ok(_)))
    }

    /// Waits until the cache is as fresh as a linearizable read made now; false when it does
    /// not get there in time (the caller then reads the store).
    pub async fn wait_consistent(&self) -> ApiResult<bool> {
        let current = self
            .backend
            .revision()
            .await
            .map_err(|e| ApiError::from_storage(e, "", "", ""))?;
        if self.revision() >= current && self.state.read().ready {
            return Ok(true);
        }
        self.progress.notify_one();
        Ok(self.wait_for(current, FRESHNESS_WAIT).await)
    }

    pub fn revision(&self) -> i64 {
        self.state.read().revision
    }

    /// Waits for the first sync.
    pub async fn ready(&self, timeout: Duration) -> bool {
        self.wait_for(1, timeout).await && self.state.read().ready
    }

    /// One object by key, as the cache has it now.
    pub fn get(&self, key: &str) -> Option<Arc<Entry>> {
        self.state.read().objects.get(key).cloned()
    }

    /// The current objects under `prefix` (which must lie within the cache's), in key order,
    /// and the revision they reflect.
    pub fn list(&self, prefix: &str) -> (Vec<Arc<Entry>>, i64) {
        let state = self.state.read();
        let items = state
            .objects
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        (items, state.revision)
    }

    /// A watch from `from` (exclusive), or from now with the current objects as ADDED events
    /// when `from` is `None`.
    pub fn subscribe(&self, from: Option<i64>) -> ApiResult<Subscription> {
        let state = self.state.read();
        let live = state.live.subscribe();
        let initial = match from {
            None => state
                .objects
                .values()
                .map(|e| {
                    Arc::new(Event {
                        kind: EventType::Added,
                        obj: e.clone(),
                        prev: None,
                    })
                })
                .collect(),
            Some(rv) => {
                if rv < state.start {
                    return Err(ApiError::gone(format!(
                        "too old resource version: {rv} ({})",
                        state.start + 1
                    )));
                }
                state
                    .events
                    .iter()
                    .filter(|e| e.revision() > rv)
                    .cloned()
                    .collect()
            }
        };
        Ok(Subscription {
            initial,
            live,
            revision: state.revision,
        })
    }
}

fn entry_of(key: &[u8], value: &[u8], revision: i64) -> Option<Entry> {
    match object::decode(value, revision) {
        Ok(obj) => Some(Entry::new(
            String::from_utf8_lossy(key).into_owned(),
            obj,
            revision,
        )),
        Err(e) => {
            tracing::warn!(key = %String::from_utf8_lossy(key), error = %e.message, "skipping undecodable object");
            None
        }
    }
}
