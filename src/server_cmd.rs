//! `rkube server`: the control plane of one node: an embedded store member (or an external
//! etcd with `--datastore-endpoint`), the Kubernetes API server on `:6443`, the scheduler and
//! the controller-manager (each leader-elected, talking to the API server as clients).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use rkube_apiserver::server as api;
use rkube_store::backend::{Backend, Embedded, Etcd};
use rkube_store::{Listeners, StoreConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::shutdown::{run_until_signal, DRAIN_DEADLINE};

#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Where the store, certificates and kubeconfig live.
    #[arg(
        long,
        env = "RKUBE_DATA_DIR",
        default_value = "/var/lib/rkube",
        value_name = "PATH"
    )]
    pub data_dir: PathBuf,

    /// Address the API server listens on.
    #[arg(long, default_value = "0.0.0.0", value_name = "IP")]
    pub bind_address: IpAddr,

    /// Address other nodes and pods reach the API server at (published in the `kubernetes`
    /// Service's endpoints); default: the bind address, or this host's main address.
    #[arg(long, value_name = "IP")]
    pub advertise_address: Option<IpAddr>,

    /// Port of the API server (HTTPS).
    #[arg(long, default_value_t = 6443, value_name = "PORT")]
    pub https_listen_port: u16,

    /// Extra host names or IP addresses for the serving certificate (repeatable).
    #[arg(long = "tls-san", value_name = "NAME")]
    pub tls_sans: Vec<String>,

    /// Also write the admin kubeconfig to this path.
    #[arg(long, env = "RKUBE_KUBECONFIG_OUTPUT", value_name = "PATH")]
    pub write_kubeconfig: Option<PathBuf>,

    /// Use this etcd cluster (comma-separated client URLs) instead of the embedded store.
    #[arg(
        long,
        env = "RKUBE_DATASTORE_ENDPOINT",
        value_name = "URLS",
        value_delimiter = ','
    )]
    pub datastore_endpoint: Vec<String>,

    /// Client address of the embedded store (the etcd v3 API).
    #[arg(long, default_value = "127.0.0.1:2379", value_name = "ADDR")]
    pub store_client_address: SocketAddr,

    /// Peer (raft) address of the embedded store.
    #[arg(long, default_value = "127.0.0.1:2380", value_name = "ADDR")]
    pub store_peer_address: SocketAddr,

    /// This node's name (default: the host name).
    #[arg(long, env = "RKUBE_NODE_NAME", value_name = "NAME")]
    pub node_name: Option<String>,

    /// Do not run the scheduler.
    #[arg(long)]
    pub disable_scheduler: bool,

    /// Do not run the controller-manager.
    #[arg(long)]
    pub disable_controller_manager: bool,

    /// Controllers the controller-manager does not run (comma-separated, e.g. `namespace`).
    #[arg(
        long = "disable-controllers",
        value_name = "NAMES",
        value_delimiter = ','
    )]
    pub disabled_controllers: Vec<String>,

    /// How long a node may stay silent (no Lease renewal, no status) before it is marked
    /// NotReady (Unknown), e.g. `40s`, `5s`, `2m`.
    #[arg(long, default_value = "40s", value_name = "DURATION", value_parser = parse_duration)]
    pub node_monitor_grace_period: std::time::Duration,
}

