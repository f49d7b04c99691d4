//! The Job and TTL-after-finished controllers inside `rkube server`: pods created from the
//! template, counted through the tracking finalizer, and the Job's conditions, events and
//! `kubectl` view, with a fake kubelet (the test marks pods running and finished).
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl (see `server_proc`).

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use rkube_tests::fake::{mark_pod_finished, mark_pod_running, wait_for};
use rkube_tests::server_proc::{expect_success, ServerProcess};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);
const NS: &str = "default";

fn start() -> ServerProcess {
    ServerProcess::start_args(&["--disable-scheduler"]).expect("rkube server starts")
}

async fn create_job(client: &Client, name: &str, spec: Value) -> Job {
    let mut full = json!({
        "template": {"spec": {
            "containers": [{"name": "work", "image": "busybox"}],
            "restartPolicy": "Never",
        }},
    });
    if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
        full.extend(extra.clone());
    }
    let job: Job = serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": NS},
        "spec": full,
    }))
    .unwrap();
    Api::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &job)
        .await
        .unwrap()
}

async fn get_job(client: &Client, name: &str) -> Job {
    Api::<Job>::namespaced(client.clone(), NS)
        .get(name)
        .await
        .unwrap()
}

/// The Job's pods that have not finished and are not being deleted, oldest first.
async fn active_pods(client: &Client, job: &str) -> Vec<Pod> {
    let mut pods: Vec<Pod> = job_pods(client, job)
        .await
        .into_iter()
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            p.metadata.deletion_timestamp.is_none()
                && !matches!(phase, Some("Succeeded" | "Failed"))
        })
        .collect();
    pods.sort_by_key(|p| p.metadata.creation_timestamp.clone().map(|t| t.0));
    pods
}

async fn job_pods(client: &Client, job: &str) -> Vec<Pod> {
    let selector = format!("batch.kubernetes.io/job-name={job}");
    Api::<Pod>::namespaced(client.clone(), NS)
        .list(&ListParams::default().labels(&selector))
        .await
        .unwrap()
        .items
}

/// Waits for exactly `n` active pods (and returns their names).
async fn wait_active(client: &Client, job: &str, n: usize) -> Vec<String> {
    wait_for(&format!("{n} active pods of job {job}"), WAIT, || async {
        let pods = active_pods(client, job).await;
        (pods.len() == n).then(|| {
            pods.iter()
                .map(|p| p.metadata.name.clone().unwrap())
                .collect()
        })
    })
    .await
    .unwrap()
}

fn condition<'a>(
    job: &'a Job,
    kind: &str,
) -> Option<&'a k8s_openapi::api::batch::v1::JobCondition> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind && c.status == "True")
}

async fn wait_condition(client: &Client, name: &str, kind: &str) -> Job {
    wait_for(&format!("job {name} {kind}"), WAIT, || async {
        let job = get_job(client, name).await;
        condition(&job, kind).is_some().then_some(job)
    })
    .await
    .unwrap()
}

/// The reasons of the events recorded about `name` (core/v1 view, as `kubectl describe`).
async fn event_reasons(client: &Client, name: &str) -> Vec<String> {
    Api::<Event>::namespaced(client.clone(), NS)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .filter_map(|e| e.reason)
        .collect()
}

