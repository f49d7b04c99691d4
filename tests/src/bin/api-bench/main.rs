//! `api-bench`: a load generator for a Kubernetes API server, speaking the REST API over HTTPS
//! (HTTP/2, as client-go does) with the client certificate of a kubeconfig.
//!
//! Scenarios, each printed as a markdown table:
//! - `closed`: N clients (one request in flight each) creating, getting, listing (a namespace of
//!   ~100 objects) and updating ConfigMaps, one verb at a time: requests/s and p50/p90/p99/max.
//! - `open`: a writer creating Pods or ConfigMaps at a fixed rate whatever the latency, which is
//!   counted from each request's scheduled time.
//! - `watch`: W watches on one namespace and a writer updating its objects at a fixed rate: the
//!   time from each write's response to each watcher reading the event.
//! - `list`: a namespace filled with 10,000 two-container Pods (~2 KiB of JSON each), then whole
//!   LISTs of it, consistent and with `resourceVersion=0`.
//!
//! Every scenario writes into namespaces of its own (`bench-*`), so run it against a fresh
//! server. It connects to nothing but the kubeconfig's server.

mod client;
mod objects;
mod scenarios;
mod stats;
mod watch;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{ensure, Result};
use clap::{Parser, ValueEnum};
use tracing::info;

use crate::client::Api;
use crate::scenarios::{ClosedPlan, Kind, ListPlan, OpenPlan, Verb};
use crate::watch::WatchPlan;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Closed,
    Open,
    Watch,
    List,
}

#[derive(Parser, Debug)]
#[command(
    name = "api-bench",
    about = "Load generator for a Kubernetes API server over HTTPS: per-verb latency, a fixed-rate writer, watch delivery, large LISTs"
)]
struct Args {
    /// Kubeconfig with the server, its CA and an inline client certificate.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Scenarios to run, comma-separated, in this order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "closed,open,watch,list"
    )]
    scenarios: Vec<Scenario>,
    /// HTTP/2 connections the clients of a scenario share, round-robin.
    #[arg(long, default_value_t = 16)]
    conns: usize,
    /// Seconds before a request counts as failed.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,

    /// closed: client counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    clients: Vec<usize>,
    /// closed: verbs, comma-separated, in this order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "create,get,list,update"
    )]
    verbs: Vec<Verb>,
    /// closed: seconds per (verb, clients) row.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// closed: ConfigMaps that get, list and update address.
    #[arg(long, default_value_t = 100)]
    objects: usize,

    /// open: creates per second.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// open: seconds of writing.
    #[arg(long, default_value_t = 15.0)]
    open_duration: f64,
    /// open: what to create.
    #[arg(long, value_enum, default_value_t = Kind::Pod)]
    open_kind: Kind,

    /// watch: concurrent watches on the namespace.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// watch: updates per second.
    #[arg(long, default_value_t = 100.0)]
    watch_rate: f64,
    /// watch: seconds of writing.
    #[arg(long, default_value_t = 10.0)]
    watch_duration: f64,

    /// list: pods in the listed namespace.
    #[arg(long, default_value_t = 10_000)]
    list_pods: usize,
    /// list: timed LISTs of each kind (after one warm-up).
    #[arg(long, default_value_t = 20)]
    list_runs: usize,
    /// list: concurrent clients creating the pods.
    #[arg(long, default_value_t = 32)]
    list_creators: usize,
}

fn seconds(flag: &str, s: f64) -> Result<Duration> {
    ensure!(
        s.is_finite() && s > 0.0 && s <= 3600.0,
        "{flag} must be a positive number of seconds, at most an hour"
    );
    Ok(Duration::from_secs_f64(s))
}

fn rate(flag: &str, r: f64) -> Result<f64> {
    ensure!(
        r.is_finite() && r > 0.0 && r <= 1_000_000.0,
        "{flag} must be between 0 and 1000000"
    );
    Ok(r)
}

/// Checked settings.
#[derive(Debug)]
struct Plans {
    timeout: Duration,
    closed: ClosedPlan,
    open: OpenPlan,
    watch: WatchPlan,
    list: ListPlan,
}

