//! Debian's etcdctl 3.4 against an in-process member, for calls that send a URL as `:authority`.

mod common;

use common::start_member;

use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

const ETCDCTL: &str = "/usr/bin/etcdctl";

/// Runs etcdctl with the v3 API against `endpoint` and returns its stdout as JSON.
async fn etcdctl_json(endpoint: &str, args: &[&str]) -> serde_json::Value {
    let run = Command::new(ETCDCTL)
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", endpoint, "--dial-timeout", "5s"])
        .args(["--command-timeout", "10s", "-w", "json"])
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("etcdctl did not finish within 30s")
        .expect("run etcdctl");
    assert!(
        out.status.success(),
        "etcdctl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "etcdctl {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[tokio::test]
async fn etcdctl_endpoint_status_and_hashkv() {
    if !Path::new(ETCDCTL).exists() {
        println!("SKIPPED: etcdctl not installed (apt-get install etcd-client)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (running, url, shutdown) = start_member(dir.path(), |_| {}).await;
    let id = running.member.id();

    let status = etcdctl_json(&url, &["endpoint", "status"]).await;
    let status = &status[0]["Status"];
    assert_eq!(status["header"]["member_id"].as_u64(), Some(id), "{status}");
    let version = status["version"].as_str().unwrap_or_default();
    assert!(version.starts_with("3."), "no etcd version in {status}");

    // hashkv goes through the same dialer, so it also sends a URL as `:authority`.
    let hashkv = etcdctl_json(&url, &["endpoint", "hashkv"]).await;
    assert_eq!(
        hashkv[0]["HashKV"]["header"]["member_id"].as_u64(),
        Some(id),
        "{hashkv}"
    );

    shutdown.cancel();
    running.done.await.expect("join").expect("clean stop");
}
