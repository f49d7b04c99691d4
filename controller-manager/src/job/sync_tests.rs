//! The Job decisions: when a Job succeeds or fails, and which pods to create or delete.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use k8s_openapi::api::batch::v1::JobSpec;
use serde_json::json;

use super::*;

fn spec(value: serde_json::Value) -> JobSpec {
    let mut full = json!({"template": {}});
    if let (Some(full), Some(extra)) = (full.as_object_mut(), value.as_object()) {
        full.extend(extra.clone());
    }
    serde_json::from_value(full).unwrap()
}

fn pod(name: &str, index: Option<i32>, ready: bool, created: &str) -> Pod {
    let annotations =
        index.map(|i| json!({"batch.kubernetes.io/job-completion-index": i.to_string()}));
    serde_json::from_value(json!({
        "metadata": {"name": name, "creationTimestamp": created, "annotations": annotations},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]},
    }))
    .unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn names(pods: &[&Pod]) -> Vec<String> {
    pods.iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect()
}

#[test]
fn success_and_failure() {
    let none = BTreeSet::new();
    let status = JobStatus::default();
    let now = ts("2026-01-01T00:00:00Z");
    let s = spec(json!({"completions": 3}));
    assert_eq!(decide(&s, &status, &none, 2, 0, 1, now), None);
    assert_eq!(
        decide(&s, &status, &none, 3, 0, 0, now),
        Some(Verdict::Succeed)
    );
    // Without completions, the first success ends the Job once nothing else runs.
    let s = spec(json!({}));
    assert_eq!(decide(&s, &status, &none, 1, 0, 1, now), None);
    assert_eq!(
        decide(&s, &status, &none, 1, 0, 0, now),
        Some(Verdict::Succeed)
    );
    // backoffLimit counts failures beyond the limit (6 by default).
    assert_eq!(decide(&s, &status, &none, 0, 6, 1, now), None);
    let failed = decide(&s, &status, &none, 0, 7, 1, now);
    assert!(
        matches!(failed, Some(Verdict::Fail { reason, .. }) if reason == "BackoffLimitExceeded")
    );
    // The deadline runs from startTime.
    let s = spec(json!({"activeDeadlineSeconds": 10}));
    let started = JobStatus {
        start_time: Some(Time(ts("2025-12-31T23:59:55Z"))),
        ..JobStatus::default()
    };
    assert_eq!(decide(&s, &started, &none, 0, 0, 1, now), None);
    let later = ts("2026-01-01T00:00:05Z");
    let failed = decide(&s, &started, &none, 0, 0, 1, later);
    assert!(matches!(failed, Some(Verdict::Fail { reason, .. }) if reason == "DeadlineExceeded"));
    // Indexed: every index below completions must be done.
    let s = spec(json!({"completions": 3, "completionMode": "Indexed"}));
    let some: BTreeSet<i32> = [0, 2].into();
    let all: BTreeSet<i32> = [0, 1, 2].into();
    assert_eq!(decide(&s, &status, &some, 2, 0, 0, now), None);
    assert_eq!(
        decide(&s, &status, &all, 3, 0, 0, now),
        Some(Verdict::Succeed)
    );
}

#[test]
fn non_indexed_plans() {
    let a = pod("a", None, true, "2026-01-01T00:00:00Z");
    let b = pod("b", None, false, "2026-01-01T00:00:01Z");
    let c = pod("c", None, true, "2026-01-01T00:00:02Z");
    let s = spec(json!({"completions": 5, "parallelism": 2}));
    let plan = plan_non_indexed(&s, &[&a], 0);
    assert_eq!((plan.create.len(), plan.delete.len()), (1, 0));
    // Only what is left to complete runs.
    let plan = plan_non_indexed(&s, &[], 4);
    assert_eq!(plan.create.len(), 1);
    // Too many: not-ready first, then the newest.
    let plan = plan_non_indexed(&s, &[&a, &b, &c], 0);
    assert_eq!(names(&plan.delete), ["b"]);
    let s = spec(json!({"completions": 5, "parallelism": 1}));
    let plan = plan_non_indexed(&s, &[&a, &b, &c], 0);
    assert_eq!(names(&plan.delete), ["b", "c"]);
}

#[test]
fn indexed_plans() {
    let s = spec(json!({"completions": 4, "parallelism": 2, "completionMode": "Indexed"}));
    let done: BTreeSet<i32> = [0].into();
    let one = pod("one", Some(1), true, "2026-01-01T00:00:00Z");
    let plan = plan_indexed(&s, &[&one], &done);
    assert_eq!(plan.create, vec![Some(2)]);
    // A second pod for the same index, and a pod for a completed index, go.
    let dup = pod("dup", Some(1), false, "2026-01-01T00:00:01Z");
    let stale = pod("stale", Some(0), true, "2026-01-01T00:00:02Z");
    let plan = plan_indexed(&s, &[&one, &dup, &stale], &done);
    assert_eq!(names(&plan.delete), ["stale", "dup"]);
    assert_eq!(plan.create, vec![Some(2)]);
}

#[test]
fn conditions_keep_their_transition_time() {
    let mut conditions = Vec::new();
    let t0 = ts("2026-01-01T00:00:00Z");
    let t1 = ts("2026-01-01T00:01:00Z");
    set_condition(
        &mut conditions,
        "Suspended",
        true,
        "JobSuspended",
        "Job suspended",
        t0,
    );
    set_condition(
        &mut conditions,
        "Suspended",
        true,
        "JobSuspended",
        "Job suspended",
        t1,
    );
    assert_eq!(conditions[0].last_transition_time, Some(Time(t0)));
    set_condition(
        &mut conditions,
        "Suspended",
        false,
        "JobResumed",
        "Job resumed",
        t1,
    );
    assert_eq!(conditions.len(), 1);
    assert_eq!(
        (
            conditions[0].status.as_str(),
            conditions[0].last_transition_time.clone()
        ),
        ("False", Some(Time(t1)))
    );
}
