//! `rkctl taint`: add (`key[=value]:Effect`) or remove (`key[:Effect]-`) node taints.

use clap::Args;
use http::Method;
use serde_json::{json, Value};

use super::target;
use super::{out, Ctx};

/// Flags of `rkctl taint`.
#[derive(Debug, Args)]
pub struct Opts {
    /// `nodes NAME... key=value:Effect...` or `node/NAME ...`.
    args: Vec<String>,
    /// Allow replacing a taint with the same key and effect.
    #[arg(long)]
    overwrite: bool,
    /// Selector (label query) to filter on.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Select all nodes.
    #[arg(long)]
    all: bool,
}

/// One taint argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaintSpec {
    pub key: String,
    pub value: Option<String>,
    pub effect: Option<String>,
    pub remove: bool,
}

/// Parses `key=value:Effect`, `key:Effect-`, `key-`.
///
/// # Errors
/// Unknown effects, missing effects when adding.
pub fn parse_taint(s: &str) -> anyhow::Result<TaintSpec> {
    let (body, remove) = match s.strip_suffix('-') {
        Some(b) => (b, true),
        None => (s, false),
    };
    let (kv, effect) = match body.split_once(':') {
        Some((kv, e)) => (kv, Some(e.to_owned())),
        None => (body, None),
    };
    if let Some(e) = &effect {
        if !matches!(e.as_str(), "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
            anyhow::bail!("invalid taint effect: {e}, unsupported taint effect");
        }
    } else if !remove {
        anyhow::bail!("invalid taint spec: {s}, unknown taint effect");
    }
    let (key, value) = match kv.split_once('=') {
        Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
        None => (kv.to_owned(), None),
    };
    Ok(TaintSpec {
        key,
        value,
        effect,
        remove,
    })
}

/// Runs `rkctl taint`.
///
/// # Errors
/// Bad specs, existing taints without `--overwrite`, removing absent taints.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let (specs, objects): (Vec<String>, Vec<String>) = o.args.iter().cloned().partition(|a| {
        a.contains(':') || a.contains('=') || (a.ends_with('-') && !a.contains('/'))
    });
    if specs.is_empty() {
        anyhow::bail!("at least one taint update is required");
    }
    let specs: Vec<TaintSpec> = specs
        .iter()
        .map(|s| parse_taint(s))
        .collect::<anyhow::Result<_>>()?;
    let targets = target::from_args(ctx, &objects, o.selector.as_deref(), o.all, false).await?;
    let client = ctx.client().await?;
    for t in targets {
        let node = client.get(&t.path()).await?;
        let mut taints: Vec<Value> = node
            .pointer("/spec/taints")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let matches = |t: &Value, s: &TaintSpec| {
            t.get("key").and_then(Value::as_str) == Some(s.key.as_str())
                && s.effect
                    .as_ref()
                    .is_none_or(|e| t.get("effect").and_then(Value::as_str) == Some(e.as_str()))
        };
        let mut removed = false;
        let mut added = false;
        for s in &specs {
            if s.remove {
                let before = taints.len();
                taints.retain(|t| !matches(t, s));
                if taints.len() == before {
                    anyhow::bail!("taint \"{}\" not found", s.key);
                }
                removed = true;
            } else {
                if let Some(i) = taints.iter().position(|t| matches(t, s)) {
                    if !o.overwrite {
                        anyhow::bail!("node {} already has {} taint(s) with same effect(s) and --overwrite is false", t.name, s.key);
                    }
                    taints.remove(i);
                }
                let mut taint = json!({"key": s.key, "effect": s.effect});
                if let Some(v) = &s.value {
                    taint["value"] = json!(v);
                }
                taints.push(taint);
                added = true;
            }
        }
        let mut patch_node = node.clone();
        patch_node["spec"]["taints"] = Value::Array(taints);
        client
            .json(Method::PUT, &t.path(), None, Some(&patch_node))
            .await?;
        let verb = match (added, removed) {
            (true, true) => "modified",
            (false, true) => "untainted",
            _ => "tainted",
        };
        out(&format!("{} {verb}\n", t.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taint_specs() {
        assert_eq!(
            parse_taint("dedicated=gpu:NoSchedule").unwrap(),
            TaintSpec {
                key: "dedicated".into(),
                value: Some("gpu".into()),
                effect: Some("NoSchedule".into()),
                remove: false
            }
        );
        assert!(parse_taint("dedicated:NoSchedule-").unwrap().remove);
        assert!(parse_taint("dedicated-").unwrap().remove);
        assert!(parse_taint("k=v:Bogus").is_err());
        assert!(parse_taint("k=v").is_err());
    }
}
