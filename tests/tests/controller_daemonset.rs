//! The DaemonSet controller inside `rkube server`, seen through the API and the real kubectl:
//! a pod per eligible node as nodes join and leave, taints respected, and a rolling update
//! that replaces pods node by node.
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl (see `server_proc`).
//! The scheduler is disabled: daemon pods are checked by the node their affinity pins them
//! to, and the tests play the kubelet (`mark_pod_running`).

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams};
use kube::Client;
use rkube_tests::fake::{mark_pod_running, wait_for, FakeNode};
use rkube_tests::server_proc::{expect_success, ServerProcess};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

fn daemonset_yaml(image: &str, strategy: &str) -> String {
    format!(
        r"apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: default
spec:
  selector:
    matchLabels: {{app: agent}}
  updateStrategy:
{strategy}
  template:
    metadata:
      labels: {{app: agent}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: agent
        image: {image}
"
    )
}

const ROLLING_ONE: &str = "    type: RollingUpdate\n    rollingUpdate: {maxUnavailable: 1}";

fn start() -> ServerProcess {
    ServerProcess::start_args(&["--disable-scheduler"]).expect("rkube server starts")
}

fn apply(server: &ServerProcess, yaml: &str) {
    let args = ["apply", "-f", "-"];
    let out = server
        .kubectl_with_stdin(&args, Some(yaml))
        .expect("kubectl runs");
    expect_success("kubectl", &args, &out);
}

/// The live daemon pods, by the node their required affinity (or binding) names.
async fn pods_by_node(client: &Client) -> Vec<(String, Pod)> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let listed = pods
        .list(&ListParams::default().labels("app=agent"))
        .await
        .unwrap();
    listed
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| (pinned_node(&p), p))
        .collect()
}

fn pinned_node(pod: &Pod) -> String {
    let v = serde_json::to_value(pod).unwrap();
    let terms = &v["spec"]["affinity"]["nodeAffinity"]
        ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"];
    assert_eq!(
        terms.as_array().map(Vec::len),
        Some(1),
        "one pinning term: {terms}"
    );
    let field = &terms[0]["matchFields"][0];
    assert_eq!(field["key"], "metadata.name");
    assert_eq!(field["operator"], "In");
    field["values"][0].as_str().unwrap().to_owned()
}

async fn wait_for_nodes(client: &Client, want: &[&str]) -> Vec<(String, Pod)> {
    let want: BTreeSet<String> = want.iter().map(|s| (*s).to_owned()).collect();
    wait_for(
        &format!("daemon pods on exactly {want:?}"),
        WAIT,
        || async {
            let pods = pods_by_node(client).await;
            let nodes: Vec<String> = pods.iter().map(|(n, _)| n.clone()).collect();
            let set: BTreeSet<String> = nodes.iter().cloned().collect();
            (set == want && nodes.len() == want.len()).then_some(pods)
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn daemonset_follows_nodes_joining_and_leaving() {
    let server = start();
    let client = server.client().await.unwrap();
    FakeNode::new("n1").create(&client).await.unwrap();
    FakeNode::new("n2").create(&client).await.unwrap();
    FakeNode::new("gpu")
        .taint("dedicated", "gpu", "NoSchedule")
        .create(&client)
        .await
        .unwrap();
    apply(&server, &daemonset_yaml("busybox:1", ROLLING_ONE));

    // One pod per untainted node, none on the node tainted NoSchedule.
    let pods = wait_for_nodes(&client, &["n1", "n2"]).await;
    let (_, pod) = &pods[0];
    let v = serde_json::to_value(pod).unwrap();
    let tolerated: Vec<String> = v["spec"]["tolerations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}:{}",
                t["key"].as_str().unwrap(),
                t["effect"].as_str().unwrap()
            )
        })
        .collect();
    for wanted in [
        "node.kubernetes.io/not-ready:NoExecute",
        "node.kubernetes.io/unreachable:NoExecute",
        "node.kubernetes.io/disk-pressure:NoSchedule",
        "node.kubernetes.io/memory-pressure:NoSchedule",
        "node.kubernetes.io/pid-pressure:NoSchedule",
        "node.kubernetes.io/unschedulable:NoSchedule",
    ] {
        assert!(
            tolerated.iter().any(|t| t == wanted),
            "{wanted} in {tolerated:?}"
        );
    }
    assert!(pod.metadata.name.as_deref().unwrap().starts_with("agent-"));
    let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("DaemonSet", Some(true))
    );
    assert!(pod
        .metadata
        .labels
        .as_ref()
        .unwrap()
        .contains_key("controller-revision-hash"));

    // A node joins: it gets a pod; a node leaves: its pod goes.
    FakeNode::new("n3").create(&client).await.unwrap();
    wait_for_nodes(&client, &["n1", "n2", "n3"]).await;
    let nodes: Api<Node> = Api::all(client.clone());
    nodes.delete("n2", &DeleteParams::default()).await.unwrap();
    wait_for_nodes(&client, &["n1", "n3"]).await;

    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let status = wait_for("status for two nodes", WAIT, || async {
        let ds = daemonsets.get("agent").await.unwrap();
        let s = ds.status?;
        (s.desired_number_scheduled == 2 && s.current_number_scheduled == 2).then_some(s)
    })
    .await
    .unwrap();
    assert_eq!(status.number_misscheduled, 0);
    assert_eq!(status.number_ready, 0);

    // What a user reads: the events of the daemon set.
    let args = [
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=agent",
        "-o",
        "json",
    ];
    let reasons = wait_for(
        "SuccessfulCreate and SuccessfulDelete events",
        WAIT,
        || async {
            let out = server.kubectl(&args).unwrap();
            let text = expect_success("kubectl", &args, &out);
            let list: Value = serde_json::from_str(&text).unwrap();
            let reasons: BTreeSet<String> = list["items"]
                .as_array()?
                .iter()
                .filter_map(|e| e["reason"].as_str().map(str::to_owned))
                .collect();
            (reasons.contains("SuccessfulCreate") && reasons.contains("SuccessfulDelete"))
                .then_some(reasons)
        },
    )
    .await
    .unwrap();
    assert!(reasons.len() >= 2);
}

