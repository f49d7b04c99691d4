//! The request scenarios: closed-loop clients per verb, an open-loop fixed-rate writer, and
//! full LISTs of a large namespace. Each returns a markdown table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use bytes::Bytes;
use clap::ValueEnum;
use http::Method;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::client::Conn;
use crate::objects;
use crate::stats::{ms, Samples, Table};

/// A verb of the closed-loop scenario, all on ConfigMaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Verb {
    /// POST of a new object (into a namespace of its own, so that LISTs stay ~`objects` long).
    Create,
    /// GET of one of the prefilled objects.
    Get,
    /// GET of the whole prefilled namespace.
    List,
    /// PUT of one of the prefilled objects, without a resourceVersion precondition.
    Update,
}

impl Verb {
    fn name(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Update => "update",
        }
    }
}

/// What the open-loop writer creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A one-container Pod of ~1.2 KiB.
    Pod,
    /// A ConfigMap of ~400 bytes.
    Configmap,
}

pub const CLOSED_NS: &str = "bench-closed";
pub const CREATE_NS: &str = "bench-create";
pub const OPEN_NS: &str = "bench-open";
pub const LIST_NS: &str = "bench-list";

pub fn collection(namespace: &str, plural: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/{plural}")
}

fn json_body(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// Creates `namespace` unless it exists.
pub async fn ensure_namespace(conn: &Conn, namespace: &str) -> Result<()> {
    let body = json_body(&serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace},
    }));
    let reply = conn
        .call(Method::POST, "/api/v1/namespaces", Some(body))
        .await?;
    if reply.status != http::StatusCode::CONFLICT {
        reply
            .ok()
            .with_context(|| format!("creating namespace {namespace}"))?;
    }
    Ok(())
}

