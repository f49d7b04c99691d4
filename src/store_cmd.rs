//! `rkube store`: etcd's flags, validated into a `StoreConfig`, then listeners bound and the member run.
//!
//! Order, as in linkerd's main: load and validate every flag first (no side effects), then bind
//! both ports (so a port clash fails before any data is touched), then run until a signal.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use clap::{Args, ValueEnum};
use rkube_store::{parse_initial_cluster, ClusterState, Listeners, StoreConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::shutdown::{run_until_signal, DRAIN_DEADLINE};

/// etcd's default client URL (`--listen-client-urls`, `--advertise-client-urls`).
const DEFAULT_CLIENT_URL: &str = "http://localhost:2379";
/// etcd's default peer URL (`--listen-peer-urls`, `--initial-advertise-peer-urls`).
const DEFAULT_PEER_URL: &str = "http://localhost:2380";
/// etcd refuses election timeouts above this many milliseconds.
const MAX_ELECTION_TIMEOUT_MS: u64 = 50_000;

/// Flags of `rkube store`: etcd's names, defaults and `ETCD_*` environment variables.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Human-readable name for this member.
    #[arg(long, env = "ETCD_NAME", default_value = "default")]
    pub name: String,

    /// Path to the data directory [default: <name>.rkube].
    #[arg(long, env = "ETCD_DATA_DIR", value_name = "PATH")]
    pub data_dir: Option<PathBuf>,

    /// URL to listen on for client traffic (exactly one; http:// only for now).
    #[arg(long, env = "ETCD_LISTEN_CLIENT_URLS", value_name = "URL",
          default_value = DEFAULT_CLIENT_URL, value_delimiter = ',')]
    pub listen_client_urls: Vec<String>,

    /// Client URLs announced to the cluster [default: the listen URL].
    #[arg(
        long,
        env = "ETCD_ADVERTISE_CLIENT_URLS",
        value_name = "URLS",
        value_delimiter = ','
    )]
    pub advertise_client_urls: Vec<String>,

    /// URL to listen on for raft traffic from peers (exactly one; http:// only for now).
    #[arg(long, env = "ETCD_LISTEN_PEER_URLS", value_name = "URL",
          default_value = DEFAULT_PEER_URL, value_delimiter = ',')]
    pub listen_peer_urls: Vec<String>,

    /// Peer URLs announced to the cluster [default: the listen peer URL].
    #[arg(
        long,
        env = "ETCD_INITIAL_ADVERTISE_PEER_URLS",
        value_name = "URLS",
        value_delimiter = ','
    )]
    pub initial_advertise_peer_urls: Vec<String>,

    /// Every member of the initial cluster, NAME=URL,... [default: <name>=<initial-advertise-peer-urls>].
    #[arg(long, env = "ETCD_INITIAL_CLUSTER", value_name = "NAME=URL,...")]
    pub initial_cluster: Option<String>,

    /// `new` to bootstrap a cluster, `existing` to join one this member was added to.
    #[arg(long, env = "ETCD_INITIAL_CLUSTER_STATE", value_enum,
          default_value_t = InitialClusterState::New)]
    pub initial_cluster_state: InitialClusterState,

    /// Distinguishes clusters bootstrapped from the same member list.
    #[arg(
        long,
        env = "ETCD_INITIAL_CLUSTER_TOKEN",
        default_value = "etcd-cluster"
    )]
    pub initial_cluster_token: String,

    /// Time between raft heartbeats, in milliseconds.
    #[arg(
        long,
        env = "ETCD_HEARTBEAT_INTERVAL",
        value_name = "MS",
        default_value_t = 100
    )]
    pub heartbeat_interval: u64,

    /// Time without a leader before an election, in milliseconds (at least 5 heartbeats).
    #[arg(
        long,
        env = "ETCD_ELECTION_TIMEOUT",
        value_name = "MS",
        default_value_t = 1000
    )]
    pub election_timeout: u64,

    /// Applied entries between raft log truncations.
    #[arg(long, env = "ETCD_SNAPSHOT_COUNT", default_value_t = 100_000)]
    pub snapshot_count: u64,

    /// Largest request a client may send, in bytes.
    #[arg(long, env = "ETCD_MAX_REQUEST_BYTES", value_name = "BYTES",
          default_value_t = 1536 * 1024)]
    pub max_request_bytes: usize,

    /// Most operations in one transaction.
    #[arg(long, env = "ETCD_MAX_TXN_OPS", default_value_t = 128)]
    pub max_txn_ops: usize,
}

