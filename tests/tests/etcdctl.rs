//! The real `etcdctl` (API v3) against a one-member `rkube store`: every command users reach for.
//!
//! Set `RKUBE_STORE_UNDER_TEST=etcd` to run the same tests against Debian's etcd, which shows
//! the expectations here are etcd's own.

mod common;

use std::time::{Duration, Instant};

use common::{b64, get_json, int, json, kvs, pairs, put, store_or_skip, uint};

const WATCH_WAIT: Duration = Duration::from_secs(10);

#[test]
fn put_then_get_with_prefix_limit_rev_and_keys_only() {
    let Some((_store, ctl)) = store_or_skip() else {
        return;
    };
    assert_eq!(ctl.ok(&["put", "k1", "v1"]).trim(), "OK");
    let r1 = put(&ctl, "k2", "v2");
    put(&ctl, "k3", "v3");
    put(&ctl, "kz/other", "x");
    put(&ctl, "l1", "not under k");

    assert_eq!(ctl.ok(&["get", "k1"]), "k1\nv1\n");
    assert_eq!(ctl.ok(&["get", "k1", "--print-value-only"]), "v1\n");
    assert_eq!(ctl.ok(&["get", "missing"]), "");

    let all = get_json(&ctl, &["--prefix", "k"]);
    assert_eq!(
        kvs(&all),
        pairs(&[("k1", "v1"), ("k2", "v2"), ("k3", "v3"), ("kz/other", "x")])
    );
    assert_eq!(int(&all, "count"), 4);
    assert!(all["more"].is_null() || all["more"] == false, "{all}");
    let k2 = &all["kvs"][1];
    assert_eq!(int(k2, "create_revision"), r1);
    assert_eq!(int(k2, "mod_revision"), r1);
    assert_eq!(int(k2, "version"), 1);

    // --limit: the first two, `more`, and the count of everything in range.
    let limited = get_json(&ctl, &["--prefix", "k", "--limit", "2"]);
    assert_eq!(kvs(&limited), pairs(&[("k1", "v1"), ("k2", "v2")]));
    assert_eq!(limited["more"], true, "{limited}");
    assert_eq!(int(&limited, "count"), 4);

    // Range [k1, k3) and --from-key.
    let ranged = get_json(&ctl, &["k1", "k3"]);
    assert_eq!(kvs(&ranged), pairs(&[("k1", "v1"), ("k2", "v2")]));
    let from = get_json(&ctl, &["--from-key", "kz"]);
    assert_eq!(
        kvs(&from),
        pairs(&[("kz/other", "x"), ("l1", "not under k")])
    );

    // Sort order.
    let desc = get_json(&ctl, &["--prefix", "k", "--sort-by=KEY", "--order=DESCEND"]);
    let keys: Vec<String> = kvs(&desc).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["kz/other", "k3", "k2", "k1"]);

    // --keys-only prints each key followed by an empty value line.
    let keys_only = ctl.ok(&["get", "--prefix", "k", "--keys-only"]);
    let keys: Vec<&str> = keys_only.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(keys, ["k1", "k2", "k3", "kz/other"]);
    let keys_json = get_json(&ctl, &["--prefix", "k", "--keys-only"]);
    assert!(keys_json["kvs"][0]["value"].is_null(), "{keys_json}");

    // --rev reads the past.
    let r2 = put(&ctl, "k2", "v2-new");
    let past = get_json(&ctl, &["k2", "--rev", &r1.to_string()]);
    assert_eq!(kvs(&past), pairs(&[("k2", "v2")]));
    let now = get_json(&ctl, &["k2"]);
    assert_eq!(kvs(&now), pairs(&[("k2", "v2-new")]));
    assert_eq!(int(&now["kvs"][0], "version"), 2);
    assert_eq!(int(&now["kvs"][0], "create_revision"), r1);
    assert_eq!(int(&now["kvs"][0], "mod_revision"), r2);
    assert_eq!(int(&now["header"], "revision"), r2);

    // A revision from the future is refused.
    let future = ctl.fails(&["get", "k2", "--rev", &(r2 + 100).to_string()]);
    assert!(
        future.error_line().contains("future revision"),
        "{}",
        future.stderr
    );

    // --count-only exists from etcdctl 3.5 on; Debian bookworm's 3.4 has --limit and count.
    if ctl.ok(&["get", "--help"]).contains("--count-only") {
        let counted = get_json(&ctl, &["--prefix", "k", "--count-only"]);
        assert_eq!(int(&counted, "count"), 4);
        assert!(counted["kvs"].is_null(), "{counted}");
    }
}

