//! `rkctl cordon` and `rkctl uncordon`: mark nodes (un)schedulable.

use clap::Args;
use http::Method;
use serde_json::{json, Value};

use super::target;
use super::{out, Ctx};

/// Flags of `rkctl cordon` / `rkctl uncordon`.
#[derive(Debug, Args)]
pub struct Opts {
    /// Node names.
    nodes: Vec<String>,
    /// Selector (label query) to filter on.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// none, client or server.
    #[arg(long, num_args = 0..=1, default_missing_value = "client")]
    dry_run: Option<String>,
}

/// Runs `cordon` (`unschedulable` true) or `uncordon` (false).
///
/// # Errors
/// Unknown nodes, server errors.
pub async fn run(ctx: &Ctx, o: Opts, unschedulable: bool) -> anyhow::Result<()> {
    let mut args = vec!["nodes".to_owned()];
    args.extend(o.nodes.iter().cloned());
    let targets = target::from_args(
        ctx,
        &args,
        o.selector.as_deref(),
        o.selector.is_some(),
        false,
    )
    .await?;
    let dry_run = target::DryRun::parse(o.dry_run.as_deref())?;
    let client = ctx.client().await?;
    let (done, verb) = if unschedulable {
        ("already cordoned", "cordoned")
    } else {
        ("already uncordoned", "uncordoned")
    };
    for t in targets {
        let node = client.get(&t.path()).await?;
        let now = node
            .pointer("/spec/unschedulable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if now == unschedulable {
            out(&format!("{} {done}\n", t.display()));
            continue;
        }
        if dry_run == target::DryRun::None {
            let value = if unschedulable {
                json!(true)
            } else {
                Value::Null
            };
            client
                .json(
                    Method::PATCH,
                    &t.path(),
                    Some("application/strategic-merge-patch+json"),
                    Some(&json!({"spec": {"unschedulable": value}})),
                )
                .await?;
        }
        out(&format!("{} {verb}{}\n", t.display(), dry_run.suffix()));
    }
    Ok(())
}
