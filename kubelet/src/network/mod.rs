//! Pod networking on one node: a bridge holding the pods' gateway address, a veth pair per pod
//! (`eth0` in the pod's network namespace, `veth<hash>` on the bridge), addresses from the
//! node's pod CIDR ([`ipam`]), and a default route through the gateway.
//!
//! The links are made with iproute2's `ip` (and `nsenter` to reach a namespace held by a bind
//! mount); the pod's `eth0` is created inside its namespace with its peer placed in the node's.
//! The node is the process's own network namespace, or a named one (`ip netns`) where tests and
//! the multi-node harness run their agents.

pub mod ipam;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use tokio::process::Command;

pub use ipam::{Cidr, Ipam, IpamError};

/// How the node's pod network is laid out.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The node's network namespace by name (`ip netns`); `None`: this process's own.
    pub node_netns: Option<String>,
    /// The bridge (default `rkube0`).
    pub bridge: String,
    /// The node's pod CIDR (`spec.podCIDR`).
    pub pod_cidr: Cidr,
    /// Where the address allocations are kept.
    pub state_dir: PathBuf,
}

/// What went wrong wiring a pod.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error(transparent)]
    Ipam(#[from] IpamError),
    #[error("running {command}: {message}")]
    Command { command: String, message: String },
}

type Result<T, E = NetworkError> = std::result::Result<T, E>;

/// A pod's place on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodNetworkStatus {
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    /// The node's end of the pod's veth pair.
    pub host_veth: String,
}

/// The node's pod network.
#[derive(Debug)]
pub struct PodNetwork {
    config: NetworkConfig,
    ipam: Ipam,
    lock: tokio::sync::Mutex<()>,
}

/// Where a command runs.
enum Place<'a> {
    Node,
    Pod(&'a Path),
}

/// The node end of a pod's veth pair, named from its uid (at most 15 characters).
pub fn host_veth_name(uid: &str) -> String {
    let digest = Sha256::digest(uid.as_bytes());
    format!("veth{}", hex::encode(&digest[..4]))
}

impl PodNetwork {
    /// Sets the node up (idempotently): the bridge with the gateway address, forwarding on.
    pub async fn new(config: NetworkConfig) -> Result<PodNetwork> {
        let ipam = Ipam::new(&config.state_dir, config.pod_cidr)?;
        let net = PodNetwork {
            config,
            ipam,
            lock: tokio::sync::Mutex::new(()),
        };
        let bridge = net.config.bridge.clone();
        if net
            .run(Place::Node, &["link", "show", &bridge])
            .await
            .is_err()
        {
            net.run(Place::Node, &["link", "add", &bridge, "type", "bridge"])
                .await?;
        }
        let gateway = format!(
            "{}/{}",
            net.config.pod_cidr.gateway(),
            net.config.pod_cidr.prefix
        );
        net.run(Place::Node, &["addr", "replace", &gateway, "dev", &bridge])
            .await?;
        net.run(Place::Node, &["link", "set", &bridge, "up"])
            .await?;
        net.enable_forwarding().await?;
        Ok(net)
    }

    async fn enable_forwarding(&self) -> Result<()> {
        let mut command = match &self.config.node_netns {
            Some(name) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", name, "sh", "-c"]);
                c
            }
            None => {
                let mut c = Command::new("sh");
                c.arg("-c");
                c
            }
        };
        command.arg("echo 1 > /proc/sys/net/ipv4/ip_forward");
        output(command, "enabling IPv4 forwarding").await.map(drop)
    }

    async fn run(&self, place: Place<'_>, args: &[&str]) -> Result<String> {
        let mut command = match place {
            Place::Node => {
                let mut c = Command::new("ip");
                if let Some(name) = &self.config.node_netns {
                    c.args(["-n", name]);
                }
                c
            }
            Place::Pod(netns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", netns.display())).arg("ip");
                c
            }
        };
        command.args(args);
        output(command, &format!("ip {}", args.join(" "))).await
    }

    /// Wires the pod whose network namespace is at `netns`: its address (the same one again if
    /// it already has one), `eth0`, the veth on the bridge, the default route. Idempotent.
    pub async fn setup(&self, uid: &str, netns: &Path) -> Result<PodNetworkStatus> {
        let _guard = self.lock.lock().await;
        let ip = self.ipam.allocate(uid)?;
        let cidr = self.config.pod_cidr;
        let status = PodNetworkStatus {
            ip,
            prefix: cidr.prefix,
            gateway: cidr.gateway(),
            host_veth: host_veth_name(uid),
        };
        let veth = status.host_veth.as_str();
        if self.run(Place::Node, &["link", "show", veth]).await.is_ok() {
            return Ok(status);
        }
        // eth0 is made inside the pod, its peer placed in the node's namespace.
        let node = match &self.config.node_netns {
            Some(name) => name.clone(),
            None => std::process::id().to_string(),
        };
        let pod = Place::Pod(netns);
        self.run(
            pod,
            &[
                "link", "add", "eth0", "type", "veth", "peer", "name", veth, "netns", &node,
            ],
        )
        .await?;
        let bridge = self.config.bridge.as_str();
        self.run(Place::Node, &["link", "set", veth, "master", bridge, "up"])
            .await?;
        // A pod reaching itself through a Service comes back through its own port.
        self.run(
            Place::Node,
            &["link", "set", veth, "type", "bridge_slave", "hairpin", "on"],
        )
        .await?;
        let address = format!("{ip}/{}", cidr.prefix);
        let gateway = cidr.gateway().to_string();
        for args in [
            &["link", "set", "lo", "up"][..],
            &["addr", "add", &address, "dev", "eth0"],
            &["link", "set", "eth0", "up"],
            &["route", "add", "default", "via", &gateway, "dev", "eth0"],
        ] {
            self.run(Place::Pod(netns), args).await?;
        }
        Ok(status)
    }

    /// Unwires a pod: its veth goes (with `eth0`) and its address is freed. Idempotent, and
    /// works when the pod's namespace is already gone.
    pub async fn teardown(&self, uid: &str) -> Result<()> {
        let _guard = self.lock.lock().await;
        let veth = host_veth_name(uid);
        if self
            .run(Place::Node, &["link", "show", &veth])
            .await
            .is_ok()
        {
            self.run(Place::Node, &["link", "del", &veth]).await?;
        }
        self.ipam.release(uid)?;
        Ok(())
    }

    /// The address allocations (pod uid per address), for cleaning up after pods that are gone.
    pub fn allocations(&self) -> Vec<(Ipv4Addr, String)> {
        self.ipam.allocations()
    }
}

async fn output(mut command: Command, what: &str) -> Result<String> {
    let out = command
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| NetworkError::Command {
            command: what.to_owned(),
            message: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(NetworkError::Command {
            command: what.to_owned(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    #[test]
    fn veth_names_fit_the_kernel() {
        let name = host_veth_name("3f1c2a7e-5b1d-4c8e-9f00-123456789abc");
        assert_eq!(name.len(), 12);
        assert!(name.starts_with("veth"));
        assert_eq!(name, host_veth_name("3f1c2a7e-5b1d-4c8e-9f00-123456789abc"));
    }
}
