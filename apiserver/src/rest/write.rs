//! create, update and patch.

use std::sync::Arc;

use http::{Response, StatusCode};
use rkube_store::backend;
use serde_json::{json, Value};

use super::{check_namespace, check_type, lifecycle, respond_object, Call};
use crate::body::{self, Body};
use crate::object;
use crate::patch::{self, PatchType};
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;
use crate::{alloc, managed};

/// How many times a write without a resourceVersion precondition retries after losing a race.
const MAX_ATTEMPTS: usize = 16;

pub async fn create(
    server: &Arc<ApiServer>,
    call: &Call,
    bytes: &[u8],
) -> ApiResult<Response<Body>> {
    let mut obj = body::parse(&call.headers, bytes)?;
    check_type(&call.resource, &mut obj)?;
    let created = create_object(server, call, obj, Fields::Update).await?;
    Ok(respond_object(call, StatusCode::CREATED, &created))
}

/// How a write records field management.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields {
    /// The request's manager manages what it changed.
    Update,
    /// Server-side apply already recorded it.
    Applied,
}

/// Core Services, whose cluster IPs and node ports the server allocates.
pub fn is_service(resource: &crate::resources::ServedResource) -> bool {
    resource.group.is_empty() && resource.kind == "Service"
}

/// The field manager of the call.
fn manager(call: &Call) -> String {
    let agent = call
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    managed::manager_name(call.query.get("fieldManager"), agent)
}

/// Creates `obj` (already type-checked) as a new object of `call`'s resource.
pub async fn create_object(
    server: &Arc<ApiServer>,
    call: &Call,
    mut obj: Value,
    fields: Fields,
) -> ApiResult<Value> {
    let resource = &call.resource;
    let namespace = {
        let meta = object::meta_mut(&mut obj)?;
        let body_ns = meta
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if resource.namespaced {
            let ns = call
                .namespace
                .clone()
                .ok_or_else(ApiError::path_not_found)?;
            if body_ns.as_deref().is_some_and(|b| b != ns) {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            meta.insert("namespace".into(), Value::String(ns.clone()));
            Some(ns)
        } else {
            meta.remove("namespace");
            None
        }
    };
    let name = lifecycle::assign_name(call, &mut obj)?;
    lifecycle::prepare_for_create(resource, &mut obj)?;
    if crate::storageclass::is_claim(resource) {
        crate::storageclass::default_class(server, &mut obj);
    }
    if crate::priority::is_pod(resource) {
        crate::priority::admit_pod(server, &mut obj)?;
    }
    let warnings =
        crate::admission::admit(resource, None, &mut obj, None, call.field_validation()?)?;
    call.warnings.lock().extend(warnings);
    if fields == Fields::Update {
        managed::record_update(resource, None, &manager(call), None, &mut obj);
    }
    if let Some(ns) = &namespace {
        check_namespace(server, call, ns, &name).await?;
    }
    if call.query.dry_run() {
        return Ok(obj);
    }
    let claimed = if is_service(resource) {
        alloc::ensure(server.backend.as_ref(), &mut obj).await?
    } else {
        Vec::new()
    };
    let lease = server.lease_for(resource).await?;
    let key = resource.key(namespace.as_deref(), &name);
    let created = server
        .backend
        .create(
            key.as_bytes(),
            object::encode(&resource.to_storage(obj.clone())?)?,
            lease,
        )
        .await;
    let rec = match created {
        Ok(rec) => rec,
        Err(e) => {
            alloc::release(server.backend.as_ref(), &claimed).await;
            return Err(ApiError::from_storage(
                e,
                &resource.group,
                &resource.plural,
                &name,
            ));
        }
    };
    object::set_resource_version(&mut obj, rec.mod_revision);
    crate::crd::written(server, resource, &obj);
    Ok(obj)
}

pub async fn update(
    server: &Arc<ApiServer>,
    call: &Call,
    bytes: &[u8],
) -> ApiResult<Response<Body>> {
    let mut new = body::parse(&call.headers, bytes)?;
    check_type(&call.resource, &mut new)?;
    check_identity(call, &new)?;
    let precondition = object::parse_resource_version(object::meta_str(&new, "resourceVersion"))?;
    let updated = change(server, call, precondition, Fields::Update, |_| {
        Ok(new.clone())
    })
    .await?;
    Ok(respond_object(call, StatusCode::OK, &updated))
}

/// The name and namespace in a body must be those of the URL.
pub fn check_identity(call: &Call, obj: &Value) -> ApiResult<()> {
    let body_name = object::name(obj);
    if body_name != call.name() {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            call.name()
        )));
    }
    if let (Some(ns), Some(body_ns)) = (&call.namespace, object::namespace(obj)) {
        if ns != body_ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(())
}

