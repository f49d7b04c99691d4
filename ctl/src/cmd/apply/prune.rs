//! `apply --prune -l SELECTOR`: objects that carry a last-applied configuration and match the
//! selector, but were not in this apply, are deleted (kubectl's default allowlist of kinds, in
//! the namespaces the apply touched).

use std::collections::BTreeSet;

use http::Method;
use serde_json::{json, Value};

use super::super::target::{DryRun, Target};
use super::super::{out, query, Ctx};
use super::LAST_APPLIED;

/// The kinds kubectl prunes by default: (group, kind).
const ALLOWLIST: &[(&str, &str)] = &[
    ("", "ConfigMap"),
    ("", "Endpoints"),
    ("", "Namespace"),
    ("", "PersistentVolumeClaim"),
    ("", "PersistentVolume"),
    ("", "Pod"),
    ("", "ReplicationController"),
    ("", "Secret"),
    ("", "Service"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("networking.k8s.io", "Ingress"),
    ("apps", "DaemonSet"),
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
];

/// Deletes what the apply no longer lists.
///
/// # Errors
/// Server errors.
pub async fn prune(
    ctx: &Ctx,
    applied: &[Target],
    selector: &str,
    dry_run: DryRun,
) -> anyhow::Result<()> {
    let discovery = ctx.discovery().await?;
    let client = ctx.client().await?;
    let namespaces: BTreeSet<String> = applied.iter().filter_map(|t| t.namespace.clone()).collect();
    let kept: BTreeSet<(String, String, Option<String>, String)> = applied
        .iter()
        .map(|t| {
            (
                t.resource.group.clone(),
                t.resource.kind.clone(),
                t.namespace.clone(),
                t.name.clone(),
            )
        })
        .collect();
    for (group, kind) in ALLOWLIST {
        let Some(r) = discovery
            .resources
            .iter()
            .find(|r| r.preferred && r.group == *group && r.kind == *kind)
        else {
            continue;
        };
        let scopes: Vec<Option<String>> = if r.namespaced {
            namespaces.iter().cloned().map(Some).collect()
        } else {
            vec![None]
        };
        for ns in scopes {
            let path = format!(
                "{}{}",
                r.collection_path(ns.as_deref()),
                query(&[("labelSelector", selector)])
            );
            let list = client.get(&path).await?;
            for item in list
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = item
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let has_config = item
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(LAST_APPLIED))
                    .is_some();
                let item_ns = item
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                if !has_config
                    || kept.contains(&(
                        r.group.clone(),
                        r.kind.clone(),
                        item_ns.clone(),
                        name.clone(),
                    ))
                {
                    continue;
                }
                if dry_run != DryRun::Client {
                    let mut q = Vec::new();
                    if dry_run == DryRun::Server {
                        q.push(("dryRun", "All"));
                    }
                    let path = format!("{}{}", r.object_path(item_ns.as_deref(), &name), query(&q));
                    client
                        .json(
                            Method::DELETE,
                            &path,
                            None,
                            Some(&json!({"propagationPolicy": "Background"})),
                        )
                        .await?;
                }
                out(&format!(
                    "{}/{name} pruned{}\n",
                    r.kind_group(),
                    dry_run.suffix()
                ));
            }
        }
    }
    Ok(())
}
