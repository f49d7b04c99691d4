//! watch: a stream of JSON watch events from the watch cache, one per line.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::{cache_of, table, Call};
use crate::body::Body;
use crate::cache::{Entry, Event, EventType};
use crate::filter::Filter;
use crate::object;
use crate::resources::ServedResource;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

/// How often a watch that asked for bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

/// The object of an event as a watcher gets it: the cache's entry when the resource is served
/// as stored (its JSON is already made), else converted to the watched version.
enum Seen {
    Entry(Arc<Entry>),
    Converted(Value),
}

impl Seen {
    fn value(&self) -> &Value {
        match self {
            Seen::Entry(e) => &e.obj,
            Seen::Converted(v) => v,
        }
    }
}

/// What one event looks like to a watcher with `filter`: objects moving in or out of the
/// selection are ADDED or DELETED for it, as Kubernetes reports them.
fn as_seen(resource: &ServedResource, event: &Event, filter: &Filter) -> Option<(EventType, Seen)> {
    let (obj, prev) = if resource.served_as_stored() {
        (
            Seen::Entry(event.obj.clone()),
            event.prev.as_ref().map(|p| Seen::Entry(p.clone())),
        )
    } else {
        let obj = Seen::Converted(resource.present(event.obj.obj.clone()).ok()?);
        let prev = event
            .prev
            .as_ref()
            .and_then(|p| resource.present(p.obj.clone()).ok())
            .map(Seen::Converted);
        (obj, prev)
    };
    let now = event.kind != EventType::Deleted && filter.matches(obj.value());
    let before = prev.as_ref().is_some_and(|p| filter.matches(p.value()));
    let kind = match (before, now) {
        (false, true) => EventType::Added,
        (true, true) => EventType::Modified,
        (true, false) => EventType::Deleted,
        (false, false) => return None,
    };
    Some((kind, obj))
}

pub async fn watch(server: &Arc<ApiServer>, call: &Call) -> ApiResult<Response<Body>> {
    let filter = Filter::from_query(&call.resource, call.namespace.as_deref(), &call.query)?;
    let rv = object::parse_resource_version(call.query.get("resourceVersion"))?;
    let timeout = call
        .query
        .int("timeoutSeconds")
        .map_err(ApiError::bad_request)?
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64))
        .unwrap_or(Duration::from_secs(1800 + rand::random::<u64>() % 1800));
    let bookmarks = call.query.flag("allowWatchBookmarks");
    let initial_events_end = call.query.flag("sendInitialEvents");
    let cache = cache_of(server, &call.resource);
    if !cache.ready(Duration::from_secs(10)).await {
        return Err(ApiError::unavailable(
            "the watch cache is not ready yet; retry",
        ));
    }
    let from = match rv {
        None => {
            cache.wait_consistent().await?;
            None
        }
        Some(0) => None,
        Some(rv) if initial_events_end => {
            if !cache.wait_for(rv, Duration::from_secs(3)).await {
                return Err(ApiError::timeout(format!(
                    "Too large resource version: {rv}"
                )));
            }
            None
        }
        Some(rv) => {
            if !cache.wait_for(rv, Duration::from_secs(3)).await {
                return Err(ApiError::timeout(format!(
                    "Too large resource version: {rv}, current: {}",
                    cache.revision()
                )));
            }
            Some(rv)
        }
    };
    let sub = cache.subscribe(from)?;
    let tables = table::wanted(&call.headers);
    let resource = call.resource.clone();
    let table_call = call.main();
    let name = call.name.clone();
    let filter = Filter {
        // A watch on one object (`fieldSelector=metadata.name=x` from the path form).
        fields: match &name {
            Some(n) => Some(
                rkube_api::fields::Selector::parse(&format!(
                    "metadata.name={}",
                    rkube_api::fields::escape_value(n)
                ))
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
            ),
            None => filter.fields.clone(),
        },
        ..filter
    };
    let encode = move |kind: &str, obj: Seen, first: &mut bool| -> Bytes {
        // `{"type":"ADDED","object":...}` and a newline, the object as bytes where it can be.
        let mut line = format!("{{\"type\":\"{kind}\",\"object\":").into_bytes();
        if tables {
            let mut t =
                table::of_objects(&table_call, std::slice::from_ref(obj.value()), None, None);
            if !*first {
                t["columnDefinitions"] = Value::Null;
            }
            *first = false;
            let _ = serde_json::to_writer(&mut line, &t);
        } else {
            match &obj {
                Seen::Entry(e) => line.extend_from_slice(&e.json),
                Seen::Converted(v) => {
                    let _ = serde_json::to_writer(&mut line, v);
                }
            }
        }
        line.extend_from_slice(b"}\n");
        Bytes::from(line)
    };
    let bookmark = {
        let resource = resource.clone();
        move |revision: i64, end_of_initial: bool| -> Bytes {
            let mut meta = json!({"resourceVersion": revision.to_string()});
            if end_of_initial {
                meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            }
            let obj = json!({"kind": resource.kind, "apiVersion": resource.api_version(), "metadata": meta});
            let mut line =
                serde_json::to_vec(&json!({"type": "BOOKMARK", "object": obj})).unwrap_or_default();
            line.push(b'\n');
            Bytes::from(line)
        }
    };
    let stream = async_stream::stream! {
        let mut first = true;
        let mut live = sub.live;
        let mut last = sub.revision;
        for e in &sub.initial {
            if let Some((kind, obj)) = as_seen(&resource, e, &filter) {
                yield encode(kind.as_str(), obj, &mut first);
            }
            last = last.max(e.revision());
        }
        if bookmarks && initial_events_end {
            yield bookmark(last, true);
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                _ = ticker.tick(), if bookmarks => yield bookmark(last, false),
                received = live.recv() => match received {
                    Ok(e) => {
                        last = last.max(e.revision());
                        if let Some((kind, obj)) = as_seen(&resource, &e, &filter) {
                            yield encode(kind.as_str(), obj, &mut first);
                        }
                    }
                    // Fell behind, or the cache restarted: end the watch; the client resumes
                    // from the last resourceVersion it saw.
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => break,
                },
            }
        }
    };
    let body = StreamBody::new(stream.map(|b| Ok::<_, std::convert::Infallible>(Frame::data(b))));
    let mut resp = Response::new(BodyExt::boxed(body));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}
