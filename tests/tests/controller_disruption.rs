//! PodDisruptionBudgets end to end: the disruption controller keeps their status from the
//! pods they select, and the eviction subresource (what `kubectl drain` uses) honours them.
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl (see `server_proc`).
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::time::Duration;

use rkube_tests::fake::{mark_pod_running, wait_for, FakeNode};
use rkube_tests::server_proc::{expect_failure, expect_success, ServerProcess};

const NS: &str = "shop";

fn ok(s: &ServerProcess, args: &[&str]) -> String {
    expect_success("kubectl", args, &s.kubectl(args).unwrap())
}

fn apply(s: &ServerProcess, manifest: &str) {
    let out = s
        .kubectl_with_stdin(&["apply", "-f", "-"], Some(manifest))
        .unwrap();
    expect_success("kubectl", &["apply"], &out);
}

/// A ReplicaSet `web` of 3 (no controller acts on it here) and its 3 pods, on node n1,
/// Running and Ready.
async fn web_pods(s: &ServerProcess, client: &kube::Client) {
    FakeNode::new("n1").create(client).await.unwrap();
    ok(s, &["create", "namespace", NS]);
    apply(
        s,
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 3\n  \
         selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      \
         containers: [{name: web, image: web:1}]\n",
    );
    let uid = ok(
        s,
        &[
            "get",
            "rs",
            "web",
            "-n",
            NS,
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    );
    for i in 0..3 {
        apply(
            s,
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-{i}\n  namespace: shop\n  labels: {{app: web}}\n  \
                 ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web, uid: {uid}, controller: true}}]\n\
                 spec:\n  nodeName: n1\n  containers: [{{name: web, image: web:1}}]\n"
            ),
        );
        mark_pod_running(client, NS, &format!("web-{i}"), true)
            .await
            .unwrap();
    }
}

async fn allowed(s: &ServerProcess, pdb: &str, want: &str) {
    let args = [
        "get",
        "pdb",
        pdb,
        "-n",
        NS,
        "-o",
        "jsonpath={.status.disruptionsAllowed}",
    ];
    wait_for(
        &format!("{pdb} to allow {want}"),
        Duration::from_secs(30),
        || async {
            let out = s.kubectl(&args).ok()?;
            (String::from_utf8_lossy(&out.stdout) == want).then_some(())
        },
    )
    .await
    .unwrap();
}

