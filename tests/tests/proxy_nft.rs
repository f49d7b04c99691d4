//! The proxy's nftables table in a real kernel, inside a network namespace of the test's own:
//! a Service's ClusterIP reaches its endpoint through the DNAT rules, a Service without
//! endpoints refuses connections at once, an endpoint change is applied as a small transaction,
//! and after the Service is deleted no chain of it remains (`nft list table`).
//!
//! Needs root, `ip` and `nft`; says SKIPPED otherwise. Every address lives in the namespace.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use rkube_proxy::model::{Endpoint, ServicePort};
use rkube_proxy::rules::{build, NodeContext};
use rkube_proxy::{nft, transaction};
use rkube_tests::netns::{check_prerequisites, Netns};

fn service(name: &str, ip: [u8; 4], endpoints: &[[u8; 4]]) -> ServicePort {
    let mut sp = ServicePort::cluster_ip("demo", name, "http", Ipv4Addr::from(ip), 80);
    sp.endpoints = endpoints
        .iter()
        .map(|ip| Endpoint::ready(Ipv4Addr::from(*ip), 8000, "n1"))
        .collect();
    sp
}

/// A namespace standing for a node: a "pod" address `pod_ip` on a veth, and a route for the
/// service range, all inside it.
fn node_namespace(label: &str, pod_ip: &str) -> Netns {
    let ns = Netns::create(label).unwrap();
    let cidr = format!("{pod_ip}/24");
    for args in [
        &[
            "link",
            "add",
            "pods",
            "type",
            "veth",
            "peer",
            "name",
            "pods-peer",
        ][..],
        &["addr", "add", &cidr, "dev", "pods"],
        &["link", "set", "pods", "up"],
        &["link", "set", "pods-peer", "up"],
        &["route", "add", "10.96.0.0/12", "dev", "pods"],
    ] {
        ns.ip(args).unwrap();
    }
    ns
}

fn connect(addr: &str) -> std::io::Result<TcpStream> {
    let addr: SocketAddr = addr.parse().unwrap();
    TcpStream::connect_timeout(&addr, Duration::from_secs(5))
}

#[test]
fn services_are_programmed_changed_and_removed_in_the_kernel() {
    if let Err(why) = check_prerequisites() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let ns = node_namespace("proxy", "10.42.0.5");
    let node = NodeContext {
        cluster_cidr: "10.42.0.0/16".into(),
        node_name: "n1".into(),
    };

    let web = service("web", [10, 96, 0, 20], &[[10, 42, 0, 5]]);
    let empty = service("empty", [10, 96, 0, 21], &[]);
    let first = build(&[web.clone(), empty.clone()], &node);
    ns.run(|| {
        nft::apply(&transaction::script(None, &first)).unwrap();
        // Through the ClusterIP to the endpoint.
        let listener = TcpListener::bind("10.42.0.5:8000").unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4];
            conn.read_exact(&mut buf).unwrap();
            conn.write_all(&buf).unwrap();
        });
        let mut conn = connect("10.96.0.20:80").unwrap();
        conn.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        server.join().unwrap();
        // No endpoints: refused at once, not left to time out.
        let err = connect("10.96.0.21:80").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    })
    .unwrap();
    let table = ns.exec("nft", &["list", "table", "ip", "rkube"]).unwrap();
    assert!(
        table.contains("10.96.0.20 . tcp . 80 : goto service-"),
        "{table}"
    );
    assert!(
        table.contains("10.96.0.21 . tcp . 80 : goto reject-chain"),
        "{table}"
    );

    // The endpoint moves: a small transaction, applied.
    let moved = build(
        &[
            service("web", [10, 96, 0, 20], &[[10, 42, 0, 6]]),
            empty.clone(),
        ],
        &node,
    );
    let script = transaction::script(Some(&first), &moved);
    assert!(!script.contains("nat-prerouting"), "{script}");
    ns.run(|| nft::apply(&script).unwrap()).unwrap();
    let table = ns.exec("nft", &["list", "table", "ip", "rkube"]).unwrap();
    assert!(table.contains("dnat to 10.42.0.6:8000"), "{table}");
    assert!(!table.contains("10.42.0.5"), "{table}");

    // Both Services deleted: nothing of them remains.
    let none = build(&[], &node);
    ns.run(|| nft::apply(&transaction::script(Some(&moved), &none)).unwrap())
        .unwrap();
    let table = ns.exec("nft", &["list", "table", "ip", "rkube"]).unwrap();
    for gone in ["demo/", "10.96.0.2", "10.42.0."] {
        assert!(!table.contains(gone), "{gone} left in:\n{table}");
    }
}

/// The proxy's loop against the real API server: a Service and its EndpointSlice (written by
/// hand, as the EndpointSlice controller would) become rules in the namespace, an emptied
/// slice turns into a refusal, and a deleted Service leaves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_follows_services_through_the_api() {
    use k8s_openapi::api::core::v1::Service;
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
    use rkube_tests::fake::wait_for;
    use rkube_tests::server_proc::ServerProcess;
    use serde_json::json;

    if let Err(why) = check_prerequisites() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let ns = node_namespace("proxy-api", "10.42.0.7");

    let s = ServerProcess::start_args(&["--disable-scheduler", "--disable-controller-manager"])
        .expect("rkube server starts");
    let client = s.client().await.unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let proxy = tokio::spawn(rkube_proxy::run(
        client.clone(),
        rkube_proxy::Config {
            node_name: "n1".into(),
            netns: Some(format!("/run/netns/{}", ns.name()).into()),
            ..Default::default()
        },
        stop.clone(),
    ));

    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8000}]}
    }))
    .unwrap();
    let svc = services.create(&PostParams::default(), &svc).await.unwrap();
    let cluster_ip = svc.spec.unwrap().cluster_ip.unwrap();
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8000, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.42.0.7"], "conditions": {"ready": true}, "nodeName": "n1"}]
    }))
    .unwrap();
    slices.create(&PostParams::default(), &slice).await.unwrap();

    let list = || {
        ns.exec("nft", &["list", "table", "ip", "rkube"])
            .unwrap_or_default()
    };
    let wanted = format!("{cluster_ip} . tcp . 80 : goto service-");
    wait_for("the Service's rules", Duration::from_secs(30), || {
        let found = list().contains(&wanted);
        async move { found.then_some(()) }
    })
    .await
    .unwrap();
    let addr = format!("{cluster_ip}:80");
    ns.run(|| {
        let listener = TcpListener::bind("10.42.0.7:8000").unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.write_all(b"hi").unwrap();
        });
        let mut conn = connect(&addr).unwrap();
        let mut buf = [0u8; 2];
        conn.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        server.join().unwrap();
    })
    .unwrap();

    // The endpoint goes unready: refused.
    slices
        .patch(
            "web-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"endpoints": [{"addresses": ["10.42.0.7"], "conditions": {"ready": false}}]})),
        )
        .await
        .unwrap();
    let rejected = format!("{cluster_ip} . tcp . 80 : goto reject-chain");
    wait_for("the refusal", Duration::from_secs(30), || {
        let found = list().contains(&rejected);
        async move { found.then_some(()) }
    })
    .await
    .unwrap();
    let err = ns.run(|| connect(&addr).unwrap_err()).unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");

    // The Service deleted: nothing of it remains.
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the rules to go", Duration::from_secs(30), || {
        let table = list();
        let gone = !table.contains(&cluster_ip) && !table.contains("default/web");
        async move { gone.then_some(()) }
    })
    .await
    .unwrap();
    stop.cancel();
    proxy.await.unwrap().unwrap();
}
