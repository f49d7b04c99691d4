//! `rkctl label` and `rkctl annotate`: `key=value` sets, `key-` removes, `--overwrite` allows
//! changing a value.

use clap::Args;
use http::Method;
use serde_json::{json, Map, Value};

use super::target::{self, Target};
use super::{out, Ctx};

/// Which map the verb edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Labels,
    Annotations,
}

impl Field {
    fn key(self) -> &'static str {
        match self {
            Field::Labels => "labels",
            Field::Annotations => "annotations",
        }
    }

    fn past(self) -> &'static str {
        match self {
            Field::Labels => "labeled",
            Field::Annotations => "annotated",
        }
    }
}

/// Flags of `rkctl label` / `rkctl annotate`.
#[derive(Debug, Args)]
pub struct Opts {
    /// TYPE NAME key=value... or TYPE/NAME key=value... (key- removes).
    args: Vec<String>,
    /// Allow changing existing values.
    #[arg(long)]
    overwrite: bool,
    /// Selector (label query) to filter on.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Select all resources of the type in the namespace.
    #[arg(long)]
    all: bool,
    /// Only change the object if its resourceVersion is still this.
    #[arg(long)]
    resource_version: Option<String>,
}

/// Runs `rkctl label` or `rkctl annotate`.
///
/// # Errors
/// Bad arguments, existing values without `--overwrite`, server errors.
pub async fn run(ctx: &Ctx, o: Opts, field: Field) -> anyhow::Result<()> {
    let (changes, objects): (Vec<String>, Vec<String>) = o
        .args
        .iter()
        .cloned()
        .partition(|a| a.contains('=') || (a.ends_with('-') && !a.contains('/')));
    if changes.is_empty() {
        anyhow::bail!(
            "at least one {} update is required",
            if field == Field::Labels {
                "label"
            } else {
                "annotation"
            }
        );
    }
    let mut set = Map::new();
    let mut remove = Vec::new();
    for c in &changes {
        if let Some((k, v)) = c.split_once('=') {
            set.insert(k.to_owned(), Value::String(v.to_owned()));
        } else if let Some(k) = c.strip_suffix('-') {
            remove.push(k.to_owned());
        }
    }
    let targets: Vec<Target> =
        target::from_args(ctx, &objects, o.selector.as_deref(), o.all, false).await?;
    let client = ctx.client().await?;
    for t in targets {
        let current = client.get(&t.path()).await?;
        let existing = current
            .pointer(&format!("/metadata/{}", field.key()))
            .cloned()
            .unwrap_or(json!({}));
        let mut patch = Map::new();
        for (k, v) in &set {
            match existing.get(k) {
                Some(old) if old == v => {}
                Some(old) if !o.overwrite => anyhow::bail!(
                    "'{k}' already has a value ({}), and --overwrite is false",
                    old.as_str().unwrap_or_default()
                ),
                _ => {
                    patch.insert(k.clone(), v.clone());
                }
            }
        }
        for k in &remove {
            if existing.get(k).is_some() {
                patch.insert(k.clone(), Value::Null);
            } else if field == Field::Labels {
                super::err(&format!("label \"{k}\" not found.\n"));
            }
        }
        if patch.is_empty() {
            // kubectl says an unchanged annotation was annotated all the same.
            match field {
                Field::Labels => out(&format!("{} not labeled\n", t.display())),
                Field::Annotations => out(&format!("{} annotated\n", t.display())),
            }
            continue;
        }
        let past = if field == Field::Labels && set.is_empty() {
            "unlabeled"
        } else {
            field.past()
        };
        let mut meta = json!({ field.key(): patch });
        if let Some(rv) = &o.resource_version {
            meta["resourceVersion"] = json!(rv);
        }
        client
            .json(
                Method::PATCH,
                &t.path(),
                Some("application/merge-patch+json"),
                Some(&json!({"metadata": meta})),
            )
            .await?;
        out(&format!("{} {past}\n", t.display()));
    }
    Ok(())
}
