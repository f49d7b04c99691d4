//! `etcd-bench`: a load generator for etcd v3 endpoints (etcd itself or `rkube store`).
//!
//! N client tasks share a small pool of gRPC connections (by default min(N, 16), assigned
//! round-robin over the endpoints, as etcd's own benchmark tool does); each task issues one request
//! at a time (puts of random keys, or single-key ranges) until `--total` requests were issued or
//! `--duration` elapsed, whichever comes first. It reports throughput and latency percentiles of
//! the successful requests, and the count of failed or timed-out ones. It connects to nothing but
//! the endpoints given.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::{Parser, ValueEnum};
use etcd_client::{Client, ConnectOptions, GetOptions, KvClient};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinSet;
use tracing::{info, warn};

/// Requests issued when neither `--total` nor `--duration` is given.
const DEFAULT_TOTAL: u64 = 10_000;
/// etcd's default limit on a request's size.
const MAX_VALUE_SIZE: usize = 1536 * 1024;
const MAX_KEY_SPACE: u64 = 10_000_000;
const MAX_CLIENTS: usize = 100_000;

#[derive(Parser, Debug)]
#[command(
    name = "etcd-bench",
    about = "Load generator for etcd v3 endpoints: puts or single-key ranges at a fixed concurrency"
)]
struct Args {
    /// Client URLs, comma-separated (e.g. http://127.0.0.1:2379,http://127.0.0.1:22379).
    #[arg(long, value_delimiter = ',', required = true)]
    endpoints: Vec<String>,
    /// Concurrent clients, each with one request in flight.
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// gRPC connections the clients share [default: min(clients, 16)].
    #[arg(long)]
    conns: Option<usize>,
    /// Stop after issuing this many requests [default: 10000 unless --duration is given].
    #[arg(long)]
    total: Option<u64>,
    /// Stop issuing requests after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Bytes per value written.
    #[arg(long, default_value_t = 256)]
    value_size: usize,
    /// Number of distinct keys, chosen uniformly at random per request.
    #[arg(long, default_value_t = 1000)]
    key_space: u64,
    /// Prefix of every key the benchmark touches.
    #[arg(long, default_value = "etcd-bench/")]
    key_prefix: String,
    /// Request to issue: `put`, or `range` (a get of one key).
    #[arg(long, value_enum, default_value_t = Workload::Put)]
    op: Workload,
    /// Ranges are served by the contacted member alone (no linearizability round trip).
    #[arg(long)]
    serializable: bool,
    /// Seconds before a request counts as failed.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
    /// For `range`, skip writing every key once before the timed run.
    #[arg(long)]
    no_prefill: bool,
    /// Print the results as one line of JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    Put,
    Range,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Put => "put",
            Workload::Range => "range",
        }
    }
}

/// Validated settings of one run.
#[derive(Debug)]
struct Plan {
    workload: Workload,
    serializable: bool,
    clients: usize,
    total: Option<u64>,
    duration: Option<Duration>,
    timeout: Duration,
    key_space: u64,
    key_prefix: String,
    value: Vec<u8>,
}

impl Plan {
    fn key(&self, index: u64) -> Vec<u8> {
        format!("{}{index:012}", self.key_prefix).into_bytes()
    }

    /// Issues one request of the workload; the latency on success.
    async fn request(&self, kv: &mut KvClient, key: Vec<u8>) -> Result<Duration> {
        let started = Instant::now();
        let call = async {
            match self.workload {
                Workload::Put => kv.put(key, self.value.clone(), None).await.map(drop),
                Workload::Range => {
                    let options = self
                        .serializable
                        .then(|| GetOptions::new().with_serializable());
                    kv.get(key, options).await.map(drop)
                }
            }
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .context("request timed out")?
            .context("request failed")?;
        Ok(started.elapsed())
    }
}

/// What one client task saw.
#[derive(Debug, Default)]
struct TaskStats {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

/// The aggregate of a run.
#[derive(Debug)]
struct Report {
    ok: u64,
    errors: u64,
    elapsed: Duration,
    /// Sorted ascending.
    latencies: Vec<Duration>,
}

impl Report {
    fn ops_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// Nearest-rank percentile in milliseconds; 0 without samples.
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let rank = (p / 100.0 * self.latencies.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies.len()) - 1;
        self.latencies[index].as_secs_f64() * 1000.0
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    let (plan, conns) = validate(&args)?;
    let plan = Arc::new(plan);
    let pool = connect(&args.endpoints, conns, plan.timeout).await?;