/// Creates `count` objects made by `make(index)` in `path`, `workers` at a time over `pool`;
/// objects that already exist are kept.
pub async fn fill(
    pool: &[Conn],
    path: &str,
    count: usize,
    workers: usize,
    make: fn(usize) -> Value,
) -> Result<Duration> {
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let path: Arc<str> = path.into();
    let mut tasks = JoinSet::new();
    for w in 0..workers.clamp(1, count.max(1)) {
        let (conn, next, path) = (pool[w % pool.len()].clone(), next.clone(), path.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, anyhow::Error>(());
                }
                let reply = conn
                    .call(Method::POST, &path, Some(json_body(&make(i))))
                    .await?;
                // An object left by an earlier run against the same server is as good.
                if reply.status != http::StatusCode::CONFLICT {
                    reply
                        .ok()
                        .with_context(|| format!("prefilling {path} (object {i})"))?;
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("prefill task panicked")??;
    }
    Ok(started.elapsed())
}

fn prefilled_name(i: usize) -> String {
    format!("cm-{i:05}")
}

/// Settings of the closed-loop scenario.
#[derive(Debug, Clone)]
pub struct ClosedPlan {
    pub clients: Vec<usize>,
    pub verbs: Vec<Verb>,
    pub duration: Duration,
    /// ConfigMaps in the namespace that get, list and update address.
    pub objects: usize,
}

/// Every verb at every client count, `duration` each: N tasks, one request in flight each.
pub async fn closed(pool: &[Conn], plan: &ClosedPlan) -> Result<Table> {
    ensure_namespace(&pool[0], CLOSED_NS).await?;
    ensure_namespace(&pool[0], CREATE_NS).await?;
    fill(
        pool,
        &collection(CLOSED_NS, "configmaps"),
        plan.objects,
        16,
        |i| objects::config_map(CLOSED_NS, &prefilled_name(i), 0),
    )
    .await?;
    let mut table = Table::new(&[
        "verb", "clients", "ok", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors",
    ]);
    for &verb in &plan.verbs {
        for &clients in &plan.clients {
            info!(verb = verb.name(), clients, "closed loop");
            let (mut samples, elapsed) = closed_run(pool, plan, verb, clients).await?;
            if let Some(err) = &samples.first_error {
                warn!(
                    verb = verb.name(),
                    clients,
                    errors = samples.errors,
                    "first error: {err}"
                );
            }
            let [p50, p90, p99, max] = samples.percentile_cells();
            table.row(vec![
                verb.name().into(),
                clients.to_string(),
                samples.len().to_string(),
                format!("{:.1}", samples.rate(elapsed)),
                p50,
                p90,
                p99,
                max,
                samples.errors.to_string(),
            ]);
        }
    }
    Ok(table)
}

async fn closed_run(
    pool: &[Conn],
    plan: &ClosedPlan,
    verb: Verb,
    clients: usize,
) -> Result<(Samples, Duration)> {
    let started = Instant::now();
    let deadline = started + plan.duration;
    let objects = plan.objects.max(1);
    let mut tasks = JoinSet::new();
    for task in 0..clients {
        let conn = pool[task % pool.len()].clone();
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64(task as u64);
            let mut samples = Samples::default();
            let mut seq = 0u64;
            while Instant::now() < deadline {
                seq += 1;
                let name = prefilled_name(rng.random_range(0..objects));
                let (method, path, body) = match verb {
                    Verb::Create => {
                        let name = format!("c{clients}-{task}-{seq}");
                        let body = json_body(&objects::config_map(CREATE_NS, &name, 0));
                        (
                            Method::POST,
                            collection(CREATE_NS, "configmaps"),
                            Some(body),
                        )
                    }
                    Verb::Get => (
                        Method::GET,
                        format!("{}/{name}", collection(CLOSED_NS, "configmaps")),
                        None,
                    ),
                    Verb::List => (Method::GET, collection(CLOSED_NS, "configmaps"), None),
                    Verb::Update => {
                        let body = json_body(&objects::config_map(CLOSED_NS, &name, seq));
                        (
                            Method::PUT,
                            format!("{}/{name}", collection(CLOSED_NS, "configmaps")),
                            Some(body),
                        )
                    }
                };
                let sent = Instant::now();
                match conn.expect_ok(method, &path, body).await {
                    Ok(_) => samples.push(sent.elapsed()),
                    Err(err) => samples.fail(&err),
                }
            }
            samples
        });
    }
    let mut all = Samples::default();
    while let Some(done) = tasks.join_next().await {
        all.merge(done.context("client task panicked")?);
    }
    Ok((all, started.elapsed()))
}

/// Settings of the open-loop writer.
#[derive(Debug, Clone)]
pub struct OpenPlan {
    /// Creates per second.
    pub rate: f64,
    pub duration: Duration,
    pub kind: Kind,
}

