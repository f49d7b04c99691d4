//! The scheduling queue: pods waiting to be scheduled, highest priority first, with backoff
//! after a failed attempt (1 s doubling up to 10 s) and a set of unschedulable pods that go
//! back to the active queue when the cluster changes (or after five minutes), never by
//! polling.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

use crate::pod_info::PodInfo;

/// First backoff after a failure.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Longest backoff.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// An unschedulable pod is retried at the latest after this long, even with no cluster change.
pub const UNSCHEDULABLE_FLUSH: Duration = Duration::from_secs(300);

/// How often parked pods are checked against `UNSCHEDULABLE_FLUSH`.
const STALE_CHECK_INTERVAL: Duration = Duration::from_secs(30);

/// Where a queued pod is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Active,
    Backoff(Instant),
    Unschedulable(Instant),
    /// Popped, being scheduled or bound.
    InFlight,
}

/// A pod in the queue.
#[derive(Debug, Clone)]
pub struct Queued {
    /// The pod as last seen.
    pub pod: Arc<Pod>,
    /// Its precomputed view.
    pub info: Arc<PodInfo>,
    /// Failed attempts so far.
    pub attempts: u32,
    place: Place,
    generation: u64,
    last_failure: Option<Instant>,
}

/// The queue. Single-owner: the scheduling loop drives it.
#[derive(Debug, Default)]
pub struct Queue {
    pods: HashMap<String, Queued>,
    /// (priority, earliest first, uid, generation)
    active: BinaryHeap<(i32, Reverse<u64>, String, u64)>,
    backoff: BinaryHeap<Reverse<(Instant, String, u64)>>,
    seq: u64,
    /// When to look next for pods parked too long (a scan of the queue, so not per pod).
    next_stale_check: Option<Instant>,
}

fn backoff_for(attempts: u32) -> Duration {
    let shift = attempts.saturating_sub(1).min(8);
    (INITIAL_BACKOFF * (1u32 << shift)).min(MAX_BACKOFF)
}

impl Queue {
    /// How many pods are queued (in any state).
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    /// Whether no pod is queued.
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    fn push_active(&mut self, uid: &str) {
        self.seq += 1;
        let seq = self.seq;
        if let Some(q) = self.pods.get_mut(uid) {
            q.place = Place::Active;
            q.generation = seq;
            self.active
                .push((q.info.priority, Reverse(seq), uid.to_owned(), seq));
        }
    }

    fn push_backoff(&mut self, uid: &str, until: Instant) {
        self.seq += 1;
        let seq = self.seq;
        if let Some(q) = self.pods.get_mut(uid) {
            q.place = Place::Backoff(until);
            q.generation = seq;
            self.backoff.push(Reverse((until, uid.to_owned(), seq)));
        }
    }

    /// Adds a new pending pod, or updates a queued one. An update of a pod parked as
    /// unschedulable gives it another try (its spec may now fit).
    pub fn add_or_update(&mut self, pod: Arc<Pod>, info: Arc<PodInfo>) {
        let uid = info.uid.clone();
        match self.pods.get_mut(&uid) {
            Some(q) => {
                let changed =
                    q.pod.spec != pod.spec || q.pod.metadata.labels != pod.metadata.labels;
                q.pod = pod;
                q.info = info;
                if changed && matches!(q.place, Place::Unschedulable(_)) {
                    self.requeue(&uid, Instant::now());
                }
            }
            None => {
                self.pods.insert(
                    uid.clone(),
                    Queued {
                        pod,
                        info,
                        attempts: 0,
                        place: Place::Active,
                        generation: 0,
                        last_failure: None,
                    },
                );
                self.push_active(&uid);
            }
        }
    }

    /// Forgets a pod (deleted, bound elsewhere, or scheduled).
    pub fn remove(&mut self, uid: &str) {
        self.pods.remove(uid);
    }

    /// Whether the pod is queued.
    pub fn contains(&self, uid: &str) -> bool {
        self.pods.contains_key(uid)
    }

    /// Takes the next pod to schedule, if any is active.
    pub fn pop(&mut self) -> Option<Queued> {
        while let Some((_, _, uid, generation)) = self.active.pop() {
            let Some(q) = self.pods.get_mut(&uid) else {
                continue;
            };
            if q.generation != generation || q.place != Place::Active {
                continue;
            }
            q.place = Place::InFlight;
            return Some(q.clone());
        }
        None
    }

