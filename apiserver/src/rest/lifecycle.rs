//! An object's life: names and system fields at creation, what an update may change,
//! graceful and finalized deletion, and the subresources (status, scale, binding, finalize,
//! eviction, token).

use std::sync::Arc;

use http::{Response, StatusCode};
use rkube_api::registry::Subresource;
use rkube_store::backend;
use serde_json::{json, Value};

use super::read::list_objects;
use super::{respond_object, Call};
use crate::body::{self, Body};
use crate::filter::Filter;
use crate::object;
use crate::resources::ServedResource;
use crate::status::{self, ApiError, ApiResult};
use crate::ApiServer;

/// Gives the object its name (from `generateName` when it has none) and returns it.
pub fn assign_name(call: &Call, obj: &mut Value) -> ApiResult<String> {
    let meta = object::meta_mut(obj)?;
    let name = meta.get("name").and_then(Value::as_str).unwrap_or_default();
    if !name.is_empty() {
        return Ok(name.to_owned());
    }
    let base = meta
        .get("generateName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if base.is_empty() {
        return Err(ApiError::invalid(
            &call.resource.group,
            &call.resource.kind,
            "",
            vec![(
                "FieldValueRequired".into(),
                "metadata.name".into(),
                "Required value: name or generateName is required".into(),
            )],
        ));
    }
    let name = rkube_api::names::generate_name(&base, &mut rand::rng());
    meta.insert("name".into(), Value::String(name.clone()));
    Ok(name)
}

/// Whether Kubernetes counts `metadata.generation` for the resource: workloads, a few
/// networking kinds, CRDs and every custom resource.
pub fn tracks_generation(resource: &ServedResource) -> bool {
    resource.custom.is_some()
        || matches!(
            (resource.group.as_str(), resource.kind.as_str()),
            (
                "apps",
                "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
            ) | ("batch", "Job" | "CronJob")
                | (
                    "networking.k8s.io",
                    "Ingress" | "NetworkPolicy" | "IngressClass"
                )
                | ("policy", "PodDisruptionBudget")
                | ("discovery.k8s.io", "EndpointSlice")
                | ("apiextensions.k8s.io", "CustomResourceDefinition")
        )
}

/// The system fields of a new object, and the status a new object starts with.
pub fn prepare_for_create(resource: &ServedResource, obj: &mut Value) -> ApiResult<()> {
    let meta = object::meta_mut(obj)?;
    meta.insert(
        "uid".into(),
        Value::String(uuid::Uuid::new_v4().to_string()),
    );
    meta.insert(
        "creationTimestamp".into(),
        Value::String(object::now_rfc3339()),
    );
    if tracks_generation(resource) {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    for field in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        meta.remove(field);
    }
    let map = obj
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the object must be a JSON object"))?;
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("batch", "Job") => {
            map.remove("status");
            rkube_api::defaults::generate_job_selector(obj);
        }
        ("", "Namespace") => {
            map.insert("status".into(), json!({"phase": "Active"}));
        }
        ("", "Pod") => {
            map.insert("status".into(), json!({"phase": "Pending"}));
        }
        // Nodes' status is the kubelet's.
        ("", "Node") => {}
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            map.remove("status");
            let meta = object::meta_mut(obj)?;
            let mut finalizers: Vec<Value> = meta
                .get("finalizers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let cleanup = Value::String(crate::crd::CLEANUP_FINALIZER.into());
            if !finalizers.contains(&cleanup) {
                finalizers.push(cleanup);
            }
            meta.insert("finalizers".into(), Value::Array(finalizers));
        }
        _ if resource.has(Subresource::Status) => {
            map.remove("status");
        }
        _ => {}
    }
    Ok(())
}

/// What an update may change: the status only through `/status` and the rest only through
/// the main resource (when the resource has a status subresource), never the system fields;
/// `metadata.generation` counts changes of everything but metadata and status.
pub fn prepare_for_update(call: &Call, cur: &Value, proposed: Value) -> ApiResult<Value> {
    let resource = &call.resource;
    let mut new = match call.subresource {
        Some(Subresource::Status) => {
            let mut next = cur.clone();
            let status = proposed.get("status").cloned().unwrap_or(Value::Null);
            match next.as_object_mut() {
                Some(map) if status.is_null() => {
                    map.remove("status");
                }
                Some(map) => {
                    map.insert("status".into(), status);
                }
                None => {}
            }
            next
        }
        // A binding writes spec.nodeName and the PodScheduled condition together.
        Some(Subresource::Binding) => proposed,
        _ => {
            let mut next = proposed;
            if resource.has(Subresource::Status) {
                if let Some(map) = next.as_object_mut() {
                    match cur.get("status") {
                        Some(s) => map.insert("status".into(), s.clone()),
                        None => map.remove("status"),
                    };
                }
            }
            next
        }
    };
    let cur_meta = cur.get("metadata").and_then(Value::as_object);
    let meta = object::meta_mut(&mut new)?;
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "name",
        "namespace",
    ] {
        match cur_meta.and_then(|m| m.get(field)) {
            Some(v) => meta.insert(field.into(), v.clone()),
            None => meta.remove(field),
        };
    }
    meta.remove("selfLink");
    if super::write::is_service(resource) {
        keep_allocations(cur, &mut new);
    }
    if tracks_generation(resource) && object::spec_part(cur) != object::spec_part(&new) {
        let generation = cur
            .get("metadata")
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        object::meta_mut(&mut new)?.insert("generation".into(), json!(generation + 1));
    }
    Ok(new)
}

