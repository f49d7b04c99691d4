//! The subresources: `/status`, `/finalize`, `/scale` (an `autoscaling/v1` Scale view of the
//! replicas), `/binding` (the scheduler's node assignment), `/eviction` (in `eviction`) and
//! `/token`.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use rkube_api::registry::Subresource;
use serde_json::{json, Map, Value};

use super::write::{change, check_identity, Fields};
use super::{check_type, respond_object, Call};
use crate::body::{self, Body};
use crate::object;
use crate::patch::{self, PatchType};
use crate::resources::{ScalePaths, ServedResource};
use crate::status::{self, ApiError, ApiResult};
use crate::ApiServer;

/// Requests on `/status`, `/scale`, `/binding`, `/finalize`, `/eviction` and `/token`.
pub async fn subresource(
    server: &Arc<ApiServer>,
    call: &Call,
    sub: Subresource,
    method: &Method,
    bytes: &Bytes,
) -> ApiResult<Response<Body>> {
    let unsupported = || {
        ApiError::method_not_supported(&call.resource.group, &call.resource.plural, method.as_str())
    };
    match (sub, method.clone()) {
        (Subresource::Status, Method::GET) => super::read::get(server, call).await,
        (Subresource::Status | Subresource::Finalize, Method::PUT) => {
            let mut new = body::parse(&call.headers, bytes)?;
            check_type(&call.resource, &mut new)?;
            check_identity(call, &new)?;
            let pre = object::parse_resource_version(object::meta_str(&new, "resourceVersion"))?;
            let finalize = sub == Subresource::Finalize;
            let out = change(server, call, pre, Fields::Update, |cur| {
                if finalize {
                    let mut next = cur.clone();
                    next["spec"]["finalizers"] = new
                        .get("spec")
                        .and_then(|s| s.get("finalizers"))
                        .cloned()
                        .unwrap_or(json!([]));
                    Ok(next)
                } else {
                    Ok(new.clone())
                }
            })
            .await?;
            Ok(respond_object(call, StatusCode::OK, &out))
        }
        (Subresource::Status, Method::PATCH) => super::write::patch(server, call, bytes).await,
        (Subresource::Scale, _) => scale(server, call, method, bytes).await,
        (Subresource::Binding, Method::POST) => bind(server, call, bytes).await,
        (Subresource::Token, Method::POST) => {
            crate::satoken::request::create(server, call, bytes).await
        }
        (Subresource::Eviction, Method::POST) => super::eviction::evict(server, call, bytes).await,
        _ => Err(unsupported()),
    }
}

/// Where a resource keeps its replicas and selector: its CRD's scale paths, or the built-in
/// workloads' `.spec.replicas`, `.status.replicas` and structured `.spec.selector`.
fn scale_paths(resource: &ServedResource) -> ScalePaths {
    resource
        .custom
        .as_ref()
        .and_then(|c| c.scale.clone())
        .unwrap_or_else(|| ScalePaths {
            spec_replicas: ".spec.replicas".into(),
            status_replicas: ".status.replicas".into(),
            label_selector: None,
        })
}

/// The value at a simple path (`.spec.replicas`).
fn at_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    path.trim_start_matches('.')
        .split('.')
        .try_fold(obj, |v, seg| v.get(seg))
}

/// Sets the value at a simple path, creating the objects on the way.
fn set_path(obj: &mut Value, path: &str, value: Value) {
    let mut cur = obj;
    for seg in path.trim_start_matches('.').split('.') {
        if !cur.is_object() {
            *cur = json!({});
        }
        cur = &mut cur[seg];
    }
    *cur = value;
}

/// The `autoscaling/v1` Scale view of an object.
fn scale_of(resource: &ServedResource, obj: &Value) -> Value {
    let paths = scale_paths(resource);
    let meta = obj.get("metadata").cloned().unwrap_or_default();
    let mut scale_meta = Map::new();
    for f in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(f) {
            scale_meta.insert(f.into(), v.clone());
        }
    }
    let spec_replicas = at_path(obj, &paths.spec_replicas)
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let status_replicas = at_path(obj, &paths.status_replicas)
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let selector = match &paths.label_selector {
        Some(p) => at_path(obj, p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        None => obj
            .get("spec")
            .and_then(|s| s.get("selector"))
            .and_then(|sel| crate::filter::label_selector(sel).ok())
            .map(|s| s.to_string())
            .unwrap_or_default(),
    };
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": spec_replicas},
        "status": {"replicas": status_replicas, "selector": selector},
    })
}

