//! A member's configuration, named after etcd's flags so etcd users' habits carry over.

use std::path::PathBuf;
use std::time::Duration;

/// Whether this member bootstraps a new cluster or joins a running one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClusterState {
    /// All members listed in `initial_cluster` start together and form a new cluster.
    #[default]
    New,
    /// The cluster exists and this member was added to it with MemberAdd.
    Existing,
}

/// One member of the initial cluster: `name=url[,url...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialMember {
    pub name: String,
    pub peer_urls: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Human-readable member name (`--name`).
    pub name: String,
    /// Where the member keeps its database (`--data-dir`).
    pub data_dir: PathBuf,
    /// Client URLs announced to the cluster (`--advertise-client-urls`).
    pub advertise_client_urls: Vec<String>,
    /// Peer URLs announced to the cluster (`--initial-advertise-peer-urls`).
    pub advertise_peer_urls: Vec<String>,
    /// Every member of the initial cluster (`--initial-cluster`).
    pub initial_cluster: Vec<InitialMember>,
    pub initial_cluster_state: ClusterState,
    /// Distinguishes clusters built from the same member list (`--initial-cluster-token`).
    pub initial_cluster_token: String,
    /// Raft tick (`--heartbeat-interval`, milliseconds in etcd).
    pub heartbeat_interval: Duration,
    /// Time without a leader before an election (`--election-timeout`).
    pub election_timeout: Duration,
    /// Applied entries between raft log truncations (`--snapshot-count`).
    pub snapshot_count: u64,
    /// Largest accepted request (`--max-request-bytes`).
    pub max_request_bytes: usize,
    /// Most operations in one transaction (`--max-txn-ops`).
    pub max_txn_ops: usize,
    /// Writes are refused while the data dir's file system has less free space than this.
    pub min_free_bytes: u64,
    /// How long a client waits for its request to be committed and applied.
    pub request_timeout: Duration,
    /// Interval of progress notifications to watchers that asked for them.
    pub progress_notify_interval: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            name: "default".into(),
            data_dir: PathBuf::from("default.rkube"),
            advertise_client_urls: vec!["http://localhost:2379".into()],
            advertise_peer_urls: vec!["http://localhost:2380".into()],
            initial_cluster: vec![InitialMember {
                name: "default".into(),
                peer_urls: vec!["http://localhost:2380".into()],
            }],
            initial_cluster_state: ClusterState::New,
            initial_cluster_token: "rkube-cluster".into(),
            heartbeat_interval: Duration::from_millis(100),
            election_timeout: Duration::from_millis(1000),
            snapshot_count: 100_000,
            max_request_bytes: 1536 * 1024,
            max_txn_ops: 128,
            min_free_bytes: 64 << 20,
            request_timeout: Duration::from_secs(7),
            progress_notify_interval: Duration::from_secs(600),
        }
    }
}

/// A malformed `--initial-cluster`.
#[derive(Debug, thiserror::Error)]
#[error("invalid --initial-cluster entry {entry:?}: expected NAME=URL[,NAME=URL...]")]
pub struct ParseClusterError {
    pub entry: String,
}

/// Parses etcd's `--initial-cluster` syntax: `n1=http://a:2380,n2=http://b:2380`; a name
/// may repeat to give a member several URLs.
pub fn parse_initial_cluster(s: &str) -> Result<Vec<InitialMember>, ParseClusterError> {
    let mut out: Vec<InitialMember> = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, url) = part.split_once('=').ok_or_else(|| ParseClusterError {
            entry: part.to_string(),
        })?;
        if name.is_empty() || !url.contains("://") {
            return Err(ParseClusterError {
                entry: part.to_string(),
            });
        }
        match out.iter_mut().find(|m| m.name == name) {
            Some(m) => m.peer_urls.push(url.to_string()),
            None => out.push(InitialMember {
                name: name.to_string(),
                peer_urls: vec![url.to_string()],
            }),
        }
    }
    Ok(out)
}

impl StoreConfig {
    /// A member that forms a cluster of its own, with every other setting at its default.
    pub fn single_member(
        name: &str,
        data_dir: PathBuf,
        client_url: String,
        peer_url: String,
    ) -> Self {
        Self {
            name: name.to_string(),
            data_dir,
            advertise_client_urls: vec![client_url],
            advertise_peer_urls: vec![peer_url.clone()],
            initial_cluster: vec![InitialMember {
                name: name.to_string(),
                peer_urls: vec![peer_url],
            }],
            initial_cluster_state: ClusterState::New,
            ..Self::default()
        }
    }

    /// The election timeout in raft ticks.
    pub fn election_ticks(&self) -> usize {
        let hb = self.heartbeat_interval.as_millis().max(1);
        ((self.election_timeout.as_millis() / hb) as usize).max(2)
    }

    /// The shortest TTL a lease gets, as in etcd: one and a half election timeouts,
    /// rounded up to whole seconds.
    pub fn min_lease_ttl(&self) -> i64 {
        let ms = self.election_timeout.as_millis() as i64 * 3 / 2;
        (ms + 999) / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_initial_cluster() {
        let m = parse_initial_cluster("a=http://1:2380,b=http://2:2380,a=http://3:2380")
            .expect("valid");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].peer_urls.len(), 2);
        assert!(parse_initial_cluster("nonsense").is_err());
        assert_eq!(StoreConfig::default().min_lease_ttl(), 2);
        assert_eq!(StoreConfig::default().election_ticks(), 10);
    }
}
