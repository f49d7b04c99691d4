//! What the set controllers read from a pod's status: running, ready, available, finished.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// The pod's phase, `Pending` when not reported yet.
#[must_use]
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// Whether the pod is being deleted.
#[must_use]
pub fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Whether the pod ended (`Succeeded` or `Failed`).
#[must_use]
pub fn finished(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// When the pod's Ready condition turned true, if it is true.
#[must_use]
pub fn ready_since(pod: &Pod) -> Option<Option<Timestamp>> {
    let condition = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    (condition.status == "True").then(|| condition.last_transition_time.as_ref().map(|t| t.0))
}

/// Whether the pod is Running and Ready and not being deleted.
#[must_use]
pub fn running_and_ready(pod: &Pod) -> bool {
    !terminating(pod) && phase(pod) == "Running" && ready_since(pod).is_some()
}

/// Whether the pod has been Ready for `min_ready_seconds` at `now`; when not yet, how long
/// until it will be.
#[must_use]
pub fn available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> Availability {
    if terminating(pod) {
        return Availability::No;
    }
    let Some(since) = ready_since(pod) else {
        return Availability::No;
    };
    if min_ready_seconds <= 0 {
        return Availability::Yes;
    }
    let Some(since) = since else {
        return Availability::Yes;
    };
    let due = since.saturating_add(SignedDuration::from_secs(i64::from(min_ready_seconds)));
    match due {
        Ok(due) if due > now => Availability::After(now.duration_until(due)),
        _ => Availability::Yes,
    }
}

/// A pod's availability at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Yes,
    No,
    /// Ready, and available once this much more time has passed.
    After(SignedDuration),
}

impl Availability {
    /// Whether the pod counts as available now.
    #[must_use]
    pub fn is_yes(self) -> bool {
        self == Self::Yes
    }
}