async fn wait_event(client: &Client, name: &str, reason: &str) {
    wait_for(&format!("event {reason} on {name}"), WAIT, || async {
        event_reasons(client, name)
            .await
            .iter()
            .any(|r| r == reason)
            .then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn completions_run_in_parallel_and_complete() {
    let server = start();
    let client = server.client().await.unwrap();
    create_job(&client, "pi", json!({"completions": 3, "parallelism": 2})).await;

    let first = wait_active(&client, "pi", 2).await;
    let job = get_job(&client, "pi").await;
    let uid = job.metadata.uid.clone().unwrap();
    let pod = Api::<Pod>::namespaced(client.clone(), NS)
        .get(&first[0])
        .await
        .unwrap();
    assert!(first[0].starts_with("pi-"), "{first:?}");
    let labels = pod.metadata.labels.clone().unwrap();
    assert_eq!(labels["batch.kubernetes.io/job-name"], "pi");
    assert_eq!(labels["batch.kubernetes.io/controller-uid"], uid);
    let owner = &pod.metadata.owner_references.clone().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("Job", uid.as_str(), Some(true))
    );
    assert_eq!(
        pod.metadata.finalizers,
        Some(vec!["batch.kubernetes.io/job-tracking".to_owned()])
    );

    mark_pod_running(&client, NS, &first[0], true)
        .await
        .unwrap();
    wait_for("status active 2 ready 1", WAIT, || async {
        let s = get_job(&client, "pi").await.status.unwrap_or_default();
        (s.active == Some(2) && s.ready == Some(1) && s.start_time.is_some()).then_some(())
    })
    .await
    .unwrap();

    // Two succeed: only one more pod is needed, never more than two at once.
    for name in &first {
        mark_pod_finished(&client, NS, name, true).await.unwrap();
    }
    let third = wait_active(&client, "pi", 1).await;
    assert!(!first.contains(&third[0]));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(active_pods(&client, "pi").await.len(), 1);
    assert_eq!(
        get_job(&client, "pi").await.status.unwrap().succeeded,
        Some(2)
    );

    mark_pod_finished(&client, NS, &third[0], true)
        .await
        .unwrap();
    let out = server
        .kubectl(&[
            "wait",
            "--for=condition=complete",
            "job/pi",
            "--timeout=60s",
        ])
        .unwrap();
    let text = expect_success("kubectl", &["wait"], &out);
    assert!(text.contains("job.batch/pi condition met"), "{text}");
    let job = get_job(&client, "pi").await;
    let status = job.status.clone().unwrap();
    assert_eq!(
        (status.succeeded, status.failed, status.active),
        (Some(3), Some(0), Some(0))
    );
    assert!(status.completion_time.is_some());
    assert!(condition(&job, "SuccessCriteriaMet").is_some());
    let uncounted = status.uncounted_terminated_pods.unwrap_or_default();
    assert!(uncounted.succeeded.unwrap_or_default().is_empty());

    // Every pod was counted, so none keeps the finalizer.
    for pod in job_pods(&client, "pi").await {
        assert!(pod.metadata.finalizers.unwrap_or_default().is_empty());
    }
    let out = server.kubectl(&["get", "jobs"]).unwrap();
    let text = expect_success("kubectl", &["get", "jobs"], &out);
    let row = text
        .lines()
        .find(|l| l.starts_with("pi "))
        .unwrap_or_default();
    assert!(row.contains("Complete") && row.contains("3/3"), "{text}");
    wait_event(&client, "pi", "Completed").await;
    let reasons = event_reasons(&client, "pi").await;
    assert_eq!(
        reasons.iter().filter(|r| *r == "SuccessfulCreate").count(),
        3,
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_pods_obey_backoff_limit() {
    let server = start();
    let client = server.client().await.unwrap();
    create_job(&client, "flaky", json!({"backoffLimit": 1})).await;

    let first = wait_active(&client, "flaky", 1).await;
    mark_pod_finished(&client, NS, &first[0], false)
        .await
        .unwrap();
    wait_for("failed 1", WAIT, || async {
        let s = get_job(&client, "flaky").await.status.unwrap_or_default();
        (s.failed == Some(1)).then_some(())
    })
    .await
    .unwrap();
    // A replacement comes after the back-off (10 s for the first failure).
    let second = wait_active(&client, "flaky", 1).await;
    assert_ne!(first, second);
    mark_pod_finished(&client, NS, &second[0], false)
        .await
        .unwrap();

    let job = wait_condition(&client, "flaky", "Failed").await;
    let failed = condition(&job, "Failed").unwrap();
    assert_eq!(failed.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(
        failed.message.as_deref(),
        Some("Job has reached the specified backoff limit")
    );
    assert!(condition(&job, "FailureTarget").is_some());
    let status = job.status.unwrap();
    assert_eq!(
        (status.failed, status.succeeded, status.active),
        (Some(2), Some(0), Some(0))
    );
    wait_event(&client, "flaky", "BackoffLimitExceeded").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(active_pods(&client, "flaky").await.is_empty());
    let out = server.kubectl(&["get", "job", "flaky"]).unwrap();
    let text = expect_success("kubectl", &["get", "job"], &out);
    assert!(text.contains("Failed") && text.contains("0/1"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn indexed_job_runs_each_index_once() {
    let server = start();
    let client = server.client().await.unwrap();
    create_job(
        &client,
        "idx",
        json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
    )
    .await;
    let names = wait_active(&client, "idx", 3).await;
    let pods = Api::<Pod>::namespaced(client.clone(), NS);
    let mut by_index = std::collections::BTreeMap::new();
    for name in &names {
        let pod = pods.get(name).await.unwrap();
        let index =
            pod.metadata.annotations.unwrap()["batch.kubernetes.io/job-completion-index"].clone();
        assert_eq!(
            pod.metadata.labels.unwrap()["batch.kubernetes.io/job-completion-index"],
            index
        );
        assert_eq!(pod.spec.unwrap().hostname, Some(format!("idx-{index}")));
        assert!(name.starts_with(&format!("idx-{index}-")), "{name}");
        by_index.insert(index, name.clone());
    }
    assert_eq!(
        by_index.keys().cloned().collect::<Vec<_>>(),
        ["0", "1", "2"]
    );

    mark_pod_finished(&client, NS, &by_index["1"], true)
        .await
        .unwrap();
    wait_for("completedIndexes 1", WAIT, || async {
        let s = get_job(&client, "idx").await.status.unwrap_or_default();
        (s.completed_indexes.as_deref() == Some("1") && s.succeeded == Some(1)).then_some(())
    })
    .await
    .unwrap();
    // A failed index is retried with a new pod for the same index.
    mark_pod_finished(&client, NS, &by_index["0"], false)
        .await
        .unwrap();
    let retried = wait_for("a new pod for index 0", WAIT, || async {
        active_pods(&client, "idx").await.into_iter().find(|p| {
            p.metadata.name.as_ref() != Some(&by_index["0"])
                && p.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("idx-0-"))
        })
    })
    .await
    .unwrap();
    mark_pod_finished(&client, NS, retried.metadata.name.as_deref().unwrap(), true)
        .await
        .unwrap();
    mark_pod_finished(&client, NS, &by_index["2"], true)
        .await
        .unwrap();
    let job = wait_condition(&client, "idx", "Complete").await;
    let status = job.status.unwrap();
    assert_eq!(status.completed_indexes.as_deref(), Some("0-2"));
    assert_eq!((status.succeeded, status.failed), (Some(3), Some(1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn active_deadline_fails_the_job() {
    let server = start();
    let client = server.client().await.unwrap();
    create_job(
        &client,
        "slow",
        json!({"activeDeadlineSeconds": 3, "parallelism": 2, "completions": 4}),
    )
    .await;
    let names = wait_active(&client, "slow", 2).await;
    mark_pod_running(&client, NS, &names[0], true)
        .await
        .unwrap();
    let job = wait_condition(&client, "slow", "Failed").await;
    let failed = condition(&job, "Failed").unwrap();
    assert_eq!(failed.reason.as_deref(), Some("DeadlineExceeded"));
    assert_eq!(
        failed.message.as_deref(),
        Some("Job was active longer than specified deadline")
    );
    assert_eq!(job.status.unwrap().active, Some(0));
    assert!(active_pods(&client, "slow").await.is_empty());
    wait_event(&client, "slow", "DeadlineExceeded").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn suspended_job_runs_no_pods_until_resumed() {
    let server = start();
    let client = server.client().await.unwrap();
    create_job(
        &client,
        "later",
        json!({"suspend": true, "parallelism": 2, "completions": 2}),
    )
    .await;
    let job = wait_condition(&client, "later", "Suspended").await;
    assert_eq!(job.status.unwrap().start_time, None);
    assert!(active_pods(&client, "later").await.is_empty());

    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let resume = json!({"spec": {"suspend": false}});
    jobs.patch("later", &PatchParams::default(), &Patch::Merge(&resume))
        .await
        .unwrap();
    wait_active(&client, "later", 2).await;
    // The status is written after the pods are created.
    wait_for("startTime set and Suspended False", WAIT, || async {
        let job = get_job(&client, "later").await;
        let started = job.status.as_ref().is_some_and(|s| s.start_time.is_some());
        (started && condition(&job, "Suspended").is_none()).then_some(())
    })
    .await
    .unwrap();
    wait_event(&client, "later", "Resumed").await;

    // Suspending again removes the running pods; they are not counted as failures.
    let suspend = json!({"spec": {"suspend": true}});
    jobs.patch("later", &PatchParams::default(), &Patch::Merge(&suspend))
        .await
        .unwrap();
    wait_active(&client, "later", 0).await;
    let job = wait_condition(&client, "later", "Suspended").await;
    let status = job.status.unwrap();
    assert_eq!((status.active, status.failed), (Some(0), Some(0)));
}

#[tokio::test(flavor = "multi_thread")]
async fn ttl_after_finished_deletes_the_job() {
    let server = start();
    let client = server.client().await.unwrap();
    create_job(&client, "once", json!({"ttlSecondsAfterFinished": 2})).await;
    let names = wait_active(&client, "once", 1).await;
    mark_pod_finished(&client, NS, &names[0], true)
        .await
        .unwrap();
    wait_condition(&client, "once", "Complete").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    wait_for("job once deleted", WAIT, || async {
        jobs.get_opt("once").await.unwrap().is_none().then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_job_releases_its_pods() {
    let server = start();
    let client = server.client().await.unwrap();
    create_job(&client, "gone", json!({"parallelism": 2, "completions": 2})).await;
    let names = wait_active(&client, "gone", 2).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    jobs.delete("gone", &kube::api::DeleteParams::background())
        .await
        .unwrap();
    // As the garbage collector would: delete the pods; the finalizer must not hold them.
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    for name in &names {
        pods.delete(name, &kube::api::DeleteParams::default())
            .await
            .unwrap();
    }
    wait_for("the pods of the deleted job gone", WAIT, || async {
        job_pods(&client, "gone").await.is_empty().then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn pod_failure_policy_fails_or_ignores() {
    let server = start();
    let client = server.client().await.unwrap();
    let rule = |action: &str| {
        json!({"podFailurePolicy": {"rules": [
            {"action": action, "onExitCodes": {"operator": "In", "values": [1]}},
        ]}})
    };
    // FailJob: the first failure ends the Job, whatever the backoffLimit.
    create_job(&client, "fatal", rule("FailJob")).await;
    let names = wait_active(&client, "fatal", 1).await;
    mark_pod_finished(&client, NS, &names[0], false)
        .await
        .unwrap();
    let job = wait_condition(&client, "fatal", "Failed").await;
    let failed = condition(&job, "Failed").unwrap();
    assert_eq!(failed.reason.as_deref(), Some("PodFailurePolicy"));
    let message = failed.message.clone().unwrap_or_default();
    assert!(message.contains("exit code 1"), "{message}");
    assert_eq!(job.status.unwrap().failed, Some(1));

    // Ignore: the failure is not counted and the pod is replaced at once.
    create_job(&client, "shrug", rule("Ignore")).await;
    let first = wait_active(&client, "shrug", 1).await;
    mark_pod_finished(&client, NS, &first[0], false)
        .await
        .unwrap();
    let second = wait_for("a replacement pod", WAIT, || async {
        let names: Vec<String> = active_pods(&client, "shrug")
            .await
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect();
        (names.len() == 1 && names != first).then_some(names)
    })
    .await
    .unwrap();
    let status = get_job(&client, "shrug").await.status.unwrap_or_default();
    assert_eq!(status.failed.unwrap_or(0), 0);
    mark_pod_finished(&client, NS, &second[0], true)
        .await
        .unwrap();
    wait_condition(&client, "shrug", "Complete").await;
}