/// `--initial-cluster-state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitialClusterState {
    New,
    Existing,
}

/// A listen or advertise URL: `http://HOST:PORT`, the only form served today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// Host name or IP address, without IPv6 brackets.
    pub host: String,
    pub port: u16,
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "http://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "http://{}:{}", self.host, self.port)
        }
    }
}

impl HttpUrl {
    /// Parses `url`, given to `flag`, naming both in every error.
    pub fn parse(flag: &str, url: &str) -> anyhow::Result<Self> {
        let url = url.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            bail!("{flag}: {url:?} is not a URL; expected http://HOST:PORT, e.g. http://127.0.0.1:2379");
        };
        match scheme.to_ascii_lowercase().as_str() {
            "http" => {}
            "https" => bail!(
                "{flag}: {url:?} uses https://, which rkube store does not support yet: it serves \
                 plain http:// only (TLS is planned). Use http:// and keep the port on loopback or \
                 a trusted network"
            ),
            "unix" | "unixs" => {
                bail!("{flag}: {url:?}: unix sockets are not supported; use http://HOST:PORT")
            }
            other => bail!("{flag}: {url:?}: unsupported scheme {other:?}; use http://HOST:PORT"),
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        ensure!(
            !authority.contains(['/', '?', '#']),
            "{flag}: {url:?} has a path, query or fragment; give only http://HOST:PORT"
        );
        ensure!(
            !authority.contains('@'),
            "{flag}: {url:?} has user info; give only http://HOST:PORT"
        );
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .with_context(|| format!("{flag}: {url:?} has an unclosed '[' in its host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        ensure!(
            !host.is_empty(),
            "{flag}: {url:?} has no host; e.g. http://127.0.0.1:2379"
        );
        ensure!(
            authority.starts_with('[') || !host.contains(':'),
            "{flag}: {url:?}: write IPv6 addresses in brackets, e.g. http://[::1]:2379"
        );
        let port = port.filter(|p| !p.is_empty()).with_context(|| {
            format!("{flag}: {url:?} has no port; give one explicitly, e.g. http://{host}:2379")
        })?;
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .with_context(|| format!("{flag}: {url:?}: port {port:?} is not in 1-65535"))?;
        Ok(Self {
            host: host.to_string(),
            port,
        })
    }

    /// Whether the host is 0.0.0.0 or ::, which a listener may use but a peer cannot dial.
    fn is_unspecified(&self) -> bool {
        self.host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified())
    }
}

/// A validated `rkube store` invocation: the member's config and the two addresses to bind.
#[derive(Debug, Clone)]
pub struct StorePlan {
    pub config: StoreConfig,
    pub listen_client: HttpUrl,
    pub listen_peer: HttpUrl,
}

