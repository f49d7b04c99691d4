//! `rkctl edit`: the object as YAML in `$KUBE_EDITOR` / `$EDITOR` (default `vi`), saved back
//! with an update.

use clap::Args;
use http::Method;
use serde_json::Value;

use super::target;
use super::{out, Ctx};
use crate::output;

/// Flags of `rkctl edit`.
#[derive(Debug, Args)]
pub struct Opts {
    /// TYPE NAME or TYPE/NAME.
    args: Vec<String>,
}

const HEADER: &str = "# Please edit the object below. Lines beginning with a '#' will be ignored,\n# and an empty file will abort the edit. If an error occurs while saving this file will be\n# reopened with the relevant failures.\n#\n";

/// Runs `rkctl edit`.
///
/// # Errors
/// A failing editor, YAML that does not parse, server errors.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let targets = target::from_args(ctx, &o.args, None, false, false).await?;
    let client = ctx.client().await?;
    let editor = std::env::var("KUBE_EDITOR")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    for t in targets {
        let mut obj = client.get(&t.path()).await?;
        output::strip_managed_fields(&mut obj);
        let original = output::yaml::to_yaml(&obj);
        let dir = std::env::temp_dir();
        let file = dir.join(format!("rkctl-edit-{}-{}.yaml", std::process::id(), t.name));
        std::fs::write(&file, format!("{HEADER}{original}"))?;
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("sh")
            .arg(&file)
            .status()?;
        let edited = std::fs::read_to_string(&file)?;
        let _ = std::fs::remove_file(&file);
        if !status.success() {
            anyhow::bail!("there was a problem with the editor \"{editor}\"");
        }
        let body: String = edited
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        if body.trim().is_empty() {
            out("Edit cancelled, saved file was empty.\n");
            continue;
        }
        let new: Value =
            serde_saphyr::from_str(&body).map_err(|e| anyhow::anyhow!("error: {e}"))?;
        if new == obj {
            out("Edit cancelled, no changes made.\n");
            continue;
        }
        client
            .json(Method::PUT, &t.path(), None, Some(&new))
            .await?;
        out(&format!("{} edited\n", t.display()));
    }
    Ok(())
}
