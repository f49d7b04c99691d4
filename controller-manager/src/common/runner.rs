//! The loop every workload controller runs: a reflector of its own kind, a queue fed by
//! that watch and by the controller's other watches, and kube-runtime's `applier` running
//! reconciles (deduplicated per object, several at once) until stopped.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use futures::channel::mpsc::UnboundedReceiver;
use futures::{stream, StreamExt, TryStreamExt};
use kube::runtime::controller::{Action, Config};
use kube::runtime::reflector::{self, store::Writer, ObjectRef, Store};
use kube::runtime::{applier, watcher, WatchStreamExt};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// A controller's main watch, before it runs: its store is readable at once (for mapping
/// other watches to keys), and `run` starts the loop.
pub struct Runner<K: Resource<DynamicType = ()> + Clone + 'static> {
    writer: Writer<K>,
    api: Api<K>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Debug for Runner<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

impl<K> Runner<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// A runner watching every object of `api`.
    #[must_use]
    pub fn new(api: Api<K>) -> Self {
        Self {
            writer: Writer::default(),
            api,
        }
    }

    /// The objects seen so far.
    #[must_use]
    pub fn store(&self) -> Store<K> {
        self.writer.as_reader()
    }

    /// Reconciles every object when it changes and whenever `extra` names it, at most
    /// `concurrency` at a time, until `stop`.
    pub async fn run<Ctx, Fut, E>(
        self,
        extra: UnboundedReceiver<ObjectRef<K>>,
        reconcile: impl FnMut(Arc<K>, Arc<Ctx>) -> Fut,
        error_policy: impl Fn(Arc<K>, &E, Arc<Ctx>) -> Action,
        ctx: Arc<Ctx>,
        concurrency: u16,
        stop: CancellationToken,
    ) where
        Fut: Future<Output = Result<Action, E>> + Send + 'static,
        E: std::error::Error + Send + 'static,
    {
        let store = self.writer.as_reader();
        let own = reflector::reflector(
            self.writer,
            watcher(self.api, watcher::Config::default()).default_backoff(),
        )
        .applied_objects()
        .map_ok(|obj| ObjectRef::from_obj(&obj));
        let queue = stream::select(own, extra.map(Ok)).take_until(stop.cancelled_owned());
        let mut reconcile = reconcile;
        applier(
            move |obj, ctx| Box::pin(reconcile(obj, ctx)),
            error_policy,
            ctx,
            store,
            queue,
            Config::default().concurrency(concurrency),
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                debug!(%error, "reconcile not run");
            }
        })
        .await;
    }
}
