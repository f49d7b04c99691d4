//! One reconcile pass of a Job: count finished pods, decide, create or delete pods, write status.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource};
use tracing::{info, warn};

use super::failure_policy::{self, Outcome};
use super::pods::{self, PodState};
use super::{indexes, Error, Shared, CONTROLLER_UID_LABEL, TRACKING_FINALIZER};

/// The `spec.managedBy` value meaning this controller (the default when unset).
const MANAGED_BY: &str = "kubernetes.io/job-controller";

/// Why a Job is ending, once decided (its FailureTarget or SuccessCriteriaMet condition).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Fail { reason: String, message: String },
    Succeed,
}

/// Reconciles one Job; the returned action says when to look again.
pub(crate) async fn sync_job(cached: &Job, shared: &Shared) -> Result<Action, Error> {
    let (Some(namespace), Some(name)) = (
        cached.metadata.namespace.as_deref(),
        cached.metadata.name.as_deref(),
    ) else {
        return Ok(Action::await_change());
    };
    let jobs: Api<Job> = Api::namespaced(shared.client.clone(), namespace);
    let Some(mut job) = jobs
        .get_opt(name)
        .await
        .map_err(Error::api(format!("read job {namespace}/{name}")))?
    else {
        return Ok(Action::await_change());
    };
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let pod_api: Api<Pod> = Api::namespaced(shared.client.clone(), namespace);
    let selector = ListParams::default().labels(&format!("{CONTROLLER_UID_LABEL}={uid}"));
    let mut pods: Vec<Pod> = pod_api
        .list(&selector)
        .await
        .map_err(Error::api(format!("list pods of job {namespace}/{name}")))?
        .items
        .into_iter()
        .filter(|p| pods::owned_by(p, &uid))
        .collect();

    let managed_by = job.spec.as_ref().and_then(|s| s.managed_by.as_deref());
    if managed_by.is_some_and(|m| m != MANAGED_BY) {
        // Another controller runs this Job.
        return Ok(Action::await_change());
    }
    let status = job.status.clone().unwrap_or_default();
    if job.metadata.deletion_timestamp.is_some() || is_finished(&status) {
        // Nothing more will be counted: let every pod go.
        for pod in pods.iter().filter(|p| pods::has_finalizer(p)) {
            remove_finalizer(&pod_api, pod).await?;
        }
        return Ok(Action::await_change());
    }

    count_finished(&jobs, &pod_api, &mut job, &mut pods).await?;
    let now = Timestamp::now();
    let mut status = job.status.clone().unwrap_or_default();
    let mut requeue: Option<Duration> = None;
    let spec = job.spec.clone().unwrap_or_default();
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let mut conditions = status.conditions.take().unwrap_or_default();
    let mut completed = indexes::parse(status.completed_indexes.as_deref().unwrap_or_default());
    let succeeded = status.succeeded.unwrap_or(0);
    let failed = status.failed.unwrap_or(0);
    let active: Vec<&Pod> = pods
        .iter()
        .filter(|p| pods::state(p) == PodState::Active)
        .collect();

    let verdict = existing_verdict(&conditions).or_else(|| {
        decide(
            &spec,
            &status,
            &completed,
            succeeded,
            failed,
            active.len(),
            now,
        )
    });
    let mut active_after = active.len();
    match verdict {
        Some(verdict) => {
            let (target, final_type, reason, message) = match &verdict {
                Verdict::Fail { reason, message } => {
                    ("FailureTarget", "Failed", reason.clone(), message.clone())
                }
                Verdict::Succeed => (
                    "SuccessCriteriaMet",
                    "Complete",
                    "CompletionsReached".to_owned(),
                    "Reached expected number of succeeded pods".to_owned(),
                ),
            };
            set_condition(&mut conditions, target, true, &reason, &message, now);
            for pod in &active {
                delete_pod(&pod_api, pod).await?;
            }
            active_after = 0;
            set_condition(&mut conditions, final_type, true, &reason, &message, now);
            match verdict {
                Verdict::Fail { reason, message } => {
                    info!(namespace, job = name, %reason, "job failed");
                    publish(shared, &job, EventType::Warning, &reason, &message).await;
                }
                Verdict::Succeed => {
                    status.completion_time = Some(Time(now));
                    info!(namespace, job = name, "job completed");
                    publish(
                        shared,
                        &job,
                        EventType::Normal,
                        "Completed",
                        "Job completed",
                    )
                    .await;
                }
            }
        }
        None if spec.suspend == Some(true) => {
            for pod in &active {
                delete_pod(&pod_api, pod).await?;
                publish_deleted(shared, &job, pod).await;
            }
            active_after = 0;
            if !condition_true(&conditions, "Suspended") {
                set_condition(
                    &mut conditions,
                    "Suspended",
                    true,
                    "JobSuspended",
                    "Job suspended",
                    now,
                );
                publish(
                    shared,
                    &job,
                    EventType::Normal,
                    "Suspended",
                    "Job suspended",
                )
                .await;
            }
        }
        None => {
            if condition_true(&conditions, "Suspended") {
                set_condition(
                    &mut conditions,
                    "Suspended",
                    false,
                    "JobResumed",
                    "Job resumed",
                    now,
                );
                publish(shared, &job, EventType::Normal, "Resumed", "Job resumed").await;
                status.start_time = Some(Time(now));
            }
            let start = status.start_time.get_or_insert(Time(now)).0;
            if let Some(deadline) = spec.active_deadline_seconds {
                let left = plus_seconds(start, deadline).duration_since(now);
                requeue = min_requeue(requeue, left);
            }
            let wait = backoff_wait(shared, &pods, failed, now);
            if let Some(wait) = wait {
                requeue = Some(requeue.map_or(wait, |c| c.min(wait)));
            }
            let plan = if indexed {
                plan_indexed(&spec, &active, &completed)
            } else {
                plan_non_indexed(&spec, &active, succeeded)
            };
            for pod in &plan.delete {
                delete_pod(&pod_api, pod).await?;
                publish_deleted(shared, &job, pod).await;
                active_after = active_after.saturating_sub(1);
            }
            if wait.is_none() {
                active_after += create_pods(shared, &job, &pod_api, plan.create).await?;
            }
        }
    }

    if indexed {
        completed.retain(|i| spec.completions.is_none_or(|c| *i < c));
        let list = indexes::format(&completed);
        status.completed_indexes = Some(list);
    }
    status.active = Some(i32::try_from(active_after).unwrap_or(i32::MAX));
    status.ready = Some(
        i32::try_from(active.iter().filter(|p| pods::is_ready(p)).count()).unwrap_or(i32::MAX),
    );
    status.succeeded = Some(succeeded);
    status.failed = Some(failed);
    status.conditions = (!conditions.is_empty()).then_some(conditions);
    if job.status.as_ref() != Some(&status) {
        job.status = Some(status);
        jobs.replace_status(name, &PostParams::default(), &job)
            .await
            .map_err(Error::api(format!(
                "update the status of job {namespace}/{name}"
            )))?;
    }
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// Creates a pod per entry of `indexes` (`None` for NonIndexed), recording each; returns how
/// many were created.
async fn create_pods(
    shared: &Shared,
    job: &Job,
    pod_api: &Api<Pod>,
    indexes: Vec<Option<i32>>,
) -> Result<usize, Error> {
    let namespace = job.metadata.namespace.as_deref().unwrap_or_default();
    let name = job.metadata.name.as_deref().unwrap_or_default();
    let mut created_count = 0;
    for index in indexes {
        let pod = pods::build(job, index);
        let created = match pod_api.create(&PostParams::default(), &pod).await {
            Ok(created) => created,
            Err(error) => {
                let note = format!("Error creating: {error}");
                publish(shared, job, EventType::Warning, "FailedCreate", &note).await;
                return Err(Error::api(format!(
                    "create a pod for job {namespace}/{name}"
                ))(error));
            }
        };
        let pod_name = created.metadata.name.clone().unwrap_or_default();
        info!(namespace, job = name, pod = %pod_name, "created pod");
        let note = format!("Created pod: {pod_name}");
        let kind = EventType::Normal;
        publish_about(shared, job, kind, "SuccessfulCreate", &note, Some(&created)).await;
        created_count += 1;
    }
    Ok(created_count)
}

/// Counts pods that finished but still carry the tracking finalizer: records them in
/// `uncountedTerminatedPods`, removes their finalizers, then moves them to the counters.
async fn count_finished(
    jobs: &Api<Job>,
    pod_api: &Api<Pod>,
    job: &mut Job,
    pods: &mut [Pod],
) -> Result<(), Error> {
    let name = job.metadata.name.clone().unwrap_or_default();
    let mut status = job.status.clone().unwrap_or_default();
    let mut uncounted = status.uncounted_terminated_pods.take().unwrap_or_default();
    let mut succeeded_uids = uncounted.succeeded.take().unwrap_or_default();
    let mut failed_uids = uncounted.failed.take().unwrap_or_default();
    let mut added = false;
    let mut ignored: Vec<String> = Vec::new();
    let mut fail_job: Option<String> = None;
    let policy = job
        .spec
        .as_ref()
        .and_then(|s| s.pod_failure_policy.as_ref());
    for pod in pods.iter().filter(|p| pods::has_finalizer(p)) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if succeeded_uids.contains(&uid) || failed_uids.contains(&uid) {
            continue;
        }
        match pods::state(pod) {
            PodState::Succeeded => succeeded_uids.push(uid),
            PodState::Failed => match failure_policy::judge(policy, pod) {
                Outcome::Count => failed_uids.push(uid),
                Outcome::Ignore => {
                    ignored.push(uid);
                    continue;
                }
                Outcome::FailJob(message) => {
                    failed_uids.push(uid);
                    fail_job.get_or_insert(message);
                }
            },
            PodState::Active => continue,
        }
        added = true;
    }
    if succeeded_uids.is_empty() && failed_uids.is_empty() && ignored.is_empty() {
        return Ok(());
    }
    if let Some(message) = fail_job {
        let mut conditions = status.conditions.take().unwrap_or_default();
        if existing_verdict(&conditions).is_none() {
            let now = Timestamp::now();
            set_condition(
                &mut conditions,
                "FailureTarget",
                true,
                "PodFailurePolicy",
                &message,
                now,
            );
        }
        status.conditions = Some(conditions);
    }
    if added {
        status.uncounted_terminated_pods = Some(UncountedTerminatedPods {
            succeeded: Some(succeeded_uids.clone()),
            failed: Some(failed_uids.clone()),
        });
        job.status = Some(status.clone());
        *job = write_status(jobs, &name, job).await?;
    }
    for pod in pods.iter_mut().filter(|p| pods::has_finalizer(p)) {
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        if succeeded_uids
            .iter()
            .chain(&failed_uids)
            .chain(&ignored)
            .any(|u| u == uid)
        {
            remove_finalizer(pod_api, pod).await?;
            if let Some(finalizers) = pod.metadata.finalizers.as_mut() {
                finalizers.retain(|f| f != TRACKING_FINALIZER);
            }
        }
    }
    let indexed = job.spec.as_ref().and_then(|s| s.completion_mode.as_deref()) == Some("Indexed");
    if indexed {
        let mut completed = indexes::parse(status.completed_indexes.as_deref().unwrap_or_default());
        for uid in &succeeded_uids {
            let pod = pods.iter().find(|p| p.metadata.uid.as_deref() == Some(uid));
            if let Some(index) = pod.and_then(pods::completion_index) {
                completed.insert(index);
            }
        }
        status.succeeded = Some(i32::try_from(completed.len()).unwrap_or(i32::MAX));
        status.completed_indexes = Some(indexes::format(&completed));
    } else {
        status.succeeded = Some(
            status
                .succeeded
                .unwrap_or(0)
                .saturating_add(len(&succeeded_uids)),
        );
    }
    status.failed = Some(status.failed.unwrap_or(0).saturating_add(len(&failed_uids)));
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods {
        succeeded: Some(Vec::new()),
        failed: Some(Vec::new()),
    });
    job.status = Some(status);
    *job = write_status(jobs, &name, job).await?;
    Ok(())
}

