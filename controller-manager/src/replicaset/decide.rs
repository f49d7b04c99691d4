//! The ReplicaSet controller's decisions, free of I/O: which pods to delete first and what
//! the status says.

use std::cmp::Ordering;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::common::pods;

/// Most pods created or deleted in one sync (Kubernetes' `burstReplicas`).
pub const BURST: usize = 500;

fn phase_rank(pod: &Pod) -> u8 {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => 0,
        Some("Running") => 2,
        _ => 1,
    }
}

fn deletion_cost(pod: &Pod) -> i64 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0)
}

/// Orders pods so that the ones to delete first come first: unscheduled before scheduled,
/// pending before unknown before running, not ready before ready, lower deletion cost,
/// ready for less time, more restarts, then newer before older (Kubernetes' `ActivePods`).
#[must_use]
pub fn deletion_order(a: &Pod, b: &Pod) -> Ordering {
    let scheduled = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let since = |p: &Pod| pods::ready_since(p).flatten();
    scheduled(a)
        .cmp(&scheduled(b))
        .then_with(|| phase_rank(a).cmp(&phase_rank(b)))
        .then_with(|| pods::is_ready(a).cmp(&pods::is_ready(b)))
        .then_with(|| deletion_cost(a).cmp(&deletion_cost(b)))
        // Ready more recently (later timestamp) goes first.
        .then_with(|| since(b).cmp(&since(a)))
        .then_with(|| restarts(b).cmp(&restarts(a)))
        .then_with(|| created(b).cmp(&created(a)))
}

/// The `count` pods to delete, best candidates first.
#[must_use]
pub fn pods_to_delete(mut active: Vec<Arc<Pod>>, count: usize) -> Vec<Arc<Pod>> {
    active.sort_by(|a, b| deletion_order(a, b));
    active.truncate(count);
    active
}

/// The status the ReplicaSet should report for these active pods, keeping conditions
/// (with `failure` set or cleared) and their transition times.
#[must_use]
pub fn status(
    rs: &ReplicaSet,
    active: &[Arc<Pod>],
    failure: Option<(String, String)>,
    now: Timestamp,
) -> ReplicaSetStatus {
    let min_ready = rs
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let template_labels = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let count = |f: &dyn Fn(&Pod) -> bool| {
        i32::try_from(active.iter().filter(|p| f(p)).count()).unwrap_or(i32::MAX)
    };
    let fully_labeled = count(&|p| {
        let labels = p.metadata.labels.as_ref();
        template_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
    });
    let nonzero = |n: i32| (n != 0).then_some(n);
    let old = rs.status.as_ref();
    let mut conditions: Vec<ReplicaSetCondition> = old
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != "ReplicaFailure")
        .collect();
    if let Some((reason, message)) = failure {
        let previous = old
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "ReplicaFailure"));
        let kept = previous.filter(|c| c.status == "True" && c.reason.as_deref() == Some(&reason));
        conditions.push(ReplicaSetCondition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: Some(reason),
            message: Some(message),
            last_transition_time: kept
                .and_then(|c| c.last_transition_time.clone())
                .or(Some(Time(now))),
        });
    }
    ReplicaSetStatus {
        replicas: count(&|_| true),
        fully_labeled_replicas: nonzero(fully_labeled),
        ready_replicas: nonzero(count(&pods::is_ready)),
        available_replicas: nonzero(count(&|p| pods::is_available(p, min_ready, now))),
        observed_generation: rs.metadata.generation,
        conditions: (!conditions.is_empty()).then_some(conditions),
        terminating_replicas: old.and_then(|s| s.terminating_replicas),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(name: &str, created: i64, node: Option<&str>, phase: &str, ready: bool) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(Time(
                    Timestamp::from_second(created).expect("valid time"),
                )),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                node_name: node.map(Into::into),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..PodCondition::default()
                }]),
                ..PodStatus::default()
            }),
        })
    }

    #[test]
    fn unscheduled_pending_unready_and_newer_go_first() {
        let pods = vec![
            pod("old-ready", 1, Some("n"), "Running", true),
            pod("new-ready", 5, Some("n"), "Running", true),
            pod("unready", 2, Some("n"), "Running", false),
            pod("pending", 3, Some("n"), "Pending", false),
            pod("unscheduled", 0, None, "Pending", false),
        ];
        let names: Vec<_> = pods_to_delete(pods, 5)
            .iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            [
                "unscheduled",
                "pending",
                "unready",
                "new-ready",
                "old-ready"
            ]
        );
    }
}
