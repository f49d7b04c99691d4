//! `rkctl rollout status|restart`: a deployment's progress in kubectl's words, and restarts.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use super::delete::parse_duration;
use super::target;
use super::{out, Ctx};
use crate::output::progress::StatusLine;

/// The `rollout` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the status of the rollout.
    Status(StatusOpts),
    /// Restart a resource (its pods are replaced).
    Restart(RestartOpts),
    /// Mark the provided resource as paused.
    Pause(RestartOpts),
    /// Resume a paused resource.
    Resume(RestartOpts),
    /// View rollout history.
    History(RestartOpts),
    /// Undo a previous rollout.
    Undo(UndoOpts),
}

/// Flags of `rollout undo`.
#[derive(Debug, Args)]
pub struct UndoOpts {
    /// TYPE NAME or TYPE/NAME.
    args: Vec<String>,
    /// The revision to roll back to (0: the previous one).
    #[arg(long, default_value_t = 0)]
    to_revision: i64,
}

const REVISION: &str = "deployment.kubernetes.io/revision";

/// A deployment's replica sets with their revisions, oldest first.
async fn revisions(
    client: &crate::client::Client,
    t: &super::target::Target,
) -> anyhow::Result<Vec<(i64, Value)>> {
    let d = client.get(&t.path()).await?;
    let uid = d
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let selector = crate::describe::selector_text(d.pointer("/spec/selector"));
    let ns = t.namespace.clone().unwrap_or_default();
    let list = client
        .get(&format!(
            "/apis/apps/v1/namespaces/{ns}/replicasets{}",
            super::query(&[("labelSelector", &selector)])
        ))
        .await?;
    let mut out: Vec<(i64, Value)> = list
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|rs| {
            rs.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|o| {
                    o.iter()
                        .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid.as_str()))
                })
        })
        .filter_map(|rs| {
            let rev = rs
                .pointer("/metadata/annotations")?
                .get(REVISION)?
                .as_str()?
                .parse()
                .ok()?;
            Some((rev, rs.clone()))
        })
        .collect();
    out.sort_by_key(|(r, _)| *r);
    Ok(out)
}

/// Flags of `rollout status`.
#[derive(Debug, Args)]
pub struct StatusOpts {
    /// TYPE NAME or TYPE/NAME.
    args: Vec<String>,
    /// Watch the status of the rollout until it's done.
    #[arg(short = 'w', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    watch: bool,
    /// How long to wait before ending watch (0 means never).
    #[arg(long, default_value = "0s")]
    timeout: String,
}

/// Flags of `rollout restart`.
#[derive(Debug, Args)]
pub struct RestartOpts {
    /// TYPE NAME or TYPE/NAME.
    args: Vec<String>,
}

/// The state of a rollout as kubectl reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Still going, with the line to print.
    Waiting(String),
    /// Finished, with the line to print.
    Done(String),
    /// Failed for good.
    Failed(String),
}

