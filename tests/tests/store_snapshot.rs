//! A member that missed more than the retained raft log catches up from a snapshot, and a
//! member added at run time joins from one.

use std::time::{Duration, Instant};

use etcd_client::{Client, GetOptions};
use rkube_tests::store_proc::{StoreCluster, StoreOptions};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Writes `n` keys `prefix/i` through any member, 16 at a time.
async fn write_keys(endpoints: &[String], prefix: &str, n: usize) {
    let client = Client::connect(endpoints, None).await.expect("connect");
    let mut tasks = Vec::new();
    for w in 0..16 {
        let mut c = client.clone();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            for i in (w..n).step_by(16) {
                // The killed member may have been the leader: retry through the election.
                let mut attempts = 0;
                while let Err(e) = c
                    .put(format!("{prefix}/{i:05}"), format!("v{i}"), None)
                    .await
                {
                    attempts += 1;
                    assert!(attempts < 100, "put kept failing: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
}

/// Waits until the member at `endpoint` serves all `n` keys under `prefix` locally.
async fn wait_caught_up(endpoint: &str, prefix: &str, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    while Instant::now() < deadline {
        let opts = GetOptions::new()
            .with_prefix()
            .with_count_only()
            .with_serializable();
        match Client::connect([endpoint], None).await {
            Ok(mut c) => match c.get(format!("{prefix}/"), Some(opts)).await {
                Ok(r) if r.count() == n => return,
                Ok(r) => last = format!("{} of {n} keys", r.count()),
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("member at {endpoint} did not catch up within 30s: {last}");
}

#[test]
fn lagging_member_catches_up_from_a_snapshot() {
    let options = StoreOptions {
        extra_args: vec!["--snapshot-count".into(), "50".into()],
        ..Default::default()
    };
    let mut cluster = StoreCluster::start_with(3, options).expect("cluster starts");
    let rt = runtime();
    cluster.member(2).kill9().expect("kill -9 member 3");
    let live: Vec<String> = cluster.members()[..2]
        .iter()
        .map(|m| m.client_url())
        .collect();
    // Far more entries than --snapshot-count: the leader truncates its log meanwhile.
    rt.block_on(write_keys(&live, "snap", 600));
    cluster.member(2).restart().expect("restart member 3");
    let lagging = cluster.members()[2].client_url();
    rt.block_on(wait_caught_up(&lagging, "snap", 600));
    let log = std::fs::read_to_string(cluster.members()[2].log_path()).unwrap_or_default();
    assert!(
        log.contains("installing snapshot from leader"),
        "member 3 should have caught up from a snapshot; its log:\n{}",
        cluster.members()[2].log_tail()
    );
}

/// Kills the child on drop.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn member_added_at_run_time_joins_and_leaves() {
    let cluster = StoreCluster::start(3).expect("cluster starts");
    let rt = runtime();
    let endpoints: Vec<String> = cluster.members().iter().map(|m| m.client_url()).collect();
    rt.block_on(write_keys(&endpoints, "join", 100));

    let ports = rkube_tests::store_proc::free_ports(2).expect("ports");
    let client_url = format!("http://127.0.0.1:{}", ports[0]);
    let peer_url = format!("http://127.0.0.1:{}", ports[1]);
    let mut c = rt
        .block_on(Client::connect(&endpoints, None))
        .expect("connect");
    let added = rt
        .block_on(c.member_add([peer_url.as_str()], None))
        .expect("member add");
    let id = added.member().expect("the added member").id();
    let mut initial: Vec<String> = cluster
        .members()
        .iter()
        .map(|m| format!("{}={}", m.name(), m.peer_url()))
        .collect();
    initial.push(format!("m4={peer_url}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let log = std::fs::File::create(dir.path().join("m4.log")).expect("log file");
    let child =
        std::process::Command::new(rkube_tests::store_proc::rkube_binary().expect("rkube binary"))
            .args(["store", "--name", "m4", "--data-dir"])
            .arg(dir.path().join("m4.data"))
            .args([
                "--listen-client-urls",
                &client_url,
                "--advertise-client-urls",
                &client_url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args([
                "--initial-cluster",
                &initial.join(","),
                "--initial-cluster-state",
                "existing",
            ])
            .args(["--initial-cluster-token", "rkube-test-cluster"])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start the fourth member");
    let mut child = Child(child);
    rt.block_on(wait_caught_up(&client_url, "join", 100));
    // The new member publishes its name and client URLs once it knows the leader.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let members = rt.block_on(c.member_list()).expect("member list");
        let m4 = members
            .members()
            .iter()
            .find(|m| m.id() == id)
            .expect("m4 listed")
            .clone();
        if m4.name() == "m4" {
            assert_eq!(m4.client_urls(), std::slice::from_ref(&client_url));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new member never published its name"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    rt.block_on(c.member_remove(id)).expect("member remove");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            assert!(
                status.success(),
                "a removed member stops cleanly, got {status}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the removed member did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    let members = rt.block_on(c.member_list()).expect("member list");
    assert_eq!(members.members().len(), 3);
}

#[test]
fn five_members_keep_serving_with_two_down() {
    let mut cluster = StoreCluster::start(5).expect("cluster starts");
    let rt = runtime();
    let all: Vec<String> = cluster.members().iter().map(|m| m.client_url()).collect();
    rt.block_on(write_keys(&all, "five/a", 50));
    cluster.member(0).kill9().expect("kill -9 member 1");
    cluster.member(1).kill9().expect("kill -9 member 2");
    // Three of five are a quorum: writes and linearizable reads go on.
    let live = all[2..].to_vec();
    rt.block_on(write_keys(&live, "five/b", 50));
    for endpoint in &live {
        rt.block_on(wait_caught_up(endpoint, "five", 100));
    }
    cluster.member(0).restart().expect("restart member 1");
    rt.block_on(wait_caught_up(&all[0], "five", 100));
}
