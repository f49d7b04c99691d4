//! `rkctl drain`: cordon a node, then evict its pods (DaemonSet pods skipped with
//! `--ignore-daemonsets`), waiting until they are gone.

use std::time::{Duration, Instant};

use clap::Args;
use http::Method;
use serde_json::{json, Value};

use super::delete::parse_duration;
use super::{err, out, query, Ctx};
use crate::client::Error as ClientError;
use crate::output::progress::StatusLine;

/// Flags of `rkctl drain`.
#[derive(Debug, Args)]
pub struct Opts {
    /// The node to drain.
    node: String,
    /// Ignore DaemonSet-managed pods.
    #[arg(long)]
    ignore_daemonsets: bool,
    /// Continue even if there are pods using emptyDir (their data is lost).
    #[arg(long)]
    delete_emptydir_data: bool,
    /// Continue even if there are pods not managed by a controller.
    #[arg(long)]
    force: bool,
    /// Seconds given to each pod to terminate gracefully (-1: the pod's own).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    grace_period: i64,
    /// How long to wait before giving up (0: forever).
    #[arg(long, default_value = "0s")]
    timeout: String,
    /// Delete pods instead of evicting them.
    #[arg(long)]
    disable_eviction: bool,
}

fn controller(pod: &Value) -> Option<&Value> {
    pod.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
}

fn full_name(pod: &Value) -> String {
    format!(
        "{}/{}",
        pod.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        pod.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    )
}

/// Runs `rkctl drain`.
///
/// # Errors
/// Pods that cannot be evicted without a flag, timeouts, server errors.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let client = ctx.client().await?;
    let node_path = format!("/api/v1/nodes/{}", o.node);
    let node = client.get(&node_path).await?;
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        out(&format!("node/{} already cordoned\n", o.node));
    } else {
        client
            .json(
                Method::PATCH,
                &node_path,
                Some("application/strategic-merge-patch+json"),
                Some(&json!({"spec": {"unschedulable": true}})),
            )
            .await?;
        out(&format!("node/{} cordoned\n", o.node));
    }
    let list = client
        .get(&format!(
            "/api/v1/pods{}",
            query(&[("fieldSelector", &format!("spec.nodeName={}", o.node))])
        ))
        .await?;
    let pods: Vec<Value> = list
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut daemon = Vec::new();
    let mut unmanaged = Vec::new();
    let mut local = Vec::new();
    let mut evict = Vec::new();
    for p in pods {
        let phase = p
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if matches!(phase, "Succeeded" | "Failed") {
            evict.push(p);
            continue;
        }
        if controller(&p)
            .and_then(|c| c.get("kind"))
            .and_then(Value::as_str)
            == Some("DaemonSet")
        {
            daemon.push(full_name(&p));
            continue;
        }
        if controller(&p).is_none() {
            unmanaged.push(full_name(&p));
        }
        let has_empty_dir = p
            .pointer("/spec/volumes")
            .and_then(Value::as_array)
            .is_some_and(|v| v.iter().any(|v| v.get("emptyDir").is_some()));
        if has_empty_dir {
            local.push(full_name(&p));
        }
        evict.push(p);
    }
    let mut problems = Vec::new();
    if !daemon.is_empty() && !o.ignore_daemonsets {
        problems.push(format!(
            "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): {}",
            daemon.join(", ")
        ));
    }
    if !unmanaged.is_empty() && !o.force {
        problems.push(format!(
            "cannot delete Pods that declare no controller (use --force to override): {}",
            unmanaged.join(", ")
        ));
    }
    if !local.is_empty() && !o.delete_emptydir_data {
        problems.push(format!(
            "cannot delete Pods with local storage (use --delete-emptydir-data to override): {}",
            local.join(", ")
        ));
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "unable to drain node \"{}\" due to error: [{}], continuing command...\nThere are pending nodes to be drained:\n {}",
            o.node,
            problems.join(", "),
            o.node
        );
    }
    if !daemon.is_empty() {
        err(&format!(
            "Warning: ignoring DaemonSet-managed Pods: {}\n",
            daemon.join(", ")
        ));
    }
    let timeout = parse_duration(&o.timeout)?;
    let deadline = (!timeout.is_zero()).then(|| Instant::now() + timeout);
    let mut waiting = Vec::new();
    for p in &evict {
        let ns = p
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = p
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let pod_path = format!("/api/v1/namespaces/{ns}/pods/{name}");
        let mut options = json!({});
        if o.grace_period >= 0 {
            options["gracePeriodSeconds"] = json!(o.grace_period);
        }
        if o.disable_eviction {
            client
                .json(Method::DELETE, &pod_path, None, Some(&options))
                .await?;
        } else {
            out(&format!("evicting pod {ns}/{name}\n"));
            let eviction = json!({"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": name, "namespace": ns}, "deleteOptions": options});
            let gone = evict_pod(client, &pod_path, &eviction, &options, deadline, &o)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "unable to drain node \"{}\" due to error: error when evicting pods/\"{name}\" -n \"{ns}\": {e}",
                        o.node
                    )
                })?;
            if gone {
                continue;
            }
        }
        waiting.push((
            pod_path,
            format!("pod/{name}"),
            p.pointer("/metadata/uid").cloned(),
        ));
    }
    for (path, display, uid) in waiting {
        let shown = StatusLine::new();
        shown.spin(&format!("waiting for {display} to go"));
        loop {
            match client.get(&path).await {
                Err(ClientError::Api(e)) if e.code == 404 => break,
                Ok(v) if v.pointer("/metadata/uid") != uid.as_ref() => break,
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                anyhow::bail!("drain did not complete within {}", o.timeout);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let verb = if o.disable_eviction {
            "deleted"
        } else {
            "evicted"
        };
        shown.finish(Some(&format!("{display} {verb}")));
    }
    out(&format!("node/{} drained\n", o.node));
    Ok(())
}

/// Evicts one pod, retrying every 5 s while a disruption budget refuses (429), as kubectl
/// does; deletes it instead where the server has no eviction. `Ok(true)`: the pod was gone.
async fn evict_pod(
    client: &crate::client::Client,
    pod_path: &str,
    eviction: &Value,
    options: &Value,
    deadline: Option<Instant>,
    o: &Opts,
) -> anyhow::Result<bool> {
    loop {
        match client
            .json(
                Method::POST,
                &format!("{pod_path}/eviction"),
                None,
                Some(eviction),
            )
            .await
        {
            Ok(_) => return Ok(false),
            Err(ClientError::Api(e))
                if e.code == 404 && e.status.pointer("/details/name").is_some() =>
            {
                return Ok(true)
            }
            Err(ClientError::Api(e)) if e.code == 404 || e.code == 405 => {
                client
                    .json(Method::DELETE, pod_path, None, Some(options))
                    .await?;
                return Ok(false);
            }
            Err(ClientError::Api(e)) if e.code == 429 => {
                if deadline.is_some_and(|d| Instant::now() + RETRY >= d) {
                    anyhow::bail!("global timeout reached: {}", o.timeout);
                }
                let (ns, name) = (
                    eviction
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    eviction
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                );
                err(&format!(
                    "error when evicting pods/\"{name}\" -n \"{ns}\" (will retry after 5s): {}\n",
                    e.message
                ));
                tokio::time::sleep(RETRY).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// How long kubectl waits before retrying an eviction a disruption budget refused.
const RETRY: Duration = Duration::from_secs(5);