/// Plays the kubelet for every daemon pod that is not Running yet; returns the pods by node.
async fn run_pods(client: &Client) -> Vec<(String, Pod)> {
    let pods = pods_by_node(client).await;
    for (_, pod) in &pods {
        let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        if !running {
            let name = pod.metadata.name.as_deref().unwrap();
            // The pod may be replaced meanwhile: a failure here is retried on the next round.
            let _ = mark_pod_running(client, "default", name, true).await;
        }
    }
    pods_by_node(client).await
}

fn image_of(pod: &Pod) -> String {
    pod.spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[tokio::test(flavor = "multi_thread")]
async fn daemonset_rolling_update_replaces_pods_node_by_node() {
    let server = start();
    let client = server.client().await.unwrap();
    for n in ["n1", "n2", "n3"] {
        FakeNode::new(n).create(&client).await.unwrap();
    }
    apply(&server, &daemonset_yaml("busybox:1", ROLLING_ONE));
    wait_for_nodes(&client, &["n1", "n2", "n3"]).await;
    run_pods(&client).await;
    let args = ["rollout", "status", "ds/agent", "--timeout=60s"];
    let out = server.kubectl(&args).unwrap();
    let text = expect_success("kubectl", &args, &out);
    assert!(text.contains("successfully rolled out"), "{text}");

    apply(&server, &daemonset_yaml("busybox:2", ROLLING_ONE));
    // Step by step: never more than one node (maxUnavailable 1) without a ready pod.
    let done = wait_for(
        "every node running busybox:2",
        Duration::from_secs(120),
        || async {
            let pods = run_pods(&client).await;
            let covered: BTreeSet<&String> = pods
                .iter()
                .filter(|(_, p)| is_ready(p))
                .map(|(n, _)| n)
                .collect();
            assert!(
                covered.len() >= 2,
                "more than one node unavailable: {pods:?}"
            );
            let new: BTreeSet<&String> = pods
                .iter()
                .filter(|(_, p)| image_of(p) == "busybox:2" && is_ready(p))
                .map(|(n, _)| n)
                .collect();
            (new.len() == 3 && pods.len() == 3).then_some(())
        },
    )
    .await;
    done.unwrap();
    let out = server.kubectl(&args).unwrap();
    let text = expect_success("kubectl", &args, &out);
    assert!(text.contains("successfully rolled out"), "{text}");

    // Two revisions of the template, numbered, the newest the pods' hash.
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    let mut listed = revisions.list(&ListParams::default()).await.unwrap().items;
    listed.sort_by_key(|r| r.revision);
    let numbers: Vec<i64> = listed.iter().map(|r| r.revision).collect();
    assert_eq!(numbers, vec![1, 2]);
    let newest = &listed[1];
    let hash = &newest.metadata.labels.as_ref().unwrap()["controller-revision-hash"];
    assert_eq!(
        newest.metadata.name.as_deref(),
        Some(format!("agent-{hash}").as_str())
    );
    for (_, pod) in pods_by_node(&client).await {
        assert_eq!(
            &pod.metadata.labels.as_ref().unwrap()["controller-revision-hash"],
            hash
        );
    }
    let args = ["rollout", "history", "ds/agent"];
    let out = server.kubectl(&args).unwrap();
    let text = expect_success("kubectl", &args, &out);
    assert!(text.contains('1') && text.contains('2'), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn daemonset_on_delete_replaces_only_deleted_pods() {
    let server = start();
    let client = server.client().await.unwrap();
    for n in ["n1", "n2"] {
        FakeNode::new(n).create(&client).await.unwrap();
    }
    let on_delete = "    type: OnDelete";
    apply(&server, &daemonset_yaml("busybox:1", on_delete));
    let before = wait_for_nodes(&client, &["n1", "n2"]).await;
    apply(&server, &daemonset_yaml("busybox:2", on_delete));
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    wait_for("a second revision", WAIT, || async {
        let n = revisions
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len();
        (n == 2).then_some(())
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let now = pods_by_node(&client).await;
    let names = |pods: &[(String, Pod)]| -> BTreeSet<String> {
        pods.iter()
            .map(|(_, p)| p.metadata.name.clone().unwrap())
            .collect()
    };
    assert_eq!(names(&now), names(&before), "OnDelete leaves pods alone");

    // The user deletes the pod on n1: its replacement runs the new template.
    let on_n1 = before.iter().find(|(n, _)| n == "n1").unwrap();
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.delete(
        on_n1.1.metadata.name.as_deref().unwrap(),
        &DeleteParams::default(),
    )
    .await
    .unwrap();
    wait_for("n1 running busybox:2, n2 still busybox:1", WAIT, || async {
        let pods = pods_by_node(&client).await;
        let by_node: Vec<(String, String)> = pods
            .iter()
            .map(|(n, p)| (n.clone(), image_of(p)))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        (by_node
            == [
                ("n1".to_owned(), "busybox:2".to_owned()),
                ("n2".to_owned(), "busybox:1".to_owned()),
            ])
        .then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn daemonset_surge_update_keeps_every_node_served() {
    let server = start();
    let client = server.client().await.unwrap();
    for n in ["n1", "n2", "n3"] {
        FakeNode::new(n).create(&client).await.unwrap();
    }
    let surge = "    type: RollingUpdate\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}";
    apply(&server, &daemonset_yaml("busybox:1", surge));
    wait_for_nodes(&client, &["n1", "n2", "n3"]).await;
    wait_for("three ready pods", WAIT, || async {
        let pods = run_pods(&client).await;
        (pods.iter().filter(|(_, p)| is_ready(p)).count() == 3).then_some(())
    })
    .await
    .unwrap();

    apply(&server, &daemonset_yaml("busybox:2", surge));
    // maxUnavailable 0: every node keeps a ready pod; maxSurge 1: at most one extra pod.
    wait_for(
        "every node running busybox:2",
        Duration::from_secs(120),
        || async {
            let pods = run_pods(&client).await;
            let covered: BTreeSet<&String> = pods
                .iter()
                .filter(|(_, p)| is_ready(p))
                .map(|(n, _)| n)
                .collect();
            assert_eq!(covered.len(), 3, "a node without a ready pod: {pods:?}");
            assert!(pods.len() <= 4, "more than one surge pod: {}", pods.len());
            let done = pods.len() == 3
                && pods
                    .iter()
                    .all(|(_, p)| image_of(p) == "busybox:2" && is_ready(p));
            done.then_some(())
        },
    )
    .await
    .unwrap();
    let args = ["rollout", "status", "ds/agent", "--timeout=60s"];
    let out = server.kubectl(&args).unwrap();
    let text = expect_success("kubectl", &args, &out);
    assert!(text.contains("successfully rolled out"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn daemonset_rollout_undo_restores_the_previous_template() {
    let server = start();
    let client = server.client().await.unwrap();
    FakeNode::new("n1").create(&client).await.unwrap();
    apply(&server, &daemonset_yaml("busybox:1", ROLLING_ONE));
    wait_for_nodes(&client, &["n1"]).await;
    apply(&server, &daemonset_yaml("busybox:2", ROLLING_ONE));
    let image_on_n1 = |want: &'static str| {
        let client = client.clone();
        async move {
            wait_for(&format!("n1 running {want}"), WAIT, || async {
                let pods = run_pods(&client).await;
                (pods.len() == 1 && image_of(&pods[0].1) == want).then_some(())
            })
            .await
            .unwrap();
        }
    };
    image_on_n1("busybox:2").await;

    let args = ["rollout", "undo", "ds/agent"];
    let out = server.kubectl(&args).unwrap();
    let text = expect_success("kubectl", &args, &out);
    assert!(text.contains("rolled back"), "{text}");
    image_on_n1("busybox:1").await;

    // The old revision is renumbered as the newest instead of copied.
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    let mut listed = revisions.list(&ListParams::default()).await.unwrap().items;
    listed.sort_by_key(|r| r.revision);
    let numbers: Vec<i64> = listed.iter().map(|r| r.revision).collect();
    assert_eq!(numbers, vec![2, 3]);
}
