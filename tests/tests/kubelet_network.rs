//! Pod networking for real, inside a node namespace of the test's own: pods get distinct
//! addresses from the node's pod CIDR, reach each other across the bridge and reach the node
//! through their gateway; wiring is idempotent and survives a kubelet restart; teardown leaves
//! no link and no allocation, even after many cycles.
//!
//! Needs root, `ip`, `nft`, `nsenter` and `target/debug/rkube` (for the pod sandboxes); says
//! SKIPPED otherwise. Every address lives in namespaces the test created.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sched::{setns, CloneFlags};
use rkube_kubelet::network::{Cidr, NetworkConfig, PodNetwork};
use rkube_kubelet::runtime::sandbox::Sandbox;
use rkube_tests::netns::{check_prerequisites, Netns};
use rkube_tests::store_proc::rkube_binary;

/// Runs `f` on a thread inside the network namespace at `path`.
fn inside<T: Send>(path: &Path, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(File::open(path).unwrap(), CloneFlags::CLONE_NEWNET).unwrap();
            f()
        })
        .join()
        .unwrap()
    })
}

/// A listener at `addr` inside `listen_ns`, a client inside `client_ns`: bytes go both ways.
fn talk(listen_ns: &Path, client_ns: &Path, addr: SocketAddr) {
    let listener = inside(listen_ns, || TcpListener::bind(addr).unwrap());
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).unwrap();
        conn.write_all(&buf).unwrap();
    });
    inside(client_ns, || {
        let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        conn.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
    });
    server.join().unwrap();
}

fn links(node: &Netns) -> Vec<String> {
    node.ip(&["-o", "link"])
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.split(": ")
                .nth(1)
                .map(|n| n.split('@').next().unwrap_or(n).to_owned())
        })
        .collect()
}

#[tokio::test]
async fn pods_get_addresses_reach_each_other_and_leave_nothing() {
    if let Err(why) = check_prerequisites() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let Ok(rkube) = rkube_binary() else {
        eprintln!("SKIPPED: target/debug/rkube is not built");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = Netns::create("node").unwrap();
    let node_path = PathBuf::from(format!("/run/netns/{}", node.name()));
    let config = NetworkConfig {
        node_netns: Some(node.name().to_owned()),
        bridge: "rkube0".into(),
        pod_cidr: Cidr::parse("10.42.7.0/24").unwrap(),
        state_dir: dir.path().join("ipam"),
    };
    let net = PodNetwork::new(config.clone()).await.unwrap();
    let before = links(&node);
    let run_root = dir.path().join("run");
    let a = Sandbox::create(&run_root, "pod-a", "a", &rkube).unwrap();
    let b = Sandbox::create(&run_root, "pod-b", "b", &rkube).unwrap();
    let sa = net.setup("pod-a", &a.path("net")).await.unwrap();
    let sb = net.setup("pod-b", &b.path("net")).await.unwrap();
    assert_ne!(sa.ip, sb.ip);
    for s in [&sa, &sb] {
        assert_eq!(
            u32::from(s.ip) >> 8,
            u32::from(Ipv4Addr::new(10, 42, 7, 0)) >> 8
        );
        assert_eq!(s.gateway, Ipv4Addr::new(10, 42, 7, 1));
    }
    // Again: the same address, nothing added.
    assert_eq!(net.setup("pod-a", &a.path("net")).await.unwrap(), sa);
    // A restarted kubelet knows the allocations.
    let restarted = PodNetwork::new(config.clone()).await.unwrap();
    assert!(restarted
        .allocations()
        .contains(&(sa.ip, "pod-a".to_owned())));

    // Pod to pod across the bridge, pod to node through the gateway.
    talk(
        &a.path("net"),
        &b.path("net"),
        SocketAddr::new(sa.ip.into(), 8000),
    );
    talk(
        &node_path,
        &a.path("net"),
        SocketAddr::new(sa.gateway.into(), 9000),
    );

    for uid in ["pod-a", "pod-b"] {
        net.teardown(uid).await.unwrap();
        net.teardown(uid).await.unwrap();
    }
    a.remove().unwrap();
    b.remove().unwrap();
    assert_eq!(links(&node), before);
    assert!(net.allocations().is_empty());

    // Many cycles leave the node as it was.
    for i in 0..20 {
        let uid = format!("cycle-{i}");
        let s = Sandbox::create(&run_root, &uid, "c", &rkube).unwrap();
        net.setup(&uid, &s.path("net")).await.unwrap();
        net.teardown(&uid).await.unwrap();
        s.remove().unwrap();
    }
    assert_eq!(links(&node), before);
    assert!(net.allocations().is_empty());
    assert!(Sandbox::list(&run_root).is_empty());
}
