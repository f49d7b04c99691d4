//! Linearizability of reads, writes and compare-and-set under kills, pauses and partitions.
//!
//! A 3-member cluster runs in network namespaces ([`rkube_tests::netns`]); clients in the world
//! namespace record every operation while a nemesis injects one fault at a time, then the
//! history goes through the checker. Set `RKUBE_NEMESIS_SEED` to replay a fault sequence.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use etcd_client::{Client, Compare, CompareOp, ConnectOptions, Txn, TxnOp, TxnOpResponse};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rkube_tests::linearizability::{
    check, ClientId, History, Op, OpResult, Outcome, Recorder, Value,
};
use rkube_tests::netns::{check_prerequisites, NetnsCluster, READY_TIMEOUT};
use rkube_tests::store_proc::StoreOptions;

const MEMBERS: usize = 3;
const CLIENTS: u64 = 6;
const KEYS: [&str; 4] = ["lin/a", "lin/b", "lin/c", "lin/d"];
/// How long the nemesis injects faults.
const FAULT_PHASE: Duration = Duration::from_secs(24);
/// Load after the last fault is healed, to see the cluster serve again.
const CALM_PHASE: Duration = Duration::from_secs(2);
/// One operation's limit; past it the outcome is unknown.
const OP_TIMEOUT: Duration = Duration::from_millis(1500);
/// The least time between the starts of one client's operations: bounds the history's length,
/// and so the checker's time, however fast the store is.
const OP_INTERVAL: Duration = Duration::from_millis(20);

/// How often each kind of failure was seen, for the report.
#[derive(Clone, Default)]
struct Failures(Arc<Mutex<HashMap<String, usize>>>);

impl Failures {
    fn count(&self, what: String) {
        let mut tally = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *tally.entry(what).or_default() += 1;
    }

    /// The most frequent failures, one per line.
    fn report(&self) -> String {
        let tally = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut rows: Vec<_> = tally.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        rows.iter()
            .take(12)
            .map(|(what, n)| format!("  {n:5} x {what}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Awaits one request for at most [`OP_TIMEOUT`]; a failure is described in a few words.
async fn timed<T>(
    kind: &str,
    request: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(OP_TIMEOUT, request).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(format!(
            "{kind}: {}",
            e.to_string().chars().take(100).collect::<String>()
        )),
        Err(_) => Err(format!("{kind}: timed out")),
    }
}

/// Stops the clients when dropped, so a panicking nemesis cannot leave them running.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// One client: connects to `endpoints` and issues random operations until `stop`.
async fn client_loop(
    id: u64,
    endpoints: Vec<String>,
    recorder: Recorder,
    stop: Arc<AtomicBool>,
    failures: Failures,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let cid = ClientId(id);
    let options = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(1))
        .with_timeout(OP_TIMEOUT);
    let mut client = loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match Client::connect(&endpoints, Some(options.clone())).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    // The value this client last saw per key: what its compare-and-sets expect.
    let mut seen: HashMap<&str, Option<Value>> = HashMap::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let pace = tokio::time::sleep(OP_INTERVAL);
        let key = KEYS[rng.random_range(0..KEYS.len())];
        let roll = rng.random_range(0..100);
        let failed = if roll < 45 {
            let handle = recorder.invoke(cid, Op::read(key));
            match timed("read", client.get(key, None)).await {
                Ok(resp) => {
                    let value = resp.kvs().first().map(|kv| kv.value().to_vec());
                    seen.insert(key, value.clone());
                    handle.complete(OpResult::Read(value));
                    None
                }
                // A read that got no answer observed nothing.
                Err(e) => Some((handle, e)),
            }
        } else if roll < 75 {
            n += 1;
            let value = format!("c{id}-{n}").into_bytes();
            let handle = recorder.invoke(cid, Op::write(key, value.clone()));
            match timed("write", client.put(key, value.clone(), None)).await {
                Ok(_) => {
                    seen.insert(key, Some(value));
                    handle.complete(OpResult::Write);
                    None
                }
                Err(e) => Some((handle, e)),
            }
        } else if roll < 95 {
            n += 1;
            let new = format!("c{id}-{n}").into_bytes();
            let expected = seen.get(key).cloned().flatten();
            let compare = match &expected {
                Some(v) => Compare::value(key, CompareOp::Equal, v.clone()),
                None => Compare::version(key, CompareOp::Equal, 0),
            };
            let txn = Txn::new()
                .when([compare])
                .and_then([TxnOp::put(key, new.clone(), None)])
                .or_else([TxnOp::get(key, None)]);
            let handle =
                recorder.invoke(cid, Op::compare_and_set(key, expected.clone(), new.clone()));
            match timed("cas", client.txn(txn)).await {
                Ok(resp) => {
                    let swapped = resp.succeeded();
                    handle.complete(OpResult::CompareAndSet(swapped));
                    if swapped {
                        seen.insert(key, Some(new));
                    } else if let Some(TxnOpResponse::Get(get)) = resp.op_responses().first() {
                        // Only steers the next compare-and-set; not recorded as a read.
                        seen.insert(key, get.kvs().first().map(|kv| kv.value().to_vec()));
                    }
                    None
                }
                Err(e) => Some((handle, e)),
            }
        } else {
            let handle = recorder.invoke(cid, Op::delete(key));
            match timed("delete", client.delete(key, None)).await {
                Ok(_) => {
                    seen.insert(key, None);
                    handle.complete(OpResult::Delete);
                    None
                }
                Err(e) => Some((handle, e)),
            }
        };
        if let Some((handle, what)) = failed {
            // Timed out or failed: the store may or may not have done it.
            handle.indeterminate();
            failures.count(what);
            // Back off, so a dead member does not fill the history with unknown outcomes.
            let backoff = rng.random_range(100..300);
            tokio::time::sleep(Duration::from_millis(backoff)).await;
        }
        pace.await;
    }
}

/// One fault the nemesis injects and later heals.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// kill -9 the member; healed by starting it again.
    Kill(usize),
    /// Drop all traffic between the member and the other members, both ways.
    Isolate(usize),
    /// SIGSTOP the member; healed by SIGCONT.
    Pause(usize),
}

