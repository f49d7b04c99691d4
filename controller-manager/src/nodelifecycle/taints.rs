//! The node lifecycle controller's decisions, without I/O: which taints a node's Ready
//! condition calls for, and when a pod on a tainted node must go.

use k8s_openapi::api::core::v1::{Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use rkube_api::names::{TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE};

const NO_EXECUTE: &str = "NoExecute";
const NO_SCHEDULE: &str = "NoSchedule";

/// The key of the taint this controller wants for a Ready status (`None`: healthy).
fn wanted_key(ready: &str) -> Option<&'static str> {
    match ready {
        "True" => None,
        "False" => Some(TAINT_NODE_NOT_READY),
        _ => Some(TAINT_NODE_UNREACHABLE),
    }
}

fn ours(t: &Taint) -> bool {
    (t.key == TAINT_NODE_NOT_READY || t.key == TAINT_NODE_UNREACHABLE)
        && (t.effect == NO_EXECUTE || t.effect == NO_SCHEDULE)
}

/// The node's taints as they should be for its Ready status (`True`, `False`, or anything
/// else for Unknown), or `None` when they already are: the `not-ready` or `unreachable`
/// NoExecute and NoSchedule taints, the other one removed, other taints untouched.
pub(crate) fn retaint(current: &[Taint], ready: &str, now: Timestamp) -> Option<Vec<Taint>> {
    let key = wanted_key(ready);
    let mut next: Vec<Taint> = current
        .iter()
        .filter(|t| !ours(t) || Some(t.key.as_str()) == key)
        .cloned()
        .collect();
    if let Some(key) = key {
        for effect in [NO_SCHEDULE, NO_EXECUTE] {
            if !next.iter().any(|t| t.key == key && t.effect == effect) {
                next.push(Taint {
                    key: key.to_owned(),
                    effect: effect.to_owned(),
                    value: None,
                    time_added: (effect == NO_EXECUTE).then_some(Time(now)),
                });
            }
        }
    }
    (next != current).then_some(next)
}

/// Whether `toleration` tolerates `taint` (Kubernetes' matching: effect empty or equal; key
/// equal, or empty with `Exists` for every key; `Equal` also compares values).
pub(crate) fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = toleration.effect.as_deref().filter(|e| !e.is_empty()) {
        if effect != taint.effect {
            return false;
        }
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    let operator = toleration.operator.as_deref().unwrap_or("Equal");
    if key.is_empty() {
        return operator == "Exists";
    }
    if key != taint.key {
        return false;
    }
    match operator {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        _ => false,
    }
}

/// When a pod on a node with `taints` must be evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Eviction {
    /// The pod tolerates every NoExecute taint for ever (or there are none).
    Never,
    /// At this time (now or in the past: at once).
    At(Timestamp),
}

/// When a pod with `tolerations` must leave a node with `taints`: at once if a NoExecute
/// taint is not tolerated, else once the shortest `tolerationSeconds` among the tolerations
/// used has passed since the taints were added.
pub(crate) fn eviction(tolerations: &[Toleration], taints: &[Taint], now: Timestamp) -> Eviction {
    let mut shortest: Option<i64> = None;
    let mut since: Option<Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == NO_EXECUTE) {
        let used: Vec<&Toleration> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if used.is_empty() {
            return Eviction::At(now);
        }
        // Of the tolerations that match one taint, the most lenient one counts.
        let seconds = if used.iter().any(|t| t.toleration_seconds.is_none()) {
            None
        } else {
            used.iter().filter_map(|t| t.toleration_seconds).max()
        };
        if let Some(s) = seconds {
            shortest = Some(shortest.map_or(s, |m| m.min(s)));
            let added = taint.time_added.as_ref().map_or(now, |t| t.0);
            since = Some(since.map_or(added, |m| m.max(added)));
        }
    }
    match (shortest, since) {
        (Some(s), Some(since)) => {
            let at = since
                .checked_add(SignedDuration::from_secs(s.max(0)))
                .unwrap_or(Timestamp::MAX);
            Eviction::At(at)
        }
        _ => Eviction::Never,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;
    use serde_json::json;

    fn taint(key: &str, effect: &str, at: Timestamp) -> Taint {
        Taint {
            key: key.to_owned(),
            effect: effect.to_owned(),
            value: None,
            time_added: Some(Time(at)),
        }
    }

    fn tol(v: serde_json::Value) -> Toleration {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn taints_follow_ready() {
        let now = Timestamp::from_second(1_000).unwrap();
        let other = taint("dedicated", "NoSchedule", now);
        let unknown = retaint(std::slice::from_ref(&other), "Unknown", now).unwrap();
        assert_eq!(unknown.len(), 3);
        assert!(unknown
            .iter()
            .any(|t| t.key == TAINT_NODE_UNREACHABLE && t.effect == NO_EXECUTE));
        assert_eq!(retaint(&unknown, "Unknown", now), None);
        let not_ready = retaint(&unknown, "False", now).unwrap();
        assert!(not_ready.iter().all(|t| t.key != TAINT_NODE_UNREACHABLE));
        assert_eq!(not_ready.len(), 3);
        assert_eq!(retaint(&not_ready, "True", now).unwrap(), vec![other]);
    }

    #[test]
    fn eviction_times() {
        let t0 = Timestamp::from_second(1_000).unwrap();
        let taints = [
            taint(TAINT_NODE_UNREACHABLE, NO_EXECUTE, t0),
            taint(TAINT_NODE_UNREACHABLE, NO_SCHEDULE, t0),
        ];
        let now = Timestamp::from_second(1_010).unwrap();
        assert_eq!(eviction(&[], &taints, now), Eviction::At(now));
        let five = tol(
            json!({"key": TAINT_NODE_UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}),
        );
        assert_eq!(
            eviction(std::slice::from_ref(&five), &taints, now),
            Eviction::At(Timestamp::from_second(1_005).unwrap())
        );
        let forever = tol(json!({"operator": "Exists"}));
        assert_eq!(eviction(&[forever], &taints, now), Eviction::Never);
        let other_key = tol(json!({"key": "x", "operator": "Exists"}));
        assert_eq!(eviction(&[other_key], &taints, now), Eviction::At(now));
        assert_eq!(eviction(&[], &taints[1..], now), Eviction::Never);
    }
}