fn evict(s: &ServerProcess, pod: &str) -> std::process::Output {
    let path = format!("/api/v1/namespaces/{NS}/pods/{pod}/eviction");
    let body = format!(
        r#"{{"apiVersion":"policy/v1","kind":"Eviction","metadata":{{"name":"{pod}","namespace":"{NS}"}}}}"#
    );
    s.kubectl_with_stdin(&["create", "--raw", &path, "-f", "-"], Some(&body))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evictions_stop_at_the_budget() {
    let s = ServerProcess::start_args(&["--disable-controllers", "replicaset,deployment"]).unwrap();
    let client = s.client().await.unwrap();
    web_pods(&s, &client).await;
    apply(
        &s,
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\n\
         spec:\n  minAvailable: 2\n  selector: {matchLabels: {app: web}}\n",
    );
    allowed(&s, "web", "1").await;
    let table = ok(&s, &["get", "pdb", "-n", NS]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..4], ["web", "2", "N/A", "1"], "{table}");
    let status = ok(
        &s,
        &[
            "get", "pdb", "web", "-n", NS, "-o",
            "jsonpath={.status.expectedPods} {.status.currentHealthy} {.status.desiredHealthy} {.status.conditions[0].reason}",
        ],
    );
    assert_eq!(status, "3 3 2 SufficientPods");

    // One eviction is allowed and recorded; the pod goes (gracefully: it has a node).
    expect_success("kubectl", &["create", "--raw"], &evict(&s, "web-0"));
    let deleting = ok(
        &s,
        &[
            "get",
            "pod",
            "web-0",
            "-n",
            NS,
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ],
    );
    assert!(!deleting.is_empty());
    allowed(&s, "web", "0").await;

    // The next would leave fewer than 2 healthy pods: 429, with the budget's numbers.
    let refused = evict(&s, "web-1");
    let stderr = expect_failure("kubectl", &["create", "--raw"], &refused);
    assert!(
        stderr.contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{stderr}"
    );
    let still = ok(
        &s,
        &[
            "get",
            "pod",
            "web-1",
            "-n",
            NS,
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ],
    );
    assert!(still.is_empty(), "web-1 must not be deleted");

    // kubectl drain retries and gives up at its timeout, saying why.
    let args = ["drain", "n1", "--ignore-daemonsets", "--timeout=7s"];
    let out = s.kubectl(&args).unwrap();
    let stderr = expect_failure("kubectl", &args, &out);
    assert!(
        stderr.contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{stderr}"
    );
    assert_eq!(
        ok(
            &s,
            &["get", "node", "n1", "-o", "jsonpath={.spec.unschedulable}"]
        ),
        "true"
    );

    // A pod that is not Ready may go while the budget is healthy... here it is not: refused.
    mark_pod_running(&client, NS, "web-2", false).await.unwrap();
    wait_for("1 healthy pod", Duration::from_secs(30), || async {
        let out = s
            .kubectl(&[
                "get",
                "pdb",
                "web",
                "-n",
                NS,
                "-o",
                "jsonpath={.status.currentHealthy}",
            ])
            .ok()?;
        (String::from_utf8_lossy(&out.stdout) == "1").then_some(())
    })
    .await
    .unwrap();
    let stderr = expect_failure("kubectl", &["create", "--raw"], &evict(&s, "web-2"));
    assert!(stderr.contains("disruption budget"), "{stderr}");
    // ...unless the budget says AlwaysAllow.
    ok(
        &s,
        &[
            "patch",
            "pdb",
            "web",
            "-n",
            NS,
            "--type=merge",
            "-p",
            r#"{"spec":{"unhealthyPodEvictionPolicy":"AlwaysAllow"}}"#,
        ],
    );
    expect_success("kubectl", &["create", "--raw"], &evict(&s, "web-2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percentages_follow_the_controllers_scale() {
    let s = ServerProcess::start_args(&["--disable-controllers", "replicaset,deployment"]).unwrap();
    let client = s.client().await.unwrap();
    web_pods(&s, &client).await;
    // maxUnavailable 50% of the ReplicaSet's 3 replicas rounds up to 2.
    apply(
        &s,
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: half, namespace: shop}\n\
         spec:\n  maxUnavailable: 50%\n  selector: {matchLabels: {app: web}}\n",
    );
    allowed(&s, "half", "2").await;
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "pdb",
                "half",
                "-n",
                NS,
                "-o",
                "jsonpath={.status.desiredHealthy}"
            ]
        ),
        "1"
    );
    // Scaling the ReplicaSet up moves the expected count with it.
    ok(&s, &["scale", "rs", "web", "-n", NS, "--replicas=5"]);
    wait_for("expected 5", Duration::from_secs(30), || async {
        let out = s
            .kubectl(&[
                "get",
                "pdb",
                "half",
                "-n",
                NS,
                "-o",
                "jsonpath={.status.expectedPods}",
            ])
            .ok()?;
        (String::from_utf8_lossy(&out.stdout) == "5").then_some(())
    })
    .await
    .unwrap();
    // 5 expected, 3 unavailable allowed: 2 must stay healthy, 3 are: 1 disruption.
    allowed(&s, "half", "1").await;

    // A pod with no controller cannot be counted for a percentage: SyncFailed, none allowed.
    apply(
        &s,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: lone, namespace: shop, labels: {app: lone}}\n\
         spec: {containers: [{name: c, image: c:1}]}\n",
    );
    apply(
        &s,
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: lone, namespace: shop}\n\
         spec:\n  maxUnavailable: 1\n  selector: {matchLabels: {app: lone}}\n",
    );
    let message = wait_for("SyncFailed", Duration::from_secs(30), || async {
        let out = s
            .kubectl(&[
                "get",
                "pdb",
                "lone",
                "-n",
                NS,
                "-o",
                "jsonpath={.status.conditions[0].reason}: {.status.conditions[0].message}",
            ])
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.starts_with("SyncFailed").then_some(text)
    })
    .await
    .unwrap();
    assert_eq!(message, "SyncFailed: found no controllers for pod \"lone\"");
}
