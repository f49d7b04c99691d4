//! The watcher registry and its synced/unsynced groups.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use redb::Database;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::mvcc::{self, KeyRange, MvccStore};
use crate::proto::mvcc::{event::EventType, Event};

/// Most events put in one item; larger revisions are split across items.
const MAX_EVENTS_PER_ITEM: usize = 1000;
/// Most revisions an unsynced watcher catches up per backend read.
const CATCH_UP_REVISIONS: i64 = 5000;

/// What a watch stream receives from the hub, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchItem {
    /// Changes for one watcher; `revision` is the store revision at publication.
    Events {
        watch_id: i64,
        events: Vec<Event>,
        revision: i64,
    },
    /// The watcher asked for history that was compacted away; it is removed.
    Compacted {
        watch_id: i64,
        compact_revision: i64,
    },
    /// Every watcher of the stream has seen everything up to `revision`.
    Progress { revision: i64 },
}

/// Event types a watcher does not want.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filters {
    pub no_put: bool,
    pub no_delete: bool,
}

/// A watcher's request.
#[derive(Debug, Clone, Default)]
pub struct WatchSpec {
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    /// First revision wanted; 0 means "changes after now".
    pub start_revision: i64,
    pub filters: Filters,
}

#[derive(Debug)]
struct Watcher {
    spec: WatchSpec,
    tx: mpsc::Sender<WatchItem>,
    /// The next revision this watcher needs.
    next_rev: i64,
    synced: bool,
}

impl Watcher {
    fn wants(&self, ev: &Event) -> bool {
        let Some(kv) = &ev.kv else { return false };
        if kv.mod_revision < self.next_rev {
            return false;
        }
        let is_put = ev.r#type == EventType::Put as i32;
        if (is_put && self.spec.filters.no_put) || (!is_put && self.spec.filters.no_delete) {
            return false;
        }
        KeyRange::new(&self.spec.key, &self.spec.range_end).contains(&kv.key)
    }

    /// Sends the wanted subset of `events`. On a full stream returns the revision it
    /// stopped at, so the watcher resumes there from history.
    fn deliver(&self, watch_id: i64, events: &[Event], revision: i64) -> Result<(), i64> {
        let wanted: Vec<Event> = events.iter().filter(|e| self.wants(e)).cloned().collect();
        for chunk in wanted.chunks(MAX_EVENTS_PER_ITEM) {
            let item = WatchItem::Events {
                watch_id,
                events: chunk.to_vec(),
                revision,
            };
            if self.tx.try_send(item).is_err() {
                return Err(chunk[0].kv.as_ref().map_or(revision, |kv| kv.mod_revision));
            }
        }
        Ok(())
    }
}

type WatcherKey = (u64, i64);

#[derive(Debug, Default)]
struct HubState {
    /// The newest revision published to synced watchers.
    rev: i64,
    watchers: HashMap<WatcherKey, Watcher>,
}

/// Every watcher of one member.
#[derive(Debug)]
pub struct WatchHub {
    state: Mutex<HubState>,
    wake: Notify,
    next_stream: AtomicU64,
    mvcc: Arc<MvccStore>,
    db: Arc<Database>,
}

impl WatchHub {
    pub fn new(mvcc: Arc<MvccStore>, db: Arc<Database>) -> Self {
        let rev = mvcc.revision();
        Self {
            state: Mutex::new(HubState {
                rev,
                watchers: HashMap::new(),
            }),
            wake: Notify::new(),
            next_stream: AtomicU64::new(1),
            mvcc,
            db,
        }
    }

    /// A fresh identifier for a stream of watchers.
    pub fn new_stream_id(&self) -> u64 {
        self.next_stream.fetch_add(1, Ordering::Relaxed)
    }

    /// Fills in each change's previous value, for watchers that asked for it; a value
    /// already compacted away stays empty, as in etcd.
    pub fn fill_prev(&self, events: &mut [Event]) {
        for ev in events {
            if let Some(kv) = &ev.kv {
                let at = crate::mvcc::Revision::new(kv.mod_revision, 0);
                ev.prev_kv = self.mvcc.prev_value(&self.db, &kv.key, at).ok().flatten();
            }
        }
    }

    /// The newest published revision.
    pub fn revision(&self) -> i64 {
        self.state.lock().rev
    }

