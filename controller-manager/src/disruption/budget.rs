//! The arithmetic of a PodDisruptionBudget: how many pods are expected, how many must stay
//! healthy, and how many may be disrupted now, as Kubernetes' disruption controller counts.

use std::collections::BTreeMap;

use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// How long an evicted pod counts as disrupted (not healthy) while it has not gone yet.
pub const DELETION_TIMEOUT: SignedDuration = SignedDuration::from_secs(120);

/// What a budget's status says about its pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub expected: i32,
    pub desired_healthy: i32,
    pub current_healthy: i32,
    pub disruptions_allowed: i32,
}

/// Why the expected pod count could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error("invalid value {0:?}: an integer or a percentage such as \"50%\" is expected")]
    InvalidIntOrPercent(String),
    #[error("found no controllers for pod {0:?}")]
    NoController(String),
}

/// Counts for `spec` over `pods` pods of which `healthy` are ready and not disrupted;
/// `scale` is the sum of the replicas their controllers want (needed for percentages and
/// `maxUnavailable`), or the error met while finding it.
///
/// # Errors
/// When a percentage or `maxUnavailable` needs the scale and it could not be found, or a
/// value is malformed.
pub fn counts(
    spec: &PodDisruptionBudgetSpec,
    pods: i32,
    healthy: i32,
    scale: impl FnOnce() -> Result<i32, BudgetError>,
) -> Result<Counts, BudgetError> {
    let (expected, desired_healthy) = match (&spec.max_unavailable, &spec.min_available) {
        (Some(max_unavailable), _) => {
            let expected = scale()?;
            let unavailable = scaled(max_unavailable, expected)?;
            (expected, (expected - unavailable).max(0))
        }
        (None, Some(IntOrString::Int(min))) => (pods, *min),
        (None, Some(min @ IntOrString::String(_))) => {
            let expected = scale()?;
            (expected, scaled(min, expected)?)
        }
        (None, None) => (pods, 0),
    };
    let allowed = if expected <= 0 {
        0
    } else {
        (healthy - desired_healthy).max(0)
    };
    Ok(Counts {
        expected,
        desired_healthy,
        current_healthy: healthy,
        disruptions_allowed: allowed,
    })
}

/// An int, or a percentage of `total` rounded up (as Kubernetes scales both minAvailable and
/// maxUnavailable percentages for budgets).
fn scaled(value: &IntOrString, total: i32) -> Result<i32, BudgetError> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let percent: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| BudgetError::InvalidIntOrPercent(s.clone()))?;
            let scaled = (percent * i64::from(total) + 99) / 100;
            Ok(i32::try_from(scaled).unwrap_or(i32::MAX))
        }
    }
}

/// The `disruptedPods` entries still to keep: pods that exist, are not being deleted yet and
/// were evicted less than [`DELETION_TIMEOUT`] ago. Also returns when the earliest kept entry
/// expires, for a recheck then.
pub fn live_disruptions(
    recorded: &BTreeMap<String, Timestamp>,
    exists_not_deleting: impl Fn(&str) -> bool,
    now: Timestamp,
) -> (BTreeMap<String, Timestamp>, Option<Timestamp>) {
    let mut kept = BTreeMap::new();
    let mut recheck: Option<Timestamp> = None;
    for (pod, at) in recorded {
        let expires = at.saturating_add(DELETION_TIMEOUT).unwrap_or(*at);
        if !exists_not_deleting(pod) || expires <= now {
            continue;
        }
        kept.insert(pod.clone(), *at);
        recheck = Some(recheck.map_or(expires, |r| r.min(expires)));
    }
    (kept, recheck)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    fn spec(min: Option<IntOrString>, max: Option<IntOrString>) -> PodDisruptionBudgetSpec {
        PodDisruptionBudgetSpec {
            min_available: min,
            max_unavailable: max,
            ..PodDisruptionBudgetSpec::default()
        }
    }

    fn no_scale() -> Result<i32, BudgetError> {
        Err(BudgetError::NoController("p".into()))
    }

    #[test]
    fn min_available_int_counts_the_pods_themselves() {
        let c = counts(&spec(Some(IntOrString::Int(2)), None), 3, 3, no_scale).unwrap();
        assert_eq!(
            c,
            Counts {
                expected: 3,
                desired_healthy: 2,
                current_healthy: 3,
                disruptions_allowed: 1
            }
        );
        let c = counts(&spec(Some(IntOrString::Int(2)), None), 3, 2, no_scale).unwrap();
        assert_eq!(c.disruptions_allowed, 0);
    }

    #[test]
    fn percentages_scale_by_the_controllers_replicas_rounding_up() {
        let half = IntOrString::String("50%".into());
        let c = counts(&spec(Some(half.clone()), None), 5, 5, || Ok(5)).unwrap();
        assert_eq!(
            (c.expected, c.desired_healthy, c.disruptions_allowed),
            (5, 3, 2)
        );
        let c = counts(&spec(None, Some(half)), 5, 5, || Ok(5)).unwrap();
        // maxUnavailable 50% of 5 rounds up to 3 unavailable: 2 must stay healthy.
        assert_eq!(
            (c.expected, c.desired_healthy, c.disruptions_allowed),
            (5, 2, 3)
        );
        let c = counts(&spec(None, Some(IntOrString::Int(1))), 3, 2, || Ok(3)).unwrap();
        assert_eq!((c.desired_healthy, c.disruptions_allowed), (2, 0));
    }

    #[test]
    fn a_missing_controller_or_bad_percentage_is_an_error() {
        let err = counts(&spec(None, Some(IntOrString::Int(1))), 1, 1, no_scale).unwrap_err();
        assert_eq!(err.to_string(), "found no controllers for pod \"p\"");
        let err = counts(
            &spec(Some(IntOrString::String("x".into())), None),
            1,
            1,
            || Ok(1),
        )
        .unwrap_err();
        assert!(matches!(err, BudgetError::InvalidIntOrPercent(_)));
    }

    #[test]
    fn nothing_expected_allows_nothing() {
        let c = counts(&spec(Some(IntOrString::Int(0)), None), 0, 0, no_scale).unwrap();
        assert_eq!(c.disruptions_allowed, 0);
    }

    #[test]
    fn disrupted_pods_expire_or_go_with_their_pod() {
        let now: Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let recorded: BTreeMap<String, Timestamp> = [
            ("fresh", "2026-01-01T00:09:30Z"),
            ("old", "2026-01-01T00:07:00Z"),
            ("gone", "2026-01-01T00:09:50Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.parse().unwrap()))
        .collect();
        let (kept, recheck) = live_disruptions(&recorded, |p| p != "gone", now);
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["fresh"]);
        assert_eq!(recheck, Some("2026-01-01T00:11:30Z".parse().unwrap()));
    }
}