/// A Service update that leaves out its cluster IP or node ports keeps the allocated ones, as
/// Kubernetes does (a manifest re-applied or replaced never names them).
fn keep_allocations(cur: &Value, new: &mut Value) {
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let same_kind = spec.get("type") == cur["spec"].get("type") || spec.get("type").is_none();
    for field in ["clusterIP", "clusterIPs"] {
        let missing = spec.get(field).is_none_or(|v| v.is_null() || v == "");
        if missing && spec.get("type").and_then(Value::as_str) != Some("ExternalName") {
            if let Some(v) = cur["spec"].get(field) {
                spec.insert(field.into(), v.clone());
            }
        }
    }
    if !same_kind {
        return;
    }
    let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) else {
        return;
    };
    for p in ports.iter_mut() {
        if p.get("nodePort").is_some() {
            continue;
        }
        let found = cur["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|old| {
                old["port"] == p["port"]
                    && old.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
                        == p.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
            });
        if let Some(n) = found.and_then(|old| old.get("nodePort")) {
            p["nodePort"] = n.clone();
        }
    }
}

/// Whether nothing keeps a deleting object: no finalizers (for namespaces, no spec
/// finalizers either).
pub fn nothing_holds(resource: &ServedResource, obj: &Value) -> bool {
    if !object::finalizers(obj).is_empty() {
        return false;
    }
    if resource.group.is_empty() && resource.kind == "Namespace" {
        let spec_finalizers = obj
            .get("spec")
            .and_then(|s| s.get("finalizers"))
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        return !spec_finalizers;
    }
    true
}

/// DeleteOptions from the body, or from the query when there is no body.
fn delete_options(call: &Call, bytes: &[u8]) -> ApiResult<Value> {
    let mut opts = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        body::parse(&call.headers, bytes)?
    };
    if let Some(g) = call
        .query
        .int("gracePeriodSeconds")
        .map_err(ApiError::bad_request)?
    {
        opts["gracePeriodSeconds"] = json!(g);
    }
    if let Some(p) = call.query.get("propagationPolicy") {
        opts["propagationPolicy"] = json!(p);
    }
    Ok(opts)
}

pub async fn delete(
    server: &Arc<ApiServer>,
    call: &Call,
    bytes: &[u8],
) -> ApiResult<Response<Body>> {
    let opts = delete_options(call, bytes)?;
    let (code, obj) = delete_object(server, call, call.name(), &opts).await?;
    Ok(respond_object(call, code, &obj))
}