/// Creates on a fixed schedule, each sent at its time whatever the earlier ones are doing;
/// latency counts from the scheduled time, so a stall is not hidden by the writer slowing down.
pub async fn open(pool: &[Conn], plan: &OpenPlan) -> Result<Table> {
    ensure!(plan.rate > 0.0, "the open-loop rate must be positive");
    ensure_namespace(&pool[0], OPEN_NS).await?;
    let (plural, kind) = match plan.kind {
        Kind::Pod => ("pods", "pod"),
        Kind::Configmap => ("configmaps", "configmap"),
    };
    let path: Arc<str> = collection(OPEN_NS, plural).into();
    let count = (plan.rate * plan.duration.as_secs_f64()).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / plan.rate);
    let start = Instant::now() + Duration::from_millis(50);
    let mut tasks = JoinSet::new();
    let mut lag = Duration::ZERO;
    for i in 0..count {
        let at = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(at.into()).await;
        lag = lag.max(at.elapsed());
        let (conn, path, kind) = (
            pool[i as usize % pool.len()].clone(),
            path.clone(),
            plan.kind,
        );
        tasks.spawn(async move {
            let name = format!("{}-{i:06}", if kind == Kind::Pod { "pod" } else { "cm" });
            let obj = match kind {
                Kind::Pod => objects::pod(OPEN_NS, &name, false),
                Kind::Configmap => objects::config_map(OPEN_NS, &name, 0),
            };
            let sent = Instant::now();
            let result = conn
                .expect_ok(Method::POST, &path, Some(json_body(&obj)))
                .await;
            let done = Instant::now();
            (result.map(|_| (done - at, done - sent)), done)
        });
    }
    let mut scheduled = Samples::default();
    let mut service = Samples::default();
    let mut last = start;
    while let Some(done) = tasks.join_next().await {
        let (result, done_at) = done.context("writer task panicked")?;
        last = last.max(done_at);
        match result {
            Ok((from_schedule, from_send)) => {
                scheduled.push(from_schedule);
                service.push(from_send);
            }
            Err(err) => scheduled.fail(&err),
        }
    }
    if let Some(err) = &scheduled.first_error {
        warn!(errors = scheduled.errors, "open loop: first error: {err}");
    }
    let elapsed = last.saturating_duration_since(start);
    let mut table = Table::new(&[
        "object",
        "target/s",
        "seconds",
        "ok",
        "achieved/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "p99 service ms",
        "max send lag ms",
        "errors",
    ]);
    let [p50, p90, p99, max] = scheduled.percentile_cells();
    table.row(vec![
        kind.into(),
        format!("{:.0}", plan.rate),
        format!("{:.0}", plan.duration.as_secs_f64()),
        scheduled.len().to_string(),
        format!("{:.1}", scheduled.rate(elapsed)),
        p50,
        p90,
        p99,
        max,
        ms(service.percentile(99.0)),
        ms(lag),
        scheduled.errors.to_string(),
    ]);
    Ok(table)
}

/// Settings of the large-LIST scenario.
#[derive(Debug, Clone)]
pub struct ListPlan {
    pub pods: usize,
    pub runs: usize,
    /// Concurrent creators while filling the namespace.
    pub creators: usize,
}

#[derive(Deserialize)]
struct ListShape {
    items: Vec<IgnoredAny>,
}

/// Fills a namespace with `pods` two-container Pods, then times whole LISTs of it (no limit),
/// consistent and from the watch cache (`resourceVersion=0`), `runs` each after one warm-up.
pub async fn list(pool: &[Conn], plan: &ListPlan) -> Result<(Table, String)> {
    ensure_namespace(&pool[0], LIST_NS).await?;
    let path = collection(LIST_NS, "pods");
    info!(pods = plan.pods, "creating pods for the LIST scenario");
    let filled = fill(pool, &path, plan.pods, plan.creators, |i| {
        objects::pod(LIST_NS, &format!("pod-{i:05}"), true)
    })
    .await?;
    let note = format!(
        "{} pods created by {} concurrent clients in {:.1} s ({:.0} creates/s)",
        plan.pods,
        plan.creators,
        filled.as_secs_f64(),
        plan.pods as f64 / filled.as_secs_f64().max(1e-9),
    );
    let mut table = Table::new(&[
        "request", "runs", "items", "body MiB", "p50 ms", "p90 ms", "p99 ms", "max ms",
    ]);
    let conn = &pool[0];
    for query in ["", "?resourceVersion=0"] {
        let url = format!("{path}{query}");
        let mut samples = Samples::default();
        let mut items = 0;
        let mut bytes = 0;
        for run in 0..=plan.runs {
            let started = Instant::now();
            let body = conn.expect_ok(Method::GET, &url, None).await?;
            let elapsed = started.elapsed();
            let shape: ListShape =
                serde_json::from_slice(&body).context("LIST answer is not a list")?;
            items = shape.items.len();
            bytes = body.len();
            ensure!(
                items == plan.pods,
                "LIST returned {items} pods, not {}",
                plan.pods
            );
            if run > 0 {
                samples.push(elapsed);
            }
        }
        let [p50, p90, p99, max] = samples.percentile_cells();
        table.row(vec![
            format!("`GET {url}`"),
            plan.runs.to_string(),
            items.to_string(),
            format!("{:.1}", bytes as f64 / (1024.0 * 1024.0)),
            p50,
            p90,
            p99,
            max,
        ]);
    }
    Ok((table, note))
}