fn len(items: &[String]) -> i32 {
    i32::try_from(items.len()).unwrap_or(i32::MAX)
}

async fn write_status(jobs: &Api<Job>, name: &str, job: &Job) -> Result<Job, Error> {
    jobs.replace_status(name, &PostParams::default(), job)
        .await
        .map_err(Error::api(format!("update the status of job {name}")))
}

/// The verdict already written on the Job (a True FailureTarget or SuccessCriteriaMet).
fn existing_verdict(conditions: &[JobCondition]) -> Option<Verdict> {
    conditions
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "FailureTarget" => Some(Verdict::Fail {
                reason: c.reason.clone().unwrap_or_default(),
                message: c.message.clone().unwrap_or_default(),
            }),
            "SuccessCriteriaMet" => Some(Verdict::Succeed),
            _ => None,
        })
}

/// Whether the Job has failed or succeeded now, from its counters and deadline.
fn decide(
    spec: &k8s_openapi::api::batch::v1::JobSpec,
    status: &JobStatus,
    completed: &BTreeSet<i32>,
    succeeded: i32,
    failed: i32,
    active: usize,
    now: Timestamp,
) -> Option<Verdict> {
    if failed > spec.backoff_limit.unwrap_or(6) {
        return Some(Verdict::Fail {
            reason: "BackoffLimitExceeded".to_owned(),
            message: "Job has reached the specified backoff limit".to_owned(),
        });
    }
    let started = status.start_time.as_ref().map(|t| t.0);
    if let (Some(start), Some(deadline)) = (started, spec.active_deadline_seconds) {
        if spec.suspend != Some(true) && plus_seconds(start, deadline) <= now {
            return Some(Verdict::Fail {
                reason: "DeadlineExceeded".to_owned(),
                message: "Job was active longer than specified deadline".to_owned(),
            });
        }
    }
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let done = match spec.completions {
        Some(c) if indexed => (0..c).all(|i| completed.contains(&i)),
        Some(c) => succeeded >= c,
        None => succeeded >= 1 && active == 0,
    };
    done.then_some(Verdict::Succeed)
}

