//! get and list, with Kubernetes' resourceVersion rules and limit/continue pagination.

use std::sync::Arc;

use base64::Engine;
use http::{Response, StatusCode};
use rkube_store::backend::{self, ListRequest};
use serde_json::{json, Value};

use super::{cache_of, table, Call};
use crate::body::{self, Body};
use crate::cache::Entry;
use crate::filter::Filter;
use crate::object;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

pub async fn get(server: &Arc<ApiServer>, call: &Call) -> ApiResult<Response<Body>> {
    let obj = get_object(server, call).await?;
    Ok(super::respond_object(call, StatusCode::OK, &obj))
}

/// Reads one object: linearizably unless the request accepts any version (`resourceVersion=0`).
pub async fn get_object(server: &Arc<ApiServer>, call: &Call) -> ApiResult<Value> {
    let key = call.key(call.name());
    let (rec, _) = server
        .backend
        .get(key.as_bytes(), 0)
        .await
        .map_err(|e| call.storage_error(e))?;
    let rec = rec.ok_or_else(|| call.not_found())?;
    call.resource
        .present(object::decode(&rec.value, rec.mod_revision)?)
}

/// What a continue token carries: the revision of the first page and the next key.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: i64,
    start: String,
}

fn encode_continue(revision: i64, next_key: &str, prefix: &str) -> String {
    let token = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv: revision,
        start: next_key.strip_prefix(prefix).unwrap_or(next_key).to_owned(),
    };
    base64::engine::general_purpose::URL_SAFE.encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn decode_continue(token: &str) -> ApiResult<ContinueToken> {
    let bad = || {
        ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    };
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token))
        .map_err(|_| bad())?;
    let token: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if token.v != "meta.k8s.io/v1" || token.start.contains("..") {
        return Err(bad());
    }
    Ok(token)
}

/// The objects of a list: built for this request, or the watch cache's own entries (which
/// carry their JSON already).
#[derive(Debug)]
pub enum Items {
    Owned(Vec<Value>),
    Cached(Vec<Arc<Entry>>),
}

impl Default for Items {
    fn default() -> Self {
        Items::Owned(Vec::new())
    }
}

impl Items {
    pub fn into_values(self) -> Vec<Value> {
        match self {
            Items::Owned(v) => v,
            Items::Cached(entries) => entries.iter().map(|e| e.obj.clone()).collect(),
        }
    }

    /// The items as a JSON array in chunks of about [`CHUNK`] bytes, written straight from the
    /// cached encodings where there are: a large list never needs one buffer of its size.
    fn write_json(&self, chunks: &mut Chunks) {
        chunks.push(b"[");
        match self {
            Items::Owned(values) => {
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        chunks.push(b",");
                    }
                    chunks.push_json(v);
                }
            }
            Items::Cached(entries) => {
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        chunks.push(b",");
                    }
                    chunks.push(&e.json);
                }
            }
        }
        chunks.push(b"]");
    }
}

/// The size a list response is sent in.
const CHUNK: usize = 256 * 1024;

/// A response body gathered in chunks.
#[derive(Debug, Default)]
struct Chunks {
    done: Vec<bytes::Bytes>,
    current: Vec<u8>,
}

impl Chunks {
    fn push(&mut self, data: &[u8]) {
        self.current.extend_from_slice(data);
        if self.current.len() >= CHUNK {
            let full = std::mem::replace(&mut self.current, Vec::with_capacity(CHUNK + 4096));
            self.done.push(full.into());
        }
    }

    fn push_json(&mut self, value: &Value) {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.current, value);
        self.push(b"");
    }

    fn finish(mut self) -> Vec<bytes::Bytes> {
        if !self.current.is_empty() {
            self.done.push(self.current.into());
        }
        self.done
    }
}

/// One page of a list.
#[derive(Debug, Default)]
struct Page {
    items: Items,
    revision: i64,
    continue_token: Option<String>,
    remaining: Option<i64>,
}

pub async fn list(server: &Arc<ApiServer>, call: &Call) -> ApiResult<Response<Body>> {
    let filter = Filter::from_query(&call.resource, call.namespace.as_deref(), &call.query)?;
    let limit = call
        .query
        .int("limit")
        .map_err(ApiError::bad_request)?
        .unwrap_or(0)
        .max(0);
    let page = if let Some(token) = call.query.get("continue") {
        let token = decode_continue(token)?;
        paged_from_store(server, call, &filter, limit, token.rv, Some(token.start)).await?
    } else {
        let rv = object::parse_resource_version(call.query.get("resourceVersion"))?;
        let exact = call.query.get("resourceVersionMatch") == Some("Exact");
        match (rv, limit) {
            (Some(rv), _) if exact => {
                paged_from_store(server, call, &filter, limit, rv, None).await?
            }
            (None, l) if l > 0 => paged_from_store(server, call, &filter, limit, 0, None).await?,
            (rv, _) => {
                let (items, revision) = cached_list(server, call, &filter, rv).await?;
                Page {
                    items,
                    revision,
                    ..Default::default()
                }
            }
        }
    };
    if table::wanted(&call.headers) {
        let items = page.items.into_values();
        let t = table::of_objects(
            call,
            &items,
            Some(page.revision),
            page.continue_token.as_deref(),
        );
        return Ok(body::json(StatusCode::OK, &t));
    }
    let mut meta = json!({"resourceVersion": page.revision.to_string()});
    if let Some(c) = &page.continue_token {
        meta["continue"] = json!(c);
    }
    if let Some(r) = page.remaining {
        meta["remainingItemCount"] = json!(r);
    }
    // `{"apiVersion":...,"items":[...],"kind":...,"metadata":{...}}`, items written as bytes.
    let mut head =
        serde_json::to_vec(&json!({"apiVersion": call.resource.api_version()})).unwrap_or_default();
    head.pop();
    let mut chunks = Chunks::default();
    chunks.push(&head);
    chunks.push(b",\"items\":");
    page.items.write_json(&mut chunks);
    let tail = format!(
        ",\"kind\":{},\"metadata\":{}}}",
        Value::String(call.resource.list_kind()),
        meta
    );
    chunks.push(tail.as_bytes());
    Ok(body::json_chunks(StatusCode::OK, chunks.finish()))
}