    /// The attempt failed: `unschedulable` (no node fits) parks the pod until the cluster
    /// changes; otherwise (an API error) it backs off.
    pub fn failed(&mut self, uid: &str, unschedulable: bool) {
        let now = Instant::now();
        let Some(q) = self.pods.get_mut(uid) else {
            return;
        };
        q.attempts += 1;
        q.last_failure = Some(now);
        if unschedulable {
            q.place = Place::Unschedulable(now);
        } else {
            let until = now + backoff_for(q.attempts);
            self.push_backoff(uid, until);
        }
    }

    fn requeue(&mut self, uid: &str, now: Instant) {
        let Some(q) = self.pods.get(uid) else {
            return;
        };
        let until = q
            .last_failure
            .map(|t| t + backoff_for(q.attempts))
            .filter(|until| *until > now);
        match until {
            Some(until) => self.push_backoff(uid, until),
            None => self.push_active(uid),
        }
    }

    /// The cluster changed (a node appeared or changed, a pod went away): every
    /// unschedulable pod gets another try, after what is left of its backoff.
    pub fn move_all_to_active(&mut self) {
        let now = Instant::now();
        let parked: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, q)| matches!(q.place, Place::Unschedulable(_)))
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in parked {
            self.requeue(&uid, now);
        }
    }

    /// Moves pods whose backoff has expired (and unschedulable pods parked for too long) to
    /// the active queue.
    pub fn flush(&mut self, now: Instant) {
        while let Some(Reverse((until, uid, generation))) = self.backoff.peek().cloned() {
            if until > now {
                break;
            }
            self.backoff.pop();
            let current = self.pods.get(&uid).is_some_and(|q| {
                q.generation == generation && matches!(q.place, Place::Backoff(_))
            });
            if current {
                self.push_active(&uid);
            }
        }
        if self.next_stale_check.is_some_and(|t| t > now) {
            return;
        }
        self.next_stale_check = Some(now + STALE_CHECK_INTERVAL);
        let stale: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, q)| matches!(q.place, Place::Unschedulable(t) if now.duration_since(t) >= UNSCHEDULABLE_FLUSH))
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in stale {
            self.push_active(&uid);
        }
    }

    /// When `flush` next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let backoff = self.backoff.peek().map(|Reverse((t, _, _))| *t);
        let parked = self.next_stale_check;
        match (backoff, parked) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pod(uid: &str, priority: i32) -> (Arc<Pod>, Arc<PodInfo>) {
        let info = PodInfo {
            uid: uid.into(),
            priority,
            ..PodInfo::default()
        };
        (Arc::new(Pod::default()), Arc::new(info))
    }

    #[test]
    fn priority_then_fifo() {
        let mut q = Queue::default();
        for (uid, prio) in [("a", 0), ("b", 10), ("c", 0)] {
            let (p, i) = pod(uid, prio);
            q.add_or_update(p, i);
        }
        let order: Vec<String> = std::iter::from_fn(|| q.pop())
            .map(|q| q.info.uid.clone())
            .collect();
        assert_eq!(order, vec!["b", "a", "c"]);
    }

    #[test]
    fn unschedulable_waits_for_a_cluster_change_and_backoff() {
        let mut q = Queue::default();
        let (p, i) = pod("a", 0);
        q.add_or_update(p, i);
        let _ = q.pop().unwrap();
        q.failed("a", true);
        assert!(q.pop().is_none());
        q.flush(Instant::now());
        assert!(q.pop().is_none());
        q.move_all_to_active();
        // Still inside its 1 s backoff.
        assert!(q.pop().is_none());
        q.flush(Instant::now() + Duration::from_secs(2));
        assert_eq!(q.pop().unwrap().info.uid, "a");
    }

    #[test]
    fn backoff_doubles_to_ten_seconds() {
        assert_eq!(backoff_for(1), Duration::from_secs(1));
        assert_eq!(backoff_for(2), Duration::from_secs(2));
        assert_eq!(backoff_for(4), Duration::from_secs(8));
        assert_eq!(backoff_for(9), Duration::from_secs(10));
    }
}
