//! `rkctl create` (from files, and the imperative `create namespace|deployment|configmap`) and
//! `rkctl replace`.

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use super::target::{self, DryRun, Target};
use super::{err, out, query, Ctx, Reported};
use crate::manifest;

/// Flags of `rkctl create`.
#[derive(Debug, Args)]
pub struct Opts {
    #[command(subcommand)]
    what: Option<Imperative>,
    /// Filename, directory, or URL to files to use to create the resource.
    #[arg(short = 'f', long = "filename")]
    files: Vec<String>,
    /// Process the directory used in -f, --filename recursively.
    #[arg(short = 'R', long)]
    recursive: bool,
    /// none, client or server.
    #[arg(long, num_args = 0..=1, default_missing_value = "client")]
    dry_run: Option<String>,
    /// strict, warn or ignore (server-side field validation).
    #[arg(long, default_value = "strict", num_args = 0..=1, default_missing_value = "strict")]
    validate: String,
    /// Output format (name prints kind/name).
    #[arg(short = 'o', long)]
    output: Option<String>,
}

/// The imperative forms of `create`.
#[derive(Debug, Subcommand)]
pub enum Imperative {
    /// Create a namespace with the specified name.
    #[command(alias = "ns")]
    Namespace { name: String },
    /// Create a deployment with the specified name.
    #[command(alias = "deploy")]
    Deployment {
        name: String,
        #[arg(long, required = true)]
        image: Vec<String>,
        #[arg(short = 'r', long, default_value_t = 1)]
        replicas: i64,
        #[arg(long)]
        port: Option<i64>,
    },
    /// Create a config map from literal values.
    #[command(alias = "cm")]
    Configmap {
        name: String,
        #[arg(long = "from-literal")]
        from_literal: Vec<String>,
    },
}

/// Flags of `rkctl replace`.
#[derive(Debug, Args)]
pub struct ReplaceOpts {
    #[arg(short = 'f', long = "filename")]
    files: Vec<String>,
    #[arg(short = 'R', long)]
    recursive: bool,
    #[arg(long, default_value = "strict", num_args = 0..=1, default_missing_value = "strict")]
    validate: String,
    #[arg(long, num_args = 0..=1, default_missing_value = "client")]
    dry_run: Option<String>,
}

fn imperative_object(what: &Imperative) -> anyhow::Result<Value> {
    Ok(match what {
        Imperative::Namespace { name } => {
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        }
        Imperative::Deployment {
            name,
            image,
            replicas,
            port,
        } => {
            let containers: Vec<Value> = image
                .iter()
                .map(|i| {
                    let base = i.rsplit('/').next().unwrap_or(i);
                    let cname = base.split([':', '@']).next().unwrap_or(base);
                    let mut c = json!({"name": cname, "image": i, "resources": {}});
                    if let Some(p) = port {
                        c["ports"] = json!([{"containerPort": p}]);
                    }
                    c
                })
                .collect();
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "labels": {"app": name}},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                    "strategy": {},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}}}})
        }
        Imperative::Configmap { name, from_literal } => {
            let mut data = serde_json::Map::new();
            for l in from_literal {
                let Some((k, v)) = l.split_once('=') else {
                    anyhow::bail!("invalid literal source {l}, expected key=value");
                };
                data.insert(k.to_owned(), Value::String(v.to_owned()));
            }
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
        }
    })
}

