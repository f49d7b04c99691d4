//! The kubelet's node registration against the real server: the Node appears Ready in
//! `kubectl get nodes` with this machine's capacity and node info, its Lease in
//! `kube-node-lease` is held and renewed, and a node deleted behind the kubelet's back is
//! registered again.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams};
use rkube_kubelet::node::{self, MachineFacts, NodeConfig};
use rkube_tests::server_proc::{expect_success, ServerProcess};
use serde_json::json;

fn ok(s: &ServerProcess, args: &[&str]) -> String {
    expect_success("kubectl", args, &s.kubectl(args).unwrap())
}

#[tokio::test]
async fn a_node_registers_reports_and_renews_its_lease() {
    let s = ServerProcess::start_args(&["--disable-scheduler", "--disable-controller-manager"])
        .expect("rkube server starts");
    let client = s.client().await.unwrap();
    let config = NodeConfig {
        name: "worker-1".into(),
        address: "192.0.2.10".into(),
        labels: BTreeMap::from([("tier".to_owned(), "edge".to_owned())]),
        taints: vec![json!({"key": "dedicated", "value": "edge", "effect": "NoSchedule"})],
        max_pods: 110,
        kubelet_port: 10250,
    };
    let facts = MachineFacts::read(s.scratch());
    let registered = node::register(&client, &config).await.unwrap();
    node::report_status(&client, &config, &facts).await.unwrap();
    node::renew_lease(&client, &registered).await.unwrap();

    let table = ok(&s, &["get", "nodes", "--no-headers"]);
    let cols: Vec<&str> = table.split_whitespace().collect();
    assert_eq!(
        (cols[0], cols[1], cols[2]),
        ("worker-1", "Ready", "<none>"),
        "{table}"
    );
    assert_eq!(cols[4], "v1.33.0", "{table}");
    let wide = ok(
        &s,
        &["get", "node", "worker-1", "-o", "wide", "--no-headers"],
    );
    assert!(wide.contains("192.0.2.10"), "{wide}");
    assert!(wide.contains(&format!("rkube://{}", "0.1.0")), "{wide}");
    let describe = ok(&s, &["describe", "node", "worker-1"]);
    for want in [
        "kubelet is posting ready status",
        "tier=edge",
        "kubernetes.io/arch=amd64",
        "dedicated=edge:NoSchedule",
        &format!("cpu:                {}", facts.cpus),
    ] {
        assert!(describe.contains(want), "{want} missing from:\n{describe}");
    }

    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let first = leases.get("worker-1").await.unwrap().spec.unwrap();
    assert_eq!(first.holder_identity.as_deref(), Some("worker-1"));
    assert_eq!(first.lease_duration_seconds, Some(40));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    node::renew_lease(&client, &registered).await.unwrap();
    let second = leases.get("worker-1").await.unwrap().spec.unwrap();
    assert!(second.renew_time > first.renew_time);

    // Deleted behind the kubelet's back: registered again.
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .delete("worker-1", &DeleteParams::default())
        .await
        .unwrap();
    node::register(&client, &config).await.unwrap();
    node::report_status(&client, &config, &facts).await.unwrap();
    let again = nodes.get("worker-1").await.unwrap();
    assert_eq!(again.metadata.labels.unwrap()["tier"], "edge");
}
