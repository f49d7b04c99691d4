//! The CronJob controller: starts Jobs on a cron schedule, as kube-controller-manager's.
//!
//! Layout: [`schedule`] parses schedules and finds their next times, [`clock`] is the time
//! source (fake in tests), [`decide`] is the pure decision for one CronJob at one time, and
//! this module applies decisions through the API.

pub mod clock;
pub mod decide;
pub mod schedule;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Api, Resource};
use tracing::{debug, info, warn};

pub use clock::{Clock, FakeClock, SystemClock};
use decide::Decision;

use crate::Context;

/// Annotation on a started Job: the time it was scheduled for, in the CronJob's time zone.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// Why a pass failed (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to {action}: {source}")]
    Api {
        action: String,
        #[source]
        source: kube::Error,
    },
}

fn api_error(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let action = action.into();
    move |source| Error::Api { action, source }
}

struct Shared {
    client: kube::Client,
    recorder: Recorder,
    clock: Arc<dyn Clock>,
}

/// Starts the CronJob controller on the system clock.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    run(ctx, Arc::new(SystemClock)).boxed()
}

/// Runs the CronJob controller on `clock` until `ctx.stop` is cancelled.
pub async fn run(ctx: Context, clock: Arc<dyn Clock>) {
    let cronjobs: Api<CronJob> = Api::all(ctx.client.clone());
    let jobs: Api<Job> = Api::all(ctx.client.clone());
    let reporter = Reporter {
        controller: "cronjob-controller".to_owned(),
        instance: None,
    };
    let jumps = clock.jumps();
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        recorder: Recorder::new(ctx.client.clone(), reporter),
        clock,
    });
    let stop = ctx.stop.clone();
    Controller::new(cronjobs, watcher::Config::default())
        .owns(jobs, watcher::Config::default())
        .reconcile_all_on(jumps)
        .graceful_shutdown_on(async move { stop.cancelled().await })
        .run(reconcile, error_policy, shared)
        .for_each(|result| async move {
            if let Err(error) = result {
                debug!(%error, "cronjob controller event");
            }
        })
        .await;
}

async fn reconcile(cached: Arc<CronJob>, shared: Arc<Shared>) -> Result<Action, Error> {
    let (Some(namespace), Some(name)) = (
        cached.metadata.namespace.as_deref(),
        cached.metadata.name.as_deref(),
    ) else {
        return Ok(Action::await_change());
    };
    let cronjobs: Api<CronJob> = Api::namespaced(shared.client.clone(), namespace);
    let Some(cronjob) = cronjobs
        .get_opt(name)
        .await
        .map_err(api_error(format!("read cronjob {namespace}/{name}")))?
    else {
        return Ok(Action::await_change());
    };
    let uid = cronjob.metadata.uid.clone().unwrap_or_default();
    let job_api: Api<Job> = Api::namespaced(shared.client.clone(), namespace);
    let jobs: Vec<Job> = job_api
        .list(&ListParams::default())
        .await
        .map_err(api_error(format!(
            "list jobs of cronjob {namespace}/{name}"
        )))?
        .items
        .into_iter()
        .filter(|j| {
            j.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.controller == Some(true) && r.uid == uid)
        })
        .collect();
    let now = shared.clock.now();
    let mut decision = decide::decide(&cronjob, &jobs, now);
    apply(&shared, &cronjob, &job_api, &mut decision).await?;

    if cronjob.status.as_ref() != Some(&decision.status) {
        let mut updated = cronjob.clone();
        updated.status = Some(decision.status.clone());
        cronjobs
            .replace_status(name, &PostParams::default(), &updated)
            .await
            .map_err(api_error(format!(
                "update the status of cronjob {namespace}/{name}"
            )))?;
    }
    Ok(match decision.next {
        Some(next) => {
            let wait = Duration::try_from(next.duration_since(now)).unwrap_or_default();
            // A little after the minute turns, so the time has certainly come.
            Action::requeue(wait + Duration::from_millis(100))
        }
        None => Action::await_change(),
    })
}