impl StoreArgs {
    /// Validates every flag and builds the member's config; touches nothing but the data dir's
    /// metadata.
    ///
    /// # Errors
    /// A message naming the flag at fault and what to write instead.
    pub fn plan(&self) -> anyhow::Result<StorePlan> {
        let name = self.name.trim();
        ensure!(!name.is_empty(), "--name must not be empty");

        let listen_client = single_url("--listen-client-urls", &self.listen_client_urls)?;
        let listen_peer = single_url("--listen-peer-urls", &self.listen_peer_urls)?;
        let advertise_client_urls = advertised(
            "--advertise-client-urls",
            &self.advertise_client_urls,
            "--listen-client-urls",
            &listen_client,
        )?;
        let advertise_peer_urls = advertised(
            "--initial-advertise-peer-urls",
            &self.initial_advertise_peer_urls,
            "--listen-peer-urls",
            &listen_peer,
        )?;

        let initial_cluster_text = match &self.initial_cluster {
            Some(text) => text.clone(),
            None => advertise_peer_urls
                .iter()
                .map(|url| format!("{name}={url}"))
                .collect::<Vec<_>>()
                .join(","),
        };
        let mut initial_cluster = parse_initial_cluster(&initial_cluster_text)
            .context("check --initial-cluster (or ETCD_INITIAL_CLUSTER)")?;
        ensure!(
            !initial_cluster.is_empty(),
            "--initial-cluster is empty; list every member as NAME=http://HOST:PORT,..."
        );
        for member in &mut initial_cluster {
            member.peer_urls = member
                .peer_urls
                .iter()
                .map(|url| HttpUrl::parse("--initial-cluster", url).map(|u| u.to_string()))
                .collect::<anyhow::Result<_>>()?;
        }
        let this = initial_cluster
            .iter()
            .find(|m| m.name == name)
            .with_context(|| {
                format!(
                    "--initial-cluster {initial_cluster_text:?} does not list this member's \
                     --name {name:?}; add {name}=<its peer URL>"
                )
            })?;
        let mut listed = this.peer_urls.clone();
        let mut announced = advertise_peer_urls.clone();
        listed.sort();
        announced.sort();
        ensure!(
            listed == announced,
            "--initial-cluster has {name}={} but --initial-advertise-peer-urls is {}; they must \
             name the same URLs",
            listed.join(","),
            announced.join(",")
        );

        ensure!(
            self.heartbeat_interval > 0,
            "--heartbeat-interval must be at least 1 (milliseconds)"
        );
        ensure!(
            self.election_timeout >= 5 * self.heartbeat_interval,
            "--election-timeout ({} ms) must be at least 5 times --heartbeat-interval ({} ms)",
            self.election_timeout,
            self.heartbeat_interval
        );
        ensure!(
            self.election_timeout <= MAX_ELECTION_TIMEOUT_MS,
            "--election-timeout ({} ms) is too long; the most is {MAX_ELECTION_TIMEOUT_MS} ms",
            self.election_timeout
        );
        ensure!(
            self.snapshot_count > 0,
            "--snapshot-count must be at least 1"
        );
        ensure!(
            self.max_request_bytes > 0,
            "--max-request-bytes must be at least 1"
        );
        ensure!(self.max_txn_ops > 0, "--max-txn-ops must be at least 1");

        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{name}.rkube")));
        if data_dir.exists() && !data_dir.is_dir() {
            bail!(
                "--data-dir {}: exists and is not a directory; point --data-dir elsewhere",
                data_dir.display()
            );
        }

        let config = StoreConfig {
            name: name.to_string(),
            data_dir,
            advertise_client_urls,
            advertise_peer_urls,
            initial_cluster,
            initial_cluster_state: match self.initial_cluster_state {
                InitialClusterState::New => ClusterState::New,
                InitialClusterState::Existing => ClusterState::Existing,
            },
            initial_cluster_token: self.initial_cluster_token.clone(),
            heartbeat_interval: Duration::from_millis(self.heartbeat_interval),
            election_timeout: Duration::from_millis(self.election_timeout),
            snapshot_count: self.snapshot_count,
            max_request_bytes: self.max_request_bytes,
            max_txn_ops: self.max_txn_ops,
            ..StoreConfig::default()
        };
        Ok(StorePlan {
            config,
            listen_client,
            listen_peer,
        })
    }
}

/// The one URL a listen flag may carry today.
fn single_url(flag: &str, urls: &[String]) -> anyhow::Result<HttpUrl> {
    match urls {
        [one] => HttpUrl::parse(flag, one),
        [] => bail!("{flag} is empty; give one http://HOST:PORT"),
        many => bail!(
            "{flag} has {} URLs ({}); rkube store listens on exactly one for now",
            many.len(),
            many.join(",")
        ),
    }
}

