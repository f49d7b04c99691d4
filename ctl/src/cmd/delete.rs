//! `rkctl delete`: by file, by name, by `TYPE/NAME`, by label or `--all`; waits for the objects
//! to be gone unless `--wait=false`.

use std::time::{Duration, Instant};

use clap::Args;
use http::Method;
use serde_json::{json, Value};

use super::create::server_error;
use super::target::{self, Target};
use super::{err, out, query, Ctx, Reported};
use crate::client::Error as ClientError;
use crate::manifest;
use crate::output::progress::StatusLine;

/// Flags of `rkctl delete`.
#[derive(Debug, Args)]
pub struct Opts {
    /// TYPE NAME..., TYPE/NAME..., or TYPE with -l / --all.
    args: Vec<String>,
    #[arg(short = 'f', long = "filename")]
    files: Vec<String>,
    #[arg(short = 'R', long)]
    recursive: bool,
    /// Selector (label query) to filter on.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Delete all resources, in the namespace of the specified resource types.
    #[arg(long)]
    all: bool,
    /// If present, the requested object(s) are deleted across all namespaces.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Treat "resource not found" as a successful delete.
    #[arg(long)]
    ignore_not_found: bool,
    /// Wait for resources to be gone before returning.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    wait: bool,
    /// Seconds given to the resource to terminate gracefully (-1: the resource's default).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    grace_period: i64,
    /// Immediately remove resources from the API and bypass graceful deletion.
    #[arg(long)]
    force: bool,
    /// How long to wait before giving up (e.g. 60s); 0 waits a week.
    #[arg(long, default_value = "0s")]
    timeout: String,
    /// background, foreground or orphan.
    #[arg(long, default_value = "background")]
    cascade: String,
    /// Output format (name prints kind/name).
    #[arg(short = 'o', long)]
    output: Option<String>,
}

/// Parses kubectl durations (`30s`, `5m`, `1h`, `500ms`, plain seconds).
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return Ok(Duration::from_secs_f64(n.max(0.0)));
    }
    let mut total = 0.0;
    let mut number = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let n: f64 = number
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid duration {s:?}"))?;
        number.clear();
        total += n * match unit.as_str() {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => anyhow::bail!("invalid duration {s:?}"),
        };
    }
    if !number.is_empty() {
        anyhow::bail!("invalid duration {s:?}: missing unit");
    }
    Ok(Duration::from_secs_f64(total))
}

/// Runs `rkctl delete`.
///
/// # Errors
/// Bad arguments; per-object server errors are printed and the rest still deleted.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let client = ctx.client().await?;
    let targets: Vec<Target> = if !o.files.is_empty() {
        let docs = manifest::read(&o.files, o.recursive).await?;
        let discovery = ctx.discovery().await?;
        target::from_documents(ctx, discovery, docs, &client.namespace, false)?
    } else {
        if o.args.is_empty() {
            anyhow::bail!("You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'");
        }
        let names_given = o.args.len() > 1 || o.args.iter().any(|a| a.contains('/'));
        if !names_given && o.selector.is_none() && !o.all {
            anyhow::bail!("resource(s) were provided, but no name was specified");
        }
        let found =
            target::from_args(ctx, &o.args, o.selector.as_deref(), o.all, o.all_namespaces).await?;
        if found.is_empty() && !names_given {
            if o.all_namespaces {
                err("No resources found\n");
            } else {
                err(&format!(
                    "No resources found in {} namespace.\n",
                    client.namespace
                ));
            }
            return Ok(());
        }
        found
    };
    let grace = if o.force && o.grace_period < 0 {
        0
    } else {
        o.grace_period
    };
    if o.force && grace == 0 {
        err("Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\n");
    }
    let policy = match o.cascade.as_str() {
        "background" | "true" => "Background",
        "foreground" => "Foreground",
        "orphan" | "false" => "Orphan",
        other => anyhow::bail!("invalid cascade value ({other}). Must be \"background\", \"foreground\", or \"orphan\""),
    };
    let mut options =
        json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy});
    if grace >= 0 {
        options["gracePeriodSeconds"] = json!(grace);
    }
    let mut failed = false;
    let mut deleted: Vec<(Target, String)> = Vec::new();
    for t in targets {
        match client
            .json(Method::DELETE, &t.path(), None, Some(&options))
            .await
        {
            Ok(v) => {
                // The object while it is held, or a Status naming its uid once it is gone.
                let uid = v
                    .pointer("/metadata/uid")
                    .or_else(|| v.pointer("/details/uid"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let what = if grace == 0 && o.force {
                    "force deleted"
                } else {
                    "deleted"
                };
                if o.output.as_deref() == Some("name") {
                    out(&format!("{}\n", t.display()));
                } else {
                    out(&format!(
                        "{} \"{}\" {what}\n",
                        t.resource.kind_group(),
                        t.name
                    ));
                }
                deleted.push((t, uid));
            }
            Err(ClientError::Api(e)) if e.code == 404 && o.ignore_not_found => {}
            Err(ClientError::Api(e)) => {
                failed = true;
                err(&server_error(&e, "deleting", t.source.as_deref()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    if o.wait {
        let timeout = parse_duration(&o.timeout)?;
        let timeout = if timeout.is_zero() {
            Duration::from_secs(7 * 24 * 3600)
        } else {
            timeout
        };
        let deadline = Instant::now() + timeout;
        for (t, uid) in &deleted {
            let shown = StatusLine::new();
            shown.spin(&format!("waiting for {} to be deleted", t.display()));
            loop {
                match client.get(&t.path()).await {
                    Err(ClientError::Api(e)) if e.code == 404 => break,
                    Ok(v)
                        if v.pointer("/metadata/uid").and_then(Value::as_str)
                            != Some(uid.as_str())
                            && !uid.is_empty() =>
                    {
                        break
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e.into()),
                }
                if Instant::now() >= deadline {
                    anyhow::bail!(
                        "timed out waiting for the condition on {}/{}",
                        t.resource.plural,
                        t.name
                    );
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            shown.finish(None);
        }
    }
    let _ = query;
    if failed {
        return Err(Reported.into());
    }
    Ok(())
}
