//! One conformance suite for the API server's storage interface, run against the embedded
//! backend, against `rkube store` over the etcd API, and against a real etcd when installed.

mod common;

use common::start_member;

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use rkube_store::backend::{
    Backend, Embedded, Error, Etcd, EventKind, ListRequest, WatchMessage, WatchRequest,
};

fn k(s: &str) -> Vec<u8> {
    format!("/registry/{s}").into_bytes()
}

async fn next_events(
    w: &mut rkube_store::backend::WatchStream,
) -> Vec<rkube_store::backend::Event> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), w.next())
            .await
            .expect("watch delivered nothing within 10s")
            .expect("watch ended")
            .expect("watch failed");
        if let WatchMessage::Events(ev) = msg {
            return ev;
        }
    }
}

async fn conformance(b: &dyn Backend) {
    // create / get
    let a = b
        .create(&k("pods/ns/a"), b"1".to_vec(), 0)
        .await
        .expect("create");
    assert_eq!((a.version, a.create_revision), (1, a.mod_revision));
    assert!(matches!(
        b.create(&k("pods/ns/a"), b"x".to_vec(), 0).await,
        Err(Error::AlreadyExists { .. })
    ));
    let (got, rev) = b.get(&k("pods/ns/a"), 0).await.expect("get");
    assert_eq!(got.as_ref().map(|r| r.value.as_slice()), Some(&b"1"[..]));
    assert!(rev >= a.mod_revision);
    assert_eq!(
        b.get(&k("pods/ns/none"), 0).await.expect("get missing").0,
        None
    );

    // guarded update
    let a2 = b
        .update(&k("pods/ns/a"), b"2".to_vec(), a.mod_revision, 0)
        .await
        .expect("update");
    assert_eq!((a2.version, a2.create_revision), (2, a.create_revision));
    match b
        .update(&k("pods/ns/a"), b"3".to_vec(), a.mod_revision, 0)
        .await
    {
        Err(Error::Conflict {
            current: Some(cur), ..
        }) => assert_eq!(cur.mod_revision, a2.mod_revision),
        other => panic!("stale update must conflict, got {other:?}"),
    }

    // lists with pagination and at a past revision
    for i in 0..5 {
        b.create(&k(&format!("cm/ns/c{i}")), vec![b'0' + i], 0)
            .await
            .expect("create cm");
    }
    let first = b
        .list(ListRequest {
            prefix: k("cm/"),
            limit: 2,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(first.records.len(), 2);
    assert!(first.more);
    assert_eq!(first.remaining, 3);
    let mut start = first.records[1].key.clone();
    start.push(0);
    let rest = b
        .list(ListRequest {
            prefix: k("cm/"),
            start: Some(start),
            revision: first.revision,
            ..Default::default()
        })
        .await
        .expect("list rest");
    assert_eq!(rest.records.len(), 3);
    assert!(!rest.more);
    assert_eq!(b.count(&k("cm/")).await.expect("count"), 5);
    let old = b
        .list(ListRequest {
            prefix: k("cm/"),
            revision: a2.mod_revision,
            ..Default::default()
        })
        .await
        .expect("list at old revision");
    assert!(old.records.is_empty());

    // guarded delete
    let c0 = k("cm/ns/c0");
    assert!(matches!(
        b.delete(&c0, Some(1)).await,
        Err(Error::Conflict { .. })
    ));
    let (deleted, del_rev) = b.delete(&c0, None).await.expect("delete");
    assert_eq!(deleted.value, b"0".to_vec());
    assert!(matches!(
        b.delete(&c0, None).await,
        Err(Error::NotFound { .. })
    ));

    // watch from a past revision replays history, then follows live changes
    let mut w = b
        .watch(WatchRequest {
            prefix: k("pods/"),
            start_revision: a.mod_revision,
            prev: true,
            ..Default::default()
        })
        .await
        .expect("watch");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.extend(next_events(&mut w).await);
    }
    assert_eq!(seen[0].kind, EventKind::Put);
    assert_eq!(seen[0].record.mod_revision, a.mod_revision);
    assert_eq!(seen[1].record.value, b"2".to_vec());
    assert_eq!(
        seen[1].prev.as_ref().map(|p| p.value.clone()),
        Some(b"1".to_vec())
    );
    b.delete(&k("pods/ns/a"), None).await.expect("delete a");
    let live = next_events(&mut w).await;
    assert_eq!(live[0].kind, EventKind::Delete);
    assert_eq!(live[0].record.key, k("pods/ns/a"));
    drop(w);

    // compaction: old revisions answer Compacted, watches from them too
    b.compact(del_rev).await.expect("compact");
    assert!(matches!(
        b.get(&k("pods/ns/a"), a.mod_revision).await,
        Err(Error::Compacted { .. })
    ));
    let mut w = b
        .watch(WatchRequest {
            prefix: k("pods/"),
            start_revision: a.mod_revision,
            ..Default::default()
        })
        .await
        .expect("watch compacted");
    let first = tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .expect("compaction notice");
    assert!(
        matches!(first, Some(Err(Error::Compacted { .. }))),
        "{first:?}"
    );

    // leases: keys die with their lease
    let lease = b.grant_lease(1).await.expect("lease");
    b.create(&k("events/ns/e"), b"e".to_vec(), lease)
        .await
        .expect("create with lease");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if b.get(&k("events/ns/e"), 0)
            .await
            .expect("get event")
            .0
            .is_none()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "leased key outlived its lease"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(b.revision().await.expect("revision") > del_rev);
}

#[tokio::test]
async fn embedded_backend_conformance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (running, _url, shutdown) = start_member(dir.path(), |_| {}).await;
    conformance(&Embedded::new(running.member.clone())).await;
    shutdown.cancel();
    running.done.await.expect("join").expect("clean stop");
}

#[tokio::test]
async fn etcd_backend_against_rkube_store_conformance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (running, url, shutdown) = start_member(dir.path(), |_| {}).await;
    let b = Etcd::connect(&[url]).await.expect("connect");
    conformance(&b).await;
    shutdown.cancel();
    running.done.await.expect("join").expect("clean stop");
}

struct EtcdProcess(Child);

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test]
async fn etcd_backend_against_real_etcd_conformance() {
    if Command::new("etcd").arg("--version").output().is_err() {
        println!("SKIPPED: etcd is not installed (apt-get install etcd-server)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (cp, pp) = (free_port(), free_port());
    let client = format!("http://127.0.0.1:{cp}");
    let peer = format!("http://127.0.0.1:{pp}");
    let child = Command::new("etcd")
        .args(["--name", "t", "--data-dir"])
        .arg(dir.path().join("etcd"))
        .args([
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .args(["--initial-cluster", &format!("t={peer}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start etcd");
    let _etcd = EtcdProcess(child);
    let mut backend = None;
    for _ in 0..100 {
        if let Ok(b) = Etcd::connect(std::slice::from_ref(&client)).await {
            if b.revision().await.is_ok() {
                backend = Some(b);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    conformance(&backend.expect("etcd did not come up")).await;
}
