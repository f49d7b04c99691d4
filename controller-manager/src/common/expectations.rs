//! Expectations: the creations and deletions a controller has asked for and not yet seen
//! in its watch, so it never acts twice on a stale cache (Kubernetes' `ControllerExpectations`).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// After this long, unmet expectations are dropped: a lost watch event must not stall a
/// controller forever.
const TTL: Duration = Duration::from_secs(300);

#[derive(Debug)]
struct Pending {
    creations: i64,
    deletions: HashSet<String>,
    since: Instant,
}

/// Pending creations and deletions, per controller uid.
#[derive(Debug, Default)]
pub struct Expectations {
    pending: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Pending>) -> T) -> T {
        let mut guard = match self.pending.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Whether the controller `uid` may act: nothing pending, or pending for too long.
    #[must_use]
    pub fn satisfied(&self, uid: &str) -> bool {
        self.with(|all| {
            all.get(uid).is_none_or(|p| {
                (p.creations <= 0 && p.deletions.is_empty()) || p.since.elapsed() > TTL
            })
        })
    }

    /// Records that `count` pods are about to be created by `uid`.
    pub fn expect_creations(&self, uid: &str, count: usize) {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        self.with(|all| {
            all.insert(
                uid.to_owned(),
                Pending {
                    creations: count,
                    deletions: HashSet::new(),
                    since: Instant::now(),
                },
            );
        });
    }

    /// Records that these pods (by `namespace/name`) are about to be deleted by `uid`.
    pub fn expect_deletions(&self, uid: &str, keys: impl IntoIterator<Item = String>) {
        self.with(|all| {
            all.insert(
                uid.to_owned(),
                Pending {
                    creations: 0,
                    deletions: keys.into_iter().collect(),
                    since: Instant::now(),
                },
            );
        });
    }

    /// A creation was seen in the watch, or will never happen (the request failed).
    pub fn creation_observed(&self, uid: &str) {
        self.with(|all| {
            if let Some(p) = all.get_mut(uid) {
                p.creations -= 1;
            }
        });
    }

    /// A deletion was seen in the watch (deletionTimestamp or gone), or will never happen.
    pub fn deletion_observed(&self, uid: &str, key: &str) {
        self.with(|all| {
            if let Some(p) = all.get_mut(uid) {
                p.deletions.remove(key);
            }
        });
    }

    /// Forgets the controller (deleted).
    pub fn forget(&self, uid: &str) {
        self.with(|all| all.remove(uid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creations_and_deletions_are_counted_down() {
        let e = Expectations::default();
        assert!(e.satisfied("a"));
        e.expect_creations("a", 2);
        assert!(!e.satisfied("a"));
        e.creation_observed("a");
        assert!(!e.satisfied("a"));
        e.creation_observed("a");
        assert!(e.satisfied("a"));
        e.expect_deletions("a", ["ns/p1".to_owned()]);
        assert!(!e.satisfied("a"));
        e.deletion_observed("a", "ns/p1");
        assert!(e.satisfied("a"));
    }
}
