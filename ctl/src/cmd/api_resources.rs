//! `rkctl api-resources`: the served resources, as kubectl lists them.

use clap::Args;

use super::{out, Ctx};
use crate::output::table::align;

/// Flags of `rkctl api-resources`.
#[derive(Debug, Args)]
pub struct Opts {
    /// Limit to resources in the specified API group.
    #[arg(long)]
    api_group: Option<String>,
    /// If false, non-namespaced resources will be returned, otherwise namespaced ones.
    #[arg(long)]
    namespaced: Option<bool>,
    /// Output format: wide or name.
    #[arg(short = 'o', long)]
    output: Option<String>,
    /// When using the default output format, don't print headers.
    #[arg(long)]
    no_headers: bool,
    /// Limit to resources that support the specified verbs.
    #[arg(long, value_delimiter = ',')]
    verbs: Vec<String>,
}

/// Runs `rkctl api-resources`.
///
/// # Errors
/// Discovery failures, bad `-o`.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let discovery = ctx.discovery().await?;
    let mut resources: Vec<_> = discovery
        .resources
        .iter()
        .filter(|r| r.preferred)
        .filter(|r| o.api_group.as_ref().is_none_or(|g| &r.group == g))
        .filter(|r| o.namespaced.is_none_or(|n| r.namespaced == n))
        .filter(|r| o.verbs.iter().all(|v| r.verbs.contains(v)))
        .collect();
    resources.sort_by(|a, b| a.group.cmp(&b.group).then(a.plural.cmp(&b.plural)));
    let wide = match o.output.as_deref() {
        None => false,
        Some("wide") => true,
        Some("name") => {
            let mut text = String::new();
            for r in &resources {
                text.push_str(&r.group_resource());
                text.push('\n');
            }
            out(&text);
            return Ok(());
        }
        Some(other) => anyhow::bail!("--output {other} is not available"),
    };
    let mut rows = Vec::new();
    if !o.no_headers {
        let mut h = vec!["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"];
        if wide {
            h.extend(["VERBS", "CATEGORIES"]);
        }
        rows.push(h.into_iter().map(str::to_owned).collect());
    }
    for r in resources {
        let mut row = vec![
            r.plural.clone(),
            r.short_names.join(","),
            r.api_version(),
            r.namespaced.to_string(),
            r.kind.clone(),
        ];
        if wide {
            row.push(r.verbs.join(","));
            row.push(r.categories.join(","));
        }
        rows.push(row);
    }
    out(&align(&rows));
    Ok(())
}
