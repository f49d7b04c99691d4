//! `rkctl patch`: strategic merge (default), JSON merge and JSON patches.

use clap::Args;
use http::Method;
use serde_json::Value;

use super::target;
use super::{out, query, Ctx};

/// Flags of `rkctl patch`.
#[derive(Debug, Args)]
pub struct Opts {
    /// TYPE NAME or TYPE/NAME.
    args: Vec<String>,
    /// The patch to be applied to the resource JSON file.
    #[arg(short = 'p', long)]
    patch: Option<String>,
    /// A file containing the patch.
    #[arg(long)]
    patch_file: Option<String>,
    /// json, merge or strategic.
    #[arg(long = "type", default_value = "strategic")]
    patch_type: String,
    /// The subresource to patch (status, scale).
    #[arg(long)]
    subresource: Option<String>,
    /// none, client or server.
    #[arg(long, num_args = 0..=1, default_missing_value = "client")]
    dry_run: Option<String>,
    /// Output format (name prints kind/name).
    #[arg(short = 'o', long)]
    output: Option<String>,
}

/// Runs `rkctl patch`.
///
/// # Errors
/// Bad patches, server errors.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let text = match (&o.patch, &o.patch_file) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)?,
        (None, None) => anyhow::bail!(
            "must specify --patch or --patch-file containing the contents of the patch"
        ),
    };
    let patch: Value = serde_saphyr::from_str(&text)
        .map_err(|e| anyhow::anyhow!("unable to parse \"{text}\": {e}"))?;
    let content_type = match o.patch_type.as_str() {
        "strategic" => "application/strategic-merge-patch+json",
        "merge" => "application/merge-patch+json",
        "json" => "application/json-patch+json",
        other => anyhow::bail!("--type must be one of [json merge strategic], not \"{other}\""),
    };
    let dry_run = target::DryRun::parse(o.dry_run.as_deref())?;
    let targets = target::from_args(ctx, &o.args, None, false, false).await?;
    let client = ctx.client().await?;
    for t in targets {
        let mut path = t.path();
        if let Some(s) = &o.subresource {
            path = format!("{path}/{s}");
        }
        let before = client.get(&path).await?;
        if dry_run == target::DryRun::Client {
            out(&format!("{} patched (dry run)\n", t.display()));
            continue;
        }
        let mut q = vec![("fieldManager", "kubectl-patch")];
        if dry_run == target::DryRun::Server {
            q.push(("dryRun", "All"));
        }
        let after = client
            .json(
                Method::PATCH,
                &format!("{path}{}", query(&q)),
                Some(content_type),
                Some(&patch),
            )
            .await?;
        let rv = |v: &Value| v.pointer("/metadata/resourceVersion").cloned();
        if o.output.as_deref() == Some("name") {
            out(&format!("{}\n", t.display()));
        } else if rv(&before) == rv(&after) {
            out(&format!("{} patched (no change)\n", t.display()));
        } else {
            out(&format!("{} patched{}\n", t.display(), dry_run.suffix()));
        }
    }
    Ok(())
}
