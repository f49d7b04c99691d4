//! The garbage collector: deletes objects whose owners are gone, deletes dependents before an
//! owner deleted in the foreground, and frees dependents of an owner deleted with `orphan`.
//!
//! Layout: `discovery` finds the served resources (again every 30 s, and whenever a
//! CustomResourceDefinition changes, so new CRDs are covered); `watch` keeps one metadata
//! watch per resource feeding the `graph`; `graph` decides; `act` carries the decisions out
//! through the API.

mod act;
pub(crate) mod discovery;
mod graph;
mod watch;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::Context;
use discovery::Resources;
use graph::Graph;
use watch::Watches;

/// How often the served resources are discovered again.
const REDISCOVER: Duration = Duration::from_secs(30);
/// How soon a pass is retried after something failed or an owner could not be looked up.
const RETRY: Duration = Duration::from_secs(2);
/// How long events gather before a pass (a burst of changes gives one pass).
const SETTLE: Duration = Duration::from_millis(100);

/// Starts the garbage collector.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    run(ctx).boxed()
}

async fn run(ctx: Context) {
    let graph = Arc::new(Mutex::new(Graph::default()));
    let changed = Arc::new(Notify::new());
    let mut watches = Watches::new(ctx.client.clone(), graph.clone(), changed.clone());
    let mut collector = act::Collector::new(ctx.client.clone());
    let mut resources = Resources::default();
    let mut next_discovery = Instant::now();
    let mut retry_at: Option<Instant> = None;
    loop {
        let definitions_changed = watches.definitions_changed.swap(false, Ordering::AcqRel);
        if definitions_changed || Instant::now() >= next_discovery {
            match Resources::discover(&ctx.client).await {
                Ok(found) => {
                    watches.follow(&found, &ctx.stop);
                    resources = found;
                    next_discovery = Instant::now() + REDISCOVER;
                }
                Err(error) => {
                    warn!(%error, "garbage collector: discovery failed, retrying");
                    next_discovery = Instant::now() + RETRY;
                }
            }
        }
        let wake = retry_at.map_or(next_discovery, |r| r.min(next_discovery));
        tokio::select! {
            () = ctx.stop.cancelled() => break,
            () = changed.notified() => tokio::time::sleep(SETTLE).await,
            () = tokio::time::sleep_until(wake) => {}
        }
        retry_at = None;
        let synced = watches.synced();
        let done = collector.pass(&graph, &resources, synced).await;
        if !done {
            retry_at = Some(Instant::now() + RETRY);
        }
        debug!(synced, "garbage collector pass");
    }
    watches.stop_all();
}
