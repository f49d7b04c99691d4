//! `rkctl logs`: a container's log from the kubelet through the API server
//! (`pods/NAME/log`), followed with `-f`.

use clap::Args;
use http_body_util::BodyExt as _;
use serde_json::Value;

use super::{out, query, Ctx};

/// Flags of `rkctl logs`.
#[derive(Debug, Args)]
pub struct Opts {
    /// POD, TYPE/NAME (the first pod of a workload), and optionally CONTAINER.
    args: Vec<String>,
    /// The container to print.
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// Stream the log.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Lines of recent log to display (-1: all).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    tail: i64,
    /// Print the log of the previous instance of the container.
    #[arg(short = 'p', long)]
    previous: bool,
    /// Only logs newer than a relative duration like 5s, 2m, or 3h.
    #[arg(long)]
    since: Option<String>,
    /// Include timestamps on each line.
    #[arg(long)]
    timestamps: bool,
    /// Selector (label query) to filter pods on.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Prefix each line with the pod and container name.
    #[arg(long)]
    prefix: bool,
    /// Get all containers' logs in the pod(s).
    #[arg(long)]
    all_containers: bool,
}

/// Pods of a workload's selector.
pub(super) async fn pods_of(ctx: &Ctx, kind_and_name: &str) -> anyhow::Result<Vec<String>> {
    let client = ctx.client().await?;
    let (t, name) = kind_and_name
        .split_once('/')
        .unwrap_or(("pod", kind_and_name));
    let r = ctx.discovery().await?.resolve(t)?.clone();
    if r.kind == "Pod" {
        return Ok(vec![name.to_owned()]);
    }
    let obj = client
        .get(&r.object_path(Some(&client.namespace), name))
        .await?;
    let selector = crate::describe::selector_text(obj.pointer("/spec/selector"));
    let list = client
        .get(&format!(
            "/api/v1/namespaces/{}/pods{}",
            client.namespace,
            query(&[("labelSelector", &selector)])
        ))
        .await?;
    let pods: Vec<String> = list
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            p.pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .take(1)
        .collect();
    if pods.is_empty() {
        anyhow::bail!("no pods found for {kind_and_name}");
    }
    Ok(pods)
}

/// Runs `rkctl logs`.
///
/// # Errors
/// Unknown pods, pods with several containers and no `-c`, server errors.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let client = ctx.client().await?;
    let ns = client.namespace.clone();
    let mut container = o.container.clone();
    let pods: Vec<String> = match (&o.selector, o.args.as_slice()) {
        (Some(sel), _) => {
            let list = client.get(&format!("/api/v1/namespaces/{ns}/pods{}", query(&[("labelSelector", sel)]))).await?;
            list.get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.pointer("/metadata/name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        }
        (None, [target]) => pods_of(ctx, target).await?,
        (None, [target, c]) => {
            container = Some(c.clone());
            pods_of(ctx, target).await?
        }
        _ => anyhow::bail!("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a required argument for the logs command"),
    };
    if pods.is_empty() {
        super::err(&format!("No resources found in {ns} namespace.\n"));
        return Ok(());
    }
    for pod in pods {
        let containers: Vec<String> = match &container {
            Some(c) => vec![c.clone()],
            None => {
                let p = client
                    .get(&format!("/api/v1/namespaces/{ns}/pods/{pod}"))
                    .await?;
                let names: Vec<String> = p
                    .pointer("/spec/containers")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
                    .collect();
                if names.len() > 1 && !o.all_containers {
                    default_container(&p, false).into_iter().collect()
                } else {
                    names
                }
            }
        };
        for c in containers {
            let mut q: Vec<(&str, String)> = vec![("container", c.clone())];
            if o.follow {
                q.push(("follow", "true".into()));
            }
            if o.tail >= 0 {
                q.push(("tailLines", o.tail.to_string()));
            }
            if o.previous {
                q.push(("previous", "true".into()));
            }
            if o.timestamps {
                q.push(("timestamps", "true".into()));
            }
            if let Some(s) = &o.since {
                q.push((
                    "sinceSeconds",
                    super::delete::parse_duration(s)?
                        .as_secs()
                        .max(1)
                        .to_string(),
                ));
            }
            let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let path = format!("/api/v1/namespaces/{ns}/pods/{pod}/log{}", query(&pairs));
            let mut body = client.stream(&path, "*/*").await?;
            let prefix = if o.prefix {
                format!("[pod/{pod}/{c}] ")
            } else {
                String::new()
            };
            let mut pending = String::new();
            while let Some(frame) = body.frame().await {
                let frame =
                    frame.map_err(|e| anyhow::anyhow!("error reading the log stream: {e}"))?;
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                pending.push_str(&String::from_utf8_lossy(&data));
                if prefix.is_empty() {
                    out(&std::mem::take(&mut pending));
                    continue;
                }
                while let Some(i) = pending.find('\n') {
                    let line: String = pending.drain(..=i).collect();
                    out(&format!("{prefix}{line}"));
                }
            }
            if !pending.is_empty() {
                out(&format!("{prefix}{pending}"));
            }
        }
    }
    Ok(())
}

/// The container a command picks when none is named: the pod's
/// `kubectl.kubernetes.io/default-container`, else its first container (saying so on stderr,
/// unless `quiet`, when there are several).
pub(super) fn default_container(pod: &Value, quiet: bool) -> Option<String> {
    if let Some(d) = pod
        .pointer("/metadata/annotations/kubectl.kubernetes.io~1default-container")
        .and_then(Value::as_str)
    {
        return Some(d.to_owned());
    }
    let names: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    if names.len() > 1 && !quiet {
        super::err(&format!(
            "Defaulted container \"{}\" out of: {}\n",
            names[0],
            names.join(", ")
        ));
    }
    names.first().map(|n| (*n).to_owned())
}