/// The advertised URLs: as given, or else the listen URL when peers can dial it.
fn advertised(
    flag: &str,
    given: &[String],
    listen_flag: &str,
    listen: &HttpUrl,
) -> anyhow::Result<Vec<String>> {
    if given.is_empty() {
        ensure!(
            !listen.is_unspecified(),
            "{listen_flag} is {listen}, which others cannot dial: set {flag} to the address \
             others reach this member at, e.g. http://<this host's IP>:{}",
            listen.port
        );
        return Ok(vec![listen.to_string()]);
    }
    given
        .iter()
        .map(|url| HttpUrl::parse(flag, url).map(|u| u.to_string()))
        .collect()
}

/// Binds the client and peer listeners; both succeed or neither is kept.
///
/// # Errors
/// A bind failure, saying which flag's address and what to do (most often: the port is taken).
pub async fn bind(plan: &StorePlan) -> anyhow::Result<Listeners> {
    let client = bind_one("--listen-client-urls", &plan.listen_client).await?;
    let peer = bind_one("--listen-peer-urls", &plan.listen_peer).await?;
    Ok(Listeners { client, peer })
}

async fn bind_one(flag: &str, url: &HttpUrl) -> anyhow::Result<TcpListener> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((url.host.as_str(), url.port))
        .await
        .with_context(|| format!("{flag}: failed to resolve the host of {url}"))?
        .collect();
    // Like Go's net.Listen("localhost:..."), prefer IPv4 when a name resolves to both.
    let addr = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .with_context(|| format!("{flag}: the host of {url} resolves to no address"))?;
    TcpListener::bind(addr).await.map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "is another etcd or rkube store running? Stop it, or pick another port with"
            }
            std::io::ErrorKind::PermissionDenied => {
                "ports below 1024 need root; pick a higher port with"
            }
            std::io::ErrorKind::AddrNotAvailable => {
                "that address is not on this machine; use one of its addresses in"
            }
            _ => "check",
        };
        anyhow::anyhow!("failed to listen on {url} ({addr}): {e}; {hint} {flag}")
    })
}

