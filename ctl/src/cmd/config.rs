//! `rkctl config`: viewing kubeconfig and switching contexts and namespaces.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::{out, Ctx};
use crate::kubeconfig::{self, Kubeconfig};
use crate::output::{self, table::align};

/// The `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Display merged kubeconfig settings or a specified kubeconfig file.
    View(ViewOpts),
    /// Describe one or many contexts.
    GetContexts(GetContextsOpts),
    /// Display the current-context.
    CurrentContext,
    /// Set the current-context in a kubeconfig file.
    UseContext { name: String },
    /// Set a context entry in kubeconfig.
    SetContext(SetContextOpts),
}

/// Flags of `config view`.
#[derive(Debug, Args)]
pub struct ViewOpts {
    /// Remove all information not used by current-context from the output.
    #[arg(long)]
    minify: bool,
    /// Display raw byte data and sensitive data.
    #[arg(long)]
    raw: bool,
    /// Output format: yaml or json.
    #[arg(short = 'o', long)]
    output: Option<String>,
}

/// Flags of `config get-contexts`.
#[derive(Debug, Args)]
pub struct GetContextsOpts {
    names: Vec<String>,
    #[arg(long)]
    no_headers: bool,
    #[arg(short = 'o', long)]
    output: Option<String>,
}

/// Flags of `config set-context`.
#[derive(Debug, Args)]
pub struct SetContextOpts {
    name: Option<String>,
    /// Modify the current context (`--namespace`, `--cluster` and `--user` say what to set).
    #[arg(long)]
    current: bool,
}

/// Runs a `config` subcommand.
///
/// # Errors
/// kubeconfig that cannot be read or written, unknown contexts.
pub fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    let overrides = ctx.overrides();
    let mut cfg = Kubeconfig::load(overrides.kubeconfig.as_deref())?;
    match command {
        Command::View(o) => {
            if o.minify {
                cfg.minify(&overrides)?;
            }
            if !o.raw {
                cfg.redact();
            }
            let doc = cfg.to_value();
            match output::Format::parse(o.output.as_deref())? {
                output::Format::Table | output::Format::Wide => out(&output::yaml::to_yaml(&doc)),
                format => super::get::print_doc(&format, &doc, std::slice::from_ref(&doc), false)?,
            }
        }
        Command::CurrentContext => {
            if cfg.current_context.is_empty() {
                return Err(kubeconfig::Error::NoCurrentContext.into());
            }
            out(&format!("{}\n", cfg.current_context));
        }
        Command::GetContexts(o) => {
            let current = cfg.context_name(&overrides);
            for n in &o.names {
                if cfg.context(n).is_none() {
                    anyhow::bail!("context {n} not found");
                }
            }
            let selected: Vec<_> = cfg
                .contexts
                .iter()
                .filter(|c| o.names.is_empty() || o.names.contains(&c.name))
                .collect();
            if o.output.as_deref() == Some("name") {
                let text: String = selected.iter().map(|c| format!("{}\n", c.name)).collect();
                out(&text);
                return Ok(());
            }
            let mut rows = Vec::new();
            if !o.no_headers {
                rows.push(
                    ["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]
                        .map(str::to_owned)
                        .to_vec(),
                );
            }
            let field = |v: &Value, k: &str| {
                v.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            for c in selected {
                rows.push(vec![
                    if c.name == current { "*" } else { "" }.to_owned(),
                    c.name.clone(),
                    field(&c.value, "cluster"),
                    field(&c.value, "user"),
                    field(&c.value, "namespace"),
                ]);
            }
            out(&align(&rows));
        }
        Command::UseContext { name } => {
            if cfg.context(&name).is_none() {
                return Err(kubeconfig::Error::NoSuchContext(name).into());
            }
            let file = target_file(&cfg, |doc| {
                doc.get("current-context")
                    .and_then(Value::as_str)
                    .is_some_and(|c| !c.is_empty())
            });
            kubeconfig::edit_file(&file, |doc| {
                doc["current-context"] = Value::String(name.clone());
            })?;
            out(&format!("Switched to context \"{name}\".\n"));
        }
        Command::SetContext(o) => {
            let name = match (o.current, o.name) {
                (true, Some(_)) => {
                    anyhow::bail!("you cannot specify both a context name and --current")
                }
                (true, None) => {
                    let current = cfg.context_name(&overrides);
                    if current.is_empty() {
                        return Err(kubeconfig::Error::NoCurrentContext.into());
                    }
                    current
                }
                (false, Some(n)) => n,
                (false, None) => {
                    anyhow::bail!("you must specify a non-empty context name or --current")
                }
            };
            let exists = cfg.context(&name).is_some();
            let file = target_file(&cfg, |doc| {
                doc.get("contexts")
                    .and_then(Value::as_array)
                    .is_some_and(|a| {
                        a.iter()
                            .any(|c| c.get("name").and_then(Value::as_str) == Some(name.as_str()))
                    })
            });
            kubeconfig::edit_file(&file, |doc| {
                if !doc.get("contexts").is_some_and(Value::is_array) {
                    doc["contexts"] = json!([]);
                }
                if let Some(Value::Array(contexts)) = doc.get_mut("contexts") {
                    let idx = match contexts
                        .iter()
                        .position(|c| c.get("name").and_then(Value::as_str) == Some(name.as_str()))
                    {
                        Some(i) => i,
                        None => {
                            contexts.push(json!({"name": name, "context": {}}));
                            contexts.len() - 1
                        }
                    };
                    let entry = &mut contexts[idx];
                    if !entry.get("context").is_some_and(Value::is_object) {
                        entry["context"] = json!({});
                    }
                    let c = &mut entry["context"];
                    for (key, v) in [
                        ("namespace", &ctx.global.namespace),
                        ("cluster", &ctx.global.cluster),
                        ("user", &ctx.global.user),
                    ] {
                        if let Some(v) = v {
                            c[key] = Value::String(v.clone());
                        }
                    }
                }
            })?;
            let verb = if exists { "modified" } else { "created" };
            out(&format!("Context \"{name}\" {verb}.\n"));
        }
    }
    Ok(())
}

/// The file a change goes to: the first one `holds` is true of, else the first file.
fn target_file(cfg: &Kubeconfig, holds: impl Fn(&Value) -> bool) -> PathBuf {
    for f in &cfg.files {
        if let Ok(text) = std::fs::read_to_string(f) {
            if let Ok(doc) = serde_saphyr::from_str::<Value>(&text) {
                if holds(&doc) {
                    return f.clone();
                }
            }
        }
    }
    cfg.files
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("config"))
}
