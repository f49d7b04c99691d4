//! `rkctl apply`: client-side apply with the last-applied-configuration annotation (a three-way
//! patch from last-applied, the file and the live object), and `--server-side`.

mod prune;

use clap::Args;
use http::Method;
use serde_json::Value;

use super::create::server_error;
use super::target::{self, DryRun, Target};
use super::{err, out, query, Ctx, Reported};
use crate::client::Error as ClientError;
use crate::manifest;

/// The annotation kubectl keeps the applied configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Flags of `rkctl apply`.
#[derive(Debug, Args)]
pub struct Opts {
    /// The files that contain the configurations to apply.
    #[arg(short = 'f', long = "filename")]
    files: Vec<String>,
    /// Process the directory used in -f, --filename recursively.
    #[arg(short = 'R', long)]
    recursive: bool,
    /// If true, apply runs in the server instead of the client.
    #[arg(long)]
    server_side: bool,
    /// If true, server-side apply will force the changes against conflicts.
    #[arg(long)]
    force_conflicts: bool,
    /// Name of the manager used to track field ownership.
    #[arg(long, default_value = "rkctl")]
    field_manager: String,
    /// none, client or server.
    #[arg(long, num_args = 0..=1, default_missing_value = "client")]
    dry_run: Option<String>,
    /// strict, warn or ignore (server-side field validation).
    #[arg(long, default_value = "strict", num_args = 0..=1, default_missing_value = "strict")]
    validate: String,
    /// Output format (name prints kind/name).
    #[arg(short = 'o', long)]
    output: Option<String>,
    /// Delete objects that match -l and carry a last-applied configuration but are no longer
    /// in the files.
    #[arg(long)]
    prune: bool,
    /// Selector (label query) for --prune.
    #[arg(short = 'l', long)]
    selector: Option<String>,
}

/// The object to send, with the annotation holding itself (minus the annotation), as kubectl
/// builds it.
pub fn with_last_applied(object: &Value) -> Value {
    rkube_api::patch::modified_configuration(object)
}

/// The patch from the last applied configuration, the new one and the live object: a strategic
/// merge patch for built-in kinds (with their OpenAPI schemas), a JSON merge patch otherwise.
pub(super) fn three_way(
    t: &Target,
    modified: &Value,
    current: &Value,
) -> Result<(Value, &'static str), String> {
    let original = rkube_api::patch::original_configuration(current).map_err(|e| e.to_string())?;
    let schemas = rkube_api::schema::Schemas::builtin();
    let patch =
        match schemas.definition_for_kind(&t.resource.group, &t.resource.version, &t.resource.kind)
        {
            Some(definition) => (
                rkube_api::patch::create_three_way_merge_patch(
                    original.as_ref(),
                    modified,
                    current,
                    schemas,
                    definition,
                )
                .map_err(|e| e.to_string())?,
                "application/strategic-merge-patch+json",
            ),
            None => (
                rkube_api::patch::create_merge_patch(original.as_ref(), modified, current),
                "application/merge-patch+json",
            ),
        };
    rkube_api::patch::check_apply_preconditions(&patch.0).map_err(|e| e.to_string())?;
    Ok(patch)
}

/// Runs `rkctl apply`.
///
/// # Errors
/// Manifest errors before anything is sent; server errors per object (the others still run).
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
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
    // Every object is first tried as a server-side dry run, so that an invalid one stops the
    // whole command before anything is changed.
    if dry_run == DryRun::None {
        let failures = apply_all(ctx, &o, &targets, DryRun::Server, validation, true).await?;
        if failures > 0 {
            return Err(Reported.into());
        }
    }
    if o.prune && o.selector.is_none() {
        anyhow::bail!("all resources selected for prune without explicitly passing --all. To prune all resources, pass the --all flag. If you did not mean to prune all resources, specify a label selector");
    }
    if apply_all(ctx, &o, &targets, dry_run, validation, false).await? > 0 {
        return Err(Reported.into());
    }
    if let (true, Some(selector)) = (o.prune, &o.selector) {
        prune::prune(ctx, &targets, selector, dry_run).await?;
    }
    Ok(())
}