/// Pods to create (their indexes, `None` for NonIndexed) and pods to delete.
struct Plan<'a> {
    create: Vec<Option<i32>>,
    delete: Vec<&'a Pod>,
}

fn plan_non_indexed<'a>(
    spec: &k8s_openapi::api::batch::v1::JobSpec,
    active: &[&'a Pod],
    succeeded: i32,
) -> Plan<'a> {
    let parallelism = usize::try_from(spec.parallelism.unwrap_or(1)).unwrap_or(0);
    let want = match spec.completions {
        Some(c) => parallelism.min(usize::try_from(c.saturating_sub(succeeded)).unwrap_or(0)),
        None if succeeded > 0 => 0,
        None => parallelism,
    };
    let mut plan = Plan {
        create: Vec::new(),
        delete: Vec::new(),
    };
    if active.len() < want {
        plan.create = vec![None; want - active.len()];
    } else if active.len() > want {
        plan.delete = least_advanced(active, active.len() - want);
    }
    plan
}

fn plan_indexed<'a>(
    spec: &k8s_openapi::api::batch::v1::JobSpec,
    active: &[&'a Pod],
    completed: &BTreeSet<i32>,
) -> Plan<'a> {
    let parallelism = usize::try_from(spec.parallelism.unwrap_or(1)).unwrap_or(0);
    let completions = spec.completions.unwrap_or(0);
    let mut plan = Plan {
        create: Vec::new(),
        delete: Vec::new(),
    };
    // One active pod per index: extras, and pods of completed or out-of-range indexes, go.
    let mut by_index: BTreeMap<i32, Vec<&'a Pod>> = BTreeMap::new();
    for pod in active {
        match pods::completion_index(pod) {
            Some(i) if i < completions && !completed.contains(&i) => {
                by_index.entry(i).or_default().push(pod);
            }
            _ => plan.delete.push(pod),
        }
    }
    for pods in by_index.values() {
        if pods.len() > 1 {
            plan.delete.extend(least_advanced(pods, pods.len() - 1));
        }
    }
    let kept = active.len() - plan.delete.len();
    let room = parallelism.saturating_sub(kept);
    plan.create = (0..completions)
        .filter(|i| !completed.contains(i) && !by_index.contains_key(i))
        .take(room)
        .map(Some)
        .collect();
    plan
}