#[test]
fn del_with_prefix_and_prev_kv() {
    let Some((_store, ctl)) = store_or_skip() else {
        return;
    };
    put(&ctl, "d/a", "1");
    put(&ctl, "d/b", "2");
    put(&ctl, "e", "3");

    assert_eq!(ctl.ok(&["del", "nothing-here"]), "0\n");
    assert_eq!(
        ctl.ok(&["del", "--prefix", "d/", "--prev-kv"]),
        "2\nd/a\n1\nd/b\n2\n"
    );
    assert!(kvs(&get_json(&ctl, &["--prefix", "d/"])).is_empty());
    assert_eq!(kvs(&get_json(&ctl, &["e"])), pairs(&[("e", "3")]));

    let deleted = json(&ctl.ok(&["del", "e", "--prev-kv", "-w", "json"]));
    assert_eq!(int(&deleted, "deleted"), 1);
    assert_eq!(b64(&deleted["prev_kvs"][0]["value"]), "3");
    assert_eq!(ctl.ok(&["get", "--from-key", ""]), "");
}

#[test]
fn txn_compares_value_version_create_and_mod() {
    let Some((_store, ctl)) = store_or_skip() else {
        return;
    };
    let r1 = put(&ctl, "t", "v1");

    let success =
        "value(\"t\") = \"v1\"\nversion(\"t\") = \"1\"\n\nput t v2\nget t\n\nput t nope\n\n";
    assert_eq!(
        ctl.ok_with_stdin(&["txn"], Some(success.as_bytes())),
        "SUCCESS\n\nOK\n\nt\nv2\n"
    );

    // The same compare now fails: the else branch runs.
    let failure = "value(\"t\") = \"v1\"\n\nput t v3\n\nput t v-else\nget t\n\n";
    assert_eq!(
        ctl.ok_with_stdin(&["txn"], Some(failure.as_bytes())),
        "FAILURE\n\nOK\n\nt\nv-else\n"
    );

    // create_revision is r1; mod_revision moved past it.
    let create_mod =
        format!("create(\"t\") = \"{r1}\"\nmod(\"t\") > \"{r1}\"\n\ndel t\nput t2 after\n\n\n");
    let out = json(&ctl.ok_with_stdin(&["txn", "-w", "json"], Some(create_mod.as_bytes())));
    assert_eq!(out["succeeded"], true, "{out}");
    let responses = out["responses"].as_array().expect("responses");
    assert_eq!(responses.len(), 2, "{out}");
    assert_eq!(
        int(&responses[0]["Response"]["ResponseDeleteRange"], "deleted"),
        1,
        "{out}"
    );
    assert!(kvs(&get_json(&ctl, &["t"])).is_empty());
    assert_eq!(kvs(&get_json(&ctl, &["t2"])), pairs(&[("t2", "after")]));

    // A compare on a missing key: its version is 0.
    let missing = "version(\"t\") = \"0\"\n\nput t again\n\n\n";
    assert!(ctl
        .ok_with_stdin(&["txn"], Some(missing.as_bytes()))
        .starts_with("SUCCESS"));
    assert_eq!(kvs(&get_json(&ctl, &["t"])), pairs(&[("t", "again")]));
}

