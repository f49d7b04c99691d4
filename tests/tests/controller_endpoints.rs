//! The EndpointSlice and Endpoints controllers inside `rkube server`: a Service's slices and
//! Endpoints follow its pods as they get an IP, turn ready or not, terminate and go away, as a
//! user reads them with kubectl.
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl (see `server_proc`).
//! Pods are bound to fake nodes by hand (the scheduler is off) and their status is set by the
//! test, as a kubelet would.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::time::Duration;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::Client;
use rkube_tests::fake::{mark_pod_running, wait_for, FakeNode};
use rkube_tests::server_proc::{expect_success, ServerProcess};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

fn start() -> ServerProcess {
    ServerProcess::start_args(&["--disable-scheduler"]).expect("rkube server starts")
}

async fn create_service(client: &Client, name: &str, spec: serde_json::Value) -> Service {
    let svc: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "labels": {"tier": "front"}},
        "spec": spec,
    }))
    .unwrap();
    Api::<Service>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .unwrap()
}

/// A pod labelled `app=web` on `node`, whose one container names `port_name` port 8080.
async fn create_pod(client: &Client, name: &str, node: &str, port_name: &str) -> Pod {
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "image": "nginx",
                "ports": [{"name": port_name, "containerPort": 8080}]}],
        },
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pod)
        .await
        .unwrap()
}

async fn slices_of(client: &Client, svc: &str) -> Vec<EndpointSlice> {
    Api::<EndpointSlice>::namespaced(client.clone(), "default")
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={svc}")))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

/// `(address, ready, serving, terminating)` of every endpoint in the Service's slices, sorted.
async fn endpoint_states(client: &Client, svc: &str) -> Vec<(String, bool, bool, bool)> {
    let mut out: Vec<_> = slices_of(client, svc)
        .await
        .iter()
        .flat_map(|s| s.endpoints.iter())
        .map(|e| {
            let c = e.conditions.clone().unwrap_or_default();
            (
                e.addresses[0].clone(),
                c.ready == Some(true),
                c.serving == Some(true),
                c.terminating == Some(true),
            )
        })
        .collect();
    out.sort();
    out
}

/// `(ready IPs, not-ready IPs)` of the Service's Endpoints.
async fn endpoints_ips(client: &Client, svc: &str) -> Option<(Vec<String>, Vec<String>)> {
    let ep = Api::<Endpoints>::namespaced(client.clone(), "default")
        .get_opt(svc)
        .await
        .ok()??;
    let mut ready = Vec::new();
    let mut not_ready = Vec::new();
    for s in ep.subsets.unwrap_or_default() {
        ready.extend(s.addresses.unwrap_or_default().into_iter().map(|a| a.ip));
        not_ready.extend(
            s.not_ready_addresses
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.ip),
        );
    }
    ready.sort();
    not_ready.sort();
    Some((ready, not_ready))
}

