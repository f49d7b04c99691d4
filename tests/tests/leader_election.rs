//! Leader election on a Lease (rkube-api's `client::LeaderElection`, used by the scheduler and
//! the controller-manager) against the real `rkube server`: one candidate leads at a time, the
//! Lease names it, a clean shutdown hands over at once, and a holder that dies is replaced
//! once the Lease expires.
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl (see `server_proc`).
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use rkube_api::client::LeaderElection;
use rkube_tests::fake::wait_for;
use rkube_tests::server_proc::{expect_success, ServerProcess};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A candidate for the Lease `test-lock` with short timings; `leading` counts the candidates
/// leading at the moment, `max_leading` the most at once.
struct Candidate {
    identity: String,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct Tally {
    leading: AtomicUsize,
    max_leading: AtomicUsize,
    terms: AtomicUsize,
}

fn candidate(client: &kube::Client, host: &str, tally: &Arc<Tally>) -> Candidate {
    let mut election = LeaderElection::new("test-lock", host);
    election.lease_duration = Duration::from_secs(4);
    election.renew_deadline = Duration::from_secs(3);
    election.retry_period = Duration::from_millis(500);
    let identity = election.identity.clone();
    let stop = CancellationToken::new();
    let (client, token, tally) = (client.clone(), stop.clone(), Arc::clone(tally));
    let task = tokio::spawn(async move {
        election
            .run(client, token, move |term| {
                let tally = Arc::clone(&tally);
                async move {
                    let now = tally.leading.fetch_add(1, Ordering::SeqCst) + 1;
                    tally.max_leading.fetch_max(now, Ordering::SeqCst);
                    tally.terms.fetch_add(1, Ordering::SeqCst);
                    term.cancelled().await;
                    tally.leading.fetch_sub(1, Ordering::SeqCst);
                }
            })
            .await
            .unwrap();
    });
    Candidate {
        identity,
        stop,
        task,
    }
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt("test-lock")
        .await
        .ok()
        .flatten()?
        .spec?
        .holder_identity
        .filter(|h| !h.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_at_a_time_and_clean_handover() {
    let server =
        ServerProcess::start_args(&["--disable-scheduler", "--disable-controller-manager"])
            .unwrap();
    let client = server.client().await.unwrap();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    let tally = Arc::new(Tally::default());
    let a = candidate(&client, "host-a", &tally);
    let first = wait_for("a leader", Duration::from_secs(30), || holder(&leases))
        .await
        .unwrap();
    assert_eq!(first, a.identity);
    let b = candidate(&client, "host-b", &tally);
    // b keeps campaigning while a renews: a stays the only leader.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(holder(&leases).await.as_deref(), Some(a.identity.as_str()));
    assert_eq!(tally.leading.load(Ordering::SeqCst), 1);

    // A clean shutdown releases the Lease: b takes over well before it would have expired.
    a.stop.cancel();
    a.task.await.unwrap();
    let next = wait_for("b to lead", Duration::from_secs(10), || async {
        holder(&leases).await.filter(|h| *h == b.identity)
    })
    .await
    .unwrap();
    assert_eq!(next, b.identity);
    wait_for("b's work to start", Duration::from_secs(5), || async {
        (tally.terms.load(Ordering::SeqCst) == 2).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(tally.max_leading.load(Ordering::SeqCst), 1);

    // kubectl shows the holder and the transitions.
    let out = server
        .kubectl(&[
            "get",
            "lease",
            "test-lock",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.spec.holderIdentity} {.spec.leaseTransitions}",
        ])
        .unwrap();
    let shown = expect_success("kubectl", &["get", "lease"], &out);
    assert_eq!(shown, format!("{} 1", b.identity));
    b.stop.cancel();
    b.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holder_is_replaced_after_the_lease_expires() {
    let server =
        ServerProcess::start_args(&["--disable-scheduler", "--disable-controller-manager"])
            .unwrap();
    let client = server.client().await.unwrap();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    let tally = Arc::new(Tally::default());
    let a = candidate(&client, "host-a", &tally);
    wait_for("a to lead", Duration::from_secs(30), || async {
        holder(&leases).await.filter(|h| *h == a.identity)
    })
    .await
    .unwrap();
    // a dies without releasing (its task is aborted, as a crashed process would stop).
    a.task.abort();
    let b = candidate(&client, "host-b", &tally);
    let started = std::time::Instant::now();
    wait_for("b to take over", Duration::from_secs(30), || async {
        holder(&leases).await.filter(|h| *h == b.identity)
    })
    .await
    .unwrap();
    // Not before the 4 s lease duration has passed since b first saw a's record.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "b took over after {:?}, before the lease expired",
        started.elapsed()
    );
    b.stop.cancel();
    b.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rkube_server_runs_its_scheduler_and_controller_manager_leader_elected() {
    let server = ServerProcess::start().unwrap();
    let client = server.client().await.unwrap();
    let leases: Api<Lease> = Api::namespaced(client, "kube-system");
    for name in ["kube-scheduler", "kube-controller-manager"] {
        let holder = wait_for(name, Duration::from_secs(30), || async {
            leases
                .get_opt(name)
                .await
                .ok()
                .flatten()?
                .spec?
                .holder_identity
        })
        .await
        .unwrap();
        assert!(
            holder.starts_with(&format!("{}_", hostname())),
            "{name} held by {holder}"
        );
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}
