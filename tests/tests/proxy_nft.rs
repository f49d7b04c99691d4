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

use rkube_proxy::model::{Endpoint, Protocol, ServicePort};
use rkube_proxy::rules::{build, NodeContext};
use rkube_proxy::{nft, transaction};
use rkube_tests::netns::{check_prerequisites, Netns};

fn service(name: &str, ip: [u8; 4], endpoints: &[[u8; 4]]) -> ServicePort {
    ServicePort {
        namespace: "demo".into(),
        name: name.into(),
        port_name: "http".into(),
        protocol: Protocol::Tcp,
        cluster_ips: vec![Ipv4Addr::from(ip)],
        port: 80,
        node_port: None,
        external_ips: vec![],
        load_balancer_ips: vec![],
        affinity_seconds: None,
        external_local: false,
        internal_local: false,
        endpoints: endpoints
            .iter()
            .map(|ip| Endpoint {
                ip: Ipv4Addr::from(*ip),
                port: 8000,
                ready: true,
                serving: true,
                terminating: false,
                node: Some("n1".into()),
            })
            .collect(),
    }
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
    let ns = Netns::create("proxy").unwrap();
    // A "pod" address on a veth, and a route for the service range, all inside.
    ns.ip(&[
        "link",
        "add",
        "pods",
        "type",
        "veth",
        "peer",
        "name",
        "pods-peer",
    ])
    .unwrap();
    ns.ip(&["addr", "add", "10.42.0.5/24", "dev", "pods"])
        .unwrap();
    ns.ip(&["link", "set", "pods", "up"]).unwrap();
    ns.ip(&["link", "set", "pods-peer", "up"]).unwrap();
    ns.ip(&["route", "add", "10.96.0.0/12", "dev", "pods"])
        .unwrap();
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
