//! Leases: time-to-live handles that keys can be attached to; when a lease is revoked or
//! expires, its keys are deleted.
//!
//! Grants and revocations are replicated commands; liveness (the expiry clock) exists only
//! on the leader, as in etcd: a new leader restarts every lease's clock at its full TTL, so
//! a lease never expires early because leadership moved.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redb::{ReadableTable, Table};

use crate::proto::mvcc::{event::EventType, Event};

/// The largest TTL a lease may ask for, as in etcd.
pub const MAX_TTL: i64 = 9_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("etcdserver: lease already exists")]
    Exists,
    #[error("etcdserver: requested lease not found")]
    NotFound,
    #[error("etcdserver: too large lease TTL")]
    TtlTooLarge,
    #[error("store database error: {0}")]
    Storage(#[from] redb::StorageError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug)]
struct Lease {
    ttl: i64,
    /// When the leader stops considering the lease alive; `None` on followers.
    expiry: Option<Instant>,
    /// When an expiry revocation was last proposed, so it is not proposed every tick.
    revoking: Option<Instant>,
    keys: BTreeSet<Vec<u8>>,
}

#[derive(Debug, Default)]
struct State {
    leases: HashMap<i64, Lease>,
    key_lease: HashMap<Vec<u8>, i64>,
    primary: bool,
}

/// What a lease looks like to a TimeToLive request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseStatus {
    pub granted_ttl: i64,
    pub remaining: i64,
    pub keys: Vec<Vec<u8>>,
}

/// Every lease of one member.
#[derive(Debug)]
pub struct Lessor {
    state: Mutex<State>,
    min_ttl: i64,
}

impl Lessor {
    /// `leases` are the stored grants; `attached` the live keys carrying a lease.
    pub fn new(min_ttl: i64, leases: Vec<(i64, i64)>, attached: Vec<(Vec<u8>, i64)>) -> Self {
        let mut st = State::default();
        for (id, ttl) in leases {
            st.leases.insert(
                id,
                Lease {
                    ttl,
                    expiry: None,
                    revoking: None,
                    keys: BTreeSet::new(),
                },
            );
        }
        for (key, id) in attached {
            if let Some(l) = st.leases.get_mut(&id) {
                l.keys.insert(key.clone());
                st.key_lease.insert(key, id);
            }
        }
        Self {
            state: Mutex::new(st),
            min_ttl,
        }
    }

    /// Replaces every lease (after a snapshot was installed).
    pub fn reset(&self, leases: Vec<(i64, i64)>, attached: Vec<(Vec<u8>, i64)>) {
        let fresh = Self::new(self.min_ttl, leases, attached);
        let primary = self.state.lock().primary;
        *self.state.lock() = fresh.state.into_inner();
        if primary {
            self.promote();
        }
    }

    pub fn min_ttl(&self) -> i64 {
        self.min_ttl
    }

    pub fn exists(&self, id: i64) -> bool {
        self.state.lock().leases.contains_key(&id)
    }

    /// Applies a grant. Returns the effective TTL.
    pub fn grant(&self, table: &mut Table<'_, i64, i64>, id: i64, ttl: i64) -> Result<i64> {
        if ttl > MAX_TTL {
            return Err(Error::TtlTooLarge);
        }
        let mut st = self.state.lock();
        if st.leases.contains_key(&id) {
            return Err(Error::Exists);
        }
        let ttl = ttl.max(self.min_ttl);
        table.insert(id, ttl)?;
        let expiry = st.primary.then(|| Instant::now() + secs(ttl));
        st.leases.insert(
            id,
            Lease {
                ttl,
                expiry,
                revoking: None,
                keys: BTreeSet::new(),
            },
        );
        Ok(ttl)
    }

    /// Applies a revocation: forgets the lease and returns the keys to delete.
    pub fn revoke(&self, table: &mut Table<'_, i64, i64>, id: i64) -> Result<Vec<Vec<u8>>> {
        let mut st = self.state.lock();
        let lease = st.leases.remove(&id).ok_or(Error::NotFound)?;
        table.remove(id)?;
        for k in &lease.keys {
            st.key_lease.remove(k);
        }
        Ok(lease.keys.into_iter().collect())
    }