/// Picks a fault; `leader` (if known) is the target of the leader-specific ones.
fn pick_fault(rng: &mut StdRng, leader: Option<usize>) -> (Fault, &'static str) {
    let random = rng.random_range(0..MEMBERS);
    let leader_or_random = leader.unwrap_or(random);
    match rng.random_range(0..6) {
        0 => (Fault::Kill(random), "kill -9"),
        1 => (Fault::Kill(leader_or_random), "kill -9 the leader"),
        2 => (Fault::Isolate(random), "isolate"),
        3 | 4 => (Fault::Isolate(leader_or_random), "isolate the leader"),
        _ => (
            Fault::Pause(if rng.random_bool(0.5) {
                leader_or_random
            } else {
                random
            }),
            "pause",
        ),
    }
}

fn apply(cluster: &mut NetnsCluster, fault: Fault) -> anyhow::Result<()> {
    match fault {
        Fault::Kill(i) => cluster.kill9(i),
        Fault::Isolate(i) => {
            let others: Vec<usize> = (0..MEMBERS).filter(|&o| o != i).collect();
            cluster.partition(i, &others)
        }
        Fault::Pause(i) => cluster.pause(i),
    }
}

fn heal(cluster: &mut NetnsCluster, fault: Fault) -> anyhow::Result<&'static str> {
    match fault {
        Fault::Kill(i) => cluster.restart(i).map(|()| "restart"),
        Fault::Isolate(i) => cluster.heal(i).map(|()| "heal partition of"),
        Fault::Pause(i) => cluster.resume(i).map(|()| "resume"),
    }
}

/// Prints a line of the fault log and keeps it for the report.
fn note(log: &mut Vec<String>, started: Instant, line: String) {
    let line = format!("{:6.2}s {line}", started.elapsed().as_secs_f64());
    println!("nemesis: {line}");
    log.push(line);
}

/// Operation counts of a history, for the report.
fn summarize(history: &History) -> String {
    let mut counts: HashMap<&str, [usize; 3]> = HashMap::new();
    for op in history.operations() {
        let kind = match &op.op {
            Op::Read { .. } => "read",
            Op::Write { .. } => "write",
            Op::CompareAndSet { .. } => "cas",
            Op::Delete { .. } => "delete",
        };
        let slot = match &op.outcome {
            Outcome::Completed {
                result: OpResult::CompareAndSet(false),
                ..
            } => 1,
            Outcome::Completed { .. } => 0,
            Outcome::Indeterminate => 2,
        };
        counts.entry(kind).or_default()[slot] += 1;
    }
    let mut out = format!("{} operations:", history.len());
    for kind in ["read", "write", "cas", "delete"] {
        let [ok, failed, unknown] = counts.get(kind).copied().unwrap_or_default();
        let _ = write!(out, " {kind} {ok} ok");
        if kind == "cas" {
            let _ = write!(out, " ({failed} did not swap)");
        }
        let _ = write!(out, " {unknown} unknown;");
    }
    out
}

/// How many operations completed with an answer.
fn completed(history: &History, kind: fn(&Op) -> bool) -> usize {
    history
        .operations()
        .iter()
        .filter(|op| kind(&op.op) && matches!(op.outcome, Outcome::Completed { .. }))
        .count()
}

