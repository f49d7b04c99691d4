//! The CronJob decisions at fake times.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use serde_json::json;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn cronjob(spec: serde_json::Value, status: serde_json::Value) -> CronJob {
    let mut full = json!({
        "schedule": "*/1 * * * *",
        "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}}},
    });
    if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
        full.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "cj", "namespace": "default", "uid": "cj-uid",
                     "creationTimestamp": "2026-01-01T10:00:00Z"},
        "spec": full,
        "status": status,
    }))
    .unwrap()
}

/// A Job of the CronJob: running (`None`), succeeded or failed, started at `start`.
fn job(name: &str, outcome: Option<bool>, start: &str) -> Job {
    let conditions = match outcome {
        None => json!([]),
        Some(true) => json!([{"type": "Complete", "status": "True"}]),
        Some(false) => json!([{"type": "Failed", "status": "True"}]),
    };
    let completion = outcome.filter(|ok| *ok).map(|_| start);
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "default", "uid": format!("{name}-uid")},
        "status": {"startTime": start, "completionTime": completion, "conditions": conditions},
    }))
    .unwrap()
}

fn active(names: &[&str]) -> serde_json::Value {
    let refs: Vec<_> = names
        .iter()
        .map(
            |n| json!({"kind": "Job", "apiVersion": "batch/v1", "name": n, "namespace": "default"}),
        )
        .collect();
    json!(refs)
}

#[test]
fn nothing_before_the_first_time() {
    let d = decide(
        &cronjob(json!({}), json!({})),
        &[],
        ts("2026-01-01T10:00:30Z"),
    );
    assert_eq!(d.start, None);
    assert_eq!(d.next, Some(ts("2026-01-01T10:01:00Z")));
}

#[test]
fn starts_at_the_scheduled_minute() {
    let d = decide(
        &cronjob(json!({}), json!({})),
        &[],
        ts("2026-01-01T10:01:00Z"),
    );
    assert_eq!(d.start, Some(ts("2026-01-01T10:01:00Z")));
    assert_eq!(job_name("cj", ts("2026-01-01T10:01:00Z")), "cj-29454361");
    assert_eq!(
        d.status.last_schedule_time,
        Some(Time(ts("2026-01-01T10:01:00Z")))
    );
    assert_eq!(d.next, Some(ts("2026-01-01T10:02:00Z")));
    // Once that Job exists, nothing more until the next minute.
    let started = job("cj-29454361", None, "2026-01-01T10:01:00Z");
    let status = json!({"lastScheduleTime": "2026-01-01T10:01:00Z"});
    let d = decide(
        &cronjob(json!({}), status),
        &[started],
        ts("2026-01-01T10:01:30Z"),
    );
    assert_eq!(d.start, None);
    assert_eq!(
        d.status.active.unwrap()[0].name.as_deref(),
        Some("cj-29454361")
    );
}

#[test]
fn suspended_starts_nothing() {
    let d = decide(
        &cronjob(json!({"suspend": true}), json!({})),
        &[],
        ts("2026-01-01T11:00:00Z"),
    );
    assert_eq!(d.start, None);
    assert_eq!(d.next, None);
}

#[test]
fn forbid_skips_while_one_runs() {
    let running = job("cj-29454361", None, "2026-01-01T10:01:00Z");
    let status =
        json!({"lastScheduleTime": "2026-01-01T10:01:00Z", "active": active(&["cj-29454361"])});
    let cj = cronjob(json!({"concurrencyPolicy": "Forbid"}), status);
    let d = decide(
        &cj,
        std::slice::from_ref(&running),
        ts("2026-01-01T10:02:00Z"),
    );
    assert_eq!(d.start, None);
    assert_eq!(d.notes[0].reason, "JobAlreadyActive");
    // Allow starts another beside it.
    let cj = cronjob(
        json!({}),
        json!({"lastScheduleTime": "2026-01-01T10:01:00Z"}),
    );
    let d = decide(&cj, &[running], ts("2026-01-01T10:02:00Z"));
    assert_eq!(d.start, Some(ts("2026-01-01T10:02:00Z")));
}

#[test]
fn replace_deletes_the_running_job() {
    let running = job("cj-29454361", None, "2026-01-01T10:01:00Z");
    let status =
        json!({"lastScheduleTime": "2026-01-01T10:01:00Z", "active": active(&["cj-29454361"])});
    let cj = cronjob(json!({"concurrencyPolicy": "Replace"}), status);
    let d = decide(&cj, &[running], ts("2026-01-01T10:02:00Z"));
    assert_eq!(d.delete, vec!["cj-29454361".to_owned()]);
    assert_eq!(d.start, Some(ts("2026-01-01T10:02:00Z")));
    assert_eq!(d.status.active, None);
}