#[test]
fn watch_replays_from_a_revision_then_follows() {
    let Some((_store, ctl)) = store_or_skip() else {
        return;
    };
    let start = put(&ctl, "w/a", "1");
    put(&ctl, "w/a", "2");
    put(&ctl, "other", "ignored");
    assert_eq!(ctl.ok(&["del", "w/a"]), "1\n");

    let rev = start.to_string();
    let mut watch = ctl.spawn_lines(&["watch", "--prefix", "w/", "--rev", &rev]);
    let mut watch_prev = ctl.spawn_lines(&["watch", "--prefix", "w/", "--rev", &rev, "--prev-kv"]);
    // History: two puts and a delete, in order.
    assert_eq!(
        watch.expect_lines(9, WATCH_WAIT),
        ["PUT", "w/a", "1", "PUT", "w/a", "2", "DELETE", "w/a", ""]
    );
    // Live events after the replay.
    put(&ctl, "w/b", "3");
    put(&ctl, "w/b", "4");
    assert_eq!(
        watch.expect_lines(6, WATCH_WAIT),
        ["PUT", "w/b", "3", "PUT", "w/b", "4"]
    );

    // --prev-kv: each event after the first on a key also prints the key's previous state.
    assert_eq!(
        watch_prev.expect_lines(3 + 5 + 5 + 3 + 5, WATCH_WAIT),
        [
            "PUT", "w/a", "1", // created: no previous value
            "PUT", "w/a", "1", "w/a", "2", // overwritten
            "DELETE", "w/a", "2", "w/a", "", // deleted
            "PUT", "w/b", "3", //
            "PUT", "w/b", "3", "w/b", "4",
        ]
    );
}

#[test]
fn watch_of_a_single_key_sees_nothing_else() {
    let Some((_store, ctl)) = store_or_skip() else {
        return;
    };
    let mut watch = ctl.spawn_lines(&["watch", "solo"]);
    // The watch must be registered before the first put; writes after a pause are seen live.
    std::thread::sleep(Duration::from_millis(500));
    put(&ctl, "solo/child", "no");
    put(&ctl, "sol", "no");
    put(&ctl, "solo", "yes");
    assert_eq!(watch.expect_lines(3, WATCH_WAIT), ["PUT", "solo", "yes"]);
    assert_eq!(watch.next_line(Duration::from_millis(300)), None);
}