    /// Registers a watcher of stream `stream` under `watch_id`.
    pub fn watch(&self, stream: u64, watch_id: i64, spec: WatchSpec, tx: mpsc::Sender<WatchItem>) {
        let mut st = self.state.lock();
        let start = spec.start_revision;
        let synced = start <= 0 || start > st.rev;
        let next_rev = if start <= 0 { st.rev + 1 } else { start };
        st.watchers.insert(
            (stream, watch_id),
            Watcher {
                spec,
                tx,
                next_rev,
                synced,
            },
        );
        drop(st);
        if !synced {
            self.wake.notify_one();
        }
    }

    /// Removes a watcher; returns whether it existed.
    pub fn cancel(&self, stream: u64, watch_id: i64) -> bool {
        self.state
            .lock()
            .watchers
            .remove(&(stream, watch_id))
            .is_some()
    }

    /// Removes every watcher of a closed stream.
    pub fn close_stream(&self, stream: u64) {
        self.state.lock().watchers.retain(|(s, _), _| *s != stream);
    }

    /// Queues a progress notification for `stream` if all its watchers are caught up.
    /// Returns whether one was queued.
    pub fn request_progress(&self, stream: u64, tx: &mpsc::Sender<WatchItem>) -> bool {
        let st = self.state.lock();
        let all_synced = st
            .watchers
            .iter()
            .filter(|((s, _), _)| *s == stream)
            .all(|(_, w)| w.synced);
        all_synced
            && tx
                .try_send(WatchItem::Progress { revision: st.rev })
                .is_ok()
    }

    /// Publishes the changes applied up to `revision` to synced watchers.
    pub fn publish(&self, events: &[Event], revision: i64) {
        let mut st = self.state.lock();
        let mut fell_behind = false;
        if !events.is_empty() {
            for ((_, watch_id), w) in st.watchers.iter_mut() {
                if !w.synced {
                    continue;
                }
                match w.deliver(*watch_id, events, revision) {
                    Ok(()) => w.next_rev = w.next_rev.max(revision + 1),
                    Err(resume) => {
                        w.synced = false;
                        w.next_rev = resume;
                        fell_behind = true;
                    }
                }
            }
        }
        st.rev = st.rev.max(revision);
        drop(st);
        if fell_behind {
            self.wake.notify_one();
        }
    }

    /// The whole key space was replaced (a snapshot was installed): every watcher catches
    /// up again from the new history.
    pub fn reset(&self, revision: i64) {
        let mut st = self.state.lock();
        st.rev = revision;
        for w in st.watchers.values_mut() {
            w.synced = false;
        }
        drop(st);
        self.wake.notify_one();
    }

    /// Catches unsynced watchers up from history until `shutdown`.
    pub async fn run_sync(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            let hub = self.clone();
            let again = tokio::task::spawn_blocking(move || hub.sync_once()).await;
            match again {
                Ok(Ok(true)) => self.wake.notify_one(),
                Ok(Ok(false)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "failed to catch up watchers"),
                Err(e) => tracing::error!(error = %e, "watch catch-up task failed"),
            }
        }
    }

    /// One catch-up pass. Returns whether unsynced watchers remain with work to do.
    fn sync_once(&self) -> mvcc::Result<bool> {
        let pending: Vec<(WatcherKey, i64)> = {
            let st = self.state.lock();
            st.watchers
                .iter()
                .filter(|(_, w)| !w.synced && w.next_rev <= st.rev)
                .map(|(k, w)| (*k, w.next_rev))
                .collect()
        };
        let mut more = false;
        for (key, from) in pending {
            let target = self.revision().min(from + CATCH_UP_REVISIONS - 1);
            let history = self.mvcc.events_between(&self.db, from, target);
            let mut st = self.state.lock();
            let rev = st.rev;
            let Some(w) = st.watchers.get_mut(&key) else {
                continue;
            };
            if w.synced || w.next_rev != from {
                continue;
            }
            match history {
                Err(mvcc::Error::Compacted { compact_revision }) => {
                    let item = WatchItem::Compacted {
                        watch_id: key.1,
                        compact_revision,
                    };
                    if w.tx.try_send(item).is_ok() || w.tx.is_closed() {
                        st.watchers.remove(&key);
                    } else {
                        more = true;
                    }
                }
                Err(e) => return Err(e),
                Ok((events, upto)) => match w.deliver(key.1, &events, rev) {
                    Ok(()) => {
                        w.next_rev = upto + 1;
                        if upto >= rev {
                            w.synced = true;
                        } else {
                            more = true;
                        }
                    }
                    Err(resume) => {
                        w.next_rev = resume;
                        more = true;
                    }
                },
            }
        }
        Ok(more)
    }
}
