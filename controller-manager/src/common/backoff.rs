//! Per-object retry counts, so a controller backs off exponentially on an object that
//! keeps failing and starts afresh once it syncs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Consecutive failures per object uid.
#[derive(Debug, Default)]
pub struct Failures {
    counts: Mutex<HashMap<String, u32>>,
}

impl Failures {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, u32>) -> T) -> T {
        let mut guard = match self.counts.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Records a failure and returns how long to wait: 0.5 s doubling up to 60 s.
    pub fn failed(&self, uid: &str) -> Duration {
        let n = self.with(|c| {
            let n = c.entry(uid.to_owned()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        });
        let millis = 500u64.saturating_mul(1u64 << (n - 1).min(7));
        Duration::from_millis(millis.min(60_000))
    }

    /// Forgets the failures of an object that synced.
    pub fn succeeded(&self, uid: &str) {
        self.with(|c| c.remove(uid));
    }
}
