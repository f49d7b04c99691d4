//! `scheduler-bench`: a scheduler_perf-style benchmark of `rkube scheduler`.
//!
//! A durable `rkube server` (store and API server, no scheduler, no controllers) is started on
//! loopback; N fake nodes (Node, status and Lease, no kubelet) and M pending pods are created
//! through the API; then `rkube scheduler` starts and the clock runs until a watch has seen every
//! pod bound (the binding committed to the store). Printed as a markdown row: pods/s, and the
//! scheduler's and the server's peak memory.
//!
//! Workloads: `basic` (SchedulingBasic: pods with small requests), `anti-affinity` (every pod
//! refuses a node holding another pod of its group), `spread` (topology spread over 10 zones,
//! maxSkew 1, DoNotSchedule).
//!
//! ```text
//! cargo build --release -p rkube --bin rkube -p rkube-tests --bin scheduler-bench
//! target/release/scheduler-bench --nodes 5000 --pods 10000 --workload basic
//! ```

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::Client;
use rkube_tests::fake::FakeNode;
use rkube_tests::server_proc::ServerProcess;
use rkube_tests::store_proc::rkube_binary;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    Basic,
    AntiAffinity,
    Spread,
}

#[derive(Debug, Parser)]
#[command(about = "Scheduling throughput of rkube scheduler against a real API server")]
struct Args {
    #[arg(long, default_value_t = 500)]
    nodes: usize,
    #[arg(long, default_value_t = 1000)]
    pods: usize,
    #[arg(long, value_enum, default_value_t = Workload::Basic)]
    workload: Workload,
    /// Requests in flight while creating nodes and pods.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Give up after this many seconds of scheduling.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

const ZONES: usize = 10;
const NAMESPACE: &str = "bench";

fn pod(i: usize, workload: Workload) -> Result<Pod> {
    let group = format!("g{}", i % 50);
    let mut spec = json!({
        "containers": [{
            "name": "c",
            "image": "registry.local/pause:3.10",
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        }],
    });
    match workload {
        Workload::Basic => {}
        Workload::AntiAffinity => {
            spec["affinity"] = json!({"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{
                    "labelSelector": {"matchLabels": {"group": group}},
                    "topologyKey": "kubernetes.io/hostname",
                }],
            }});
        }
        Workload::Spread => {
            spec["topologySpreadConstraints"] = json!([{
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"group": group}},
            }]);
        }
    }
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": format!("pod-{i}"), "labels": {"group": group}},
        "spec": spec,
    }))?)
}

/// The peak resident memory of a process, in MiB (`VmHWM`).
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

struct Scheduler(Child);

impl Drop for Scheduler {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn create_all(client: &Client, args: &Args) -> Result<()> {
    let started = Instant::now();
    futures::stream::iter(0..args.nodes)
        .map(|i| {
            let client = client.clone();
            async move {
                FakeNode::new(&format!("node-{i:05}"))
                    .cpu("32")
                    .memory("128Gi")
                    .pods("110")
                    .label(
                        "topology.kubernetes.io/zone",
                        &format!("zone-{}", i % ZONES),
                    )
                    .create(&client)
                    .await
            }
        })
        .buffer_unordered(args.concurrency)
        .try_collect::<Vec<_>>()
        .await
        .context("creating nodes")?;
    eprintln!("{} nodes created in {:.1?}", args.nodes, started.elapsed());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    let started = Instant::now();
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    futures::stream::iter(0..args.pods)
        .map(|i| {
            let pods = pods.clone();
            async move {
                let p = pod(i, args.workload)?;
                pods.create(&PostParams::default(), &p).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(args.concurrency)
        .try_collect::<Vec<_>>()
        .await
        .context("creating pods")?;
    eprintln!("{} pods created in {:.1?}", args.pods, started.elapsed());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let server =
        ServerProcess::start_args(&["--disable-scheduler", "--disable-controller-manager"])?;
    let client = server.client().await?;
    create_all(&client, &args).await?;

    // Watch from now on: every pod seen with a node counts once.
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let mut events = watcher::watcher(pods, watcher::Config::default()).boxed();
    let started = Instant::now();
    let scheduler = Scheduler(
        Command::new(rkube_binary()?)
            .args(["scheduler", "--leader-elect=false", "--kubeconfig"])
            .arg(server.kubeconfig())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting rkube scheduler")?,
    );
    let mut bound = HashSet::new();
    let deadline = started + Duration::from_secs(args.timeout);
    while bound.len() < args.pods {
        let next = tokio::time::timeout_at(deadline.into(), events.next()).await;
        let pod = match next {
            Err(_) => bail!(
                "only {} of {} pods bound before the timeout",
                bound.len(),
                args.pods
            ),
            Ok(None) => bail!("the watch ended"),
            Ok(Some(Err(e))) => {
                eprintln!("watch error: {e}");
                continue;
            }
            Ok(Some(Ok(Event::Apply(p) | Event::InitApply(p)))) => p,
            Ok(Some(Ok(_))) => continue,
        };
        let on_node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_some();
        if let (true, Some(name)) = (on_node, pod.metadata.name) {
            bound.insert(name);
        }
    }
    let elapsed = started.elapsed();
    let scheduler_mib = peak_rss_mib(scheduler.0.id()).unwrap_or(0.0);
    let server_mib = server.pid().and_then(peak_rss_mib).unwrap_or(0.0);
    println!(
        "| {:?} | {} | {} | {:.2} s | {:.0} pods/s | {:.0} MiB | {:.0} MiB |",
        args.workload,
        args.nodes,
        args.pods,
        elapsed.as_secs_f64(),
        args.pods as f64 / elapsed.as_secs_f64(),
        scheduler_mib,
        server_mib,
    );
    drop(scheduler);
    Ok(())
}