    /// Follows key changes: attaches and detaches keys as puts and deletes are applied.
    pub fn observe(&self, events: &[Event]) {
        let mut st = self.state.lock();
        for ev in events {
            let Some(kv) = &ev.kv else { continue };
            if let Some(old) = st.key_lease.remove(&kv.key) {
                if let Some(l) = st.leases.get_mut(&old) {
                    l.keys.remove(&kv.key);
                }
            }
            if ev.r#type == EventType::Put as i32 && kv.lease != 0 {
                if let Some(l) = st.leases.get_mut(&kv.lease) {
                    l.keys.insert(kv.key.clone());
                    st.key_lease.insert(kv.key.clone(), kv.lease);
                }
            }
        }
    }

    /// This member became leader: every lease's clock starts now, at its full TTL.
    pub fn promote(&self) {
        let mut st = self.state.lock();
        st.primary = true;
        let now = Instant::now();
        for l in st.leases.values_mut() {
            l.expiry = Some(now + secs(l.ttl));
            l.revoking = None;
        }
    }

    /// This member stopped being leader.
    pub fn demote(&self) {
        let mut st = self.state.lock();
        st.primary = false;
        for l in st.leases.values_mut() {
            l.expiry = None;
        }
    }

    pub fn is_primary(&self) -> bool {
        self.state.lock().primary
    }

    /// Renews a lease on the leader. Returns its TTL, or `None` if it is unknown or this
    /// member is not the leader.
    pub fn renew(&self, id: i64) -> Option<i64> {
        let mut st = self.state.lock();
        if !st.primary {
            return None;
        }
        let l = st.leases.get_mut(&id)?;
        if l.revoking.is_some() {
            // Already expired and being revoked: too late to keep it.
            return None;
        }
        l.expiry = Some(Instant::now() + secs(l.ttl));
        Some(l.ttl)
    }

    /// Status of a lease; `remaining` is only meaningful on the leader (elsewhere it is
    /// the granted TTL).
    pub fn status(&self, id: i64) -> Option<LeaseStatus> {
        let st = self.state.lock();
        let l = st.leases.get(&id)?;
        let remaining = match l.expiry {
            Some(e) => e
                .saturating_duration_since(Instant::now())
                .as_secs_f64()
                .ceil() as i64,
            None => l.ttl,
        };
        Some(LeaseStatus {
            granted_ttl: l.ttl,
            remaining,
            keys: l.keys.iter().cloned().collect(),
        })
    }

    pub fn ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.state.lock().leases.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Leases whose clock ran out, each reported at most once every `retry` so the leader
    /// proposes their revocation without flooding the log.
    pub fn expired(&self, retry: Duration) -> Vec<i64> {
        let mut st = self.state.lock();
        if !st.primary {
            return Vec::new();
        }
        let now = Instant::now();
        let mut out = Vec::new();
        for (id, l) in st.leases.iter_mut() {
            let due = l.expiry.is_some_and(|e| e <= now);
            let quiet = l.revoking.is_none_or(|t| now.duration_since(t) >= retry);
            if due && quiet {
                l.revoking = Some(now);
                out.push(*id);
            }
        }
        out
    }
}

/// Reads every stored lease.
pub fn stored_leases<T: ReadableTable<i64, i64>>(table: &T) -> Result<Vec<(i64, i64)>> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        out.push((k.value(), v.value()));
    }
    Ok(out)
}

fn secs(s: i64) -> Duration {
    Duration::from_secs(s.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::mvcc::KeyValue;

    fn put(key: &[u8], lease: i64) -> Event {
        Event {
            r#type: EventType::Put as i32,
            kv: Some(KeyValue {
                key: key.to_vec(),
                lease,
                ..Default::default()
            }),
            prev_kv: None,
        }
    }

    #[test]
    fn attach_move_and_expire() {
        let l = Lessor::new(2, vec![(1, 5), (2, 1)], vec![(b"a".to_vec(), 1)]);
        assert_eq!(l.status(1).map(|s| s.keys.len()), Some(1));
        l.observe(&[put(b"a", 2), put(b"b", 2)]);
        assert_eq!(l.status(1).map(|s| s.keys.len()), Some(0));
        assert_eq!(l.status(2).map(|s| s.keys.len()), Some(2));
        assert_eq!(l.renew(2), None, "followers do not renew");
        l.promote();
        assert_eq!(l.renew(2), Some(1));
        assert!(l.expired(Duration::from_secs(1)).is_empty());
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(l.expired(Duration::from_secs(60)), vec![2]);
        assert!(
            l.expired(Duration::from_secs(60)).is_empty(),
            "reported once"
        );
        assert_eq!(l.renew(2), None, "an expiring lease cannot be renewed");
    }
}
