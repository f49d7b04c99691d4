//! The REST verbs on resources: dispatch by method, and what every verb shares (finding the
//! resource, its cache, the namespace checks).

mod eviction;
mod lifecycle;
mod read;
pub mod stream;
mod subresource;
mod table;
mod watch;
mod write;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use rkube_api::registry::Subresource;
use serde_json::Value;

use crate::body::{self, Body};
use crate::cache::WatchCache;
use crate::object;
use crate::request::{self, Query, ResourcePath};
use crate::resources::ServedResource;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

/// One request on a resource, resolved.
#[derive(Debug)]
pub struct Call {
    pub resource: Arc<ServedResource>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<Subresource>,
    pub query: Query,
    pub headers: HeaderMap,
    /// Warnings for the client (`Warning` headers), e.g. unknown fields under `Warn`.
    pub warnings: parking_lot::Mutex<Vec<String>>,
}

impl Call {
    /// The same request addressed to `name` in `namespace` with `subresource`.
    pub fn derive(
        &self,
        namespace: Option<String>,
        name: Option<String>,
        subresource: Option<Subresource>,
    ) -> Call {
        Call {
            resource: self.resource.clone(),
            namespace,
            name,
            subresource,
            query: self.query.clone(),
            headers: self.headers.clone(),
            warnings: Default::default(),
        }
    }

    /// The same request on the main resource (no subresource).
    pub fn main(&self) -> Call {
        self.derive(self.namespace.clone(), self.name.clone(), None)
    }

    /// How unknown fields are to be answered.
    pub fn field_validation(&self) -> ApiResult<crate::admission::FieldValidation> {
        crate::admission::FieldValidation::parse(self.query.get("fieldValidation"))
    }

    pub fn key(&self, name: &str) -> String {
        self.resource.key(self.namespace.as_deref(), name)
    }

    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }

    pub fn not_found(&self) -> ApiError {
        ApiError::not_found(&self.resource.group, &self.resource.plural, self.name())
    }

    pub fn storage_error(&self, e: rkube_store::backend::Error) -> ApiError {
        ApiError::from_storage(e, &self.resource.group, &self.resource.plural, self.name())
    }
}

/// Serves one request on a resource path.
pub async fn handle(
    server: &Arc<ApiServer>,
    method: Method,
    path: ResourcePath,
    query: Query,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let verb = request::verb(&method, &path, &query);
    match dispatch(server, &method, path, query, headers, body).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::debug!(verb, code = e.code.as_u16(), message = %e.message, "request failed");
            body::error(&e)
        }
    }
}

/// The call a request makes: its resource found in the catalog, its subresource checked.
fn resolve(
    server: &ApiServer,
    path: ResourcePath,
    query: Query,
    headers: HeaderMap,
) -> ApiResult<Call> {
    let resource = server
        .catalog
        .lookup(&path.group, &path.version, &path.plural)
        .ok_or_else(ApiError::path_not_found)?;
    if path.namespace.is_some() && !resource.namespaced {
        return Err(ApiError::path_not_found());
    }
    let subresource = match &path.subresource {
        None => None,
        Some(s) => Some(
            Subresource::from_name(s)
                .filter(|sub| resource.has(*sub))
                .ok_or_else(ApiError::path_not_found)?,
        ),
    };
    Ok(Call {
        resource,
        namespace: path.namespace,
        name: path.name,
        subresource,
        query,
        headers,
        warnings: Default::default(),
    })
}

/// Serves a pod `log`, `exec`, `attach` or `portforward` request (see [`stream`]).
pub async fn handle_stream(
    server: &Arc<ApiServer>,
    method: Method,
    path: ResourcePath,
    query: Query,
    headers: HeaderMap,
    raw_query: &str,
    upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response<Body> {
    let served = async {
        let call = resolve(server, path, query, headers)?;
        let req = stream::StreamRequest {
            call: &call,
            method: &method,
            raw_query,
            upgrade,
        };
        stream::pod(server, req).await
    };
    match served.await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::debug!(code = e.code.as_u16(), message = %e.message, "stream request failed");
            body::error(&e)
        }
    }
}

/// Whether a path is a pod stream ([`handle_stream`]) rather than a stored resource.
pub fn is_stream(path: &ResourcePath) -> bool {
    path.group.is_empty()
        && path.plural == "pods"
        && matches!(
            path.subresource.as_deref(),
            Some("log" | "exec" | "attach" | "portforward")
        )
}