fn num(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// kubectl's rollout status of a Deployment.
pub fn deployment_progress(d: &Value) -> Progress {
    let name = d
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if num(d, "/metadata/generation") > num(d, "/status/observedGeneration") {
        return Progress::Waiting("Waiting for deployment spec update to be observed...".into());
    }
    let deadline_exceeded = d
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("type").and_then(Value::as_str) == Some("Progressing")
                && c.get("reason").and_then(Value::as_str) == Some("ProgressDeadlineExceeded")
        });
    if deadline_exceeded {
        return Progress::Failed(format!(
            "deployment \"{name}\" exceeded its progress deadline"
        ));
    }
    let desired = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let updated = num(d, "/status/updatedReplicas");
    let total = num(d, "/status/replicas");
    let available = num(d, "/status/availableReplicas");
    if updated < desired {
        return Progress::Waiting(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {updated} out of {desired} new replicas have been updated..."
        ));
    }
    if total > updated {
        return Progress::Waiting(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {} old replicas are pending termination...",
            total - updated
        ));
    }
    if available < updated {
        return Progress::Waiting(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    Progress::Done(format!("deployment \"{name}\" successfully rolled out"))
}

/// kubectl's rollout status of a DaemonSet.
pub fn daemonset_progress(d: &Value) -> Progress {
    let name = d
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if num(d, "/metadata/generation") > num(d, "/status/observedGeneration") {
        return Progress::Waiting("Waiting for daemon set spec update to be observed...".into());
    }
    let desired = num(d, "/status/desiredNumberScheduled");
    let updated = num(d, "/status/updatedNumberScheduled");
    let available = num(d, "/status/numberAvailable");
    if updated < desired {
        return Progress::Waiting(format!(
            "Waiting for daemon set \"{name}\" rollout to finish: {updated} out of {desired} new pods have been updated..."
        ));
    }
    if available < desired {
        return Progress::Waiting(format!(
            "Waiting for daemon set \"{name}\" rollout to finish: {available} of {desired} updated pods are available..."
        ));
    }
    Progress::Done(format!("daemon set \"{name}\" successfully rolled out"))
}

/// `rollout status` of a StatefulSet, in kubectl's words.
pub fn statefulset_progress(s: &Value) -> Progress {
    let strategy = s
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        .unwrap_or("RollingUpdate");
    if strategy != "RollingUpdate" {
        return Progress::Failed(
            "rollout status is only available for RollingUpdate strategy type".into(),
        );
    }
    let observed = num(s, "/status/observedGeneration");
    if observed == 0 || num(s, "/metadata/generation") > observed {
        return Progress::Waiting("Waiting for statefulset spec update to be observed...".into());
    }
    let replicas = s
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let ready = num(s, "/status/readyReplicas");
    if ready < replicas {
        return Progress::Waiting(format!(
            "Waiting for {} pods to be ready...",
            replicas - ready
        ));
    }
    let updated = num(s, "/status/updatedReplicas");
    let partition = num(s, "/spec/updateStrategy/rollingUpdate/partition");
    if partition > 0 {
        if updated < replicas - partition {
            return Progress::Waiting(format!(
                "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                replicas - partition
            ));
        }
        return Progress::Done(format!(
            "partitioned roll out complete: {updated} new pods have been updated..."
        ));
    }
    let revision = |field: &str| {
        s.pointer(&format!("/status/{field}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (update, current) = (revision("updateRevision"), revision("currentRevision"));
    if update != current {
        return Progress::Waiting(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update}..."
        ));
    }
    Progress::Done(format!(
        "statefulset rolling update complete {} pods at revision {current}...",
        num(s, "/status/currentReplicas")
    ))
}

/// Runs a `rollout` subcommand.
///
/// # Errors
/// Unknown objects, kinds without rollouts, timeouts, failed rollouts.
pub async fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    let client = ctx.client().await?;
    match command {
        Command::Status(o) => {
            let targets = target::from_args(ctx, &o.args, None, false, false).await?;
            let timeout = parse_duration(&o.timeout)?;
            let deadline = (!timeout.is_zero()).then(|| Instant::now() + timeout);
            for t in targets {
                let progress: fn(&Value) -> Progress =
                    match (t.resource.group.as_str(), t.resource.kind.as_str()) {
                        ("apps", "Deployment") => deployment_progress,
                        ("apps", "DaemonSet") => daemonset_progress,
                        ("apps", "StatefulSet") => statefulset_progress,
                        _ => anyhow::bail!(
                            "no status viewer has been implemented for {}",
                            t.resource.kind
                        ),
                    };
                let mut shown = StatusLine::new();
                loop {
                    let obj = client.get(&t.path()).await?;
                    match progress(&obj) {
                        Progress::Done(line) => {
                            shown.finish(Some(&line));
                            break;
                        }
                        Progress::Failed(line) => anyhow::bail!("{line}"),
                        Progress::Waiting(line) => {
                            shown.update(&line);
                            if !o.watch {
                                break;
                            }
                        }
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        anyhow::bail!("timed out waiting for the condition");
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        Command::Pause(o) => pause(ctx, &o.args, true).await?,
        Command::Resume(o) => pause(ctx, &o.args, false).await?,
        Command::History(o) => {
            for t in target::from_args(ctx, &o.args, None, false, false).await? {
                let revs = revisions(client, &t).await?;
                if revs.is_empty() {
                    out(&format!("{} \nNo rollout history found.\n", t.display()));
                    continue;
                }
                let mut text = String::from("REVISION\tCHANGE-CAUSE\n");
                for (rev, rs) in &revs {
                    let cause = rs
                        .pointer("/metadata/annotations/kubernetes.io~1change-cause")
                        .and_then(Value::as_str)
                        .unwrap_or("<none>");
                    text.push_str(&format!("{rev}\t{cause}\n"));
                }
                out(&format!(
                    "{} \n{}\n",
                    t.display(),
                    crate::output::tabwriter::format(&text, 0, 2)
                ));
            }
        }
        Command::Undo(o) => {
            for t in target::from_args(ctx, &o.args, None, false, false).await? {
                let revs = revisions(client, &t).await?;
                let chosen = if o.to_revision > 0 {
                    revs.iter().find(|(r, _)| *r == o.to_revision)
                } else if revs.len() >= 2 {
                    revs.get(revs.len() - 2)
                } else {
                    None
                };
                let Some((_, rs)) = chosen else {
                    if o.to_revision > 0 {
                        anyhow::bail!(
                            "unable to find specified revision {} in history",
                            o.to_revision
                        );
                    }
                    anyhow::bail!(
                        "no rollout history found for {} \"{}\"",
                        t.resource.kind.to_lowercase(),
                        t.name
                    );
                };
                let mut template = rs.pointer("/spec/template").cloned().unwrap_or(Value::Null);
                if let Some(Value::Object(labels)) = template.pointer_mut("/metadata/labels") {
                    labels.remove("pod-template-hash");
                }
                let patch = json!([{"op": "replace", "path": "/spec/template", "value": template}]);
                client
                    .json(
                        Method::PATCH,
                        &t.path(),
                        Some("application/json-patch+json"),
                        Some(&patch),
                    )
                    .await?;
                out(&format!("{} rolled back\n", t.display()));
            }
        }
        Command::Restart(o) => {
            let targets = target::from_args(ctx, &o.args, None, false, false).await?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
                .unwrap_or(0);
            let stamp = rkube_api::printers::format_rfc3339(now);
            for t in targets {
                let patch = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}});
                client
                    .json(
                        Method::PATCH,
                        &t.path(),
                        Some("application/strategic-merge-patch+json"),
                        Some(&patch),
                    )
                    .await?;
                out(&format!("{} restarted\n", t.display()));
            }
        }
    }
    Ok(())
}

async fn pause(ctx: &Ctx, args: &[String], paused: bool) -> anyhow::Result<()> {
    let client = ctx.client().await?;
    for t in target::from_args(ctx, args, None, false, false).await? {
        let d = client.get(&t.path()).await?;
        let now = d
            .pointer("/spec/paused")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if now == paused {
            anyhow::bail!(
                "{} \"{}\" is {}",
                t.resource.group_resource(),
                t.name,
                if paused {
                    "already paused"
                } else {
                    "not paused"
                }
            );
        }
        let value = if paused { json!(true) } else { Value::Null };
        client
            .json(
                Method::PATCH,
                &t.path(),
                Some("application/merge-patch+json"),
                Some(&json!({"spec": {"paused": value}})),
            )
            .await?;
        out(&format!(
            "{} {}\n",
            t.display(),
            if paused { "paused" } else { "resumed" }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statefulset_lines_as_kubectl() {
        let sts = |status: Value, partition: i64| {
            json!({"metadata": {"generation": 2},
                   "spec": {"replicas": 3, "updateStrategy": {"type": "RollingUpdate",
                            "rollingUpdate": {"partition": partition}}},
                   "status": status})
        };
        assert_eq!(
            statefulset_progress(&sts(json!({"observedGeneration": 1}), 0)),
            Progress::Waiting("Waiting for statefulset spec update to be observed...".into())
        );
        assert_eq!(
            statefulset_progress(&sts(
                json!({"observedGeneration": 2, "readyReplicas": 1}),
                0
            )),
            Progress::Waiting("Waiting for 2 pods to be ready...".into())
        );
        let rolling = json!({"observedGeneration": 2, "readyReplicas": 3, "updatedReplicas": 1,
                             "currentReplicas": 2, "updateRevision": "web-2", "currentRevision": "web-1"});
        assert_eq!(
            statefulset_progress(&sts(rolling.clone(), 0)),
            Progress::Waiting(
                "waiting for statefulset rolling update to complete 1 pods at revision web-2..."
                    .into()
            )
        );
        assert_eq!(
            statefulset_progress(&sts(rolling, 2)),
            Progress::Done("partitioned roll out complete: 1 new pods have been updated...".into())
        );
        let done = json!({"observedGeneration": 2, "readyReplicas": 3, "updatedReplicas": 3,
                          "currentReplicas": 3, "updateRevision": "web-2", "currentRevision": "web-2"});
        assert_eq!(
            statefulset_progress(&sts(done, 0)),
            Progress::Done(
                "statefulset rolling update complete 3 pods at revision web-2...".into()
            )
        );
    }

    #[test]
    fn deployment_lines_as_kubectl() {
        let d = |spec: i64, updated: i64, total: i64, available: i64| {
            json!({"metadata": {"name": "web", "generation": 2}, "spec": {"replicas": spec},
                "status": {"observedGeneration": 2, "updatedReplicas": updated, "replicas": total, "availableReplicas": available}})
        };
        assert_eq!(
            deployment_progress(&d(6, 2, 6, 2)),
            Progress::Waiting("Waiting for deployment \"web\" rollout to finish: 2 out of 6 new replicas have been updated...".into())
        );
        assert_eq!(
            deployment_progress(&d(6, 6, 8, 4)),
            Progress::Waiting("Waiting for deployment \"web\" rollout to finish: 2 old replicas are pending termination...".into())
        );
        assert_eq!(
            deployment_progress(&d(6, 6, 6, 2)),
            Progress::Waiting("Waiting for deployment \"web\" rollout to finish: 2 of 6 updated replicas are available...".into())
        );
        assert_eq!(
            deployment_progress(&d(6, 6, 6, 6)),
            Progress::Done("deployment \"web\" successfully rolled out".into())
        );
        let stale = json!({"metadata": {"name": "web", "generation": 3}, "status": {"observedGeneration": 2}});
        assert_eq!(
            deployment_progress(&stale),
            Progress::Waiting("Waiting for deployment spec update to be observed...".into())
        );
    }
}