    if plan.workload == Workload::Range && !args.no_prefill {
        prefill(&plan, &pool).await?;
    }
    let report = run(&plan, &pool).await?;

    let label = match (plan.workload, plan.serializable) {
        (Workload::Range, true) => "range-serializable",
        (w, _) => w.name(),
    };
    if args.json {
        println!(
            "{{\"op\":\"{label}\",\"clients\":{},\"conns\":{},\"endpoints\":{},\"value_size\":{},\
             \"key_space\":{},\"ok\":{},\"errors\":{},\"elapsed_s\":{:.3},\"ops_per_sec\":{:.1},\
             \"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
            plan.clients,
            pool.len(),
            args.endpoints.len(),
            plan.value.len(),
            plan.key_space,
            report.ok,
            report.errors,
            report.elapsed.as_secs_f64(),
            report.ops_per_sec(),
            report.percentile_ms(50.0),
            report.percentile_ms(90.0),
            report.percentile_ms(99.0),
            report.percentile_ms(100.0),
        );
    } else {
        println!(
            "{label}: {} ok, {} errors in {:.2}s ({} clients on {} connections to {} endpoints)",
            report.ok,
            report.errors,
            report.elapsed.as_secs_f64(),
            plan.clients,
            pool.len(),
            args.endpoints.len(),
        );
        println!("throughput: {:.1} ops/s", report.ops_per_sec());
        println!(
            "latency: p50 {:.3}ms  p90 {:.3}ms  p99 {:.3}ms  max {:.3}ms",
            report.percentile_ms(50.0),
            report.percentile_ms(90.0),
            report.percentile_ms(99.0),
            report.percentile_ms(100.0),
        );
    }
    if report.ok == 0 {
        bail!("no request succeeded ({} failed)", report.errors);
    }
    Ok(())
}

/// Checks the flags and turns them into a plan and a connection count.
fn validate(args: &Args) -> Result<(Plan, usize)> {
    ensure!(
        args.endpoints.iter().all(|e| !e.trim().is_empty()),
        "--endpoints must not contain empty entries"
    );
    ensure!(
        (1..=MAX_CLIENTS).contains(&args.clients),
        "--clients must be between 1 and {MAX_CLIENTS}"
    );
    let conns = args.conns.unwrap_or(args.clients.min(16));
    ensure!(
        (1..=args.clients).contains(&conns),
        "--conns must be between 1 and --clients"
    );
    ensure!(
        (1..=MAX_KEY_SPACE).contains(&args.key_space),
        "--key-space must be between 1 and {MAX_KEY_SPACE}"
    );
    ensure!(
        args.value_size <= MAX_VALUE_SIZE,
        "--value-size must be at most {MAX_VALUE_SIZE} (etcd's request limit)"
    );
    ensure!(
        args.serializable == (args.serializable && args.op == Workload::Range),
        "--serializable applies to --op range only"
    );
    let seconds = |flag: &str, s: f64| -> Result<Duration> {
        ensure!(
            s.is_finite() && s > 0.0 && s <= 86_400.0,
            "{flag} must be a positive number of seconds, at most a day"
        );
        Ok(Duration::from_secs_f64(s))
    };
    let duration = args
        .duration
        .map(|d| seconds("--duration", d))
        .transpose()?;
    let timeout = seconds("--timeout", args.timeout)?;
    if let Some(total) = args.total {
        ensure!(total > 0, "--total must be positive");
    }
    let total = match (args.total, duration) {
        (None, None) => Some(DEFAULT_TOTAL),
        (total, _) => total,
    };
    let mut value = vec![0u8; args.value_size];
    // Printable bytes, so that values read back in etcdctl stay legible.
    let mut rng = StdRng::seed_from_u64(0x5eed);
    value.fill_with(|| rng.random_range(b'a'..=b'z'));
    let plan = Plan {
        workload: args.op,
        serializable: args.serializable,
        clients: args.clients,
        total,
        duration,
        timeout,
        key_space: args.key_space,
        key_prefix: args.key_prefix.clone(),
        value,
    };
    Ok((plan, conns))
}

/// Opens `conns` connections, the i-th to endpoint i mod len.
async fn connect(endpoints: &[String], conns: usize, timeout: Duration) -> Result<Vec<KvClient>> {
    let mut pool = Vec::with_capacity(conns);
    for i in 0..conns {
        let endpoint = endpoints[i % endpoints.len()].trim();
        let options = ConnectOptions::new()
            .with_connect_timeout(timeout)
            .with_timeout(timeout);
        let client = Client::connect([endpoint], Some(options))
            .await
            .with_context(|| format!("failed to connect to {endpoint}"))?;
        pool.push(client.kv_client());
    }
    info!(conns, endpoints = endpoints.len(), "connected");
    Ok(pool)
}

/// Writes every key once, untimed, so that ranges find a value of the planned size.
async fn prefill(plan: &Arc<Plan>, pool: &[KvClient]) -> Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for i in 0..plan.clients.min(plan.key_space as usize) {
        let mut kv = pool[i % pool.len()].clone();
        let (plan, next) = (Arc::clone(plan), Arc::clone(&next));
        tasks.spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= plan.key_space {
                    return Ok::<_, anyhow::Error>(());
                }
                let put = kv.put(plan.key(k), plan.value.clone(), None);
                tokio::time::timeout(plan.timeout, put)
                    .await
                    .context("prefill put timed out")?
                    .context("prefill put failed")?;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("prefill task panicked")??;
    }
    info!(keys = plan.key_space, "prefilled");
    Ok(())
}

/// The timed run: every client issues requests until the budget of requests or time is spent.
async fn run(plan: &Arc<Plan>, pool: &[KvClient]) -> Result<Report> {
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = plan.duration.map(|d| started + d);
    let mut tasks = JoinSet::new();
    for i in 0..plan.clients {
        let mut kv = pool[i % pool.len()].clone();
        let (plan, issued) = (Arc::clone(plan), Arc::clone(&issued));
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64(i as u64);
            let mut stats = TaskStats::default();
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                if let Some(total) = plan.total {
                    if issued.fetch_add(1, Ordering::Relaxed) >= total {
                        break;
                    }
                }
                let key = plan.key(rng.random_range(0..plan.key_space));
                match plan.request(&mut kv, key).await {
                    Ok(latency) => stats.latencies.push(latency),
                    Err(err) => {
                        stats.errors += 1;
                        if stats.first_error.is_none() {
                            stats.first_error = Some(format!("{err:#}"));
                        }
                    }
                }
            }
            stats
        });
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    while let Some(done) = tasks.join_next().await {
        let stats = done.context("client task panicked")?;
        latencies.extend(stats.latencies);
        errors += stats.errors;
        first_error = first_error.or(stats.first_error);
    }
    let elapsed = started.elapsed();
    if let Some(err) = first_error {
        warn!(errors, "requests failed; the first: {err}");
    }
    latencies.sort_unstable();
    Ok(Report {
        ok: latencies.len() as u64,
        errors,
        elapsed,
        latencies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(ms: &[u64]) -> Report {
        Report {
            ok: ms.len() as u64,
            errors: 0,
            elapsed: Duration::from_secs(2),
            latencies: ms.iter().map(|&m| Duration::from_millis(m)).collect(),
        }
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let r = report(&(1..=100).collect::<Vec<_>>());
        assert_eq!(r.percentile_ms(50.0), 50.0);
        assert_eq!(r.percentile_ms(99.0), 99.0);
        assert_eq!(r.percentile_ms(100.0), 100.0);
        assert_eq!(r.ops_per_sec(), 50.0);
        assert_eq!(report(&[7]).percentile_ms(50.0), 7.0);
        assert_eq!(report(&[]).percentile_ms(99.0), 0.0);
    }

    #[test]
    fn flags_are_validated() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["etcd-bench", "--endpoints", "http://127.0.0.1:1"];
            argv.extend_from_slice(extra);
            Args::try_parse_from(argv)
                .map_err(anyhow::Error::from)
                .and_then(|args| validate(&args))
        };
        let (plan, conns) = parse(&["--clients", "256"]).expect("valid");
        assert_eq!(
            (conns, plan.total, plan.value.len()),
            (16, Some(10_000), 256)
        );
        let (plan, _) = parse(&["--duration", "2"]).expect("valid");
        assert_eq!(plan.total, None);
        assert!(parse(&["--clients", "0"]).is_err());
        assert!(parse(&["--serializable"]).is_err());
        assert!(parse(&["--op", "range", "--serializable"]).is_ok());
        assert!(parse(&["--duration=-1"]).is_err());
        assert!(parse(&["--conns", "4", "--clients", "2"]).is_err());
    }
}
