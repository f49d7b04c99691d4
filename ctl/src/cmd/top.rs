//! `rkctl top pod|node`: resource usage from the metrics API (`metrics.k8s.io/v1beta1`).

use clap::{Args, Subcommand};
use rkube_api::Quantity;
use serde_json::Value;

use super::{err, out, query, Ctx};
use crate::output::table::align;

/// The `top` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Display resource (CPU/memory) usage of pods.
    #[command(alias = "pods", alias = "po")]
    Pod(Opts),
    /// Display resource (CPU/memory) usage of nodes.
    #[command(alias = "nodes", alias = "no")]
    Node(Opts),
}

/// Flags of `top`.
#[derive(Debug, Args)]
pub struct Opts {
    /// A name to show only that object.
    name: Option<String>,
    /// Selector (label query) to filter on.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Across all namespaces.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Don't print headers.
    #[arg(long)]
    no_headers: bool,
}

fn millicores(v: Option<&Value>) -> i128 {
    v.and_then(Value::as_str)
        .and_then(|s| Quantity::parse(s).ok())
        .map_or(0, |q| q.milli_value())
}

fn bytes(v: Option<&Value>) -> i128 {
    v.and_then(Value::as_str)
        .and_then(|s| Quantity::parse(s).ok())
        .map_or(0, |q| q.value())
}

/// Formats usage as kubectl does: `12m`, `34Mi`.
pub fn usage(cpu_milli: i128, mem_bytes: i128) -> (String, String) {
    (
        format!("{cpu_milli}m"),
        format!("{}Mi", mem_bytes / (1024 * 1024)),
    )
}

/// Runs a `top` subcommand.
///
/// # Errors
/// A server without the metrics API (`Metrics API not available`), server errors.
pub async fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    let client = ctx.client().await?;
    let served = ctx
        .discovery()
        .await?
        .resources
        .iter()
        .any(|r| r.group == "metrics.k8s.io");
    if !served {
        anyhow::bail!("Metrics API not available");
    }
    let (o, pods) = match command {
        Command::Pod(o) => (o, true),
        Command::Node(o) => (o, false),
    };
    let mut q = Vec::new();
    if let Some(l) = &o.selector {
        q.push(("labelSelector", l.as_str()));
    }
    let base = if pods {
        if o.all_namespaces {
            "/apis/metrics.k8s.io/v1beta1/pods".to_owned()
        } else {
            format!(
                "/apis/metrics.k8s.io/v1beta1/namespaces/{}/pods",
                client.namespace
            )
        }
    } else {
        "/apis/metrics.k8s.io/v1beta1/nodes".to_owned()
    };
    let items: Vec<Value> = match &o.name {
        Some(n) => vec![client.get(&format!("{base}/{n}")).await?],
        None => client
            .get(&format!("{base}{}", query(&q)))
            .await?
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    };
    if items.is_empty() {
        if pods && !o.all_namespaces {
            err(&format!(
                "No resources found in {} namespace.\n",
                client.namespace
            ));
        } else {
            err("No resources found\n");
        }
        return Ok(());
    }
    let mut rows = Vec::new();
    if pods {
        if !o.no_headers {
            let mut h = vec!["NAME", "CPU(cores)", "MEMORY(bytes)"];
            if o.all_namespaces {
                h.insert(0, "NAMESPACE");
            }
            rows.push(h.into_iter().map(str::to_owned).collect::<Vec<_>>());
        }
        for p in &items {
            let (mut cpu, mut mem) = (0, 0);
            for c in p
                .get("containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                cpu += millicores(c.pointer("/usage/cpu"));
                mem += bytes(c.pointer("/usage/memory"));
            }
            let (c, m) = usage(cpu, mem);
            let mut row = vec![
                p.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                c,
                m,
            ];
            if o.all_namespaces {
                row.insert(
                    0,
                    p.pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            rows.push(row);
        }
    } else {
        if !o.no_headers {
            rows.push(
                ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
                    .map(str::to_owned)
                    .to_vec(),
            );
        }
        for n in &items {
            let name = n
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let cpu = millicores(n.pointer("/usage/cpu"));
            let mem = bytes(n.pointer("/usage/memory"));
            let node = client.get(&format!("/api/v1/nodes/{name}")).await.ok();
            let alloc_cpu = millicores(
                node.as_ref()
                    .and_then(|x| x.pointer("/status/allocatable/cpu")),
            );
            let alloc_mem = bytes(
                node.as_ref()
                    .and_then(|x| x.pointer("/status/allocatable/memory")),
            );
            let pct = |used: i128, total: i128| {
                if total > 0 {
                    format!("{}%", used * 100 / total)
                } else {
                    "<unknown>".into()
                }
            };
            let (c, m) = usage(cpu, mem);
            rows.push(vec![
                name.to_owned(),
                c,
                pct(cpu, alloc_cpu),
                m,
                pct(mem, alloc_mem),
            ]);
        }
    }
    out(&align(&rows));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_units() {
        assert_eq!(
            usage(250, 300 * 1024 * 1024 + 5),
            ("250m".to_owned(), "300Mi".to_owned())
        );
    }
}