async fn dispatch(
    server: &Arc<ApiServer>,
    method: &Method,
    path: ResourcePath,
    query: Query,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response<Body>> {
    let verb = request::verb(method, &path, &query);
    let call = resolve(server, path, query, headers)?;
    if let Some(sub) = call.subresource {
        return subresource::subresource(server, &call, sub, method, &bytes).await;
    }
    // A namespaced resource named without a namespace is only listed or watched.
    if call.resource.namespaced && call.namespace.is_none() && !matches!(verb, "list" | "watch") {
        return Err(ApiError::path_not_found());
    }
    match verb {
        "get" => read::get(server, &call).await,
        "list" => read::list(server, &call).await,
        "watch" => watch::watch(server, &call).await,
        "create" => write::create(server, &call, &bytes).await,
        "update" => write::update(server, &call, &bytes).await,
        "patch" => write::patch(server, &call, &bytes).await,
        "delete" => lifecycle::delete(server, &call, &bytes).await,
        "deletecollection" => lifecycle::delete_collection(server, &call, &bytes).await,
        other => Err(ApiError::method_not_supported(
            &call.resource.group,
            &call.resource.plural,
            other,
        )),
    }
}

/// The cache serving a resource's storage prefix, started on first use.
pub fn cache_of(server: &ApiServer, resource: &ServedResource) -> Arc<WatchCache> {
    let prefix = resource.prefix(None);
    let mut caches = server.caches.lock();
    caches
        .entry(prefix.clone())
        .or_insert_with(|| WatchCache::start(server.backend.clone(), prefix))
        .clone()
}

/// An object response in the form the client asked for (the object, or a one-row Table),
/// with the call's warnings.
pub fn respond_object(call: &Call, code: StatusCode, obj: &Value) -> Response<Body> {
    let mut resp = if table::wanted(&call.headers) {
        body::json(
            code,
            &table::of_objects(call, std::slice::from_ref(obj), None, None),
        )
    } else {
        body::json(code, obj)
    };
    for w in call.warnings.lock().iter() {
        let text = format!("299 - {:?}", w);
        if let Ok(v) = http::HeaderValue::from_str(&text) {
            resp.headers_mut().append(http::header::WARNING, v);
        }
    }
    resp
}

/// Makes sure `obj` names this resource's apiVersion and kind (filling them in when absent).
pub fn check_type(resource: &ServedResource, obj: &mut Value) -> ApiResult<()> {
    let map = obj
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the request body must be a JSON object"))?;
    let want_version = resource.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), Value::String(want_version));
        }
        Some(v) if v == want_version => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({want_version})"
            )))
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), Value::String(resource.kind.clone()));
        }
        Some(k) if k == resource.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                resource.kind
            )))
        }
    }
    Ok(())
}

/// Whether `namespace` exists and accepts new objects of `call`'s resource.
pub async fn check_namespace(
    server: &ApiServer,
    call: &Call,
    namespace: &str,
    name: &str,
) -> ApiResult<()> {
    let key = format!(
        "{}/namespaces/{namespace}",
        rkube_api::registry::STORAGE_ROOT
    );
    // The namespaces' watch cache answers almost always; a namespace it does not know yet
    // (created a moment ago) is read from the store, as Kubernetes' lifecycle admission does.
    let cached = server
        .catalog
        .lookup("", "v1", "namespaces")
        .map(|r| cache_of(server, &r))
        .and_then(|c| c.get(&key));
    let ns = match cached {
        Some(entry) => entry.obj.clone(),
        None => {
            let (rec, _) = server
                .backend
                .get(key.as_bytes(), 0)
                .await
                .map_err(|e| ApiError::from_storage(e, "", "namespaces", namespace))?;
            let rec = rec.ok_or_else(|| ApiError::not_found("", "namespaces", namespace))?;
            object::decode(&rec.value, rec.mod_revision)?
        }
    };
    if object::is_deleting(&ns) {
        return Err(ApiError::forbidden(
            &call.resource.group,
            &call.resource.plural,
            name,
            &format!("unable to create new content in namespace {namespace} because it is being terminated"),
        ));
    }
    Ok(())
}