/// Deletes, creates and records what the decision says; the created Job joins `active`.
async fn apply(
    shared: &Shared,
    cronjob: &CronJob,
    job_api: &Api<Job>,
    decision: &mut Decision,
) -> Result<(), Error> {
    let name = cronjob.metadata.name.clone().unwrap_or_default();
    for job in &decision.delete {
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        match job_api.delete(job, &params).await {
            Ok(_) => info!(cronjob = %name, job = %job, "deleted job"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(api_error(format!("delete job {job}"))(e)),
        }
    }
    for note in &decision.notes {
        let kind = if note.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        let related = note.job.as_ref().map(|job| ObjectReference {
            api_version: Some("batch/v1".to_owned()),
            kind: Some("Job".to_owned()),
            name: Some(job.clone()),
            namespace: cronjob.metadata.namespace.clone(),
            ..ObjectReference::default()
        });
        publish(shared, cronjob, kind, note.reason, &note.message, related).await;
    }
    let Some(scheduled) = decision.start else {
        return Ok(());
    };
    let job = build_job(cronjob, scheduled);
    let job_name = job.metadata.name.clone().unwrap_or_default();
    let created = match job_api.create(&PostParams::default(), &job).await {
        Ok(created) => {
            info!(cronjob = %name, job = %job_name, "created job");
            let note = format!("Created job {job_name}");
            let related = Some(created.object_ref(&()));
            publish(
                shared,
                cronjob,
                EventType::Normal,
                "SuccessfulCreate",
                &note,
                related,
            )
            .await;
            created
        }
        Err(kube::Error::Api(e)) if e.code == 409 => job_api
            .get(&job_name)
            .await
            .map_err(api_error(format!("read job {job_name}")))?,
        Err(e) => {
            let note = format!("Error creating job: {e}");
            publish(
                shared,
                cronjob,
                EventType::Warning,
                "FailedCreate",
                &note,
                None,
            )
            .await;
            return Err(api_error(format!("create job {job_name}"))(e));
        }
    };
    let active = decision.status.active.get_or_insert_with(Vec::new);
    if !active.iter().any(|r| r.name == created.metadata.name) {
        active.push(decide::reference(&created));
    }
    Ok(())
}

/// The Job for `scheduled`, from the CronJob's template.
fn build_job(cronjob: &CronJob, scheduled: jiff::Timestamp) -> Job {
    let name = cronjob.metadata.name.clone().unwrap_or_default();
    let spec = cronjob.spec.clone().unwrap_or_default();
    let template = spec.job_template;
    let template_meta = template.metadata.unwrap_or_default();
    let zone = spec
        .time_zone
        .clone()
        .or_else(|| zone_from_schedule(&spec.schedule))
        .unwrap_or_else(|| "UTC".to_owned());
    // RFC 3339 in the CronJob's zone, `Z` when the offset is zero (as Go writes it).
    let stamp = match schedule::time_zone(&zone) {
        Ok(tz) => {
            let zoned = scheduled.to_zoned(tz);
            if zoned.offset().seconds() == 0 {
                scheduled.to_string()
            } else {
                zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
            }
        }
        Err(_) => scheduled.to_string(),
    };
    let mut annotations = template_meta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.to_owned(), stamp);
    let owner = OwnerReference {
        api_version: "batch/v1".to_owned(),
        kind: "CronJob".to_owned(),
        name: name.clone(),
        uid: cronjob.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    Job {
        metadata: ObjectMeta {
            name: Some(decide::job_name(&name, scheduled)),
            namespace: cronjob.metadata.namespace.clone(),
            labels: template_meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    }
}

fn zone_from_schedule(text: &str) -> Option<String> {
    schedule::Schedule::parse(text)
        .ok()?
        .zone()
        .map(str::to_owned)
}

/// Records an event on the CronJob (about `related`, a Job, so that each Job's event stands
/// alone); a failure to record is logged, never fatal.
async fn publish(
    shared: &Shared,
    cronjob: &CronJob,
    type_: EventType,
    reason: &str,
    note: &str,
    related: Option<ObjectReference>,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note.to_owned()),
        action: reason.to_owned(),
        secondary: related,
    };
    if let Err(error) = shared
        .recorder
        .publish(&event, &cronjob.object_ref(&()))
        .await
    {
        warn!(%error, reason, "failed to record a cronjob event");
    }
}

fn error_policy(cronjob: Arc<CronJob>, error: &Error, _shared: Arc<Shared>) -> Action {
    warn!(
        namespace = cronjob.metadata.namespace.as_deref().unwrap_or_default(),
        cronjob = cronjob.metadata.name.as_deref().unwrap_or_default(),
        %error,
        "cronjob reconcile failed, retrying"
    );
    Action::requeue(Duration::from_secs(1))
}