/// Runs `rkube store` until SIGINT/SIGTERM, or until the member is removed from the cluster.
///
/// # Errors
/// Invalid flags, a port that cannot be bound, or the member failing.
pub async fn run(args: StoreArgs) -> anyhow::Result<()> {
    let plan = args.plan()?;
    let listeners = bind(&plan).await?;
    let config = plan.config;
    info!(
        name = %config.name,
        data_dir = %config.data_dir.display(),
        client = %plan.listen_client,
        peer = %plan.listen_peer,
        members = config.initial_cluster.len(),
        "starting store member"
    );
    let data_dir = config.data_dir.clone();
    let shutdown = CancellationToken::new();
    let member = rkube_store::run(config, listeners, shutdown.clone());
    run_until_signal(
        async {
            member.await.with_context(|| {
                format!("store member failed (data dir {})", data_dir.display())
            })?;
            if !shutdown.is_cancelled() {
                info!("store member stopped: it was removed from the cluster");
            }
            Ok(())
        },
        shutdown.clone(),
        DRAIN_DEADLINE,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// `rkube store` alone, so flags parse exactly as on the command line.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        store: StoreArgs,
    }

    fn plan(args: &[&str]) -> anyhow::Result<StorePlan> {
        let cli = Cli::try_parse_from(std::iter::once("store").chain(args.iter().copied()))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        cli.store.plan()
    }

    fn plan_err(args: &[&str]) -> String {
        format!(
            "{:#}",
            plan(args).expect_err("these flags should be rejected")
        )
    }

    #[test]
    fn defaults_are_etcds() {
        let p = plan(&[]).expect("defaults are valid");
        let c = &p.config;
        assert_eq!(c.name, "default");
        assert_eq!(c.data_dir, PathBuf::from("default.rkube"));
        assert_eq!(
            p.listen_client,
            HttpUrl::parse("x", DEFAULT_CLIENT_URL).expect("url")
        );
        assert_eq!(p.listen_peer.port, 2380);
        assert_eq!(c.advertise_client_urls, vec![DEFAULT_CLIENT_URL]);
        assert_eq!(c.advertise_peer_urls, vec![DEFAULT_PEER_URL]);
        assert_eq!(c.initial_cluster.len(), 1);
        assert_eq!(c.initial_cluster[0].name, "default");
        assert_eq!(c.initial_cluster[0].peer_urls, vec![DEFAULT_PEER_URL]);
        assert_eq!(c.initial_cluster_state, ClusterState::New);
        assert_eq!(c.initial_cluster_token, "etcd-cluster");
        assert_eq!(c.heartbeat_interval, Duration::from_millis(100));
        assert_eq!(c.election_timeout, Duration::from_millis(1000));
        assert_eq!(c.snapshot_count, 100_000);
        assert_eq!(c.max_request_bytes, 1_572_864);
        assert_eq!(c.max_txn_ops, 128);
    }

    #[test]
    fn name_sets_data_dir_and_initial_cluster() {
        let p = plan(&[
            "--name",
            "s1",
            "--listen-peer-urls",
            "http://127.0.0.1:12380",
        ])
        .expect("valid");
        assert_eq!(p.config.data_dir, PathBuf::from("s1.rkube"));
        assert_eq!(p.config.advertise_peer_urls, vec!["http://127.0.0.1:12380"]);
        assert_eq!(p.config.initial_cluster[0].name, "s1");
        assert_eq!(
            p.config.initial_cluster[0].peer_urls,
            vec!["http://127.0.0.1:12380"]
        );
    }

    #[test]
    fn three_member_cluster_flags() {
        let p = plan(&[
            "--name",
            "b",
            "--data-dir",
            "/tmp/b",
            "--listen-client-urls",
            "http://127.0.0.1:22379",
            "--advertise-client-urls",
            "http://127.0.0.1:22379",
            "--listen-peer-urls",
            "http://127.0.0.1:22380",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:22380/",
            "--initial-cluster",
            "a=http://127.0.0.1:12380,b=http://127.0.0.1:22380,c=http://127.0.0.1:32380",
            "--initial-cluster-state",
            "existing",
            "--initial-cluster-token",
            "t1",
            "--heartbeat-interval",
            "50",
            "--election-timeout",
            "500",
            "--snapshot-count",
            "7",
            "--max-request-bytes",
            "4096",
            "--max-txn-ops",
            "3",
        ])
        .expect("valid");
        let c = &p.config;
        assert_eq!(c.data_dir, PathBuf::from("/tmp/b"));
        assert_eq!(c.initial_cluster.len(), 3);
        assert_eq!(c.initial_cluster_state, ClusterState::Existing);
        assert_eq!(c.initial_cluster_token, "t1");
        assert_eq!(c.heartbeat_interval, Duration::from_millis(50));
        assert_eq!(c.election_timeout, Duration::from_millis(500));
        assert_eq!(c.snapshot_count, 7);
        assert_eq!(c.max_request_bytes, 4096);
        assert_eq!(c.max_txn_ops, 3);
        assert_eq!(
            p.listen_client,
            HttpUrl {
                host: "127.0.0.1".into(),
                port: 22379
            }
        );
    }

    #[test]
    fn listen_url_is_advertised_by_default() {
        let p = plan(&["--listen-client-urls", "http://127.0.0.1:3379"]).expect("valid");
        assert_eq!(
            p.config.advertise_client_urls,
            vec!["http://127.0.0.1:3379"]
        );
        let e = plan_err(&["--listen-client-urls", "http://0.0.0.0:2379"]);
        assert!(e.contains("--advertise-client-urls"), "{e}");
    }

    #[test]
    fn https_is_refused_clearly() {
        let e = plan_err(&["--listen-client-urls", "https://127.0.0.1:2379"]);
        assert!(e.contains("https://") && e.contains("not support"), "{e}");
        let e = plan_err(&["--initial-advertise-peer-urls", "https://127.0.0.1:2380"]);
        assert!(e.contains("--initial-advertise-peer-urls"), "{e}");
    }

    #[test]
    fn one_listen_url_only() {
        let e = plan_err(&[
            "--listen-client-urls",
            "http://127.0.0.1:2379,http://127.0.0.1:12379",
        ]);
        assert!(e.contains("exactly one"), "{e}");
    }

    #[test]
    fn initial_cluster_must_list_this_member_with_its_urls() {
        let e = plan_err(&[
            "--name",
            "x",
            "--initial-cluster",
            "y=http://localhost:2380",
        ]);
        assert!(e.contains("does not list") && e.contains("\"x\""), "{e}");
        let e = plan_err(&["--initial-cluster", "default=http://localhost:9999"]);
        assert!(e.contains("--initial-advertise-peer-urls"), "{e}");
        let e = plan_err(&["--initial-cluster", "garbage"]);
        assert!(e.contains("--initial-cluster"), "{e}");
    }

    #[test]
    fn timing_is_checked_like_etcd() {
        let e = plan_err(&["--heartbeat-interval", "300", "--election-timeout", "1000"]);
        assert!(e.contains("5 times"), "{e}");
        let e = plan_err(&["--election-timeout", "60000"]);
        assert!(e.contains("too long"), "{e}");
        let e = plan_err(&["--heartbeat-interval", "0"]);
        assert!(e.contains("at least 1"), "{e}");
    }

    #[test]
    fn unknown_state_is_rejected_by_the_parser() {
        let e = plan_err(&["--initial-cluster-state", "maybe"]);
        assert!(e.contains("maybe"), "{e}");
    }

    #[test]
    fn parses_urls() {
        let u = HttpUrl::parse("f", "http://[::1]:2379/").expect("ipv6");
        assert_eq!((u.host.as_str(), u.port), ("::1", 2379));
        assert_eq!(u.to_string(), "http://[::1]:2379");
        assert_eq!(
            HttpUrl::parse("f", "HTTP://localhost:1")
                .expect("upper-case scheme")
                .port,
            1
        );
        for (bad, why) in [
            ("localhost:2379", "not a URL"),
            ("http://localhost", "no port"),
            ("http://localhost:", "no port"),
            ("http://localhost:70000", "not in 1-65535"),
            ("http://localhost:0", "not in 1-65535"),
            ("http://:2379", "no host"),
            ("http://h:1/path", "path"),
            ("http://u@h:1", "user info"),
            ("http://::1:2379", "brackets"),
            ("unix://sock", "unix sockets"),
            ("ftp://h:1", "unsupported scheme"),
        ] {
            let e = format!("{:#}", HttpUrl::parse("--flag", bad).expect_err(bad));
            assert!(e.contains(why) && e.contains("--flag"), "{bad}: {e}");
        }
    }

    #[tokio::test]
    async fn binds_before_running_and_names_the_flag_on_a_clash() {
        let taken = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let url = format!("http://127.0.0.1:{port}");
        let p = plan(&["--listen-client-urls", &url]).expect("valid");
        let e = format!("{:#}", bind(&p).await.expect_err("port is taken"));
        assert!(
            e.contains("--listen-client-urls") && e.contains("another"),
            "{e}"
        );

        let p = plan(&[
            "--listen-client-urls",
            "http://127.0.0.1:0",
            "--advertise-client-urls",
            "http://127.0.0.1:1",
            "--listen-peer-urls",
            "http://127.0.0.1:0",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:2",
        ]);
        // Port 0 is refused up front: the advertised URL must be the bound one.
        assert!(p.is_err());
    }
}
