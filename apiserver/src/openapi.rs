//! Serving `/openapi/v2` and `/openapi/v3` from rkube-api's documents, built once per change
//! of the served resources (a CRD added or removed rebuilds them).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use rkube_api::openapi::{self as docs, OpenApiV3, ResourceSchema, ServedSubresource};
use rkube_api::registry;
use serde_json::json;

use crate::body::{self, Body};
use crate::request::Query;
use crate::resources::ServedResource;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

/// The documents of one catalog generation, serialized.
#[derive(Debug)]
pub struct Documents {
    generation: u64,
    v2: Bytes,
    v3_index: Bytes,
    v3: BTreeMap<String, Bytes>,
}

fn describe(r: &ServedResource) -> docs::ServedResource {
    if r.custom.is_none() {
        if let Some(builtin) = registry::lookup(&r.group, &r.version, &r.plural) {
            return docs::ServedResource::from_registry(builtin);
        }
    }
    let schema = r
        .custom
        .as_ref()
        .and_then(|c| c.schema.clone())
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    docs::ServedResource {
        group: r.group.clone(),
        version: r.version.clone(),
        kind: r.kind.clone(),
        plural: r.plural.clone(),
        namespaced: r.namespaced,
        verbs: registry::STANDARD_VERBS.to_vec(),
        subresources: r
            .subresources
            .iter()
            .map(|s| ServedSubresource::from_registry(*s))
            .collect(),
        schema: ResourceSchema::Inline(schema),
    }
}

fn build(server: &ApiServer, generation: u64) -> Documents {
    let resources: Vec<docs::ServedResource> =
        server.catalog.all().iter().map(|r| describe(r)).collect();
    let v3 = OpenApiV3::build(&resources);
    let to_bytes = |v: &serde_json::Value| Bytes::from(serde_json::to_vec(v).unwrap_or_default());
    Documents {
        generation,
        v2: to_bytes(&docs::openapi_v2(&resources)),
        v3_index: to_bytes(&v3.index),
        v3: v3
            .documents
            .iter()
            .map(|(k, (doc, _))| (k.clone(), to_bytes(doc)))
            .collect(),
    }
}

/// The documents for the current catalog.
fn current(server: &ApiServer) -> Arc<Documents> {
    let generation = server.catalog.generation();
    let mut cached = server.openapi.lock();
    match cached.as_ref() {
        Some(d) if d.generation == generation => d.clone(),
        _ => {
            let built = Arc::new(build(server, generation));
            *cached = Some(built.clone());
            built
        }
    }
}

pub fn serve(
    server: &Arc<ApiServer>,
    path: &str,
    _query: &Query,
    _headers: &HeaderMap,
) -> ApiResult<Response<Body>> {
    let documents = current(server);
    let bytes = match path.trim_end_matches('/') {
        "/openapi/v2" => documents.v2.clone(),
        "/openapi/v3" => documents.v3_index.clone(),
        other => {
            let key = other
                .strip_prefix("/openapi/v3/")
                .ok_or_else(ApiError::path_not_found)?;
            documents
                .v3
                .get(key)
                .cloned()
                .ok_or_else(ApiError::path_not_found)?
        }
    };
    Ok(body::json_bytes(
        StatusCode::OK,
        bytes.to_vec(),
        "application/json",
    ))
}