/// Deletes one object: at once when nothing holds it, else by marking it (finalizers,
/// foreground or orphan propagation, a pod's grace period). Returns the answer's code and body.
pub(super) async fn delete_object(
    server: &Arc<ApiServer>,
    call: &Call,
    name: &str,
    opts: &Value,
) -> ApiResult<(StatusCode, Value)> {
    let resource = &call.resource;
    let key = call.key(name);
    let policy = opts
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Background");
    // dryRun comes in the query or in the DeleteOptions body (kubectl sends the body).
    let dry_run = call.query.dry_run()
        || opts
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    let grace = opts.get("gracePeriodSeconds").and_then(Value::as_i64);
    for _ in 0..16 {
        let (rec, _) = server
            .backend
            .get(key.as_bytes(), 0)
            .await
            .map_err(|e| ApiError::from_storage(e, &resource.group, &resource.plural, name))?;
        let rec =
            rec.ok_or_else(|| ApiError::not_found(&resource.group, &resource.plural, name))?;
        let cur = resource.present(object::decode(&rec.value, rec.mod_revision)?)?;
        check_preconditions(resource, name, &cur, opts)?;
        let mut marked = cur.clone();
        let mut finalizers = object::finalizers(&cur);
        match policy {
            "Foreground" if !finalizers.iter().any(|f| f == "foregroundDeletion") => {
                finalizers.push("foregroundDeletion".into())
            }
            "Orphan" if !finalizers.iter().any(|f| f == "orphan") => {
                finalizers.push("orphan".into())
            }
            _ => {}
        }
        let pod_grace = pod_grace_period(resource, &cur, grace);
        let held = !finalizers.is_empty() || pod_grace > 0 || !nothing_holds(resource, &cur);
        if held {
            if object::is_deleting(&cur) {
                return Ok((StatusCode::OK, cur));
            }
            let meta = object::meta_mut(&mut marked)?;
            let when = time::OffsetDateTime::now_utc() + time::Duration::seconds(pod_grace);
            meta.insert("deletionTimestamp".into(), json!(object::rfc3339(when)));
            meta.insert("deletionGracePeriodSeconds".into(), json!(pod_grace));
            if !finalizers.is_empty() {
                meta.insert("finalizers".into(), json!(finalizers));
            }
            if resource.group.is_empty() && resource.kind == "Namespace" {
                marked["status"]["phase"] = json!("Terminating");
            }
            if dry_run {
                return Ok((StatusCode::OK, marked));
            }
            match server
                .backend
                .update(
                    key.as_bytes(),
                    object::encode(&resource.to_storage(marked.clone())?)?,
                    rec.mod_revision,
                    rec.lease,
                )
                .await
            {
                Ok(w) => {
                    object::set_resource_version(&mut marked, w.mod_revision);
                    return Ok((StatusCode::OK, marked));
                }
                Err(backend::Error::Conflict { .. }) => continue,
                Err(e) => {
                    return Err(ApiError::from_storage(
                        e,
                        &resource.group,
                        &resource.plural,
                        name,
                    ))
                }
            }
        }
        if dry_run {
            return Ok((StatusCode::OK, cur));
        }
        match server
            .backend
            .delete(key.as_bytes(), Some(rec.mod_revision))
            .await
        {
            Ok(_) => {
                if super::write::is_service(resource) {
                    let keys: Vec<String> = crate::alloc::claims_of(&cur).into_iter().collect();
                    crate::alloc::release(server.backend.as_ref(), &keys).await;
                }
                let mut st = status::success();
                st["details"] = json!({
                    "name": name,
                    "kind": resource.plural,
                    "uid": object::meta_str(&cur, "uid"),
                });
                if !resource.group.is_empty() {
                    st["details"]["group"] = json!(resource.group);
                }
                return Ok((StatusCode::OK, st));
            }
            Err(backend::Error::Conflict { .. }) => continue,
            Err(e) => {
                return Err(ApiError::from_storage(
                    e,
                    &resource.group,
                    &resource.plural,
                    name,
                ))
            }
        }
    }
    Err(ApiError::conflict(&resource.group, &resource.plural, name))
}

/// A bound pod's grace period: the request's, else the pod's own, else 30 s; an unbound pod
/// (or a forced delete) goes at once.
fn pod_grace_period(resource: &ServedResource, pod: &Value, requested: Option<i64>) -> i64 {
    if !(resource.group.is_empty() && resource.kind == "Pod") {
        return 0;
    }
    let bound = pod
        .get("spec")
        .and_then(|s| s.get("nodeName"))
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        pod.get("status")
            .and_then(|s| s.get("phase"))
            .and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if !bound || finished {
        return 0;
    }
    let own = pod
        .get("spec")
        .and_then(|s| s.get("terminationGracePeriodSeconds"))
        .and_then(Value::as_i64);
    requested.or(own).unwrap_or(30).max(0)
}

fn check_preconditions(
    resource: &ServedResource,
    name: &str,
    cur: &Value,
    opts: &Value,
) -> ApiResult<()> {
    let Some(pre) = opts.get("preconditions") else {
        return Ok(());
    };
    let fail = |what: &str, want: &str, have: &str| {
        ApiError::conflict_with(
            &resource.group,
            &resource.plural,
            name,
            &format!("Precondition failed: {what} in precondition: {want}, {what} in object meta: {have}"),
        )
    };
    if let Some(uid) = pre.get("uid").and_then(Value::as_str) {
        let have = object::meta_str(cur, "uid").unwrap_or_default();
        if uid != have {
            return Err(fail("UID", uid, have));
        }
    }
    if let Some(rv) = pre.get("resourceVersion").and_then(Value::as_str) {
        let have = object::meta_str(cur, "resourceVersion").unwrap_or_default();
        if rv != have {
            return Err(fail("ResourceVersion", rv, have));
        }
    }
    Ok(())
}

pub async fn delete_collection(
    server: &Arc<ApiServer>,
    call: &Call,
    bytes: &[u8],
) -> ApiResult<Response<Body>> {
    let opts = delete_options(call, bytes)?;
    let filter = Filter::from_query(&call.resource, call.namespace.as_deref(), &call.query)?;
    let (items, _) = list_objects(server, call, &filter).await?;
    let mut deleted = Vec::new();
    for obj in items {
        let name = object::name(&obj).to_owned();
        let scoped = call.derive(
            object::namespace(&obj).map(str::to_owned),
            Some(name.clone()),
            None,
        );
        match delete_object(server, &scoped, &name, &opts).await {
            Ok(_) => deleted.push(obj),
            Err(e) if e.code == StatusCode::NOT_FOUND => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({
        "kind": call.resource.list_kind(),
        "apiVersion": call.resource.api_version(),
        "metadata": {},
        "items": deleted,
    });
    Ok(body::json(StatusCode::OK, &list))
}