pub async fn patch(
    server: &Arc<ApiServer>,
    call: &Call,
    bytes: &[u8],
) -> ApiResult<Response<Body>> {
    let patch_type = PatchType::from_content_type(&body::content_type(&call.headers))?;
    let patch_doc = patch::parse(patch_type, bytes)?;
    let precondition = patch::resource_version(&patch_doc)?;
    if patch_type != PatchType::Apply {
        let obj = change(server, call, precondition, Fields::Update, |cur| {
            let mut out = patch::apply(patch_type, &call.resource, cur, &patch_doc)?;
            check_type(&call.resource, &mut out)?;
            Ok(out)
        })
        .await?;
        return Ok(respond_object(call, StatusCode::OK, &obj));
    }
    let Some(manager) = call.query.get("fieldManager").map(str::to_owned) else {
        return Err(ApiError::invalid(
            "meta.k8s.io",
            "PatchOptions",
            "",
            vec![(
                "FieldValueRequired".into(),
                "fieldManager".into(),
                "Required value: is required for apply patch".into(),
            )],
        ));
    };
    let mut applied = patch_doc;
    check_type(&call.resource, &mut applied)?;
    check_identity(call, &applied)?;
    let force = call.query.flag("force");
    let result = change(server, call, precondition, Fields::Applied, |cur| {
        managed::apply(
            &call.resource,
            call.subresource,
            &manager,
            force,
            cur,
            &applied,
        )
    })
    .await;
    match result {
        // Server-side apply creates what does not exist yet.
        Err(e) if e.code == StatusCode::NOT_FOUND && call.subresource.is_none() => {
            let base = json!({
                "apiVersion": applied["apiVersion"],
                "kind": applied["kind"],
                "metadata": {"name": call.name()},
            });
            let obj = managed::apply(&call.resource, None, &manager, force, &base, &applied)?;
            let created = create_object(server, call, obj, Fields::Applied).await?;
            Ok(respond_object(call, StatusCode::CREATED, &created))
        }
        other => Ok(respond_object(call, StatusCode::OK, &other?)),
    }
}

/// Reads the current object, lets `f` propose its next version, and writes that version if
/// nothing changed in between: the read-modify-write every update, patch and status write
/// goes through. With a `precondition` the current resourceVersion must equal it (409 if not);
/// without, a lost race is retried on the newer version.
pub async fn change<F>(
    server: &Arc<ApiServer>,
    call: &Call,
    precondition: Option<i64>,
    fields: Fields,
    f: F,
) -> ApiResult<Value>
where
    F: Fn(&Value) -> ApiResult<Value>,
{
    let key = call.key(call.name());
    for _ in 0..MAX_ATTEMPTS {
        let (rec, _) = server
            .backend
            .get(key.as_bytes(), 0)
            .await
            .map_err(|e| call.storage_error(e))?;
        let rec = rec.ok_or_else(|| call.not_found())?;
        let cur = call
            .resource
            .present(object::decode(&rec.value, rec.mod_revision)?)?;
        if precondition.is_some_and(|p| p != rec.mod_revision) {
            return Err(ApiError::conflict(
                &call.resource.group,
                &call.resource.plural,
                call.name(),
            ));
        }
        let proposed = f(&cur)?;
        let mut new = lifecycle::prepare_for_update(call, &cur, proposed)?;
        // An update without a resourceVersion is unconditional: it applies to this version.
        object::set_resource_version(&mut new, rec.mod_revision);
        let warnings = crate::admission::admit(
            &call.resource,
            call.subresource,
            &mut new,
            Some(&cur),
            call.field_validation()?,
        )?;
        *call.warnings.lock() = warnings;
        if fields == Fields::Update {
            managed::record_update(
                &call.resource,
                call.subresource,
                &manager(call),
                Some(&cur),
                &mut new,
            );
        }
        if new == cur {
            return Ok(cur);
        }
        if call.query.dry_run() {
            return Ok(new);
        }
        // Status writes keep the spec, so its allocations stand as they are.
        if is_service(&call.resource) && call.subresource.is_none() && !object::is_deleting(&new) {
            alloc::ensure(server.backend.as_ref(), &mut new).await?;
        }
        if object::is_deleting(&new) && lifecycle::nothing_holds(&call.resource, &new) {
            // The last finalizer is gone: the object goes.
            match server
                .backend
                .delete(key.as_bytes(), Some(rec.mod_revision))
                .await
            {
                Ok((_, revision)) => {
                    object::set_resource_version(&mut new, revision);
                    if is_service(&call.resource) {
                        let keys: Vec<String> = alloc::claims_of(&cur).into_iter().collect();
                        alloc::release(server.backend.as_ref(), &keys).await;
                    }
                    return Ok(new);
                }
                Err(backend::Error::Conflict { .. }) if precondition.is_none() => continue,
                Err(e) => return Err(call.storage_error(e)),
            }
        }
        match server
            .backend
            .update(
                key.as_bytes(),
                object::encode(&call.resource.to_storage(new.clone())?)?,
                rec.mod_revision,
                rec.lease,
            )
            .await
        {
            Ok(written) => {
                object::set_resource_version(&mut new, written.mod_revision);
                crate::crd::written(server, &call.resource, &new);
                if is_service(&call.resource) {
                    let unused: Vec<String> = alloc::claims_of(&cur)
                        .difference(&alloc::claims_of(&new))
                        .cloned()
                        .collect();
                    alloc::release(server.backend.as_ref(), &unused).await;
                }
                return Ok(new);
            }
            Err(backend::Error::Conflict { .. } | backend::Error::NotFound { .. })
                if precondition.is_none() =>
            {
                continue
            }
            Err(e) => return Err(call.storage_error(e)),
        }
    }
    Err(ApiError::conflict(
        &call.resource.group,
        &call.resource.plural,
        call.name(),
    ))
}