/// Runs `rkctl create`.
///
/// # Errors
/// Manifest errors before anything is sent; server errors per object (the others still run).
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let dry_run = DryRun::parse(o.dry_run.as_deref())?;
    let validation = target::field_validation(&o.validate)?;
    let docs = match &o.what {
        Some(what) => vec![manifest::Document {
            source: String::new(),
            object: imperative_object(what)?,
        }],
        None => manifest::read(&o.files, o.recursive).await?,
    };
    let discovery = ctx.discovery().await?;
    let client = ctx.client().await?;
    let targets = target::from_documents(
        ctx,
        discovery,
        docs,
        &client.namespace,
        validation != "Ignore",
    )?;
    // A server-side dry run of every object first: an invalid one stops the command before
    // anything is created.
    if dry_run == DryRun::None && targets.len() > 1 {
        let mut failed = false;
        for t in &targets {
            let q = [
                ("fieldManager", "kubectl-create"),
                ("fieldValidation", validation),
                ("dryRun", "All"),
            ];
            let path = format!(
                "{}{}",
                t.resource.collection_path(t.namespace.as_deref()),
                query(&q)
            );
            match client
                .json(Method::POST, &path, None, t.object.as_ref())
                .await
            {
                Ok(_) => {}
                Err(crate::client::Error::Api(e))
                    if e.code == 404
                        && e.status.pointer("/details/kind").and_then(Value::as_str)
                            == Some("namespaces") => {}
                Err(crate::client::Error::Api(e)) => {
                    failed = true;
                    err(&server_error(&e, "creating", t.source.as_deref()));
                }
                Err(e) => return Err(e.into()),
            }
        }
        if failed {
            return Err(Reported.into());
        }
    }
    let mut failed = false;
    for t in targets {
        let body = t.object.clone().unwrap_or(Value::Null);
        let message = format!("{} created{}", t.display(), dry_run.suffix());
        if dry_run == DryRun::Client {
            print_result(&o.output, &t, &message);
            continue;
        }
        let mut q = vec![
            ("fieldManager", "kubectl-create"),
            ("fieldValidation", validation),
        ];
        if dry_run == DryRun::Server {
            q.push(("dryRun", "All"));
        }
        let path = format!(
            "{}{}",
            t.resource.collection_path(t.namespace.as_deref()),
            query(&q)
        );
        match client.json(Method::POST, &path, None, Some(&body)).await {
            Ok(_) => print_result(&o.output, &t, &message),
            Err(crate::client::Error::Api(e)) => {
                failed = true;
                err(&server_error(&e, "creating", t.source.as_deref()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    if failed {
        return Err(Reported.into());
    }
    Ok(())
}

fn print_result(output: &Option<String>, t: &Target, message: &str) {
    if output.as_deref() == Some("name") {
        out(&format!("{}\n", t.display()));
    } else {
        out(&format!("{message}\n"));
    }
}

/// kubectl's `Error from server (Reason): error when <verb> "<file>": <message>`; invalid
/// objects as `The Kind "name" is invalid:` with one `* field: message` line per cause.
pub fn server_error(e: &crate::client::ApiError, verb: &str, source: Option<&str>) -> String {
    if e.reason == "Invalid" {
        if let Some(text) = invalid_message(&e.status) {
            return text;
        }
    }
    let reason = if e.reason.is_empty() {
        String::new()
    } else {
        format!(" ({})", e.reason)
    };
    match source {
        Some(s) if !s.is_empty() => format!(
            "Error from server{reason}: error when {verb} \"{s}\": {}\n",
            e.message
        ),
        _ => format!("{e}\n"),
    }
}

/// kubectl's rendering of a 422 `Status` with causes.
pub fn invalid_message(status: &Value) -> Option<String> {
    let details = status.get("details")?;
    let causes = details.get("causes")?.as_array()?;
    if causes.is_empty() {
        return None;
    }
    let kind = details
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = rkube_api::registry::RESOURCES
        .iter()
        .find(|r| r.plural == kind)
        .map_or(kind, |r| r.kind);
    let name = details
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut text = format!("The {kind} \"{name}\" is invalid: \n");
    for c in causes {
        let field = c.get("field").and_then(Value::as_str).unwrap_or_default();
        let message = c.get("message").and_then(Value::as_str).unwrap_or_default();
        if field.is_empty() {
            text.push_str(&format!("* {message}\n"));
        } else {
            text.push_str(&format!("* {field}: {message}\n"));
        }
    }
    Some(text)
}

/// Runs `rkctl replace`.
///
/// # Errors
/// As [`run`].
pub async fn replace(ctx: &Ctx, o: ReplaceOpts) -> anyhow::Result<()> {
    let dry_run = DryRun::parse(o.dry_run.as_deref())?;
    let validation = target::field_validation(&o.validate)?;
    let docs = manifest::read(&o.files, o.recursive).await?;
    let discovery = ctx.discovery().await?;
    let client = ctx.client().await?;
    let targets = target::from_documents(
        ctx,
        discovery,
        docs,
        &client.namespace,
        validation != "Ignore",
    )?;
    let mut failed = false;
    for t in targets {
        let body = t.object.clone().unwrap_or(Value::Null);
        if dry_run == DryRun::Client {
            out(&format!("{} replaced{}\n", t.display(), dry_run.suffix()));
            continue;
        }
        let mut q = vec![
            ("fieldManager", "kubectl-replace"),
            ("fieldValidation", validation),
        ];
        if dry_run == DryRun::Server {
            q.push(("dryRun", "All"));
        }
        let path = format!("{}{}", t.path(), query(&q));
        match client.json(Method::PUT, &path, None, Some(&body)).await {
            Ok(_) => out(&format!("{} replaced{}\n", t.display(), dry_run.suffix())),
            Err(crate::client::Error::Api(e)) => {
                failed = true;
                err(&server_error(&e, "replacing", t.source.as_deref()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    if failed {
        return Err(Reported.into());
    }
    Ok(())
}