/// Applies each target, printing results (unless `preflight`) and errors; returns how many
/// failed.
async fn apply_all(
    ctx: &Ctx,
    o: &Opts,
    targets: &[Target],
    dry_run: DryRun,
    validation: &str,
    preflight: bool,
) -> anyhow::Result<usize> {
    let mut failed = 0;
    for t in targets {
        let result = if o.server_side {
            server_side(ctx, o, t, dry_run, validation)
                .await
                .map_err(|e| (e, false))
        } else {
            client_side(ctx, t, dry_run, validation).await
        };
        match result {
            Ok(verb) => {
                if preflight {
                    continue;
                }
                if o.output.as_deref() == Some("name") {
                    out(&format!("{}\n", t.display()));
                } else {
                    out(&format!("{} {verb}{}\n", t.display(), dry_run.suffix()));
                }
            }
            // A namespace created by an earlier document does not exist during the dry run.
            Err((ClientError::Api(e), _))
                if preflight
                    && e.code == 404
                    && e.status.pointer("/details/kind").and_then(Value::as_str)
                        == Some("namespaces") => {}
            Err((ClientError::Api(e), creating)) => {
                failed += 1;
                if o.server_side && e.code == 409 {
                    err(&format!("error: {}\n", conflict_message(&e.message)));
                } else {
                    let verb = if creating {
                        "creating"
                    } else {
                        "applying patch to"
                    };
                    err(&server_error(&e, verb, t.source.as_deref()));
                }
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
    Ok(failed)
}

fn conflict_message(message: &str) -> String {
    format!(
        "{message}\nPlease review the fields above--they currently have other managers. Here\nare the ways you can resolve this warning:\n* If you intend to manage all of these fields, please re-run the apply\n  command with the `--force-conflicts` flag.\n* If you do not intend to manage all of the fields, please edit your\n  manifest to remove references to the fields that should keep their\n  current managers.\n* You may co-own fields by updating your manifest to match the existing\n  value; in this case, you'll become the manager if the value is not\n  changed from the existing value."
    )
}

async fn server_side(
    ctx: &Ctx,
    o: &Opts,
    t: &Target,
    dry_run: DryRun,
    validation: &str,
) -> Result<&'static str, ClientError> {
    let client = ctx
        .client()
        .await
        .map_err(|e| ClientError::Connect(e.to_string()))?;
    let mut q = vec![
        ("fieldManager", o.field_manager.as_str()),
        ("fieldValidation", validation),
    ];
    if o.force_conflicts {
        q.push(("force", "true"));
    }
    if dry_run != DryRun::None {
        q.push(("dryRun", "All"));
    }
    let body = t.object.clone().unwrap_or(Value::Null);
    let path = format!("{}{}", t.path(), query(&q));
    client
        .json(
            Method::PATCH,
            &path,
            Some("application/apply-patch+yaml"),
            Some(&body),
        )
        .await?;
    Ok("serverside-applied")
}

async fn client_side(
    ctx: &Ctx,
    t: &Target,
    dry_run: DryRun,
    validation: &str,
) -> Result<&'static str, (ClientError, bool)> {
    let client = ctx
        .client()
        .await
        .map_err(|e| (ClientError::Connect(e.to_string()), false))?;
    let modified = with_last_applied(&t.object.clone().unwrap_or(Value::Null));
    let current = match client.get(&t.path()).await {
        Ok(c) => Some(c),
        Err(ClientError::Api(e)) if e.code == 404 => None,
        Err(e) => return Err((e, false)),
    };
    let server_dry = matches!(dry_run, DryRun::Server).then_some(("dryRun", "All"));
    let Some(current) = current else {
        if dry_run == DryRun::Client {
            return Ok("created");
        }
        let mut q = vec![
            ("fieldManager", "kubectl-client-side-apply"),
            ("fieldValidation", validation),
        ];
        q.extend(server_dry);
        let path = format!(
            "{}{}",
            t.resource.collection_path(t.namespace.as_deref()),
            query(&q)
        );
        client
            .json(Method::POST, &path, None, Some(&modified))
            .await
            .map_err(|e| (e, true))?;
        return Ok("created");
    };
    let (patch, content_type) = three_way(t, &modified, &current).map_err(|message| {
        (
            ClientError::Api(crate::client::ApiError {
                code: 0,
                reason: String::new(),
                message,
                status: Value::Null,
            }),
            false,
        )
    })?;
    if patch.as_object().is_none_or(serde_json::Map::is_empty) {
        return Ok("unchanged");
    }
    if dry_run == DryRun::Client {
        return Ok("configured");
    }
    let mut q = vec![
        ("fieldManager", "kubectl-client-side-apply"),
        ("fieldValidation", validation),
    ];
    q.extend(server_dry);
    let path = format!("{}{}", t.path(), query(&q));
    client
        .json(Method::PATCH, &path, Some(content_type), Some(&patch))
        .await
        .map_err(|e| (e, false))?;
    Ok("configured")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn last_applied_is_the_object_itself() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}, "data": {"k": "<v>"}});
        let m = with_last_applied(&obj);
        assert_eq!(
            m["metadata"]["annotations"][LAST_APPLIED],
            "{\"apiVersion\":\"v1\",\"data\":{\"k\":\"\\u003cv\\u003e\"},\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{},\"name\":\"a\",\"namespace\":\"default\"}}\n"
        );
        // Applying the result again yields the same annotation.
        assert_eq!(with_last_applied(&m), m);
    }
}
