//! `rkctl describe`: a readable summary of objects, with their events.

use clap::Args;

use super::target;
use super::{out, Ctx};

/// Flags of `rkctl describe`.
#[derive(Debug, Args)]
pub struct Opts {
    /// TYPE [NAME...] or TYPE/NAME.
    args: Vec<String>,
    /// Selector (label query) to filter on.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Across all namespaces.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// If true, display events related to the described object.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    show_events: bool,
}

/// Runs `rkctl describe`.
///
/// # Errors
/// Unknown types or objects, server errors.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let all = o.args.len() == 1 && !o.args[0].contains('/');
    let targets =
        target::from_args(ctx, &o.args, o.selector.as_deref(), all, o.all_namespaces).await?;
    let client = ctx.client().await?;
    if targets.is_empty() {
        super::err(&format!(
            "No resources found in {} namespace.\n",
            client.namespace
        ));
        return Ok(());
    }
    let mut first = true;
    for t in targets {
        let obj = client.get(&t.path()).await?;
        let events = if o.show_events {
            crate::describe::events_for(client, &obj).await.ok()
        } else {
            None
        };
        let extra = crate::describe::related(client, &t.resource, &obj)
            .await
            .unwrap_or(serde_json::Value::Null);
        if !first {
            out("\n\n");
        }
        first = false;
        out(&crate::describe::describe(
            &t.resource,
            &obj,
            &extra,
            events.as_ref(),
        ));
    }
    Ok(())
}