#[test]
fn leases_grant_keep_alive_ttl_list_revoke_and_expire() {
    let Some((_store, ctl)) = store_or_skip() else {
        return;
    };
    let granted = ctl.ok(&["lease", "grant", "60"]);
    let id = lease_id(&granted);
    assert_eq!(granted.trim(), format!("lease {id} granted with TTL(60s)"));
    assert_eq!(
        ctl.ok(&["put", "leased/a", "1", "--lease", &id]).trim(),
        "OK"
    );
    assert_eq!(
        ctl.ok(&["put", "leased/b", "2", "--lease", &id]).trim(),
        "OK"
    );

    let ttl = ctl.ok(&["lease", "timetolive", &id, "--keys"]);
    assert!(
        ttl.starts_with(&format!("lease {id} granted with TTL(60s), remaining(")),
        "{ttl}"
    );
    assert!(ttl.contains("attached keys([leased/a leased/b])"), "{ttl}");
    let ttl_json = json(&ctl.ok(&["lease", "timetolive", &id, "-w", "json"]));
    assert_eq!(int(&ttl_json, "granted-ttl"), 60);
    let remaining = int(&ttl_json, "ttl");
    assert!((55..=60).contains(&remaining), "{ttl_json}");
    assert_eq!(format!("{:016x}", uint(&ttl_json, "id")), id);

    assert_eq!(
        ctl.ok(&["lease", "keep-alive", "--once", &id]).trim(),
        format!("lease {id} keepalived with TTL(60)")
    );
    let listed = ctl.ok(&["lease", "list"]);
    assert!(listed.starts_with("found 1 leases\n"), "{listed}");
    assert!(listed.lines().any(|l| l == id), "{listed}");

    assert_eq!(
        ctl.ok(&["lease", "revoke", &id]).trim(),
        format!("lease {id} revoked")
    );
    assert!(kvs(&get_json(&ctl, &["--prefix", "leased/"])).is_empty());
    assert_eq!(
        ctl.ok(&["lease", "timetolive", &id]).trim(),
        format!("lease {id} already expired")
    );
    let gone = ctl.fails(&["lease", "keep-alive", "--once", &id]);
    assert!(
        gone.error_line().contains("requested lease not found"),
        "{}",
        gone.stderr
    );
    assert!(ctl.ok(&["lease", "list"]).starts_with("found 0 leases"));

    // A short lease that nobody keeps alive takes its key with it.
    let short = lease_id(&ctl.ok(&["lease", "grant", "2"]));
    put_with_lease(&ctl, "ephemeral", &short);
    put(&ctl, "durable", "stays");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !kvs(&get_json(&ctl, &["ephemeral"])).is_empty() {
        assert!(
            Instant::now() < deadline,
            "key attached to a 2s lease still exists after 15s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        ctl.ok(&["lease", "timetolive", &short]).trim(),
        format!("lease {short} already expired")
    );
    assert_eq!(
        kvs(&get_json(&ctl, &["durable"])),
        pairs(&[("durable", "stays")])
    );

    // A put naming an unknown lease is refused.
    let unknown = ctl.fails(&["put", "x", "y", "--lease", "1234abcd"]);
    assert!(
        unknown.error_line().contains("requested lease not found"),
        "{}",
        unknown.stderr
    );
}

fn put_with_lease(ctl: &rkube_tests::etcdctl::Etcdctl, key: &str, lease: &str) {
    assert_eq!(ctl.ok(&["put", key, "v", "--lease", lease]).trim(), "OK");
}

/// The hex lease id in "lease 694d7a1e2c3b4c05 granted with TTL(5s)".
fn lease_id(granted: &str) -> String {
    granted
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected lease grant output: {granted:?}"))
        .to_string()
}

#[test]
fn compaction_makes_old_revisions_unreadable() {
    let Some((_store, ctl)) = store_or_skip() else {
        return;
    };
    let r1 = put(&ctl, "c", "a");
    let r2 = put(&ctl, "c", "b");
    let r3 = put(&ctl, "c", "c");
    assert_eq!(
        ctl.ok(&["compaction", &r2.to_string()]).trim(),
        format!("compacted revision {r2}")
    );

    let old = ctl.fails(&["get", "c", "--rev", &r1.to_string()]);
    assert!(
        old.error_line()
            .contains("required revision has been compacted"),
        "{}",
        old.stderr
    );
    // The compaction revision itself and later ones still read.
    assert_eq!(
        kvs(&get_json(&ctl, &["c", "--rev", &r2.to_string()])),
        pairs(&[("c", "b")])
    );
    assert_eq!(
        kvs(&get_json(&ctl, &["c", "--rev", &r3.to_string()])),
        pairs(&[("c", "c")])
    );
    // Compacting the same revision again is an error.
    let again = ctl.fails(&["compaction", &r2.to_string()]);
    assert!(
        again
            .error_line()
            .contains("required revision has been compacted"),
        "{}",
        again.stderr
    );

    // A watch from before the compaction is cancelled, saying why.
    let mut watch = ctl.spawn_lines(&["watch", "c", "--rev", &r1.to_string()]);
    let line = watch.any_line_containing("required revision has been compacted", WATCH_WAIT);
    assert!(line.starts_with("watch was canceled"), "{line}");
}

#[test]
fn member_list_and_endpoint_status() {
    let Some((store, ctl)) = store_or_skip() else {
        return;
    };
    let rev = put(&ctl, "status", "probe");

    let members = json(&ctl.ok(&["member", "list", "-w", "json"]));
    let list = members["members"].as_array().expect("members array");
    assert_eq!(list.len(), 1, "{members}");
    let me = &list[0];
    assert_eq!(me["name"], store.name(), "{members}");
    assert_eq!(me["peerURLs"], serde_json::json!([store.peer_url()]));
    assert_eq!(me["clientURLs"], serde_json::json!([store.client_url()]));
    let member_id = uint(me, "ID");
    assert_ne!(member_id, 0);
    assert_eq!(uint(&members["header"], "member_id"), member_id);

    let simple = ctl.ok(&["member", "list"]);
    assert_eq!(
        simple.trim(),
        format!(
            "{member_id:x}, started, {}, {}, {}, false",
            store.name(),
            store.peer_url(),
            store.client_url()
        )
    );

    let status = json(&ctl.ok(&["endpoint", "status", "-w", "json"]));
    let first = &status[0];
    assert_eq!(first["Endpoint"], store.client_url(), "{status}");
    let s = &first["Status"];
    assert_eq!(uint(&s["header"], "member_id"), member_id, "{status}");
    assert_eq!(
        uint(s, "leader"),
        member_id,
        "a lone member leads: {status}"
    );
    assert!(int(&s["header"], "revision") >= rev, "{status}");
    assert!(int(s, "raftTerm") >= 1, "{status}");
    assert!(int(s, "raftIndex") >= 1, "{status}");
    assert!(int(s, "dbSize") > 0, "{status}");
    assert!(
        !s["version"].as_str().unwrap_or_default().is_empty(),
        "{status}"
    );

    // etcdctl 3.4 prints the health line on stderr, later versions on stdout.
    let health = ctl.run(&["endpoint", "health"]);
    assert!(health.success, "{}", health.stderr);
    let text = format!("{}{}", health.stdout, health.stderr);
    assert!(
        text.contains(&format!("{} is healthy", store.client_url())),
        "{text}"
    );
}

#[test]
fn oversized_values_are_refused_and_nothing_else_changes() {
    let Some((_store, ctl)) = store_or_skip() else {
        return;
    };
    put(&ctl, "keep/a", "1");
    put(&ctl, "keep/b", "2");
    let before = int(&get_json(&ctl, &["keep/a"])["header"], "revision");

    // 2 MiB: larger than any request the client or the server accepts.
    let two_mib = vec![b'x'; 2 << 20];
    let out = ctl.run_with_stdin(&["put", "big"], Some(&two_mib));
    assert!(!out.success, "a 2 MiB put was accepted: {}", out.stdout);
    let msg = out.error_line();
    assert!(
        msg.contains("too large") || msg.contains("larger than max"),
        "unclear error for a 2 MiB put: {}",
        out.stderr
    );

    // 1.75 MiB fits the gRPC frame but not --max-request-bytes (1.5 MiB): the server says so.
    let over_limit = vec![b'y'; 7 << 18];
    let out = ctl.run_with_stdin(&["put", "big"], Some(&over_limit));
    assert!(!out.success, "a 1.75 MiB put was accepted: {}", out.stdout);
    assert!(
        out.error_line().contains("request is too large"),
        "unclear error for a 1.75 MiB put: {}",
        out.stderr
    );

    // Nothing was written, the rest is intact, and the store still takes writes.
    assert!(kvs(&get_json(&ctl, &["big"])).is_empty());
    let after = get_json(&ctl, &["--prefix", "keep/"]);
    assert_eq!(kvs(&after), pairs(&[("keep/a", "1"), ("keep/b", "2")]));
    assert_eq!(int(&after["header"], "revision"), before);
    let one_mib = vec![b'z'; 1 << 20];
    assert_eq!(
        ctl.ok_with_stdin(&["put", "fits"], Some(&one_mib)).trim(),
        "OK"
    );
    let fits = get_json(&ctl, &["fits"]);
    assert_eq!(kvs(&fits)[0].1.len(), 1 << 20);
}
