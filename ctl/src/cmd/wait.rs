//! `rkctl wait`: until a condition holds (`condition=X[=value]`), a JSONPath matches, or the
//! objects are deleted.

use std::time::{Duration, Instant};

use clap::Args;
use rkube_api::jsonpath::JsonPath;
use serde_json::Value;

use super::delete::parse_duration;
use super::target::{self, Target};
use super::Ctx;
use crate::client::Error as ClientError;
use crate::output::progress::StatusLine;

/// Flags of `rkctl wait`.
#[derive(Debug, Args)]
pub struct Opts {
    /// TYPE NAME..., TYPE/NAME..., or TYPE with -l / --all.
    args: Vec<String>,
    /// delete, condition=NAME[=VALUE], jsonpath='{expr}'=value, create.
    #[arg(long = "for")]
    condition: String,
    /// How long to wait (e.g. 30s, 5m).
    #[arg(long, default_value = "30s")]
    timeout: String,
    /// Selector (label query) to filter on.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Select all resources of the type in the namespace.
    #[arg(long)]
    all: bool,
    /// Across all namespaces.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
}

/// What `--for` asks.
#[derive(Debug)]
pub enum Condition {
    Delete,
    Create,
    Status {
        name: String,
        value: String,
    },
    JsonPath {
        path: JsonPath,
        value: Option<String>,
    },
}

/// Parses `--for`.
///
/// # Errors
/// Unknown forms, templates that do not parse.
pub fn parse_condition(s: &str) -> anyhow::Result<Condition> {
    if s.eq_ignore_ascii_case("delete") {
        return Ok(Condition::Delete);
    }
    if s.eq_ignore_ascii_case("create") {
        return Ok(Condition::Create);
    }
    if let Some(rest) = s.strip_prefix("condition=") {
        let (name, value) = match rest.split_once('=') {
            Some((n, v)) => (n.to_owned(), v.to_owned()),
            None => (rest.to_owned(), "true".to_owned()),
        };
        return Ok(Condition::Status { name, value });
    }
    if let Some(rest) = s.strip_prefix("jsonpath=") {
        let (expr, value) = match rest.rfind("}=") {
            Some(i) => (&rest[..=i], Some(rest[i + 2..].to_owned())),
            None => (rest, None),
        };
        let expr = if expr.starts_with('{') {
            expr.to_owned()
        } else {
            format!("{{{expr}}}")
        };
        let path = JsonPath::parse(&expr).map_err(|e| {
            anyhow::anyhow!(
                "{}",
                rkube_api::jsonpath::parse_error_message(&expr, &e).trim_end()
            )
        })?;
        return Ok(Condition::JsonPath { path, value });
    }
    anyhow::bail!("unrecognized condition: \"{s}\"")
}

/// Whether `obj` satisfies `cond` (delete and create are decided by the caller).
pub fn holds(cond: &Condition, obj: &Value) -> bool {
    match cond {
        Condition::Delete => false,
        Condition::Create => true,
        Condition::Status { name, value } => obj
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| {
                c.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case(name))
                    && c.get("status")
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.eq_ignore_ascii_case(value))
            }),
        Condition::JsonPath { path, value } => {
            let Ok(results) = path.find_results(obj) else {
                return false;
            };
            let values: Vec<Value> = results.into_iter().flatten().collect();
            match value {
                None => !values.is_empty(),
                Some(want) => {
                    values.len() == 1
                        && match &values[0] {
                            Value::String(s) => s == want,
                            other => {
                                let text = other.to_string();
                                text == *want
                            }
                        }
                }
            }
        }
    }
}

/// Runs `rkctl wait`.
///
/// # Errors
/// Timeouts (`timed out waiting for the condition on TYPE/NAME`), server errors.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let cond = parse_condition(&o.condition)?;
    let timeout = parse_duration(&o.timeout)?;
    let deadline = Instant::now() + timeout;
    let client = ctx.client().await?;
    let targets: Vec<Target> = loop {
        let found = target::from_args(
            ctx,
            &o.args,
            o.selector.as_deref(),
            o.all || o.selector.is_some(),
            o.all_namespaces,
        )
        .await?;
        if !found.is_empty() {
            break found;
        }
        if matches!(cond, Condition::Delete) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            anyhow::bail!("no matching resources found");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for t in targets {
        let shown = StatusLine::new();
        shown.spin(&format!("waiting for {} ({})", t.display(), o.condition));
        loop {
            let met = match client.get(&t.path()).await {
                Ok(obj) => holds(&cond, &obj),
                Err(ClientError::Api(e)) if e.code == 404 => match cond {
                    Condition::Delete => true,
                    Condition::Create => false,
                    _ => {
                        if Instant::now() >= deadline {
                            return Err(ClientError::Api(e).into());
                        }
                        false
                    }
                },
                Err(e) => return Err(e.into()),
            };
            if met {
                shown.finish(Some(&format!("{} condition met", t.display())));
                break;
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
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions() {
        let obj = json!({"status": {"phase": "Running", "conditions": [{"type": "Available", "status": "True"}]}});
        assert!(holds(
            &parse_condition("condition=Available").unwrap(),
            &obj
        ));
        assert!(!holds(
            &parse_condition("condition=Available=false").unwrap(),
            &obj
        ));
        assert!(holds(
            &parse_condition("jsonpath={.status.phase}=Running").unwrap(),
            &obj
        ));
        assert!(!holds(
            &parse_condition("jsonpath={.status.phase}=Pending").unwrap(),
            &obj
        ));
        assert!(parse_condition("bogus").is_err());
    }
}
