//! Watch-fed caches: a reflector store of every object of a resource, kept filled by a task
//! that retries the watch with backoff until its component stops.

use std::fmt::Debug;
use std::hash::Hash;

use futures::StreamExt;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// A cache of `api`, filled by a task that ends with `stop`; `on_change` runs after every
/// event the cache has taken in (to wake whoever reads it).
pub fn store<K, F>(api: Api<K>, stop: &CancellationToken, on_change: F) -> Store<K>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
    F: Fn() + Send + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .for_each(move |event| {
            match event {
                Ok(_) => on_change(),
                Err(error) => debug!(%error, "watch failed; retrying"),
            }
            futures::future::ready(())
        });
    let stop = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = stop.cancelled() => {}
            () = stream => {}
        }
    });
    reader
}
