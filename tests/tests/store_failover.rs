//! Leader failover under write load: kill -9 the leader, time the gap, lose no acknowledged write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions, GetOptions};
use rkube_tests::store_proc::StoreCluster;
use tokio::runtime::Runtime;

/// Concurrent writer tasks, each writing fresh keys back to back.
const WRITERS: usize = 4;
/// How many times the leader is killed.
const KILLS: usize = 3;
/// One write attempt's limit; a writer then moves on to the next member.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a probe write goes out while the cluster has no serving leader.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);
/// The test's bound on a failover (the target, 2 s, belongs to the benchmark doc).
const FAILOVER_LIMIT: Duration = Duration::from_secs(10);
/// How long every member gets to hold every acknowledged write.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(30);
/// Keys per page when a member's copy is read back.
const PAGE: i64 = 2000;
const PREFIX: &str = "failover/";

/// A write the store acknowledged.
#[derive(Clone, Debug)]
struct Acked {
    key: String,
    value: String,
    invoked: Instant,
    acked: Instant,
}

/// The write load: one client per member, and every acknowledged write.
struct Load {
    /// `clients[i]` talks to member `i` alone.
    clients: Vec<Client>,
    acked: Mutex<Vec<Acked>>,
    seq: AtomicU64,
    stop: AtomicBool,
}

