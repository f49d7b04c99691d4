//! `rkctl set image`: change container images of workloads.

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use super::target;
use super::{out, Ctx};

/// The `set` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Update the image of a pod template.
    Image(ImageOpts),
}

/// Flags of `set image`.
#[derive(Debug, Args)]
pub struct ImageOpts {
    /// `TYPE NAME CONTAINER=IMAGE...` or `TYPE/NAME CONTAINER=IMAGE...` (`*` for every container).
    args: Vec<String>,
    /// Selector (label query) to filter on.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Select all resources of the type.
    #[arg(long)]
    all: bool,
}

/// The pod spec inside an object: `spec` of a Pod, `spec.template.spec` of workloads,
/// `spec.jobTemplate.spec.template.spec` of CronJobs.
fn pod_spec_pointer(kind: &str) -> &'static str {
    match kind {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    }
}

/// Runs `set image`.
///
/// # Errors
/// Unknown containers, server errors.
pub async fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    let Command::Image(o) = command;
    let (images, objects): (Vec<String>, Vec<String>) =
        o.args.iter().cloned().partition(|a| a.contains('='));
    if images.is_empty() {
        anyhow::bail!("at least one image update is required");
    }
    let targets = target::from_args(ctx, &objects, o.selector.as_deref(), o.all, false).await?;
    let client = ctx.client().await?;
    for t in targets {
        let obj = client.get(&t.path()).await?;
        let pointer = pod_spec_pointer(&t.resource.kind);
        let mut containers: Vec<Value> = Vec::new();
        for list in ["initContainers", "containers"] {
            let Some(items) = obj
                .pointer(&format!("{pointer}/{list}"))
                .and_then(Value::as_array)
            else {
                continue;
            };
            for c in items {
                let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                for spec in &images {
                    let Some((cname, image)) = spec.split_once('=') else {
                        continue;
                    };
                    if (cname == name || cname == "*") && list == "containers" {
                        containers.push(json!({"name": name, "image": image}));
                    }
                }
            }
        }
        for spec in &images {
            let cname = spec.split('=').next().unwrap_or_default();
            if cname != "*" && !containers.iter().any(|c| c["name"] == cname) {
                anyhow::bail!("unable to find container named \"{cname}\"");
            }
        }
        let mut patch = json!({"containers": containers});
        for part in pointer.trim_start_matches('/').rsplit('/') {
            patch = json!({ part: patch });
        }
        client
            .json(
                Method::PATCH,
                &t.path(),
                Some("application/strategic-merge-patch+json"),
                Some(&patch),
            )
            .await?;
        out(&format!("{} image updated\n", t.display()));
    }
    Ok(())
}