fn ip_of(pod: &Pod) -> String {
    pod.status.as_ref().unwrap().pod_ip.clone().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slices_and_endpoints_follow_pods() {
    let server = start();
    let client = server.client().await.unwrap();
    FakeNode::new("n1")
        .label("topology.kubernetes.io/zone", "zone-a")
        .create(&client)
        .await
        .unwrap();
    let svc = create_service(
        &client,
        "web",
        json!({"selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}),
    )
    .await;
    // A Service with no endpoints yet has one empty slice.
    let placeholder = wait_for("the placeholder slice", TIMEOUT, || async {
        let slices = slices_of(&client, "web").await;
        (slices.len() == 1).then(|| slices[0].clone())
    })
    .await
    .unwrap();
    assert!(placeholder.endpoints.is_empty());
    assert_eq!(placeholder.address_type, "IPv4");
    let labels = placeholder.metadata.labels.clone().unwrap();
    assert_eq!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(labels["tier"], "front");
    assert!(placeholder.metadata.name.unwrap().starts_with("web-"));
    let owner = &placeholder.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Service", svc.metadata.uid.as_deref().unwrap())
    );

    create_pod(&client, "web-1", "n1", "http").await;
    create_pod(&client, "web-2", "n1", "http").await;
    let p1 = mark_pod_running(&client, "default", "web-1", true)
        .await
        .unwrap();
    let p2 = mark_pod_running(&client, "default", "web-2", false)
        .await
        .unwrap();
    let (ip1, ip2) = (ip_of(&p1), ip_of(&p2));

    // One ready, one not.
    let want = {
        let mut v = vec![
            (ip1.clone(), true, true, false),
            (ip2.clone(), false, false, false),
        ];
        v.sort();
        v
    };
    wait_for(
        "web-1 ready and web-2 not ready in the slice",
        TIMEOUT,
        || async { (endpoint_states(&client, "web").await == want).then_some(()) },
    )
    .await
    .unwrap();
    let slices = slices_of(&client, "web").await;
    assert_eq!(slices.len(), 1, "the placeholder was reused: {slices:?}");
    let slice = &slices[0];
    let port = &slice.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.port, port.protocol.as_deref()),
        (Some("http"), Some(8080), Some("TCP"))
    );
    let e1 = slice
        .endpoints
        .iter()
        .find(|e| e.addresses[0] == ip1)
        .unwrap();
    assert_eq!(e1.node_name.as_deref(), Some("n1"));
    assert_eq!(e1.zone.as_deref(), Some("zone-a"));
    let target = e1.target_ref.as_ref().unwrap();
    assert_eq!(
        (target.kind.as_deref(), target.name.as_deref()),
        (Some("Pod"), Some("web-1"))
    );

    wait_for(
        "Endpoints with one ready and one not-ready address",
        TIMEOUT,
        || async {
            (endpoints_ips(&client, "web").await == Some((vec![ip1.clone()], vec![ip2.clone()])))
                .then_some(())
        },
    )
    .await
    .unwrap();
    let ep = Api::<Endpoints>::namespaced(client.clone(), "default")
        .get("web")
        .await
        .unwrap();
    let annotations = ep.metadata.annotations.unwrap_or_default();
    assert!(
        annotations.contains_key("endpoints.kubernetes.io/last-change-trigger-time"),
        "{annotations:?}"
    );
    assert_eq!(ep.subsets.unwrap()[0].ports.as_ref().unwrap()[0].port, 8080);

    // web-2 turns ready.
    mark_pod_running(&client, "default", "web-2", true)
        .await
        .unwrap();
    let mut both = vec![ip1.clone(), ip2.clone()];
    both.sort();
    wait_for("both pods ready", TIMEOUT, || async {
        let states = endpoint_states(&client, "web").await;
        let ready = states.len() == 2 && states.iter().all(|s| s.1);
        let eps = endpoints_ips(&client, "web").await == Some((both.clone(), Vec::new()));
        (ready && eps).then_some(())
    })
    .await
    .unwrap();

    // What a user reads.
    let out = server
        .kubectl(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
        ])
        .unwrap();
    let text = expect_success("kubectl", &["get", "endpointslices"], &out);
    assert!(text.contains("IPv4") && text.contains("8080"), "{text}");
    assert!(text.contains(&ip1) || text.contains(&ip2), "{text}");
    let out = server.kubectl(&["describe", "svc", "web"]).unwrap();
    let text = expect_success("kubectl", &["describe", "svc", "web"], &out);
    let line = text
        .lines()
        .find(|l| l.starts_with("Endpoints:"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        line.contains(&format!("{ip1}:8080")) && line.contains(&format!("{ip2}:8080")),
        "{text}"
    );

    // web-1 is deleted: terminating in the slice, gone from the Endpoints' addresses.
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    pods.delete("web-1", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("web-1 terminating", TIMEOUT, || async {
        let states = endpoint_states(&client, "web").await;
        let terminating = states.contains(&(ip1.clone(), false, true, true));
        let eps = endpoints_ips(&client, "web").await == Some((vec![ip2.clone()], Vec::new()));
        (terminating && eps).then_some(())
    })
    .await
    .unwrap();
    // Gone for good.
    pods.delete("web-1", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    wait_for("web-1 gone from the slice", TIMEOUT, || async {
        (endpoint_states(&client, "web").await == vec![(ip2.clone(), true, true, false)])
            .then_some(())
    })
    .await
    .unwrap();

    // A label change takes a pod out of the Service.
    let patch = json!({"metadata": {"labels": {"app": "other"}}});
    pods.patch(
        "web-2",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .unwrap();
    wait_for("no endpoints left", TIMEOUT, || async {
        let slices = slices_of(&client, "web").await;
        let empty = slices.len() == 1 && slices[0].endpoints.is_empty();
        let eps = endpoints_ips(&client, "web").await == Some((Vec::new(), Vec::new()));
        (empty && eps).then_some(())
    })
    .await
    .unwrap();

    // Deleting the Service deletes its Endpoints.
    Api::<Service>::namespaced(client.clone(), "default")
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    wait_for(
        "the Endpoints deleted with the Service",
        TIMEOUT,
        || async {
            Api::<Endpoints>::namespaced(client.clone(), "default")
                .get_opt("web")
                .await
                .ok()
                .and_then(|e| e.is_none().then_some(()))
        },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_target_port_resolves_per_pod() {
    let server = start();
    let client = server.client().await.unwrap();
    FakeNode::new("n1").create(&client).await.unwrap();
    create_service(
        &client,
        "web",
        json!({"selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                      {"name": "metrics", "port": 9090, "targetPort": 9100}]}),
    )
    .await;
    // A selector-less Service: its endpoints are someone else's.
    create_service(&client, "manual", json!({"ports": [{"port": 80}]})).await;
    create_pod(&client, "web-a", "n1", "http").await;
    create_pod(&client, "web-b", "n1", "web").await;
    let a = mark_pod_running(&client, "default", "web-a", true)
        .await
        .unwrap();
    let b = mark_pod_running(&client, "default", "web-b", true)
        .await
        .unwrap();
    let slices = wait_for("two slices, one per port set", TIMEOUT, || async {
        let slices = slices_of(&client, "web").await;
        let filled = slices.iter().filter(|s| !s.endpoints.is_empty()).count();
        (filled == 2 && slices.len() == 2).then_some(slices)
    })
    .await
    .unwrap();
    let ports_of = |ip: &str| {
        let slice = slices
            .iter()
            .find(|s| s.endpoints.iter().any(|e| e.addresses[0] == ip))
            .unwrap();
        let mut ports: Vec<(String, i32)> = slice
            .ports
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.name.unwrap_or_default(), p.port.unwrap_or_default()))
            .collect();
        ports.sort();
        ports
    };
    // web-a resolves `http` to 8080; web-b has no port named `http`: only the numbered port.
    assert_eq!(
        ports_of(&ip_of(&a)),
        vec![("http".to_owned(), 8080), ("metrics".to_owned(), 9100)]
    );
    assert_eq!(ports_of(&ip_of(&b)), vec![("metrics".to_owned(), 9100)]);

    let ep = wait_for("Endpoints with two subsets", TIMEOUT, || async {
        let ep = Api::<Endpoints>::namespaced(client.clone(), "default")
            .get_opt("web")
            .await
            .ok()??;
        (ep.subsets.as_ref()?.len() == 2).then_some(ep)
    })
    .await
    .unwrap();
    assert!(ep
        .subsets
        .unwrap()
        .iter()
        .all(|s| s.addresses.as_ref().is_some_and(|a| a.len() == 1)));

    // Nothing was written for the selector-less Services: `manual` has nothing, and
    // `kubernetes` keeps the one slice the API server publishes for itself.
    assert!(slices_of(&client, "manual").await.is_empty());
    let api = slices_of(&client, "kubernetes").await;
    assert_eq!(api.len(), 1, "{api:?}");
    assert!(!api[0]
        .metadata
        .labels
        .as_ref()
        .unwrap()
        .contains_key("endpointslice.kubernetes.io/managed-by"));
    let manual = Api::<Endpoints>::namespaced(client.clone(), "default")
        .get_opt("manual")
        .await
        .unwrap();
    assert!(manual.is_none(), "{manual:?}");
}