/// The `n` pods to delete first: not ready before ready, newer before older.
fn least_advanced<'a>(pods: &[&'a Pod], n: usize) -> Vec<&'a Pod> {
    let mut sorted: Vec<&'a Pod> = pods.to_vec();
    sorted.sort_by_key(|p| {
        (
            pods::is_ready(p),
            std::cmp::Reverse(p.metadata.creation_timestamp.as_ref().map(|t| t.0)),
        )
    });
    sorted.truncate(n);
    sorted
}

/// How long to wait before creating pods after failures: the back-off doubles per failure,
/// counted from the most recent pod failure. `None` when pods may be created now.
fn backoff_wait(shared: &Shared, pods: &[Pod], failed: i32, now: Timestamp) -> Option<Duration> {
    if failed <= 0 {
        return None;
    }
    let last_failure = pods
        .iter()
        .filter(|p| pods::state(p) == PodState::Failed)
        .filter_map(pods::finish_time)
        .max()?;
    let exponent = u32::try_from(failed - 1).unwrap_or(u32::MAX).min(16);
    let delay = shared
        .config
        .backoff_base
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(shared.config.backoff_max);
    let elapsed = now.duration_since(last_failure);
    let delay = SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX);
    (elapsed < delay).then(|| Duration::try_from(delay - elapsed).unwrap_or_default())
}

