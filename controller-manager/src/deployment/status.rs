//! A Deployment's status and its Available and Progressing conditions, free of I/O
//! (`calculateStatus`, `syncRolloutStatus`).

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;
use serde_json::{json, Value};

use super::{revision, rolling};

/// Reasons of the Progressing condition.
pub mod reason {
    pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
    pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
    pub const RS_UPDATED: &str = "ReplicaSetUpdated";
    pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
    pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
    pub const PAUSED: &str = "DeploymentPaused";
    pub const RESUMED: &str = "DeploymentResumed";
}

/// A fresh condition stamped `now`.
#[must_use]
pub fn condition(
    kind: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: kind.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// The condition of this type, if any.
#[must_use]
pub fn get<'a>(
    status: Option<&'a DeploymentStatus>,
    kind: &str,
) -> Option<&'a DeploymentCondition> {
    status?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
}

/// Sets a condition: unchanged when status and reason match, keeping the transition time
/// when only the reason changes (`SetDeploymentCondition`).
pub fn set(status: &mut DeploymentStatus, mut cond: DeploymentCondition) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    if let Some(current) = conditions.iter().find(|c| c.type_ == cond.type_) {
        if current.status == cond.status && current.reason == cond.reason {
            return;
        }
        if current.status == cond.status {
            cond.last_transition_time
                .clone_from(&current.last_transition_time);
        }
    }
    conditions.retain(|c| c.type_ != cond.type_);
    conditions.push(cond);
}

/// Whether the Deployment has a progress deadline (the API defaults it to 600 s).
#[must_use]
pub fn deadline(d: &Deployment) -> Option<i32> {
    d.spec.as_ref().and_then(|s| s.progress_deadline_seconds)
}

/// Counts from the ReplicaSets, conditions kept, Available recomputed.
#[must_use]
pub fn calculate(
    d: &Deployment,
    all: &[ReplicaSet],
    new: Option<&ReplicaSet>,
    now: Timestamp,
) -> DeploymentStatus {
    let sum = |f: &dyn Fn(&ReplicaSet) -> i32, sets: &mut dyn Iterator<Item = &ReplicaSet>| {
        sets.map(f).sum::<i32>()
    };
    let actual = |rs: &ReplicaSet| rs.status.as_ref().map_or(0, |s| s.replicas);
    let ready = |rs: &ReplicaSet| {
        rs.status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0)
    };
    let available = sum(&rolling::available, &mut all.iter());
    let total = sum(&rolling::spec_replicas, &mut all.iter());
    let old = d.status.as_ref();
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(sum(&actual, &mut all.iter())),
        updated_replicas: Some(sum(&actual, &mut new.into_iter())),
        ready_replicas: Some(sum(&ready, &mut all.iter())),
        available_replicas: Some(available),
        unavailable_replicas: Some((total - available).max(0)),
        collision_count: old.and_then(|s| s.collision_count),
        conditions: old.and_then(|s| s.conditions.clone()),
        terminating_replicas: None,
    };
    let replicas = revision::replicas_of(d);
    let cond = if available >= replicas - rolling::max_unavailable(d) {
        condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".into(),
            now,
        )
    } else {
        condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
            now,
        )
    };
    set(&mut status, cond);
    status
}

fn n(v: Option<i32>) -> i32 {
    v.unwrap_or(0)
}

/// Every replica updated and available, nothing old left (`DeploymentComplete`).
#[must_use]
pub fn complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let replicas = revision::replicas_of(d);
    n(s.updated_replicas) == replicas
        && n(s.replicas) == replicas
        && n(s.available_replicas) == replicas
        && s.observed_generation >= d.metadata.generation
}

/// Whether the rollout moved since the last status (`DeploymentProgressing`).
fn progressing(d: &Deployment, s: &DeploymentStatus) -> bool {
    let default = DeploymentStatus::default();
    let old = d.status.as_ref().unwrap_or(&default);
    let old_old = n(old.replicas) - n(old.updated_replicas);
    let new_old = n(s.replicas) - n(s.updated_replicas);
    n(s.updated_replicas) > n(old.updated_replicas)
        || new_old < old_old
        || n(s.ready_replicas) > n(old.ready_replicas)
        || n(s.available_replicas) > n(old.available_replicas)
}

