//! Cluster DNS against the real API server: Service names resolve to their ClusterIP, headless
//! Services to their ready endpoints (and StatefulSet-style hostnames), SRV records name ports,
//! missing names are NXDOMAIN, and other names are forwarded to the node's resolver (here a
//! resolver of the test's own on loopback). Over UDP and TCP.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, PostParams};
use rkube_proxy::dns::{self, DnsConfig, ServerConfig};
use rkube_tests::fake::wait_for;
use rkube_tests::server_proc::ServerProcess;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// A resolver standing in for the node's: every A query answers 192.0.2.53.
async fn upstream() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            let q = Message::from_vec(&buf[..n]).unwrap();
            let mut r = Message::response(q.metadata.id, q.metadata.op_code);
            let query = q.queries[0].clone();
            r.add_answer(Record::from_rdata(
                query.name().clone(),
                60,
                RData::A("192.0.2.53".parse::<std::net::Ipv4Addr>().unwrap().into()),
            ));
            r.add_query(query);
            socket.send_to(&r.to_vec().unwrap(), peer).await.unwrap();
        }
    });
    addr
}

fn query_bytes(name: &str, rtype: RecordType) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    m.to_vec().unwrap()
}

async fn ask_udp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket
        .send_to(&query_bytes(name, rtype), server)
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

async fn ask_tcp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let mut conn = TcpStream::connect(server).await.unwrap();
    let q = query_bytes(name, rtype);
    conn.write_all(&(q.len() as u16).to_be_bytes())
        .await
        .unwrap();
    conn.write_all(&q).await.unwrap();
    let mut len = [0u8; 2];
    conn.read_exact(&mut len).await.unwrap();
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    conn.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}

fn data(m: &Message) -> Vec<String> {
    let mut out: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_names_resolve_and_others_are_forwarded() {
    let s = ServerProcess::start_args(&["--disable-scheduler", "--disable-controller-manager"])
        .expect("rkube server starts");
    let client = s.client().await.unwrap();
    let listen: SocketAddr = {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let config = DnsConfig {
        server: ServerConfig {
            listen,
            upstreams: vec![upstream().await],
        },
        domain: "cluster.local".into(),
    };
    let dns = tokio::spawn(dns::run(client.clone(), config, stop.clone()));

    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    for svc in [
        json!({"metadata": {"name": "web"}, "spec": {"ports": [{"name": "http", "port": 80}]}}),
        json!({"metadata": {"name": "db"}, "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}}),
    ] {
        let svc: Service = serde_json::from_value(svc).unwrap();
        services.create(&PostParams::default(), &svc).await.unwrap();
    }
    let web_ip = services
        .get("web")
        .await
        .unwrap()
        .spec
        .unwrap()
        .cluster_ip
        .unwrap();
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"name": "db-1", "labels": {"kubernetes.io/service-name": "db"}},
        "addressType": "IPv4",
        "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.42.0.8"], "hostname": "db-0", "conditions": {"ready": true}}]
    }))
    .unwrap();
    Api::<EndpointSlice>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &slice)
        .await
        .unwrap();

    let want = web_ip.clone();
    wait_for("web's name", Duration::from_secs(30), || {
        let want = want.clone();
        async move {
            let m = ask_udp(listen, "web.default.svc.cluster.local.", RecordType::A).await;
            (data(&m) == [want]).then_some(())
        }
    })
    .await
    .unwrap();
    wait_for("db's endpoints", Duration::from_secs(30), || async move {
        let m = ask_udp(listen, "db.default.svc.cluster.local.", RecordType::A).await;
        (data(&m) == ["10.42.0.8"]).then_some(())
    })
    .await
    .unwrap();

    let m = ask_tcp(listen, "web.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(data(&m), [web_ip]);
    assert!(m.metadata.authoritative);
    let m = ask_udp(listen, "db-0.db.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(data(&m), ["10.42.0.8"]);
    let m = ask_udp(
        listen,
        "_http._tcp.web.default.svc.cluster.local.",
        RecordType::SRV,
    )
    .await;
    assert_eq!(data(&m), ["0 100 80 web.default.svc.cluster.local."]);
    let m = ask_udp(listen, "nope.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.answers.is_empty());
    // Outside the cluster domain: the node's resolver answers.
    let m = ask_udp(listen, "www.example.test.", RecordType::A).await;
    assert_eq!(data(&m), ["192.0.2.53"]);
    let m = ask_tcp(listen, "www.example.test.", RecordType::A).await;
    assert_eq!(data(&m), ["192.0.2.53"]);

    stop.cancel();
    dns.await.unwrap().unwrap();
}