/// Every selected object, for deletecollection.
pub async fn list_objects(
    server: &Arc<ApiServer>,
    call: &Call,
    filter: &Filter,
) -> ApiResult<(Vec<Value>, i64)> {
    let (items, revision) = cached_list(server, call, filter, None).await?;
    Ok((items.into_values(), revision))
}

/// A list served by the watch cache: at least as new as `rv`, or consistent when `rv` is not
/// given (the cache first catches up with a linearizable read of the store's revision).
async fn cached_list(
    server: &Arc<ApiServer>,
    call: &Call,
    filter: &Filter,
    rv: Option<i64>,
) -> ApiResult<(Items, i64)> {
    let cache = cache_of(server, &call.resource);
    let fresh = match rv {
        Some(0) => cache.ready(std::time::Duration::from_secs(10)).await,
        Some(rv) => {
            if !cache.wait_for(rv, std::time::Duration::from_secs(3)).await {
                return Err(ApiError::timeout(format!(
                    "Too large resource version: {rv}, current: {}",
                    cache.revision()
                )));
            }
            true
        }
        None => cache.wait_consistent().await?,
    };
    if !fresh {
        let page = paged_from_store(server, call, filter, 0, 0, None).await?;
        return Ok((page.items, page.revision));
    }
    let prefix = call.resource.prefix(call.namespace.as_deref());
    let (mut entries, revision) = cache.list(&prefix);
    if call.resource.served_as_stored() {
        entries.retain(|e| filter.matches(&e.obj));
        return Ok((Items::Cached(entries), revision));
    }
    let mut items = Vec::new();
    for e in entries.iter() {
        let obj = call.resource.present(e.obj.clone())?;
        if filter.matches(&obj) {
            items.push(obj);
        }
    }
    Ok((Items::Owned(items), revision))
}

/// A list read from the store at `revision` (0: now), from `start` (relative to the prefix),
/// with at most `limit` selected items (0: all).
async fn paged_from_store(
    server: &Arc<ApiServer>,
    call: &Call,
    filter: &Filter,
    limit: i64,
    revision: i64,
    start: Option<String>,
) -> ApiResult<Page> {
    let prefix = call.resource.prefix(call.namespace.as_deref());
    let mut next = start.map(|s| format!("{prefix}{s}"));
    let mut revision = revision;
    let mut items = Vec::new();
    loop {
        let want = if limit > 0 {
            limit - items.len() as i64
        } else {
            0
        };
        let resp = server
            .backend
            .list(ListRequest {
                prefix: prefix.as_bytes().to_vec(),
                start: next.take().map(String::into_bytes),
                limit: if limit > 0 { want.max(1) } else { 0 },
                revision,
            })
            .await
            .map_err(|e| match e {
                backend::Error::Compacted { .. } => ApiError::gone(
                    "The provided continue parameter is too old to display a consistent list result. \
                     You can start a new list without the continue parameter, or use the continue token \
                     in this response to retrieve the remainder of the results. Continuing with the \
                     provided token results in an inconsistent list - objects that were created, \
                     modified, or deleted between the time the first chunk was returned and now may \
                     show up in the list.",
                ),
                other => call.storage_error(other),
            })?;
        revision = resp.revision;
        let last_key = resp
            .records
            .last()
            .map(|r| String::from_utf8_lossy(&r.key).into_owned());
        for r in &resp.records {
            let obj = call
                .resource
                .present(object::decode(&r.value, r.mod_revision)?)?;
            if filter.matches(&obj) {
                items.push(obj);
            }
        }
        let full = limit > 0 && items.len() as i64 >= limit;
        match (resp.more, last_key) {
            (true, Some(last)) => {
                let after = format!("{last}\u{0}");
                if full {
                    let remaining = (!filter.has_selectors()).then_some(resp.remaining);
                    return Ok(Page {
                        items: Items::Owned(items),
                        revision,
                        continue_token: Some(encode_continue(revision, &after, &prefix)),
                        remaining,
                    });
                }
                next = Some(after);
            }
            _ => {
                return Ok(Page {
                    items: Items::Owned(items),
                    revision,
                    ..Default::default()
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let t = encode_continue(
            42,
            "/registry/pods/default/b\u{0}",
            "/registry/pods/default/",
        );
        let back = decode_continue(&t).unwrap();
        assert_eq!((back.rv, back.start.as_str()), (42, "b\u{0}"));
        assert!(decode_continue("not-a-token").is_err());
    }
}