/// Whether the rollout has not moved for longer than the deadline (`DeploymentTimedOut`).
#[must_use]
pub fn timed_out(d: &Deployment, s: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(secs) = deadline(d) else {
        return false;
    };
    let Some(cond) = get(Some(s), "Progressing") else {
        return false;
    };
    match cond.reason.as_deref() {
        Some(reason::NEW_RS_AVAILABLE) => false,
        Some(reason::TIMED_OUT) => true,
        _ => cond
            .last_update_time
            .as_ref()
            .and_then(|t| {
                t.0.checked_add(SignedDuration::from_secs(i64::from(secs)))
                    .ok()
            })
            .is_some_and(|at| at < now),
    }
}

/// The status after a rollout step, with Progressing updated, and when to look again if
/// the deadline may pass meanwhile.
#[must_use]
pub fn rollout(
    d: &Deployment,
    all: &[ReplicaSet],
    new: Option<&ReplicaSet>,
    now: Timestamp,
) -> (DeploymentStatus, Option<Duration>) {
    let mut s = calculate(d, all, new, now);
    if deadline(d).is_none() {
        if let Some(c) = s.conditions.as_mut() {
            c.retain(|c| c.type_ != "Progressing");
        }
        return (s, None);
    }
    let current = get(d.status.as_ref(), "Progressing").cloned();
    let already_complete = n(s.replicas) == n(s.updated_replicas)
        && current.as_ref().and_then(|c| c.reason.as_deref()) == Some(reason::NEW_RS_AVAILABLE);
    let what = new.map_or_else(
        || format!("Deployment {:?}", d.name_any()),
        |rs| format!("ReplicaSet {:?}", rs.name_any()),
    );
    if !already_complete {
        if complete(d, &s) {
            let msg = format!("{what} has successfully progressed.");
            set(
                &mut s,
                condition("Progressing", "True", reason::NEW_RS_AVAILABLE, msg, now),
            );
        } else if progressing(d, &s) {
            let mut cond = condition(
                "Progressing",
                "True",
                reason::RS_UPDATED,
                format!("{what} is progressing."),
                now,
            );
            if let Some(c) = current.as_ref().filter(|c| c.status == "True") {
                cond.last_transition_time
                    .clone_from(&c.last_transition_time);
            }
            if let Some(cs) = s.conditions.as_mut() {
                cs.retain(|c| c.type_ != "Progressing");
            }
            set(&mut s, cond);
        } else if timed_out(d, &s, now) {
            let msg = format!("{what} has timed out progressing.");
            set(
                &mut s,
                condition("Progressing", "False", reason::TIMED_OUT, msg, now),
            );
        }
    }
    (s.clone(), recheck(d, &s, now))
}

/// When to check the deadline again for a rollout still in progress.
fn recheck(d: &Deployment, s: &DeploymentStatus, now: Timestamp) -> Option<Duration> {
    let secs = deadline(d)?;
    let cond = get(Some(s), "Progressing")?;
    if complete(d, s)
        || matches!(
            cond.reason.as_deref(),
            Some(reason::NEW_RS_AVAILABLE | reason::TIMED_OUT)
        )
    {
        return None;
    }
    let at = cond
        .last_update_time
        .as_ref()?
        .0
        .checked_add(SignedDuration::from_secs(i64::from(secs)))
        .ok()?;
    let left = now.duration_until(at);
    Some(if left.is_positive() {
        left.unsigned_abs()
    } else {
        Duration::from_secs(1)
    })
}

/// The status as a merge patch: zero counts and absent fields removed, as Kubernetes
/// omits them.
#[must_use]
pub fn to_patch(s: &DeploymentStatus) -> Value {
    let zero = |v: Option<i32>| v.filter(|n| *n != 0);
    json!({
        "observedGeneration": s.observed_generation,
        "replicas": zero(s.replicas),
        "updatedReplicas": zero(s.updated_replicas),
        "readyReplicas": zero(s.ready_replicas),
        "availableReplicas": zero(s.available_replicas),
        "unavailableReplicas": zero(s.unavailable_replicas),
        "collisionCount": s.collision_count,
        "conditions": s.conditions,
    })
}

/// Whether two statuses say the same once zeros and absences are treated alike.
#[must_use]
pub fn same(a: Option<&DeploymentStatus>, b: &DeploymentStatus) -> bool {
    a.is_some_and(|a| to_patch(a) == to_patch(b))
}
