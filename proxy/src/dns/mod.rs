//! Cluster DNS: the names of Services and pods under the cluster domain (`cluster.local`),
//! answered from the API's Services and EndpointSlices; other names forwarded to the node's
//! resolvers. Pods find it through the `nameserver` line the kubelet writes into their
//! resolv.conf.

pub mod server;
pub mod zone;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::{Api, Client};
use tokio::sync::{Notify, RwLock};
use tokio_util::sync::CancellationToken;

pub use server::{answer, resolv_conf_upstreams, serve, Reply, ServerConfig};
pub use zone::{Lookup, Zone};

/// How the cluster DNS runs.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    pub server: ServerConfig,
    /// The cluster domain (`cluster.local`).
    pub domain: String,
}

/// Serves cluster DNS until `shutdown`, the zone rebuilt after every change to Services and
/// EndpointSlices.
///
/// # Errors
/// When the listen address cannot be bound.
pub async fn run(
    client: Client,
    config: DnsConfig,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let changed = Arc::new(Notify::new());
    let services = crate::sync::watch(
        Api::<Service>::all(client.clone()),
        changed.clone(),
        &shutdown,
    );
    let slices = crate::sync::watch(
        Api::<EndpointSlice>::all(client),
        changed.clone(),
        &shutdown,
    );
    let zone = Arc::new(RwLock::new(Zone::default()));
    let rebuild = {
        let (zone, shutdown) = (zone.clone(), shutdown.clone());
        async move {
            loop {
                let svcs: Vec<Service> = services.state().iter().map(|s| (**s).clone()).collect();
                let sls: Vec<EndpointSlice> =
                    slices.state().iter().map(|s| (**s).clone()).collect();
                *zone.write().await = Zone::build(&config.domain, &svcs, &sls);
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = changed.notified() => {}
                }
            }
        }
    };
    tokio::spawn(rebuild);
    serve(config.server, zone, shutdown).await
}