async fn scale(
    server: &Arc<ApiServer>,
    call: &Call,
    method: &Method,
    bytes: &Bytes,
) -> ApiResult<Response<Body>> {
    let main = call.main();
    let paths = scale_paths(&call.resource);
    let replicas_from = |scale: &Value| -> ApiResult<i64> {
        scale
            .get("spec")
            .and_then(|s| s.get("replicas"))
            .and_then(Value::as_i64)
            .ok_or_else(|| ApiError::bad_request("spec.replicas of the Scale must be an integer"))
    };
    let out = match *method {
        Method::GET => {
            let obj = super::read::get_object(server, &main).await?;
            scale_of(&call.resource, &obj)
        }
        Method::PUT => {
            let new = body::parse(&call.headers, bytes)?;
            let replicas = replicas_from(&new)?;
            let pre = object::parse_resource_version(object::meta_str(&new, "resourceVersion"))?;
            let obj = change(server, &main, pre, Fields::Update, |cur| {
                let mut next = cur.clone();
                set_path(&mut next, &paths.spec_replicas, json!(replicas));
                Ok(next)
            })
            .await?;
            scale_of(&call.resource, &obj)
        }
        Method::PATCH => {
            let pt = PatchType::from_content_type(&body::content_type(&call.headers))?;
            let doc = patch::parse(pt, bytes)?;
            let pt = if matches!(pt, PatchType::Strategic | PatchType::Apply) {
                PatchType::Merge
            } else {
                pt
            };
            let scale_view = |cur: &Value| scale_of(&call.resource, cur);
            let obj = change(server, &main, None, Fields::Update, |cur| {
                let patched = patch::apply(pt, &call.resource, &scale_view(cur), &doc)?;
                let mut next = cur.clone();
                set_path(
                    &mut next,
                    &paths.spec_replicas,
                    json!(replicas_from(&patched)?),
                );
                Ok(next)
            })
            .await?;
            scale_of(&call.resource, &obj)
        }
        _ => {
            return Err(ApiError::method_not_supported(
                &call.resource.group,
                &call.resource.plural,
                method.as_str(),
            ))
        }
    };
    Ok(body::json(StatusCode::OK, &out))
}

/// `pods/binding`: the scheduler assigns a node, once.
async fn bind(server: &Arc<ApiServer>, call: &Call, bytes: &Bytes) -> ApiResult<Response<Body>> {
    let binding = body::parse(&call.headers, bytes)?;
    let node = binding
        .get("target")
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("Binding target.name is required"))?
        .to_owned();
    let main = call.derive(
        call.namespace.clone(),
        call.name.clone(),
        Some(Subresource::Binding),
    );
    let pod_name = call.name().to_owned();
    change(server, &main, None, Fields::Update, |cur| {
        let assigned = cur
            .get("spec")
            .and_then(|s| s.get("nodeName"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !assigned.is_empty() {
            return Err(ApiError::conflict_with(
                "",
                "pods",
                &pod_name,
                &format!("pod {pod_name} is already assigned to node \"{assigned}\""),
            ));
        }
        if object::is_deleting(cur) {
            return Err(ApiError::conflict_with(
                "",
                "pods",
                &pod_name,
                "pod is being deleted",
            ));
        }
        let mut next = cur.clone();
        next["spec"]["nodeName"] = json!(node);
        let conditions = next["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut conditions: Vec<Value> = conditions
            .into_iter()
            .filter(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"))
            .collect();
        conditions.push(json!({
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": null,
            "lastTransitionTime": object::now_rfc3339(),
        }));
        next["status"]["conditions"] = json!(conditions);
        Ok(next)
    })
    .await?;
    Ok(body::json(StatusCode::CREATED, &status::success()))
}
