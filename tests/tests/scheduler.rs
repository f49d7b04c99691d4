//! The scheduler inside the real `rkube server`, against fake nodes (Node objects with
//! capacity and no kubelet): where pods land, and what a user reads when one fits nowhere.
//!
//! Needs `target/debug/rkube` (`cargo build -p rkube --bin rkube`) and kubectl.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use kube::Client;
use rkube_tests::fake::{wait_for, FakeNode};
use rkube_tests::server_proc::{expect_success, ServerProcess};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

fn start() -> ServerProcess {
    ServerProcess::start_args(&["--disable-controller-manager"]).expect("rkube server starts")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// A pod in `default` running `pause`, with `spec` merged into its spec.
async fn create_pod(client: &Client, name: &str, labels: Value, spec: Value) -> Pod {
    let mut pod_spec =
        json!({"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]});
    if let (Some(base), Some(extra)) = (pod_spec.as_object_mut(), spec.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": pod_spec,
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pod)
        .await
        .unwrap()
}

fn with_cpu(cpu: &str) -> Value {
    json!({"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
        "resources": {"requests": {"cpu": cpu}}}]})
}

async fn node_of(client: &Client, name: &str) -> Option<String> {
    let pod = Api::<Pod>::namespaced(client.clone(), "default")
        .get(name)
        .await
        .ok()?;
    pod.spec?.node_name.filter(|n| !n.is_empty())
}

async fn wait_bound(client: &Client, name: &str) -> String {
    wait_for(&format!("pod {name} bound"), WAIT, || node_of(client, name))
        .await
        .unwrap()
}

/// The PodScheduled=False message, once the scheduler has written it.
async fn wait_unschedulable(client: &Client, name: &str) -> String {
    wait_for(&format!("pod {name} unschedulable"), WAIT, || async {
        let pod = Api::<Pod>::namespaced(client.clone(), "default")
            .get(name)
            .await
            .ok()?;
        let cond = pod
            .status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "PodScheduled")?;
        (cond.status == "False" && cond.reason.as_deref() == Some("Unschedulable"))
            .then(|| cond.message.unwrap_or_default())
    })
    .await
    .unwrap()
}

#[test]
fn replicas_spread_across_nodes() {
    let server = start();
    runtime().block_on(async {
        let client = server.client().await.unwrap();
        for n in ["n1", "n2", "n3"] {
            FakeNode::new(n).create(&client).await.unwrap();
        }
        let owner = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
            "uid": "6b1c1f7e-0000-4000-8000-000000000001", "controller": true}]);
        let api = Api::<Pod>::namespaced(client.clone(), "default");
        for i in 0..6 {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": format!("web-{i}"), "labels": {"app": "web"},
                    "ownerReferences": owner},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            }))
            .unwrap();
            api.create(&PostParams::default(), &pod).await.unwrap();
        }
        let mut per_node = std::collections::BTreeMap::new();
        for i in 0..6 {
            let node = wait_bound(&client, &format!("web-{i}")).await;
            *per_node.entry(node).or_insert(0) += 1;
        }
        assert_eq!(
            per_node.values().copied().collect::<Vec<_>>(),
            vec![2, 2, 2],
            "{per_node:?}"
        );
    });
    let out = server.kubectl(&["get", "pods", "-o", "wide"]).unwrap();
    let text = expect_success("kubectl", &["get", "pods"], &out);
    assert!(text.contains("web-0"), "{text}");
}

#[test]
fn host_port_conflict_leaves_the_second_pending() {
    let server = start();
    runtime().block_on(async {
        let client = server.client().await.unwrap();
        FakeNode::new("n1").create(&client).await.unwrap();
        let ports = json!({"containers": [{"name": "c", "image": "nginx",
            "ports": [{"containerPort": 80, "hostPort": 8080}]}]});
        create_pod(&client, "first", json!({}), ports.clone()).await;
        assert_eq!(wait_bound(&client, "first").await, "n1");
        create_pod(&client, "second", json!({}), ports).await;
        let message = wait_unschedulable(&client, "second").await;
        assert_eq!(
            message,
            "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. \
             preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
        );
        assert_eq!(node_of(&client, "second").await, None);
    });
    let args = ["describe", "pod", "second"];
    let text = wait_describe(&server, &args, "FailedScheduling");
    assert!(text.contains("didn't have free ports"), "{text}");
}

