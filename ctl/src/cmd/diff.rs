//! `rkctl diff -f FILE`: the live objects against what applying the files would make of them
//! (a server-side dry run), through `diff -u -N` (or `$KUBECTL_EXTERNAL_DIFF`). Exit code 1
//! when something differs, as kubectl.

use clap::Args;
use http::Method;
use serde_json::Value;

use super::target::{self, Target};
use super::{out, query, Ctx, Reported};
use crate::client::Error as ClientError;
use crate::{manifest, output};

/// Flags of `rkctl diff`.
#[derive(Debug, Args)]
pub struct Opts {
    #[arg(short = 'f', long = "filename")]
    files: Vec<String>,
    #[arg(short = 'R', long)]
    recursive: bool,
    /// Compare with a server-side apply instead of a client-side one.
    #[arg(long)]
    server_side: bool,
}

/// Drops the managed fields, as kubectl's diff does.
fn clean(mut v: Value) -> Value {
    output::strip_managed_fields(&mut v);
    v
}

fn file_name(t: &Target) -> String {
    let gv = t.resource.api_version().replace('/', ".");
    let ns = t
        .namespace
        .as_deref()
        .map(|n| format!("{n}."))
        .unwrap_or_default();
    format!("{gv}.{}.{ns}{}", t.resource.kind, t.name)
}

async fn merged(
    ctx: &Ctx,
    t: &Target,
    server_side: bool,
) -> anyhow::Result<(Option<Value>, Value)> {
    let client = ctx.client().await?;
    let live = match client.get(&t.path()).await {
        Ok(v) => Some(v),
        Err(ClientError::Api(e)) if e.code == 404 => None,
        Err(e) => return Err(e.into()),
    };
    let object = t.object.clone().unwrap_or(Value::Null);
    let result = if server_side {
        let q = [
            ("fieldManager", "rkctl"),
            ("dryRun", "All"),
            ("force", "true"),
        ];
        client
            .json(
                Method::PATCH,
                &format!("{}{}", t.path(), query(&q)),
                Some("application/apply-patch+yaml"),
                Some(&object),
            )
            .await?
    } else {
        // As kubectl's diff: the live last-applied annotation is left as it is.
        let mut modified = super::apply::with_last_applied(&object);
        let live_config = live
            .as_ref()
            .and_then(|l| l.pointer("/metadata/annotations"))
            .and_then(|a| a.get(super::LAST_APPLIED))
            .cloned();
        if let (Some(config), Some(Value::Object(a))) =
            (live_config, modified.pointer_mut("/metadata/annotations"))
        {
            a.insert(super::LAST_APPLIED.to_owned(), config);
        }
        let q = [
            ("fieldManager", "kubectl-client-side-apply"),
            ("dryRun", "All"),
        ];
        match &live {
            None => {
                let path = format!(
                    "{}{}",
                    t.resource.collection_path(t.namespace.as_deref()),
                    query(&q)
                );
                client
                    .json(Method::POST, &path, None, Some(&modified))
                    .await?
            }
            Some(current) => {
                let (patch, ct) = super::apply::three_way(t, &modified, current)
                    .map_err(|m| anyhow::anyhow!(m))?;
                client
                    .json(
                        Method::PATCH,
                        &format!("{}{}", t.path(), query(&q)),
                        Some(ct),
                        Some(&patch),
                    )
                    .await?
            }
        }
    };
    Ok((live, result))
}

/// Runs `rkctl diff`.
///
/// # Errors
/// Manifest and server errors; [`Reported`] (exit 1) when the objects differ.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let docs = manifest::read(&o.files, o.recursive).await?;
    let discovery = ctx.discovery().await?;
    let client = ctx.client().await?;
    let targets = target::from_documents(ctx, discovery, docs, &client.namespace, true)?;
    let tmp = std::env::temp_dir();
    let stamp = std::process::id();
    let live_dir = tmp.join(format!("LIVE-{stamp}"));
    let merged_dir = tmp.join(format!("MERGED-{stamp}"));
    std::fs::create_dir_all(&live_dir)?;
    std::fs::create_dir_all(&merged_dir)?;
    for t in &targets {
        let (live, result) = merged(ctx, t, o.server_side).await?;
        let name = file_name(t);
        let live_text = live
            .map(|v| output::yaml::to_yaml(&clean(v)))
            .unwrap_or_default();
        std::fs::write(live_dir.join(&name), live_text)?;
        std::fs::write(
            merged_dir.join(&name),
            output::yaml::to_yaml(&clean(result)),
        )?;
    }
    let program = std::env::var("KUBECTL_EXTERNAL_DIFF").unwrap_or_else(|_| "diff -u -N".into());
    let result = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{program} \"$1\" \"$2\""))
        .arg("sh")
        .arg(&live_dir)
        .arg(&merged_dir)
        .output();
    let _ = std::fs::remove_dir_all(&live_dir);
    let _ = std::fs::remove_dir_all(&merged_dir);
    let result = result?;
    out(&String::from_utf8_lossy(&result.stdout));
    match result.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(Reported.into()),
        _ => anyhow::bail!(
            "exit status {}: {}",
            result.status,
            String::from_utf8_lossy(&result.stderr).trim()
        ),
    }
}