#[test]
fn finished_jobs_leave_active_and_history_is_trimmed() {
    let jobs = vec![
        job("cj-1", Some(true), "2026-01-01T10:01:00Z"),
        job("cj-2", Some(true), "2026-01-01T10:02:00Z"),
        job("cj-3", Some(false), "2026-01-01T10:03:00Z"),
        job("cj-4", Some(false), "2026-01-01T10:04:00Z"),
    ];
    let status = json!({"lastScheduleTime": "2026-01-01T10:04:00Z", "active": active(&["cj-4"])});
    let cj = cronjob(
        json!({"successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 1}),
        status,
    );
    let d = decide(&cj, &jobs, ts("2026-01-01T10:04:30Z"));
    assert_eq!(d.delete, vec!["cj-1".to_owned(), "cj-3".to_owned()]);
    assert_eq!(d.notes[0].reason, "SawCompletedJob");
    assert_eq!(
        d.notes[0].message,
        "Saw completed job: cj-4, condition: Failed"
    );
    assert_eq!(d.status.active, None);
    assert_eq!(
        d.status.last_successful_time,
        Some(Time(ts("2026-01-01T10:02:00Z")))
    );
}

#[test]
fn missed_starts() {
    // Down for three hours with no deadline: one Job for the latest time, and a warning.
    let cj = cronjob(
        json!({}),
        json!({"lastScheduleTime": "2026-01-01T10:00:00Z"}),
    );
    let d = decide(&cj, &[], ts("2026-01-01T13:00:10Z"));
    assert_eq!(d.start, Some(ts("2026-01-01T13:00:00Z")));
    assert_eq!(d.notes[0].reason, "TooManyMissedTimes");
    // Down for a year: still the latest time, found without walking every minute.
    let cj = cronjob(
        json!({}),
        json!({"lastScheduleTime": "2025-01-01T10:00:00Z"}),
    );
    let d = decide(&cj, &[], ts("2026-01-01T13:00:10Z"));
    assert_eq!(d.start, Some(ts("2026-01-01T13:00:00Z")));
    let cj = cronjob(
        json!({"schedule": "0 0 1 1 *"}),
        json!({"lastScheduleTime": "1990-01-01T00:00:00Z"}),
    );
    let d = decide(&cj, &[], ts("2026-03-01T13:00:10Z"));
    // 36 missed yearly starts: under the warning's threshold, and the latest one runs.
    assert_eq!(d.start, Some(ts("2026-01-01T00:00:00Z")));
    assert!(d.notes.is_empty());
    // With a deadline, only the times within it count.
    let cj = cronjob(
        json!({"startingDeadlineSeconds": 200}),
        json!({"lastScheduleTime": "2026-01-01T10:00:00Z"}),
    );
    let d = decide(&cj, &[], ts("2026-01-01T13:00:10Z"));
    assert_eq!(d.start, Some(ts("2026-01-01T13:00:00Z")));
    assert!(d.notes.is_empty());
    // An hourly job whose deadline passed is skipped.
    let cj = cronjob(
        json!({"schedule": "0 * * * *", "startingDeadlineSeconds": 10}),
        json!({"lastScheduleTime": "2026-01-01T12:00:00Z"}),
    );
    let d = decide(&cj, &[], ts("2026-01-01T13:00:30Z"));
    assert_eq!(d.start, None);
    assert_eq!(d.next, Some(ts("2026-01-01T14:00:00Z")));
}

#[test]
fn time_zones_and_bad_schedules() {
    let cj = cronjob(
        json!({"schedule": "0 9 * * *", "timeZone": "Asia/Tokyo"}),
        json!({}),
    );
    let d = decide(&cj, &[], ts("2026-01-01T10:00:00Z"));
    assert_eq!(d.next, Some(ts("2026-01-02T00:00:00Z")));
    let cj = cronjob(json!({"timeZone": "Nowhere/Nope"}), json!({}));
    let d = decide(&cj, &[], ts("2026-01-01T10:05:00Z"));
    assert_eq!((d.start, d.notes[0].reason), (None, "UnknownTimeZone"));
    let cj = cronjob(json!({"schedule": "61 * * * *"}), json!({}));
    let d = decide(&cj, &[], ts("2026-01-01T10:05:00Z"));
    assert_eq!((d.start, d.notes[0].reason), (None, "UnparseableSchedule"));
}
