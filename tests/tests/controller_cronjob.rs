//! The CronJob controller on a fake clock against the real `rkube server`: the server runs
//! every controller but `cronjob`, and the test runs the CronJob controller in-process with a
//! clock it moves, so a `*/1 * * * *` schedule fires without waiting for real minutes.
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`).

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ListParams, PostParams};
use kube::Client;
use rkube_controller_manager::cronjob::{self, FakeClock};
use rkube_controller_manager::Context;
use rkube_tests::fake::{mark_pod_finished, wait_for};
use rkube_tests::server_proc::{expect_success, ServerProcess};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);
const NS: &str = "default";

/// A server without its own CronJob controller, and ours on a fake clock showing real time.
struct Harness {
    server: ServerProcess,
    client: Client,
    clock: Arc<FakeClock>,
    stop: CancellationToken,
}

impl Harness {
    async fn start() -> Self {
        let server =
            ServerProcess::start_args(&["--disable-scheduler", "--disable-controllers", "cronjob"])
                .expect("rkube server starts");
        let client = server.client().await.unwrap();
        let clock = Arc::new(FakeClock::new(Timestamp::now()));
        let stop = CancellationToken::new();
        let ctx = Context {
            client: client.clone(),
            config: Default::default(),
            stop: stop.clone(),
        };
        tokio::spawn(cronjob::run(ctx, clock.clone()));
        Self {
            server,
            client,
            clock,
            stop,
        }
    }

    /// Sets the fake clock a few seconds into the `n`th whole minute after real time, and
    /// returns that minute.
    fn minute(&self, start: Timestamp, n: i64) -> Timestamp {
        let minute = Timestamp::from_second((start.as_second() / 60 + n) * 60).unwrap();
        self.clock.set(minute + SignedDuration::from_secs(5));
        minute
    }

    async fn create(&self, name: &str, spec: Value) {
        let mut full = json!({
            "schedule": "*/1 * * * *",
            "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "tick", "image": "busybox"}],
                "restartPolicy": "Never",
            }}}},
        });
        if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
            full.extend(extra.clone());
        }
        let cronjob: CronJob = serde_json::from_value(json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": name, "namespace": NS},
            "spec": full,
        }))
        .unwrap();
        Api::<CronJob>::namespaced(self.client.clone(), NS)
            .create(&PostParams::default(), &cronjob)
            .await
            .unwrap();
    }

    async fn cronjob(&self, name: &str) -> CronJob {
        Api::<CronJob>::namespaced(self.client.clone(), NS)
            .get(name)
            .await
            .unwrap()
    }

    /// The names of the Jobs that exist and are not being deleted, sorted.
    async fn jobs(&self) -> Vec<String> {
        let mut names: Vec<String> = Api::<Job>::namespaced(self.client.clone(), NS)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|j| j.metadata.deletion_timestamp.is_none())
            .filter_map(|j| j.metadata.name)
            .collect();
        names.sort();
        names
    }

    async fn wait_jobs(&self, want: &[String]) {
        wait_for(&format!("jobs {want:?}"), WAIT, || async {
            (self.jobs().await == want).then_some(())
        })
        .await
        .unwrap();
    }

    /// Marks the pod of `job` finished, once the Job controller has created it.
    async fn finish(&self, job: &str, succeeded: bool) {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), NS);
        let selector = format!("batch.kubernetes.io/job-name={job}");
        let pod = wait_for(&format!("a pod of {job}"), WAIT, || async {
            let list = pods
                .list(&ListParams::default().labels(&selector))
                .await
                .ok()?;
            list.items.into_iter().next()
        })
        .await
        .unwrap();
        let name = pod.metadata.name.unwrap();
        mark_pod_finished(&self.client, NS, &name, succeeded)
            .await
            .unwrap();
        let kind = if succeeded { "Complete" } else { "Failed" };
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), NS);
        wait_for(&format!("job {job} {kind}"), WAIT, || async {
            let job = jobs.get(job).await.ok()?;
            let conditions = job.status?.conditions?;
            conditions
                .iter()
                .any(|c| c.type_ == kind && c.status == "True")
                .then_some(())
        })
        .await
        .unwrap();
    }

    async fn wait_event(&self, name: &str, reason: &str) {
        let events: Api<Event> = Api::namespaced(self.client.clone(), NS);
        wait_for(&format!("event {reason} on {name}"), WAIT, || async {
            let list = events.list(&ListParams::default()).await.ok()?;
            list.items
                .iter()
                .any(|e| {
                    e.involved_object.name.as_deref() == Some(name)
                        && e.reason.as_deref() == Some(reason)
                })
                .then_some(())
        })
        .await
        .unwrap();
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn job_name(cronjob: &str, minute: Timestamp) -> String {
    format!("{cronjob}-{}", minute.as_second() / 60)
}

fn active_names(cronjob: &CronJob) -> Vec<String> {
    let status = cronjob.status.clone().unwrap_or_default();
    status
        .active
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| r.name)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn fires_on_schedule_with_a_fake_clock() {
    let h = Harness::start().await;
    let start = Timestamp::now();
    h.create("tick", json!({})).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(h.jobs().await.is_empty(), "nothing before the first minute");

    let first = h.minute(start, 1);
    let name = job_name("tick", first);
    h.wait_jobs(std::slice::from_ref(&name)).await;
    let job = Api::<Job>::namespaced(h.client.clone(), NS)
        .get(&name)
        .await
        .unwrap();
    let annotations = job.metadata.annotations.unwrap();
    assert_eq!(
        annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"],
        first.to_string()
    );
    let owner = &job.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("CronJob", "tick", Some(true))
    );
    // The status is written after the Job is created.
    wait_for("cronjob status naming the job", WAIT, || async {
        let cj = h.cronjob("tick").await;
        let scheduled = cj.status.clone()?.last_schedule_time.map(|t| t.0);
        (scheduled == Some(first) && active_names(&cj) == [name.clone()]).then_some(())
    })
    .await
    .unwrap();
    h.wait_event("tick", "SuccessfulCreate").await;
    let out = h.server.kubectl(&["get", "cronjob", "tick"]).unwrap();
    let text = expect_success("kubectl", &["get", "cronjob"], &out);
    let row = text.lines().nth(1).unwrap_or_default();
    let columns: Vec<&str> = row.split_whitespace().collect();
    // NAME SCHEDULE(5 fields) TIMEZONE SUSPEND ACTIVE LAST-SCHEDULE AGE
    assert_eq!(
        columns.get(..8),
        Some(&["tick", "*/1", "*", "*", "*", "*", "<none>", "False"][..]),
        "{text}"
    );
    assert_eq!(columns.get(8), Some(&"1"), "{text}");

    // The Job finishes: it leaves `active` and sets lastSuccessfulTime.
    h.finish(&name, true).await;
    wait_for("cronjob status after the job", WAIT, || async {
        let cj = h.cronjob("tick").await;
        let status = cj.status.clone()?;
        (active_names(&cj).is_empty() && status.last_successful_time.is_some()).then_some(())
    })
    .await
    .unwrap();

    h.wait_event("tick", "SawCompletedJob").await;

    // The next minute starts the next Job.
    let second = h.minute(start, 2);
    h.wait_jobs(&[name, job_name("tick", second)]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forbid_skips_while_one_runs() {
    let h = Harness::start().await;
    let start = Timestamp::now();
    h.create("solo", json!({"concurrencyPolicy": "Forbid"}))
        .await;
    let first = job_name("solo", h.minute(start, 1));
    h.wait_jobs(std::slice::from_ref(&first)).await;

    let second = job_name("solo", h.minute(start, 2));
    h.wait_event("solo", "JobAlreadyActive").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(h.jobs().await, vec![first.clone()]);

    // Once it ends, the start that was held back runs (no starting deadline).
    h.finish(&first, true).await;
    h.wait_jobs(&[first, second]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replace_replaces_the_running_job() {
    let h = Harness::start().await;
    let start = Timestamp::now();
    h.create("fresh", json!({"concurrencyPolicy": "Replace"}))
        .await;
    let first = job_name("fresh", h.minute(start, 1));
    h.wait_jobs(std::slice::from_ref(&first)).await;
    let second = job_name("fresh", h.minute(start, 2));
    h.wait_jobs(std::slice::from_ref(&second)).await;
    h.wait_event("fresh", "SuccessfulDelete").await;
    wait_for("active is the new job", WAIT, || async {
        (active_names(&h.cronjob("fresh").await) == [second.clone()]).then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn history_limits_delete_old_jobs() {
    let h = Harness::start().await;
    let start = Timestamp::now();
    h.create(
        "hist",
        json!({
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 1,
            // One failed pod fails the Job.
            "jobTemplate": {"spec": {"backoffLimit": 0, "template": {"spec": {
                "containers": [{"name": "tick", "image": "busybox"}],
                "restartPolicy": "Never",
            }}}},
        }),
    )
    .await;
    let mut names = Vec::new();
    for (n, succeeded) in [(1, true), (2, false), (3, true), (4, false)] {
        let name = job_name("hist", h.minute(start, n));
        wait_for(&format!("job {name}"), WAIT, || async {
            h.jobs().await.contains(&name).then_some(())
        })
        .await
        .unwrap();
        h.finish(&name, succeeded).await;
        names.push(name);
    }
    // One of each kind is kept: the newest.
    h.wait_jobs(&[names[2].clone(), names[3].clone()]).await;
}