/// Parses `500ms`, `40s`, `2m` or `1h` (a bare number is seconds).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let invalid = || format!("invalid duration {text:?}: expected e.g. 40s, 500ms, 2m");
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| invalid())?;
    let ms = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(invalid()),
    };
    Ok(std::time::Duration::from_millis(n.saturating_mul(ms)))
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("failed to create the data dir {}", args.data_dir.display()))?;
    let shutdown = CancellationToken::new();
    let node_name = args.node_name.clone().unwrap_or_else(host_name);
    let (backend, store_done): (Arc<dyn Backend>, Option<_>) = if args.datastore_endpoint.is_empty()
    {
        let config = StoreConfig::single_member(
            &node_name,
            args.data_dir.join("store"),
            format!("http://{}", args.store_client_address),
            format!("http://{}", args.store_peer_address),
        );
        let listeners = Listeners {
            client: bind(args.store_client_address, "--store-client-address").await?,
            peer: bind(args.store_peer_address, "--store-peer-address").await?,
        };
        let running = rkube_store::start(config, listeners, shutdown.clone())
            .await
            .context("failed to start the embedded store")?;
        info!(client = %args.store_client_address, "embedded store ready");
        (Arc::new(Embedded::new(running.member)), Some(running.done))
    } else {
        let etcd = Etcd::connect(&args.datastore_endpoint)
            .await
            .with_context(|| {
                format!("failed to connect to {}", args.datastore_endpoint.join(","))
            })?;
        info!(endpoints = %args.datastore_endpoint.join(","), "using an external etcd");
        (Arc::new(etcd), None)
    };
    let config = api::Config {
        data_dir: args.data_dir.clone(),
        bind: SocketAddr::new(args.bind_address, args.https_listen_port),
        tls_sans: args.tls_sans.clone(),
        advertise_address: args.advertise_address,
        write_kubeconfig: args.write_kubeconfig.clone(),
    };
    let prepared = api::prepare(config, backend)
        .await
        .context("failed to start the API server")?;
    info!(
        kubeconfig = %args.data_dir.join("admin.kubeconfig").display(),
        "rkube server is ready"
    );
    let components = start_components(&args, &node_name, shutdown.clone()).await?;
    let work = {
        let shutdown = shutdown.clone();
        async move {
            prepared.serve(shutdown).await;
            for component in components {
                component
                    .await
                    .context("a control-plane component failed")??;
            }
            if let Some(done) = store_done {
                done.await
                    .context("the store task failed")?
                    .context("the store stopped with an error")?;
            }
            Ok(())
        }
    };
    run_until_signal(work, shutdown, DRAIN_DEADLINE).await
}

async fn bind(addr: SocketAddr, flag: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("{flag}: failed to listen on {addr}"))
}

type Component = tokio::task::JoinHandle<anyhow::Result<()>>;

/// Starts the scheduler and the controller-manager, unless disabled, as clients of this
/// server through its admin kubeconfig.
async fn start_components(
    args: &ServerArgs,
    node_name: &str,
    shutdown: CancellationToken,
) -> anyhow::Result<Vec<Component>> {
    let mut components = Vec::new();
    if args.disable_scheduler && args.disable_controller_manager {
        return Ok(components);
    }
    let kubeconfig = args.data_dir.join("admin.kubeconfig");
    let client_as = |component: &str| {
        let agent = format!("{component}/v1.33.0 (linux/amd64) rkube");
        let kubeconfig = kubeconfig.clone();
        async move { rkube_api::client::from_kubeconfig(&kubeconfig, &agent).await }
    };
    if !args.disable_scheduler {
        let client = client_as("kube-scheduler").await?;
        let config = rkube_scheduler::Config {
            host: node_name.to_owned(),
            ..rkube_scheduler::Config::default()
        };
        let shutdown = shutdown.clone();
        components.push(tokio::spawn(async move {
            rkube_scheduler::run(client, config, shutdown)
                .await
                .context("the scheduler stopped")
        }));
    }
    if !args.disable_controller_manager {
        let client = client_as("kube-controller-manager").await?;
        let config = rkube_controller_manager::Config {
            host: node_name.to_owned(),
            disabled: args.disabled_controllers.clone(),
            storage_dir: args.data_dir.join("storage").display().to_string(),
            node_monitor_grace_period: args.node_monitor_grace_period,
            root_ca: std::fs::read_to_string(args.data_dir.join("tls").join("ca.crt")).ok(),
            ..rkube_controller_manager::Config::default()
        };
        components.push(tokio::spawn(async move {
            rkube_controller_manager::run(client, config, shutdown)
                .await
                .context("the controller-manager stopped")
        }));
    }
    Ok(components)
}

/// This machine's host name, the default node and store member name.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}