impl Load {
    /// Writes one fresh key through `member`; records it if acknowledged.
    async fn write_once(&self, source: &str, member: usize) -> bool {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let key = format!("{PREFIX}{source}/{n:08}");
        let value = format!("{source}-{n}");
        let mut client = self.clients[member].clone();
        let invoked = Instant::now();
        let put = client.put(key.as_str(), value.as_str(), None);
        match tokio::time::timeout(ATTEMPT_TIMEOUT, put).await {
            Ok(Ok(_)) => {
                let acked = Instant::now();
                self.lock().push(Acked {
                    key,
                    value,
                    invoked,
                    acked,
                });
                true
            }
            // Timed out or failed: the outcome is unknown, and the key is never reused.
            _ => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Acked>> {
        self.acked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn snapshot(&self) -> Vec<Acked> {
        self.lock().clone()
    }

    /// When the first write invoked at or after `since` was acknowledged.
    fn first_ack_invoked_after(&self, since: Instant) -> Option<Instant> {
        self.lock()
            .iter()
            .filter(|a| a.invoked >= since)
            .map(|a| a.acked)
            .min()
    }
}

/// Writes fresh keys until stopped, moving to the next member whenever a write fails.
async fn writer(load: Arc<Load>, w: usize) {
    let source = format!("w{w}");
    let mut member = w % load.clients.len();
    while !load.stop.load(Ordering::Relaxed) {
        if !load.write_once(&source, member).await {
            member = (member + 1) % load.clients.len();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Sends a probe write every [`PROBE_INTERVAL`] to the `survivors` in turn, until some write
/// invoked after `since` is acknowledged; returns when that was, or `None` after `limit`.
async fn wait_for_service(
    load: &Arc<Load>,
    survivors: &[usize],
    since: Instant,
    limit: Duration,
) -> Option<Instant> {
    for n in 0usize.. {
        if let Some(at) = load.first_ack_invoked_after(since) {
            return Some(at);
        }
        if since.elapsed() >= limit {
            break;
        }
        let load = Arc::clone(load);
        let member = survivors[n % survivors.len()];
        // Probes still in flight when service is back finish on their own.
        tokio::spawn(async move { load.write_once("probe", member).await });
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
    None
}

/// Member ids (raft) to member indexes, from the member list (names are `m1`, `m2`, ...).
async fn member_ids(client: &mut Client) -> HashMap<u64, usize> {
    let list = client.member_list().await.expect("member list");
    list.members()
        .iter()
        .filter_map(|m| {
            let i = m.name().strip_prefix('m')?.parse::<usize>().ok()?;
            Some((m.id(), i - 1))
        })
        .collect()
}

/// The leader every member in `alive` agrees on, waiting up to 10 s for them to agree.
async fn agreed_leader(
    clients: &[Client],
    ids: &HashMap<u64, usize>,
    alive: &[usize],
) -> Option<usize> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let mut named = Vec::new();
        for &i in alive {
            let mut client = clients[i].clone();
            let status = tokio::time::timeout(ATTEMPT_TIMEOUT, client.status()).await;
            named.push(match status {
                Ok(Ok(s)) => ids.get(&s.leader()).copied(),
                _ => None,
            });
        }
        if let Some(Some(first)) = named.first() {
            if named.iter().all(|n| *n == Some(*first)) {
                return Some(*first);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Every key under [`PREFIX`] on one member, read serializably (from that member's own copy).
async fn member_copy(client: &Client) -> Result<HashMap<String, String>, etcd_client::Error> {
    let mut client = client.clone();
    let end = format!("{}0", PREFIX.trim_end_matches('/'));
    let mut start = PREFIX.to_string();
    let mut all = HashMap::new();
    loop {
        let options = GetOptions::new()
            .with_range(end.as_str())
            .with_limit(PAGE)
            .with_serializable();
        let resp = client.get(start.as_str(), Some(options)).await?;
        for kv in resp.kvs() {
            all.insert(
                String::from_utf8_lossy(kv.key()).into_owned(),
                String::from_utf8_lossy(kv.value()).into_owned(),
            );
        }
        match resp.kvs().last() {
            Some(last) if resp.more() => {
                start = format!("{}\0", String::from_utf8_lossy(last.key()));
            }
            _ => return Ok(all),
        }
    }
}

/// What member `copy` lacks (or holds with another value) of `expected`, described.
fn lacking(copy: &HashMap<String, String>, expected: &[Acked], origin: Instant) -> Vec<String> {
    expected
        .iter()
        .filter(|a| copy.get(&a.key) != Some(&a.value))
        .map(|a| {
            format!(
                "{} = {:?} (invoked at {} ms, acknowledged at {} ms; member has {:?})",
                a.key,
                a.value,
                a.invoked.duration_since(origin).as_millis(),
                a.acked.duration_since(origin).as_millis(),
                copy.get(&a.key)
            )
        })
        .collect()
}

/// Waits until every member's own copy holds every write in `expected`.
///
/// # Panics
/// After [`CATCH_UP_LIMIT`], naming the writes a member lacks, with its log.
fn verify_every_member(
    rt: &Runtime,
    cluster: &StoreCluster,
    clients: &[Client],
    expected: &[Acked],
    origin: Instant,
) {
    let deadline = Instant::now() + CATCH_UP_LIMIT;
    for (i, client) in clients.iter().enumerate() {
        loop {
            let copy = rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(5), member_copy(client)).await
            });
            let missing = match copy {
                Ok(Ok(copy)) => lacking(&copy, expected, origin),
                Ok(Err(e)) => vec![format!("(read failed: {e})")],
                Err(_) => vec!["(read timed out)".to_string()],
            };
            if missing.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                let member = &cluster.members()[i];
                panic!(
                    "member {} lacks {} of {} acknowledged writes after {CATCH_UP_LIMIT:?}; \
                     the first:\n  {}\nits log ends:\n{}",
                    member.name(),
                    missing.len(),
                    expected.len(),
                    missing
                        .iter()
                        .take(10)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("\n  "),
                    member.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn leader_kill_9_under_write_load_loses_no_acknowledged_write() {
    let started = Instant::now();
    let mut cluster = StoreCluster::start(3).expect("cluster should start and become healthy");
    let size = cluster.members().len();
    let urls: Vec<String> = cluster.members().iter().map(|m| m.client_url()).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let options = ConnectOptions::new()
        .with_connect_timeout(ATTEMPT_TIMEOUT)
        .with_timeout(ATTEMPT_TIMEOUT);
    let mut clients = Vec::new();
    for url in &urls {
        let client = rt.block_on(Client::connect([url], Some(options.clone())));
        clients.push(client.expect("client"));
    }
    let ids = rt.block_on(member_ids(&mut clients[0].clone()));
    assert_eq!(ids.len(), size, "member list: {ids:?}");

    let load = Arc::new(Load {
        clients: clients.clone(),
        acked: Mutex::new(Vec::new()),
        seq: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| rt.spawn(writer(Arc::clone(&load), w)))
        .collect();

    let all: Vec<usize> = (0..size).collect();
    let mut failovers = Vec::new();
    for round in 1..=KILLS {
        // Let the load run (and a restarted member rejoin the work) before each kill.
        std::thread::sleep(Duration::from_secs(1));
        let leader = rt
            .block_on(agreed_leader(&clients, &ids, &all))
            .expect("the members should agree on a leader");
        let survivors: Vec<usize> = all.iter().copied().filter(|&i| i != leader).collect();
        let acked_before = load.lock().len();
        let killed_at = Instant::now();
        cluster.member(leader).kill9().expect("kill -9 the leader");
        let served = rt.block_on(wait_for_service(
            &load,
            &survivors,
            killed_at,
            FAILOVER_LIMIT,
        ));
        let Some(served) = served else {
            panic!(
                "round {round}: no write was acknowledged within {FAILOVER_LIMIT:?} of killing \
                 leader m{}; survivors' logs:\n{}",
                leader + 1,
                survivors
                    .iter()
                    .map(|&i| cluster.members()[i].log_tail())
                    .collect::<Vec<_>>()
                    .join("\n---\n")
            );
        };
        let gap = served.duration_since(killed_at);
        failovers.push(gap);
        let new_leader = rt.block_on(agreed_leader(&clients, &ids, &survivors));
        println!(
            "round {round}: killed leader m{} with {acked_before} writes acknowledged; new leader \
             {} serving after {} ms",
            leader + 1,
            new_leader.map_or("?".to_string(), |l| format!("m{}", l + 1)),
            gap.as_millis()
        );
        assert_ne!(new_leader, Some(leader), "a killed member cannot lead");

        std::thread::sleep(Duration::from_secs(1));
        cluster
            .member(leader)
            .restart()
            .expect("the killed member should start again on its data dir");
        let expected = load.snapshot();
        let checking = Instant::now();
        verify_every_member(&rt, &cluster, &clients, &expected, started);
        println!(
            "round {round}: m{} restarted; all {} members hold all {} acknowledged writes \
             (checked in {} ms)",
            leader + 1,
            size,
            expected.len(),
            checking.elapsed().as_millis()
        );
    }

    load.stop.store(true, Ordering::Relaxed);
    for w in writers {
        rt.block_on(w).expect("writer task");
    }
    let expected = load.snapshot();
    verify_every_member(&rt, &cluster, &clients, &expected, started);
    let attempted = load.seq.load(Ordering::Relaxed);
    println!(
        "{} writes acknowledged of {attempted} attempted; every member holds all of them",
        expected.len()
    );
    println!(
        "failover times (kill -9 of the leader to the next acknowledged write): {} ms",
        failovers
            .iter()
            .map(|d| d.as_millis().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(
        expected.len() > 100,
        "the load should have been acknowledged more than 100 times, was {}",
        expected.len()
    );
}
