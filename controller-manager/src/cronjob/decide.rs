//! What a CronJob needs at a given time, decided without I/O: the Job to start (if any),
//! the Jobs to delete, the events to record and the status to write.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::schedule::{self, Schedule};

/// More missed start times than this are reported as clock skew or a too long deadline.
const MANY_MISSED: usize = 100;

/// An event to record on the CronJob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
    /// The Job the event is about, if any.
    pub job: Option<String>,
}

/// What to do for one CronJob now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    /// Start a Job for this scheduled time (named by [`job_name`]).
    pub start: Option<Timestamp>,
    /// Jobs to delete (Background propagation): replaced ones and history beyond the limits.
    pub delete: Vec<String>,
    pub notes: Vec<Note>,
    /// The status to write (the started Job is added to `active` once created).
    pub status: CronJobStatus,
    /// When to look again (the next scheduled time), if ever.
    pub next: Option<Timestamp>,
}

/// The name of the Job started for `scheduled`: `<cronjob>-<minutes since the epoch>`.
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}

/// Whether a Job finished, and whether it succeeded.
pub fn finished(job: &Job) -> Option<bool> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some(true),
            "Failed" => Some(false),
            _ => None,
        })
}

/// Decides for `cronjob`, given the Jobs it controls, at `now`.
pub fn decide(cronjob: &CronJob, jobs: &[Job], now: Timestamp) -> Decision {
    let mut d = Decision {
        status: cronjob.status.clone().unwrap_or_default(),
        ..Decision::default()
    };
    track_jobs(&mut d, jobs);
    if cronjob.metadata.deletion_timestamp.is_some() {
        return d;
    }
    let spec = cronjob.spec.clone().unwrap_or_default();
    clean_history(&mut d, jobs, &spec);
    let parsed = Schedule::parse(&spec.schedule);
    let schedule = match parsed {
        Ok(schedule) => schedule,
        Err(error) => {
            d.notes.push(warning(
                "UnparseableSchedule",
                format!("unparseable schedule: {:?} : {error}", spec.schedule),
            ));
            return d;
        }
    };
    let zone_name = spec
        .time_zone
        .as_deref()
        .or(schedule.zone())
        .unwrap_or("UTC");
    let tz = match schedule::time_zone(zone_name) {
        Ok(tz) => tz,
        Err(error) => {
            d.notes.push(warning("UnknownTimeZone", error.to_string()));
            return d;
        }
    };
    if spec.suspend == Some(true) {
        return d;
    }
    d.next = schedule.next_after(now, &tz);

    // The most recent start time not yet acted on, counting how many were missed.
    let created = cronjob
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(now, |t| t.0);
    let mut earliest = d
        .status
        .last_schedule_time
        .as_ref()
        .map_or(created, |t| t.0);
    if let Some(deadline) = spec.starting_deadline_seconds {
        let window_start = plus_seconds(now, deadline.saturating_neg());
        earliest = earliest.max(window_start);
    }
    let (latest, missed) = walk(&schedule, &tz, earliest, now, MANY_MISSED);
    let latest = if missed > MANY_MISSED {
        let count = format!("more than {MANY_MISSED}");
        d.notes.push(warning(
            "TooManyMissedTimes",
            format!("too many missed start times: {count}. Set or decrease .spec.startingDeadlineSeconds or check clock skew"),
        ));
        latest_before(&schedule, &tz, earliest, now)
    } else {
        latest
    };
    let Some(scheduled) = latest else {
        return d;
    };
    if let Some(deadline) = spec.starting_deadline_seconds {
        if plus_seconds(scheduled, deadline) < now {
            d.notes.push(warning(
                "MissSchedule",
                format!("Missed scheduled time to start a job: {scheduled}"),
            ));
            return d;
        }
    }
    let name = job_name(
        cronjob.metadata.name.as_deref().unwrap_or_default(),
        scheduled,
    );
    if jobs
        .iter()
        .any(|j| j.metadata.name.as_deref() == Some(name.as_str()))
    {
        return d;
    }
    let active: Vec<String> = d
        .status
        .active
        .iter()
        .flatten()
        .filter_map(|r| r.name.clone())
        .collect();
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if !active.is_empty() => {
            d.notes.push(normal(
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid".to_owned(),
            ));
            return d;
        }
        Some("Replace") => {
            for job in active {
                d.notes.push(about(
                    &job,
                    normal("SuccessfulDelete", format!("Deleted job {job}")),
                ));
                d.delete.push(job);
            }
            d.status.active = None;
        }
        _ => {}
    }
    d.start = Some(scheduled);
    d.status.last_schedule_time = Some(Time(scheduled));
    d
}