/// `t` plus `seconds`, saturating at the end of time.
pub(crate) fn plus_seconds(t: Timestamp, seconds: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(seconds))
        .unwrap_or(if seconds < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        })
}

fn min_requeue(current: Option<Duration>, left: SignedDuration) -> Option<Duration> {
    // A deadline already passed is handled on the next pass; look again soon.
    let left = Duration::try_from(left).unwrap_or(Duration::from_millis(100));
    Some(current.map_or(left, |c| c.min(left)))
}

fn is_finished(status: &JobStatus) -> bool {
    let conditions = status.conditions.as_deref().unwrap_or_default();
    condition_true(conditions, "Complete") || condition_true(conditions, "Failed")
}

fn condition_true(conditions: &[JobCondition], kind: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == kind && c.status == "True")
}

/// Sets a condition, keeping its transition time when its status does not change.
fn set_condition(
    conditions: &mut Vec<JobCondition>,
    kind: &str,
    value: bool,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let status = if value { "True" } else { "False" };
    let fresh = JobCondition {
        type_: kind.to_owned(),
        status: status.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    };
    match conditions.iter_mut().find(|c| c.type_ == kind) {
        Some(existing) if existing.status == status => {
            existing.reason = fresh.reason;
            existing.message = fresh.message;
        }
        Some(existing) => *existing = fresh,
        None => conditions.push(fresh),
    }
}

/// Removes the tracking finalizer from `pod` (a pod already gone is fine).
pub(crate) async fn remove_finalizer(pod_api: &Api<Pod>, pod: &Pod) -> Result<(), Error> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let remaining: Vec<&String> = pod
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter(|f| *f != TRACKING_FINALIZER)
        .collect();
    let patch = serde_json::json!({"metadata": {"finalizers": remaining}});
    match pod_api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(Error::api(format!("remove the finalizer of pod {name}"))(e)),
    }
}

/// Deletes a pod the controller no longer wants; it is not counted, so its finalizer goes first.
async fn delete_pod(pod_api: &Api<Pod>, pod: &Pod) -> Result<(), Error> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    remove_finalizer(pod_api, pod).await?;
    match pod_api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(Error::api(format!("delete pod {name}"))(e)),
    }
}

async fn publish_deleted(shared: &Shared, job: &Job, pod: &Pod) {
    let note = format!(
        "Deleted pod: {}",
        pod.metadata.name.as_deref().unwrap_or_default()
    );
    publish_about(
        shared,
        job,
        EventType::Normal,
        "SuccessfulDelete",
        &note,
        Some(pod),
    )
    .await;
}

/// Records an event on the Job; a failure to record is logged, never fatal.
async fn publish(shared: &Shared, job: &Job, type_: EventType, reason: &str, note: &str) {
    publish_about(shared, job, type_, reason, note, None).await;
}

/// Records an event on the Job about `related` (a pod), so each pod's event stands alone
/// rather than counting as a repeat of the previous one.
async fn publish_about(
    shared: &Shared,
    job: &Job,
    type_: EventType,
    reason: &str,
    note: &str,
    related: Option<&Pod>,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note.to_owned()),
        action: reason.to_owned(),
        secondary: related.map(|p| p.object_ref(&())),
    };
    if let Err(error) = shared.recorder.publish(&event, &job.object_ref(&())).await {
        warn!(%error, reason, "failed to record a job event");
    }
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
