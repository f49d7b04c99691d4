//! The loop of controllers that mirror a few resources and resync by key: changes mark keys
//! dirty, dirty keys are synced together shortly after (so a burst of changes costs one pass),
//! keys whose sync failed are retried a second later, and every key is resynced periodically.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::runtime::reflector::Store;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// How long changes are gathered before the affected keys are synced.
const GATHER: Duration = Duration::from_millis(100);
/// How long a key whose sync failed waits before the next try.
const RETRY: Duration = Duration::from_secs(1);

/// Runs until `stop` (or the change streams end): `sync(keys)` gets the dirty keys and returns
/// those to retry; `all()` names every key for the periodic resync.
pub async fn run<S, A, F, Fut>(
    controller: &str,
    stop: CancellationToken,
    changes: S,
    resync: Duration,
    all: A,
    mut sync: F,
) where
    S: Stream<Item = Result<String, kube::runtime::watcher::Error>>,
    A: Fn() -> Vec<String>,
    F: FnMut(BTreeSet<String>) -> Fut,
    Fut: Future<Output = BTreeSet<String>>,
{
    let mut changes = std::pin::pin!(changes);
    let mut dirty = BTreeSet::new();
    let mut due: Option<Instant> = None;
    let mut periodic = tokio::time::interval(resync);
    loop {
        let wait = async {
            match due {
                Some(at) => tokio::time::sleep_until(at).await,
                None => futures::future::pending().await,
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            change = changes.next() => match change {
                Some(Ok(key)) => {
                    dirty.insert(key);
                    due.get_or_insert_with(|| Instant::now() + GATHER);
                }
                Some(Err(error)) => warn!(controller, %error, "watch failed; retrying"),
                None => return,
            },
            _ = periodic.tick() => {
                dirty.extend(all());
                due.get_or_insert_with(Instant::now);
            }
            () = wait => {
                due = None;
                dirty = sync(std::mem::take(&mut dirty)).await;
                if !dirty.is_empty() {
                    due = Some(Instant::now() + RETRY);
                }
            }
        }
    }
}

/// Whether a store has had its first list (so it reflects the cluster).
pub fn ready<K>(store: &Store<K>) -> bool
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    futures::FutureExt::now_or_never(store.wait_until_ready()).is_some_and(|r| r.is_ok())
}
