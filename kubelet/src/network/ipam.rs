//! Pod addresses from the node's pod CIDR, one file per address naming its owner (written with
//! `create_new`, so two allocations can never take the same address, and kept across kubelet
//! restarts).

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// An IPv4 network: address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

/// Why an address could not be had.
#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    #[error("invalid pod CIDR {0:?}")]
    BadCidr(String),
    #[error("no free address left in {0}")]
    Exhausted(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Cidr {
    /// Parses `10.42.1.0/24`.
    pub fn parse(s: &str) -> Result<Cidr, IpamError> {
        let bad = || IpamError::BadCidr(s.to_owned());
        let (ip, prefix) = s.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 30 {
            return Err(bad());
        }
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        Ok(Cidr {
            network: Ipv4Addr::from(u32::from(ip) & mask),
            prefix,
        })
    }

    /// The first usable address: the pods' gateway on the node's bridge.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// The addresses pods get: after the gateway, before the broadcast address.
    fn pod_addresses(&self) -> impl Iterator<Item = Ipv4Addr> {
        let first = u32::from(self.network) + 2;
        let size = 1u32 << (32 - u32::from(self.prefix));
        let last = u32::from(self.network) + size - 2;
        (first..=last).map(Ipv4Addr::from)
    }
}

/// The allocations of one node, on disk under `dir`.
#[derive(Debug, Clone)]
pub struct Ipam {
    dir: PathBuf,
    cidr: Cidr,
}

impl Ipam {
    pub fn new(dir: impl Into<PathBuf>, cidr: Cidr) -> Result<Ipam, IpamError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| IpamError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(Ipam { dir, cidr })
    }

    fn file(&self, ip: Ipv4Addr) -> PathBuf {
        self.dir.join(ip.to_string())
    }

    /// The address of `owner`: the one it already has, or the first free one.
    pub fn allocate(&self, owner: &str) -> Result<Ipv4Addr, IpamError> {
        if let Some(ip) = self.address_of(owner) {
            return Ok(ip);
        }
        for ip in self.cidr.pod_addresses() {
            let path = self.file(ip);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(owner.as_bytes())
                        .and_then(|()| f.sync_all())
                        .map_err(|source| IpamError::Io { path, source })?;
                    return Ok(ip);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(source) => return Err(IpamError::Io { path, source }),
            }
        }
        Err(IpamError::Exhausted(self.cidr.to_string()))
    }

    /// The address `owner` holds, if any.
    pub fn address_of(&self, owner: &str) -> Option<Ipv4Addr> {
        self.allocations()
            .into_iter()
            .find(|(_, o)| o == owner)
            .map(|(ip, _)| ip)
    }

    /// Frees what `owner` holds (nothing if it holds nothing).
    pub fn release(&self, owner: &str) -> Result<(), IpamError> {
        if let Some(ip) = self.address_of(owner) {
            let path = self.file(ip);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(IpamError::Io { path, source }),
            }
        }
        Ok(())
    }

    /// Every (address, owner).
    pub fn allocations(&self) -> Vec<(Ipv4Addr, String)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let ip: Ipv4Addr = e.file_name().to_str()?.parse().ok()?;
                let owner = std::fs::read_to_string(e.path()).ok()?;
                Some((ip, owner))
            })
            .collect()
    }

    /// The directory of the allocation files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    #[test]
    fn addresses_are_given_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cidr = Cidr::parse("10.42.3.7/30").unwrap();
        assert_eq!(cidr.to_string(), "10.42.3.4/30");
        assert_eq!(cidr.gateway(), Ipv4Addr::new(10, 42, 3, 5));
        let ipam = Ipam::new(dir.path(), cidr).unwrap();
        // A /30 has one pod address after the gateway.
        assert_eq!(ipam.allocate("a").unwrap(), Ipv4Addr::new(10, 42, 3, 6));
        assert_eq!(ipam.allocate("a").unwrap(), Ipv4Addr::new(10, 42, 3, 6));
        assert!(matches!(ipam.allocate("b"), Err(IpamError::Exhausted(_))));
        // A new Ipam over the same files (a kubelet restart) knows the owner.
        let again = Ipam::new(dir.path(), cidr).unwrap();
        assert_eq!(again.address_of("a"), Some(Ipv4Addr::new(10, 42, 3, 6)));
        again.release("a").unwrap();
        again.release("a").unwrap();
        assert_eq!(again.allocate("b").unwrap(), Ipv4Addr::new(10, 42, 3, 6));
        assert!(Cidr::parse("10.42.0.0").is_err());
    }
}
