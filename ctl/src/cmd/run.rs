//! `rkctl run`: one pod from an image.

use clap::Args;
use http::Method;
use serde_json::{json, Map, Value};

use super::target::DryRun;
use super::{out, query, Ctx};

/// Flags of `rkctl run`.
#[derive(Debug, Args)]
pub struct Opts {
    /// The pod's name.
    name: String,
    /// The container image.
    #[arg(long)]
    image: String,
    /// The port the container exposes.
    #[arg(long)]
    port: Option<i64>,
    /// Labels, `k=v,k2=v2` (default `run=NAME`).
    #[arg(short = 'l', long)]
    labels: Option<String>,
    /// Environment variables, `NAME=value` (repeatable).
    #[arg(long)]
    env: Vec<String>,
    /// Always, OnFailure or Never.
    #[arg(long, default_value = "Always")]
    restart: String,
    /// Use the arguments after `--` as the command rather than the image's arguments.
    #[arg(long)]
    command: bool,
    /// none, client or server.
    #[arg(long, num_args = 0..=1, default_missing_value = "client")]
    dry_run: Option<String>,
    /// `-- ARGS...`: arguments (or the command with --command).
    #[arg(last = true)]
    rest: Vec<String>,
}

/// The pod `rkctl run` creates.
pub fn pod(o: &Opts) -> anyhow::Result<Value> {
    let mut labels = Map::new();
    match &o.labels {
        Some(l) => {
            for pair in l.split(',') {
                let Some((k, v)) = pair.split_once('=') else {
                    anyhow::bail!("invalid label spec: {pair}");
                };
                labels.insert(k.to_owned(), json!(v));
            }
        }
        None => {
            labels.insert("run".into(), json!(o.name));
        }
    }
    let mut container = json!({"name": o.name, "image": o.image, "resources": {}});
    if let Some(p) = o.port {
        container["ports"] = json!([{"containerPort": p}]);
    }
    if !o.env.is_empty() {
        let env: Vec<Value> = o
            .env
            .iter()
            .map(|e| {
                let (n, v) = e.split_once('=').unwrap_or((e, ""));
                json!({"name": n, "value": v})
            })
            .collect();
        container["env"] = json!(env);
    }
    if !o.rest.is_empty() {
        container[if o.command { "command" } else { "args" }] = json!(o.rest);
    }
    Ok(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": o.name, "labels": labels},
        "spec": {"containers": [container], "restartPolicy": o.restart, "dnsPolicy": "ClusterFirst"}}),
    )
}

/// Runs `rkctl run`.
///
/// # Errors
/// Bad flags, server errors.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let dry_run = DryRun::parse(o.dry_run.as_deref())?;
    let pod = pod(&o)?;
    if dry_run != DryRun::Client {
        let client = ctx.client().await?;
        let mut q = vec![("fieldManager", "kubectl-run")];
        if dry_run == DryRun::Server {
            q.push(("dryRun", "All"));
        }
        let path = format!("/api/v1/namespaces/{}/pods{}", client.namespace, query(&q));
        client.json(Method::POST, &path, None, Some(&pod)).await?;
    }
    out(&format!("pod/{} created{}\n", o.name, dry_run.suffix()));
    Ok(())
}
