//! Durability and failover through `etcdctl`: kill -9 a member, start it again, nothing acknowledged is lost.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{cluster_or_skip, get_json, int, json, kvs, put, store_or_skip, uint};
use rkube_tests::etcdctl::Etcdctl;

/// Every key under `prefix` with its value, read through `ctl` with extra `args`.
fn snapshot(ctl: &Etcdctl, prefix: &str, args: &[&str]) -> BTreeMap<String, String> {
    let mut all = vec!["--prefix", prefix];
    all.extend_from_slice(args);
    kvs(&get_json(ctl, &all)).into_iter().collect()
}

#[test]
fn acknowledged_writes_survive_kill_9_and_restart() {
    let Some((mut store, ctl)) = store_or_skip() else {
        return;
    };
    let mut expected = BTreeMap::new();
    let mut last_rev = 0;
    for i in 0..60 {
        let (k, v) = (format!("dur/{i:03}"), format!("v{i}"));
        last_rev = put(&ctl, &k, &v);
        expected.insert(k, v);
    }
    for i in (0..60).step_by(7) {
        let (k, v) = (format!("dur/{i:03}"), format!("rewritten{i}"));
        last_rev = put(&ctl, &k, &v);
        expected.insert(k, v);
    }
    for i in (1..60).step_by(11) {
        let k = format!("dur/{i:03}");
        let out = json(&ctl.ok(&["del", &k, "-w", "json"]));
        assert_eq!(int(&out, "deleted"), 1, "{out}");
        last_rev = int(&out["header"], "revision");
        expected.remove(&k);
    }
    let lease = ctl.ok(&["lease", "grant", "600"]);
    let lease_id = lease
        .split_whitespace()
        .nth(1)
        .expect("lease id in grant output")
        .to_string();
    assert_eq!(
        ctl.ok(&["put", "dur-leased", "x", "--lease", &lease_id])
            .trim(),
        "OK"
    );
    last_rev += 1;
    assert_eq!(snapshot(&ctl, "dur/", &[]), expected, "before the crash");

    store.kill9().expect("kill -9");
    store.restart().expect("restart on the same data dir");

    let after = get_json(&ctl, &["--prefix", "dur/"]);
    let got: BTreeMap<_, _> = kvs(&after).into_iter().collect();
    assert_eq!(got, expected, "after kill -9 and restart");
    assert_eq!(
        int(&after["header"], "revision"),
        last_rev,
        "the revision counter survives a restart"
    );
    let ttl = ctl.ok(&["lease", "timetolive", &lease_id, "--keys"]);
    assert!(
        ttl.contains("granted with TTL(600s)") && ttl.contains("attached keys([dur-leased])"),
        "the lease and its key survive a restart: {ttl}"
    );
    assert_eq!(put(&ctl, "dur/after", "restart"), last_rev + 1);
}

#[test]
fn writes_acknowledged_up_to_a_crash_are_all_there_after_it() {
    let Some((mut store, ctl)) = store_or_skip() else {
        return;
    };
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        // A put in flight at the crash gives up quickly instead of retrying for long.
        let ctl = ctl.with_command_timeout(Duration::from_secs(2));
        let (acked, stop) = (acked.clone(), stop.clone());
        std::thread::spawn(move || {
            for i in 0..100_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let key = format!("crash/{i:06}");
                if !ctl.run(&["put", &key, "v"]).success {
                    break;
                }
                acked.lock().expect("lock").push(key);
            }
        })
    };
    // Let some writes land, then crash the store in the middle of the stream.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().expect("lock").len() < 30 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    store.kill9().expect("kill -9");
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer thread");
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 30,
        "only {} writes before the crash",
        acked.len()
    );

    store.restart().expect("restart on the same data dir");
    let present = snapshot(&ctl, "crash/", &[]);
    let lost: Vec<&String> = acked.iter().filter(|k| !present.contains_key(*k)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes were lost, first: {:?}",
        lost.len(),
        acked.len(),
        lost.first()
    );
}

/// Retries `etcdctl ARGS` until it succeeds or `timeout` passes (a cluster electing a leader).
fn ok_eventually(ctl: &Etcdctl, args: &[&str], timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let out = ctl.run(args);
        if out.success {
            return out.stdout;
        }
        assert!(
            Instant::now() < deadline,
            "`etcdctl {}` still failing after {timeout:?}: {}",
            args.join(" "),
            out.stderr
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn three_members_survive_killing_the_leader() {
    let Some((mut cluster, ctl)) = cluster_or_skip(3) else {
        return;
    };
    let members = json(&ctl.ok(&["member", "list", "-w", "json"]));
    let list = members["members"].as_array().expect("members");
    assert_eq!(list.len(), 3, "{members}");
    for m in cluster.members() {
        let entry = list
            .iter()
            .find(|e| e["name"] == m.name())
            .unwrap_or_else(|| panic!("{} missing from {members}", m.name()));
        assert_eq!(entry["peerURLs"], serde_json::json!([m.peer_url()]));
        assert_eq!(entry["clientURLs"], serde_json::json!([m.client_url()]));
    }

    for i in 0..20 {
        put(&ctl, &format!("ha/{i:02}"), "before");
    }

    // Which member leads? Every member must agree. (Endpoints without the scheme: etcdctl 3.4
    // sends `http://...` as the HTTP/2 authority of `endpoint status`, which the member-list
    // test covers; this test is about failover.)
    let bare = cluster.endpoints().replace("http://", "");
    let status = json(
        &ctl.with_endpoints(&bare)
            .ok(&["endpoint", "status", "-w", "json"]),
    );
    let entries = status.as_array().expect("status array");
    assert_eq!(entries.len(), 3, "{status}");
    let leader_id = uint(&entries[0]["Status"], "leader");
    assert!(
        entries
            .iter()
            .all(|e| uint(&e["Status"], "leader") == leader_id),
        "members disagree on the leader: {status}"
    );
    let leader_url = entries
        .iter()
        .find(|e| uint(&e["Status"]["header"], "member_id") == leader_id)
        .and_then(|e| e["Endpoint"].as_str())
        .unwrap_or_else(|| panic!("no member is the leader {leader_id:x}: {status}"))
        .to_string();
    let leader = cluster
        .members()
        .iter()
        .position(|m| m.client_url() == format!("http://{leader_url}"))
        .expect("leader is one of ours");

    cluster.member(leader).kill9().expect("kill -9 the leader");
    let survivors: Vec<String> = cluster
        .members()
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, m)| m.client_url())
        .collect();
    let ctl2 = ctl.with_endpoints(&survivors.join(","));
    for i in 20..40 {
        ok_eventually(
            &ctl2,
            &["put", &format!("ha/{i:02}"), "after"],
            Duration::from_secs(20),
        );
    }
    let expected = snapshot(&ctl2, "ha/", &[]);
    assert_eq!(expected.len(), 40);

    // The old leader comes back as a follower and catches up.
    cluster
        .member(leader)
        .restart()
        .expect("restart the old leader");
    let rejoined = ctl.with_endpoints(&cluster.members()[leader].client_url());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let local = snapshot(&rejoined, "ha/", &["--consistency=s"]);
        if local == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "restarted member has {} of 40 keys after 30s",
            local.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(snapshot(&rejoined, "ha/", &[]), expected);
    put(&rejoined, "ha/through-rejoined", "ok");
    assert_eq!(snapshot(&ctl2, "ha/", &[]).len(), 41);
}
