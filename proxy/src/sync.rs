//! The proxy's loop: Services and EndpointSlices watched through the API, and after every change
//! the table brought to what they ask for, with one transaction of the difference.
//!
//! A change wakes the loop at once (changes arriving together are programmed together); a
//! transaction nft refuses, or a periodic check, makes the next sync replace the whole table,
//! so a table flushed by hand comes back.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::Store;
use kube::{Api, Client};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::model::{service_ports, ServicePort};
use crate::rules::{build, NodeContext, Ruleset};
use crate::{nft, transaction};

/// How the proxy runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// This node's name (for the `Local` traffic policies).
    pub node_name: String,
    /// The cluster's pod CIDR: traffic from outside it is masqueraded.
    pub cluster_cidr: String,
    /// Program the table in this network namespace (a path like `/run/netns/NAME`) rather than
    /// the process's own.
    pub netns: Option<PathBuf>,
    /// How often the whole table is rewritten even without changes.
    pub full_sync_period: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_name: String::new(),
            cluster_cidr: "10.42.0.0/16".into(),
            netns: None,
            full_sync_period: Duration::from_secs(300),
        }
    }
}

/// Why the proxy stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the nftables table could not be programmed: {0}")]
    Nft(#[from] nft::NftError),
}

/// A watch-fed store that wakes `changed` on every event.
pub(crate) fn watch<K>(api: Api<K>, changed: Arc<Notify>, stop: &CancellationToken) -> Store<K>
where
    K: kube::Resource
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    rkube_api::client::watch::store(api, stop, move || changed.notify_one())
}

/// Every Service port with its endpoints, from the stores.
fn current_ports(services: &Store<Service>, slices: &Store<EndpointSlice>) -> Vec<ServicePort> {
    let mut by_service: HashMap<(String, String), Vec<EndpointSlice>> = HashMap::new();
    for slice in slices.state() {
        let ns = slice.metadata.namespace.clone().unwrap_or_default();
        let Some(svc) = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/service-name"))
        else {
            continue;
        };
        by_service
            .entry((ns, svc.clone()))
            .or_default()
            .push((*slice).clone());
    }
    let mut services = services.state();
    services.sort_by_key(|s| (s.metadata.namespace.clone(), s.metadata.name.clone()));
    services
        .iter()
        .flat_map(|svc| {
            let key = (
                svc.metadata.namespace.clone().unwrap_or_default(),
                svc.metadata.name.clone().unwrap_or_default(),
            );
            let slices = by_service.get(&key).map(Vec::as_slice).unwrap_or_default();
            service_ports(svc, slices)
        })
        .collect()
}

/// Runs the proxy until `shutdown`; the table is left in place (Services keep working while
/// the proxy restarts).
///
/// # Errors
/// Only when nft cannot be run at all.
pub async fn run(client: Client, config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let changed = Arc::new(Notify::new());
    let services = watch(
        Api::<Service>::all(client.clone()),
        changed.clone(),
        &shutdown,
    );
    let slices = watch(
        Api::<EndpointSlice>::all(client),
        changed.clone(),
        &shutdown,
    );
    tokio::select! {
        () = shutdown.cancelled() => return Ok(()),
        _ = futures::future::join(services.wait_until_ready(), slices.wait_until_ready()) => {}
    }
    let node = NodeContext {
        cluster_cidr: config.cluster_cidr.clone(),
        node_name: config.node_name.clone(),
    };
    let mut programmed: Option<Ruleset> = None;
    let mut last_full = Instant::now();
    info!(node = %config.node_name, "service proxy syncing");
    loop {
        if last_full.elapsed() >= config.full_sync_period {
            programmed = None;
        }
        let started = Instant::now();
        let wanted = build(&current_ports(&services, &slices), &node);
        let script = transaction::script(programmed.as_ref(), &wanted);
        match nft::apply_in(&script, config.netns.as_deref()) {
            Ok(()) => {
                if programmed.is_none() {
                    last_full = Instant::now();
                }
                if !script.is_empty() {
                    debug!(
                        lines = script.lines().count(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "rules programmed"
                    );
                }
                programmed = Some(wanted);
            }
            Err(nft::NftError::Spawn(e)) => return Err(nft::NftError::Spawn(e).into()),
            Err(e) => {
                warn!(error = %e, "programming the rules failed; the next sync rewrites the table");
                programmed = None;
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        }
        let until_full = config.full_sync_period.saturating_sub(last_full.elapsed());
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = changed.notified() => {}
            () = tokio::time::sleep(until_full) => {}
        }
    }
}