/// Walks the start times in `(from, now]`, stopping after `cap + 1` of them: the last one
/// reached and how many were counted.
fn walk(
    schedule: &Schedule,
    tz: &TimeZone,
    from: Timestamp,
    now: Timestamp,
    cap: usize,
) -> (Option<Timestamp>, usize) {
    let mut latest = None;
    let mut count = 0usize;
    let mut t = from;
    while let Some(next) = schedule.next_after(t, tz).filter(|n| *n <= now) {
        latest = Some(next);
        count += 1;
        t = next;
        if count > cap {
            break;
        }
    }
    (latest, count)
}

/// The most recent start time in `(from, now]` when there are too many to walk from `from`:
/// searched in growing windows that end at `now`.
fn latest_before(
    schedule: &Schedule,
    tz: &TimeZone,
    from: Timestamp,
    now: Timestamp,
) -> Option<Timestamp> {
    const HOUR: i64 = 3600;
    for window in [
        HOUR,
        24 * HOUR,
        32 * 24 * HOUR,
        367 * 24 * HOUR,
        6 * 367 * 24 * HOUR,
    ] {
        let start = from.max(plus_seconds(now, -window));
        let (latest, count) = walk(schedule, tz, start, now, 10_000);
        if count <= 10_000 && latest.is_some() {
            return latest;
        }
    }
    None
}

/// Brings `status.active` in line with the Jobs: finished ones leave it (a successful one
/// moves `lastSuccessfulTime`), running ones not listed join it.
fn track_jobs(d: &mut Decision, jobs: &[Job]) {
    let mut active = d.status.active.take().unwrap_or_default();
    let mut seen = Vec::new();
    active.retain(|r| {
        let job = jobs.iter().find(|j| j.metadata.name == r.name);
        let outcome = job.and_then(finished);
        if let (Some(name), Some(ok)) = (&r.name, outcome) {
            let condition = if ok { "Complete" } else { "Failed" };
            let message = format!("Saw completed job: {name}, condition: {condition}");
            seen.push(about(name, normal("SawCompletedJob", message)));
        }
        job.is_some() && outcome.is_none()
    });
    d.notes.extend(seen);
    for job in jobs {
        match finished(job) {
            None => {
                if !active.iter().any(|r| r.name == job.metadata.name) {
                    active.push(reference(job));
                }
            }
            Some(true) => {
                let done = job.status.as_ref().and_then(|s| s.completion_time.clone());
                if let Some(done) = done {
                    let last = d.status.last_successful_time.as_ref().map(|t| t.0);
                    if last.is_none_or(|last| last < done.0) {
                        d.status.last_successful_time = Some(done);
                    }
                }
            }
            Some(false) => {}
        }
    }
    d.status.active = (!active.is_empty()).then_some(active);
}

/// Deletes the oldest finished Jobs beyond the history limits.
fn clean_history(d: &mut Decision, jobs: &[Job], spec: &k8s_openapi::api::batch::v1::CronJobSpec) {
    for (succeeded, limit) in [
        (true, spec.successful_jobs_history_limit.unwrap_or(3)),
        (false, spec.failed_jobs_history_limit.unwrap_or(1)),
    ] {
        let mut done: Vec<&Job> = jobs
            .iter()
            .filter(|j| j.metadata.deletion_timestamp.is_none() && finished(j) == Some(succeeded))
            .collect();
        let limit = usize::try_from(limit).unwrap_or(0);
        if done.len() <= limit {
            continue;
        }
        done.sort_by_key(|j| {
            let started = j
                .status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .map(|t| t.0);
            (
                started.or(j.metadata.creation_timestamp.as_ref().map(|t| t.0)),
                j.metadata.name.clone(),
            )
        });
        let excess = done.len() - limit;
        for job in done.into_iter().take(excess) {
            let name = job.metadata.name.clone().unwrap_or_default();
            d.notes.push(about(
                &name,
                normal("SuccessfulDelete", format!("Deleted job {name}")),
            ));
            d.delete.push(name);
        }
    }
}

/// A reference to `job` as `status.active` lists it.
pub fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".to_owned()),
        kind: Some("Job".to_owned()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..ObjectReference::default()
    }
}

/// `t` plus `seconds`, saturating at the ends of time.
fn plus_seconds(t: Timestamp, seconds: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(seconds))
        .unwrap_or(if seconds < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        })
}

fn warning(reason: &'static str, message: String) -> Note {
    Note {
        warning: true,
        reason,
        message,
        job: None,
    }
}

fn normal(reason: &'static str, message: String) -> Note {
    Note {
        warning: false,
        reason,
        message,
        job: None,
    }
}

fn about(job: &str, note: Note) -> Note {
    Note {
        job: Some(job.to_owned()),
        ..note
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
