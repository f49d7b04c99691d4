//! The node lifecycle controller inside `rkube server` (with a short
//! `--node-monitor-grace-period`): a fake node whose lease stops being renewed turns
//! NotReady (Unknown), is tainted, its pods are marked not ready and evicted once their
//! tolerations run out; renewing brings it back and removes the taints.
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl (see `server_proc`).

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::Client;
use rkube_tests::fake::{mark_pod_running, renew_node_lease, set_node_ready, wait_for, FakeNode};
use rkube_tests::server_proc::{expect_success, ServerProcess};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

async fn create_pod(client: &Client, name: &str, node: &str, tolerations: serde_json::Value) {
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "tolerations": tolerations,
            "containers": [{"name": "c", "image": "nginx"}]},
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pod)
        .await
        .unwrap();
}

fn ready_of(node: &Node) -> (String, String) {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
        .unwrap_or_default()
}

fn taint_keys(node: &Node) -> Vec<String> {
    let mut keys: Vec<String> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .map(|t| format!("{}:{}", t.key, t.effect))
        .collect();
    keys.sort();
    keys
}

fn pod_ready(pod: &Pod) -> Option<bool> {
    let cs = pod.status.as_ref()?.conditions.as_ref()?;
    Some(cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Renews the node's lease every second until `stop` is set, as its kubelet would.
fn keep_renewing(client: Client, node: &'static str, stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let _ = renew_node_lease(&client, node).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_node_is_tainted_and_its_pods_evicted() {
    let server =
        ServerProcess::start_args(&["--disable-scheduler", "--node-monitor-grace-period", "3s"])
            .expect("rkube server starts");
    let client = server.client().await.unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    FakeNode::new("n1").create(&client).await.unwrap();
    FakeNode::new("n2").create(&client).await.unwrap();
    let stop_all = Arc::new(AtomicBool::new(false));
    keep_renewing(client.clone(), "n2", stop_all.clone());
    let n1_silent = Arc::new(AtomicBool::new(false));
    keep_renewing(client.clone(), "n1", n1_silent.clone());

    // `quick` tolerates unreachable for 2 s; `patient` gets the API server's 300 s default.
    create_pod(
        &client,
        "quick",
        "n1",
        json!([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}]),
    )
    .await;
    create_pod(&client, "patient", "n1", json!([])).await;
    create_pod(&client, "elsewhere", "n2", json!([])).await;
    let patient = pods.get("patient").await.unwrap();
    let defaulted = serde_json::to_value(patient.spec.unwrap().tolerations.unwrap()).unwrap();
    assert_eq!(
        defaulted,
        json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        ])
    );
    for name in ["quick", "patient", "elsewhere"] {
        mark_pod_running(&client, "default", name, true)
            .await
            .unwrap();
    }
    // Healthy nodes stay untouched over several grace periods.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let n1 = nodes.get("n1").await.unwrap();
    assert_eq!(ready_of(&n1).0, "True");
    assert!(taint_keys(&n1).is_empty());

    // n1's kubelet goes silent.
    n1_silent.store(true, Ordering::Relaxed);
    let n1 = wait_for("n1 Unknown and tainted", TIMEOUT, || async {
        let n = nodes.get("n1").await.ok()?;
        let tainted = taint_keys(&n)
            == vec![
                format!("{UNREACHABLE}:NoExecute"),
                format!("{UNREACHABLE}:NoSchedule"),
            ];
        (ready_of(&n).0 == "Unknown" && tainted).then_some(n)
    })
    .await
    .unwrap();
    assert_eq!(ready_of(&n1).1, "NodeStatusUnknown");
    let message = n1
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap()
        .message;
    assert_eq!(
        message.as_deref(),
        Some("Kubelet stopped posting node status.")
    );
    let out = server.kubectl(&["get", "nodes"]).unwrap();
    let text = expect_success("kubectl", &["get", "nodes"], &out);
    let n1_line = text
        .lines()
        .find(|l| l.starts_with("n1 "))
        .unwrap_or_default();
    assert!(n1_line.contains("NotReady"), "{text}");
    let n2_line = text
        .lines()
        .find(|l| l.starts_with("n2 "))
        .unwrap_or_default();
    assert!(
        n2_line.contains("Ready") && !n2_line.contains("NotReady"),
        "{text}"
    );

    // Pods on n1 are marked not ready; `quick` is deleted after its 2 s, `patient` stays.
    wait_for("quick evicted and patient not ready", TIMEOUT, || async {
        let quick_gone = match pods.get_opt("quick").await.ok()? {
            None => true,
            Some(p) => p.metadata.deletion_timestamp.is_some(),
        };
        let patient = pods.get("patient").await.ok()?;
        (quick_gone && pod_ready(&patient) == Some(false)).then_some(())
    })
    .await
    .unwrap();
    let patient = pods.get("patient").await.unwrap();
    assert!(patient.metadata.deletion_timestamp.is_none());
    let elsewhere = pods.get("elsewhere").await.unwrap();
    assert_eq!(pod_ready(&elsewhere), Some(true));
    assert!(elsewhere.metadata.deletion_timestamp.is_none());
    let n2 = nodes.get("n2").await.unwrap();
    assert_eq!(ready_of(&n2).0, "True");
    assert!(taint_keys(&n2).is_empty());

    // The transition is recorded as an event a user sees.
    wait_for("a NodeNotReady event", TIMEOUT, || async {
        let events: Api<Event> = Api::all(client.clone());
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("NodeNotReady")
                    && e.involved_object.name.as_deref() == Some("n1")
            })
            .then_some(())
    })
    .await
    .unwrap();

    // The kubelet is back but posts NotReady: the not-ready taints instead.
    keep_renewing(client.clone(), "n1", stop_all.clone());
    set_node_ready(&client, "n1", false).await.unwrap();
    wait_for("n1 not-ready taints", TIMEOUT, || async {
        let n = nodes.get("n1").await.ok()?;
        let keys = taint_keys(&n);
        (keys
            == vec![
                "node.kubernetes.io/not-ready:NoExecute".to_owned(),
                "node.kubernetes.io/not-ready:NoSchedule".to_owned(),
            ])
        .then_some(())
    })
    .await
    .unwrap();

    // Then Ready: taints gone.
    set_node_ready(&client, "n1", true).await.unwrap();
    wait_for("n1 Ready and untainted", TIMEOUT, || async {
        let n = nodes.get("n1").await.ok()?;
        (ready_of(&n).0 == "True" && taint_keys(&n).is_empty()).then_some(())
    })
    .await
    .unwrap();
    let patient = pods.get("patient").await.unwrap();
    assert!(patient.metadata.deletion_timestamp.is_none());
    stop_all.store(true, Ordering::Relaxed);
}