#[test]
fn reads_writes_and_cas_stay_linearizable_under_faults() {
    if let Err(why) = check_prerequisites() {
        println!("SKIPPED: needs root, ip and nft ({why})");
        return;
    }
    let started = Instant::now();
    let options = StoreOptions {
        heartbeat_ms: 50,
        election_ms: 500,
        extra_args: Vec::new(),
    };
    let mut cluster =
        NetnsCluster::start(MEMBERS, options).expect("the netns cluster should start and serve");
    println!(
        "cluster up in namespaces of {} after {} ms",
        cluster.world().name(),
        started.elapsed().as_millis()
    );
    let seed = std::env::var("RKUBE_NEMESIS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    println!("nemesis seed {seed} (RKUBE_NEMESIS_SEED={seed} replays the fault choices)");
    let mut rng = StdRng::seed_from_u64(seed);

    let recorder = Recorder::new();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_guard = StopOnDrop(Arc::clone(&stop));
    let failures = Failures::default();
    let urls = cluster.client_urls();
    let clients = {
        let (recorder, stop, failures) = (recorder.clone(), Arc::clone(&stop), failures.clone());
        cluster.world().spawn(move || async move {
            let tasks = (0..CLIENTS).map(|id| {
                // Half the clients stick to one member (so a cut-off one is asked too), the
                // other half balance over all of them.
                let endpoints = if (id as usize) < MEMBERS {
                    vec![urls[id as usize].clone()]
                } else {
                    urls.clone()
                };
                tokio::spawn(client_loop(
                    id,
                    endpoints,
                    recorder.clone(),
                    Arc::clone(&stop),
                    failures.clone(),
                    seed,
                ))
            });
            for task in futures::future::join_all(tasks).await {
                task.expect("client task");
            }
        })
    };

    let mut log = Vec::new();
    let fault_start = Instant::now();
    while fault_start.elapsed() < FAULT_PHASE {
        std::thread::sleep(Duration::from_millis(rng.random_range(1000..2000)));
        for i in 0..MEMBERS {
            assert!(
                cluster.is_running(i),
                "member {} exited on its own; its log ends:\n{}\nfault log:\n{}",
                cluster.name(i),
                cluster.log_tail(i, 8192),
                log.join("\n")
            );
        }
        let leader = cluster.leader().expect("ask for the leader");
        let (fault, what) = pick_fault(&mut rng, leader);
        let target = match fault {
            Fault::Kill(i) | Fault::Isolate(i) | Fault::Pause(i) => i,
        };
        apply(&mut cluster, fault).expect("inject the fault");
        note(
            &mut log,
            started,
            format!(
                "{what} {} (leader was {})",
                cluster.name(target),
                leader.map_or("unknown", |l| cluster.name(l))
            ),
        );
        std::thread::sleep(Duration::from_millis(rng.random_range(1500..3000)));
        let done = heal(&mut cluster, fault).expect("heal the fault");
        note(
            &mut log,
            started,
            format!("{done} {}", cluster.name(target)),
        );
    }
    cluster.heal_all().expect("heal everything");
    if let Err(e) = cluster.wait_ready(READY_TIMEOUT) {
        panic!(
            "the cluster did not recover after the faults were healed: {e:#}\nfault log:\n{}",
            log.join("\n")
        );
    }
    note(&mut log, started, "every member serves again".to_string());
    std::thread::sleep(CALM_PHASE);
    drop(stop_guard);
    clients
        .join()
        .expect("client thread")
        .expect("client thread in the world namespace");

    let history = recorder.history();
    let checking = Instant::now();
    let verdict = check(&history);
    println!("{}", summarize(&history));
    println!("failures seen by clients:\n{}", failures.report());
    println!(
        "checked in {} ms: {verdict}",
        checking.elapsed().as_millis()
    );
    if !verdict.is_linearizable() {
        let dump = std::env::temp_dir().join(format!(
            "rkube-linearizability-{}.history",
            std::process::id()
        ));
        let text: String = history
            .operations()
            .iter()
            .map(|op| format!("{} {op}\n", String::from_utf8_lossy(op.op.key())))
            .collect();
        let _ = std::fs::write(&dump, text);
        let logs: String = (0..MEMBERS)
            .map(|i| {
                format!(
                    "--- {} log ends:\n{}\n",
                    cluster.name(i),
                    cluster.log_tail(i, 4096)
                )
            })
            .collect();
        panic!(
            "the history is not linearizable: {verdict}\nfault log:\n{}\nhistory written to {}\n{logs}",
            log.join("\n"),
            dump.display()
        );
    }
    assert!(
        completed(&history, |op| matches!(op, Op::Read { .. })) >= 100
            && completed(&history, |op| matches!(op, Op::Write { .. })) >= 50
            && completed(&history, |op| matches!(op, Op::CompareAndSet { .. })) >= 20,
        "too few operations completed for the check to mean much: {}",
        summarize(&history)
    );
    println!("fault log:\n{}", log.join("\n"));
    cluster.teardown().expect("tear the namespaces down");
    println!("done in {} s", started.elapsed().as_secs());
}