fn wait_describe(server: &ServerProcess, args: &[&str], needle: &str) -> String {
    for _ in 0..100 {
        let out = server.kubectl(args).unwrap();
        let text = expect_success("kubectl", args, &out);
        if text.contains(needle) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("kubectl {args:?} never showed {needle}");
}

#[test]
fn taints_tolerations_and_insufficient_cpu() {
    let server = start();
    runtime().block_on(async {
        let client = server.client().await.unwrap();
        FakeNode::new("gpu").cpu("8").taint("dedicated", "gpu", "NoSchedule").create(&client).await.unwrap();
        FakeNode::new("small-1").cpu("1").create(&client).await.unwrap();
        FakeNode::new("small-2").cpu("1").create(&client).await.unwrap();
        create_pod(&client, "big", json!({}), with_cpu("2")).await;
        let message = wait_unschedulable(&client, "big").await;
        assert_eq!(
            message,
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. \
             preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, \
             2 No preemption victims found for incoming pod."
        );
        let mut tolerant = with_cpu("2");
        tolerant["tolerations"] =
            json!([{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]);
        create_pod(&client, "tolerant", json!({}), tolerant).await;
        assert_eq!(wait_bound(&client, "tolerant").await, "gpu");
    });
}

#[test]
fn node_affinity_and_cordon() {
    let server = start();
    runtime().block_on(async {
        let client = server.client().await.unwrap();
        FakeNode::new("hdd").create(&client).await.unwrap();
        FakeNode::new("ssd").label("disk", "ssd").create(&client).await.unwrap();
        create_pod(&client, "selector", json!({}), json!({"nodeSelector": {"disk": "ssd"}})).await;
        assert_eq!(wait_bound(&client, "selector").await, "ssd");
        let affinity = json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]}]}}}});
        create_pod(&client, "affinity", json!({}), affinity).await;
        assert_eq!(wait_bound(&client, "affinity").await, "hdd");
    });
    let out = server.kubectl(&["cordon", "hdd"]).unwrap();
    expect_success("kubectl", &["cordon", "hdd"], &out);
    runtime().block_on(async {
        let client = server.client().await.unwrap();
        for i in 0..4 {
            create_pod(&client, &format!("after-cordon-{i}"), json!({}), json!({})).await;
        }
        for i in 0..4 {
            assert_eq!(wait_bound(&client, &format!("after-cordon-{i}")).await, "ssd");
        }
        create_pod(&client, "only-hdd", json!({}), json!({"nodeSelector": {"kubernetes.io/hostname": "hdd"}})).await;
        let message = wait_unschedulable(&client, "only-hdd").await;
        assert!(
            message.starts_with("0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were unschedulable."),
            "{message}"
        );
    });
}

#[test]
fn pod_anti_affinity_keeps_replicas_apart() {
    let server = start();
    runtime().block_on(async {
        let client = server.client().await.unwrap();
        FakeNode::new("n1").create(&client).await.unwrap();
        FakeNode::new("n2").create(&client).await.unwrap();
        let spec = json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}});
        let mut nodes = Vec::new();
        for i in 0..2 {
            create_pod(&client, &format!("db-{i}"), json!({"app": "db"}), spec.clone()).await;
            nodes.push(wait_bound(&client, &format!("db-{i}")).await);
        }
        nodes.sort();
        assert_eq!(nodes, vec!["n1", "n2"]);
        create_pod(&client, "db-2", json!({"app": "db"}), spec).await;
        let message = wait_unschedulable(&client, "db-2").await;
        assert!(
            message.starts_with("0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules."),
            "{message}"
        );
    });
}

#[test]
fn other_scheduler_names_are_left_alone_and_pending_pods_wait_for_nodes() {
    let server = start();
    runtime().block_on(async {
        let client = server.client().await.unwrap();
        create_pod(&client, "early", json!({}), json!({})).await;
        let message = wait_unschedulable(&client, "early").await;
        assert_eq!(message, "no nodes available to schedule pods");
        create_pod(
            &client,
            "theirs",
            json!({}),
            json!({"schedulerName": "my-scheduler"}),
        )
        .await;
        FakeNode::new("late").create(&client).await.unwrap();
        assert_eq!(wait_bound(&client, "early").await, "late");
        create_pod(&client, "ours", json!({}), json!({})).await;
        wait_bound(&client, "ours").await;
        let theirs = Api::<Pod>::namespaced(client.clone(), "default")
            .get("theirs")
            .await
            .unwrap();
        assert_eq!(theirs.spec.unwrap().node_name, None);
        let conditions = theirs.status.and_then(|s| s.conditions).unwrap_or_default();
        assert!(
            conditions.iter().all(|c| c.type_ != "PodScheduled"),
            "{conditions:?}"
        );
    });
}

#[test]
fn high_priority_pod_preempts_a_low_priority_one() {
    let server = start();
    runtime().block_on(async {
        let client = server.client().await.unwrap();
        FakeNode::new("n1").cpu("2").create(&client).await.unwrap();
        let classes: Api<k8s_openapi::api::scheduling::v1::PriorityClass> =
            Api::all(client.clone());
        let high = serde_json::from_value(json!({"apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000}))
        .unwrap();
        classes.create(&PostParams::default(), &high).await.unwrap();
        for i in 0..2 {
            create_pod(&client, &format!("low-{i}"), json!({}), with_cpu("1")).await;
            wait_bound(&client, &format!("low-{i}")).await;
        }
        let mut spec = with_cpu("1");
        spec["priorityClassName"] = json!("high");
        create_pod(&client, "important", json!({}), spec).await;
        let pods = Api::<Pod>::namespaced(client.clone(), "default");
        let nominated = wait_for("nominatedNodeName", WAIT, || async {
            pods.get("important")
                .await
                .ok()?
                .status?
                .nominated_node_name
        })
        .await
        .unwrap();
        assert_eq!(nominated, "n1");
        // No kubelet: finish the victim's termination as the kubelet would.
        let victims = wait_for("one victim terminating or gone", WAIT, || async {
            let mut gone = Vec::new();
            for i in 0..2 {
                let name = format!("low-{i}");
                match pods.get(&name).await {
                    Ok(p) if p.metadata.deletion_timestamp.is_none() => {}
                    _ => gone.push(name),
                }
            }
            (!gone.is_empty()).then_some(gone)
        })
        .await
        .unwrap();
        assert_eq!(victims.len(), 1, "{victims:?}");
        let _ = pods
            .delete(&victims[0], &DeleteParams::default().grace_period(0))
            .await;
        assert_eq!(wait_bound(&client, "important").await, "n1");
    });
}
