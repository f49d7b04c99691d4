//! `rkctl scale`: sets `spec.replicas` through the scale subresource.

use clap::Args;
use http::Method;
use serde_json::json;

use super::target;
use super::{out, Ctx};

/// Flags of `rkctl scale`.
#[derive(Debug, Args)]
pub struct Opts {
    /// TYPE NAME or TYPE/NAME.
    args: Vec<String>,
    /// The new desired number of replicas.
    #[arg(long)]
    replicas: i64,
    /// Precondition for current size.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    current_replicas: i64,
    /// Selector (label query) to filter on.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Select all resources of the type in the namespace.
    #[arg(long)]
    all: bool,
}

/// Runs `rkctl scale`.
///
/// # Errors
/// Unknown objects, failed preconditions, server errors.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    if o.replicas < 0 {
        anyhow::bail!(
            "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0"
        );
    }
    let targets = target::from_args(ctx, &o.args, o.selector.as_deref(), o.all, false).await?;
    let client = ctx.client().await?;
    for t in targets {
        let path = format!("{}/scale", t.path());
        if o.current_replicas >= 0 {
            let scale = client.get(&path).await?;
            let now = scale
                .pointer("/spec/replicas")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0);
            if now != o.current_replicas {
                anyhow::bail!("Expected replicas to be {}, was {now}", o.current_replicas);
            }
        }
        client
            .json(
                Method::PATCH,
                &path,
                Some("application/merge-patch+json"),
                Some(&json!({"spec": {"replicas": o.replicas}})),
            )
            .await?;
        out(&format!("{} scaled\n", t.display()));
    }
    Ok(())
}
