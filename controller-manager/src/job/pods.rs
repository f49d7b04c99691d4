//! A Job's pods: which are active, finished or being deleted, and new ones from the template.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;

use super::{COMPLETION_INDEX, CONTROLLER_UID_LABEL, JOB_NAME_LABEL, TRACKING_FINALIZER};

/// Where a pod stands, as far as its Job is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PodState {
    /// Pending or running, and not being deleted.
    Active,
    Succeeded,
    /// Failed, or deleted before finishing.
    Failed,
}

/// The pod's state for its Job.
pub(crate) fn state(pod: &Pod) -> PodState {
    match phase(pod) {
        "Succeeded" => PodState::Succeeded,
        "Failed" => PodState::Failed,
        _ if pod.metadata.deletion_timestamp.is_some() => PodState::Failed,
        _ => PodState::Active,
    }
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// Whether the pod still carries the tracking finalizer (it has not been counted yet).
pub(crate) fn has_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == TRACKING_FINALIZER)
}

pub(crate) use crate::common::pods::is_ready;

/// The pod's completion index, from its annotation (or label), when it is a valid number.
pub(crate) fn completion_index(pod: &Pod) -> Option<i32> {
    let from = |map: &Option<std::collections::BTreeMap<String, String>>| {
        map.as_ref()
            .and_then(|m| m.get(COMPLETION_INDEX))
            .and_then(|v| v.parse::<i32>().ok())
            .filter(|i| *i >= 0)
    };
    from(&pod.metadata.annotations).or_else(|| from(&pod.metadata.labels))
}

/// When the pod finished (its last container exit), else when it was last changed, else created.
pub(crate) fn finish_time(pod: &Pod) -> Option<Timestamp> {
    let status = pod.status.as_ref();
    let exits = status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max();
    exits
        .or_else(|| {
            status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .filter_map(|c| c.last_transition_time.as_ref().map(|t| t.0))
                .max()
        })
        .or_else(|| pod.metadata.deletion_timestamp.as_ref().map(|t| t.0))
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// Whether `pod` is controlled by the Job with uid `job_uid`.
pub(crate) fn owned_by(pod: &Pod, job_uid: &str) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && r.uid == job_uid)
}

/// A new pod for `job` from its template (`index` for Indexed Jobs).
pub(crate) fn build(job: &Job, index: Option<i32>) -> Pod {
    let name = job.metadata.name.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let template = job
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let mut meta = template.metadata.unwrap_or_default();
    let mut labels = meta.labels.take().unwrap_or_default();
    labels
        .entry(JOB_NAME_LABEL.to_owned())
        .or_insert_with(|| name.clone());
    labels
        .entry(CONTROLLER_UID_LABEL.to_owned())
        .or_insert_with(|| uid.clone());
    let mut annotations = meta.annotations.take().unwrap_or_default();
    let mut spec = template.spec.unwrap_or_default();
    let generate_name = match index {
        Some(index) => {
            labels.insert(COMPLETION_INDEX.to_owned(), index.to_string());
            annotations.insert(COMPLETION_INDEX.to_owned(), index.to_string());
            if spec.hostname.is_none() {
                spec.hostname = Some(format!("{name}-{index}"));
            }
            format!("{name}-{index}-")
        }
        None => format!("{name}-"),
    };
    let owner = OwnerReference {
        api_version: "batch/v1".to_owned(),
        kind: "Job".to_owned(),
        name: name.clone(),
        uid,
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let metadata = ObjectMeta {
        generate_name: Some(generate_name),
        namespace: job.metadata.namespace.clone(),
        labels: Some(labels),
        annotations: (!annotations.is_empty()).then_some(annotations),
        finalizers: Some(vec![TRACKING_FINALIZER.to_owned()]),
        owner_references: Some(vec![owner]),
        ..ObjectMeta::default()
    };
    Pod {
        metadata,
        spec: Some(spec),
        status: None,
    }
}
