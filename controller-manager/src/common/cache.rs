//! Watch-fed caches: a reflector store of every object of a resource, kept filled by a task
//! that retries the watch with backoff and ends with the controller.

use std::fmt::Debug;
use std::hash::Hash;

use k8s_openapi::serde::de::DeserializeOwned;
use kube::runtime::reflector::Store;
use kube::Api;
use tokio_util::sync::CancellationToken;

/// A cache of `api`, filled by a task that ends with `stop`.
pub fn spawn<K>(api: Api<K>, stop: &CancellationToken) -> Store<K>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    rkube_api::client::watch::store(api, stop, || {})
}