fn validate(args: &Args) -> Result<Plans> {
    ensure!(
        (1..=1024).contains(&args.conns),
        "--conns must be between 1 and 1024"
    );
    ensure!(
        !args.clients.is_empty() && args.clients.iter().all(|c| (1..=10_000).contains(c)),
        "--clients entries must be between 1 and 10000"
    );
    ensure!(
        (1..=100_000).contains(&args.objects),
        "--objects must be between 1 and 100000"
    );
    ensure!(
        (1..=10_000).contains(&args.watchers),
        "--watchers must be between 1 and 10000"
    );
    ensure!(
        (1..=1_000_000).contains(&args.list_pods),
        "--list-pods must be between 1 and 1000000"
    );
    ensure!(
        (1..=10_000).contains(&args.list_runs),
        "--list-runs must be between 1 and 10000"
    );
    ensure!(
        (1..=1024).contains(&args.list_creators),
        "--list-creators must be between 1 and 1024"
    );
    Ok(Plans {
        timeout: seconds("--timeout", args.timeout)?,
        closed: ClosedPlan {
            clients: args.clients.clone(),
            verbs: args.verbs.clone(),
            duration: seconds("--duration", args.duration)?,
            objects: args.objects,
        },
        open: OpenPlan {
            rate: rate("--rate", args.rate)?,
            duration: seconds("--open-duration", args.open_duration)?,
            kind: args.open_kind,
        },
        watch: WatchPlan {
            watchers: args.watchers,
            rate: rate("--watch-rate", args.watch_rate)?,
            duration: seconds("--watch-duration", args.watch_duration)?,
            objects: 10,
        },
        list: ListPlan {
            pods: args.list_pods,
            runs: args.list_runs,
            creators: args.list_creators,
        },
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let plans = validate(&args)?;
    let api = Api::from_kubeconfig(&args.kubeconfig, plans.timeout).await?;
    for scenario in &args.scenarios {
        // Fresh connections per scenario, so that one scenario's streams do not weigh on the next.
        let pool = api.pool(args.conns).await?;
        info!(?scenario, conns = pool.len(), "starting");
        let (title, table) = match scenario {
            Scenario::Closed => {
                let p = &plans.closed;
                let title = format!(
                    "Closed loop: ConfigMaps, {:.0} s per row, {} objects in the namespace read and updated, {} HTTP/2 connections",
                    p.duration.as_secs_f64(),
                    p.objects,
                    pool.len()
                );
                (title, scenarios::closed(&pool, p).await?.render())
            }
            Scenario::Open => {
                let p = &plans.open;
                let title = format!(
                    "Open loop: {:.0} creates/s for {:.0} s, latency from each request's scheduled time, {} HTTP/2 connections",
                    p.rate,
                    p.duration.as_secs_f64(),
                    pool.len()
                );
                (title, scenarios::open(&pool, p).await?.render())
            }
            Scenario::Watch => {
                let p = &plans.watch;
                let title = format!(
                    "Watch delivery: {} watches on one namespace, {:.0} updates/s for {:.0} s over {} objects; latency from the write's response to each watcher's read",
                    p.watchers,
                    p.rate,
                    p.duration.as_secs_f64(),
                    p.objects
                );
                (title, watch::watch(&pool, p).await?.render())
            }
            Scenario::List => {
                let (table, note) = scenarios::list(&pool, &plans.list).await?;
                (
                    format!("LIST of a namespace of pods: {note}"),
                    table.render(),
                )
            }
        };
        println!("{title}\n\n{table}");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Result<Plans> {
        let mut argv = vec!["api-bench", "--kubeconfig", "/dev/null"];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv)
            .map_err(anyhow::Error::from)
            .and_then(|args| validate(&args))
    }

    #[test]
    fn defaults_are_the_issue_targets() {
        let plans = parse(&[]).unwrap();
        assert_eq!(plans.closed.clients, vec![1, 16, 64]);
        assert_eq!(
            plans.closed.verbs,
            vec![Verb::Create, Verb::Get, Verb::List, Verb::Update]
        );
        assert_eq!(plans.closed.objects, 100);
        assert_eq!((plans.open.rate, plans.open.kind), (1000.0, Kind::Pod));
        assert_eq!(
            (plans.watch.watchers, plans.list.pods, plans.list.runs),
            (100, 10_000, 20)
        );
    }

    #[test]
    fn flags_are_validated() {
        assert!(parse(&["--clients", "0"]).is_err());
        assert!(parse(&["--rate", "0"]).is_err());
        assert!(parse(&["--duration=-1"]).is_err());
        assert!(parse(&["--conns", "0"]).is_err());
        assert!(parse(&["--scenarios", "nope"]).is_err());
        let plans = parse(&[
            "--clients",
            "2,4",
            "--verbs",
            "get",
            "--scenarios",
            "list,watch",
        ])
        .unwrap();
        assert_eq!(plans.closed.clients, vec![2, 4]);
        assert_eq!(plans.closed.verbs, vec![Verb::Get]);
        assert_eq!(
            parse(&["--watch-rate", "nan"]).unwrap_err().to_string(),
            "--watch-rate must be between 0 and 1000000"
        );
    }
}
