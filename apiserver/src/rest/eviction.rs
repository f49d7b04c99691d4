//! `pods/{name}/eviction`: a delete that respects the pod's PodDisruptionBudget, as
//! kube-apiserver's eviction subresource does.
//!
//! A pod that is not running yet or any more (Pending, Succeeded, Failed) or already being
//! deleted is deleted at once. Otherwise the one budget selecting the pod (two or more: 500)
//! must allow a disruption: its `status.disruptionsAllowed` (kept by the disruption
//! controller) is taken down by one and the pod recorded in `status.disruptedPods` before the
//! pod is deleted, so concurrent evictions cannot overdraw it. A budget with none left
//! answers 429, which `kubectl drain` retries. Pods that are not Ready may be evicted while
//! the budget is healthy, or always under `unhealthyPodEvictionPolicy: AlwaysAllow`.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use rkube_api::registry::Subresource;
use serde_json::{json, Value};

use super::lifecycle::delete_object;
use super::write::{change, Fields};
use super::{cache_of, Call};
use crate::body::{self, Body};
use crate::object;
use crate::status::{self, ApiError, ApiResult};
use crate::ApiServer;

const TOO_MANY: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

/// POST `pods/{name}/eviction`.
pub async fn evict(
    server: &Arc<ApiServer>,
    call: &Call,
    bytes: &Bytes,
) -> ApiResult<Response<Body>> {
    let eviction = body::parse(&call.headers, bytes)?;
    let opts = eviction
        .get("deleteOptions")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let main = call.main();
    let pod = super::read::get_object(server, &main).await?;
    if !can_ignore_budget(&pod) {
        charge_budget(server, call, &pod, &opts).await?;
    }
    delete_object(server, &main, call.name(), &opts).await?;
    Ok(body::json(StatusCode::CREATED, &status::success()))
}

/// Pods that are not running (or are already going) need no budget.
fn can_ignore_budget(pod: &Value) -> bool {
    let phase = pod
        .get("status")
        .and_then(|s| s.get("phase"))
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    matches!(phase, "Pending" | "Succeeded" | "Failed") || object::is_deleting(pod)
}

/// Takes one disruption from the budget selecting `pod`, or answers why not.
async fn charge_budget(
    server: &Arc<ApiServer>,
    call: &Call,
    pod: &Value,
    opts: &Value,
) -> ApiResult<()> {
    let namespace = call.namespace.clone().unwrap_or_default();
    let Some(pdbs) = server
        .catalog
        .lookup("policy", "v1", "poddisruptionbudgets")
    else {
        return Ok(());
    };
    let labels: BTreeMap<String, String> = object::labels(pod)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let prefix = pdbs.prefix(Some(&namespace));
    let (entries, _) = cache_of(server, &pdbs).list(&prefix);
    let matching: Vec<&Value> = entries
        .iter()
        .map(|e| &e.obj)
        .filter(|pdb| selects(pdb, &labels))
        .collect();
    let budget = match matching.as_slice() {
        [] => return Ok(()),
        [one] => *one,
        _ => {
            return Err(ApiError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ))
        }
    };
    let name = object::meta_str(budget, "name")
        .unwrap_or_default()
        .to_owned();
    let dry_run = call.query.dry_run()
        || opts
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    let pod_name = call.name().to_owned();
    let budget_call = Call {
        resource: pdbs.clone(),
        namespace: Some(namespace),
        name: Some(name.clone()),
        subresource: Some(Subresource::Status),
        query: call.query.clone(),
        headers: call.headers.clone(),
        warnings: Default::default(),
    };
    if !is_ready(pod) {
        // Decided on the budget as stored now, not as the cache last saw it.
        let budget = super::read::get_object(server, &budget_call.main()).await?;
        let policy = budget
            .pointer("/spec/unhealthyPodEvictionPolicy")
            .and_then(Value::as_str)
            .unwrap_or("IfHealthyBudget");
        let healthy =
            status_int(&budget, "currentHealthy") >= status_int(&budget, "desiredHealthy");
        if policy == "AlwaysAllow" || healthy {
            return Ok(());
        }
    }
    let take = |cur: &Value| -> ApiResult<Value> {
        let observed = status_int(cur, "observedGeneration");
        let generation = cur
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if observed < generation {
            return Err(too_many(
                "The disruption budget's status is not yet up to date with its spec; retry later"
                    .to_owned(),
            ));
        }
        let allowed = status_int(cur, "disruptionsAllowed");
        if allowed <= 0 {
            return Err(too_many(format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                status_int(cur, "desiredHealthy"),
                status_int(cur, "currentHealthy"),
            )));
        }
        let mut next = cur.clone();
        next["status"]["disruptionsAllowed"] = json!(allowed - 1);
        if !next["status"]["disruptedPods"].is_object() {
            next["status"]["disruptedPods"] = json!({});
        }
        next["status"]["disruptedPods"][pod_name.as_str()] = json!(object::now_rfc3339());
        Ok(next)
    };
    if dry_run {
        let cur = super::read::get_object(server, &budget_call.main()).await?;
        take(&cur)?;
        return Ok(());
    }
    change(server, &budget_call, None, Fields::Update, take).await?;
    Ok(())
}

fn too_many(cause: String) -> ApiError {
    ApiError::too_many_requests(TOO_MANY, vec![("DisruptionBudget".to_owned(), cause)])
}

/// Whether the budget's selector selects these labels (policy/v1: an empty selector selects
/// every pod of the namespace; a missing one none).
fn selects(pdb: &Value, labels: &BTreeMap<String, String>) -> bool {
    pdb.pointer("/spec/selector")
        .filter(|s| !s.is_null())
        .and_then(|s| crate::filter::label_selector(s).ok())
        .is_some_and(|selector| selector.matches(labels))
}

fn status_int(obj: &Value, field: &str) -> i64 {
    obj.get("status")
        .and_then(|s| s.get(field))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}
