//! Server-side printing: `meta.k8s.io/v1` Tables, the form `kubectl get` asks for.

use http::{header, HeaderMap};
use rkube_api::printers;
use serde_json::{json, Map, Value};

use super::Call;

/// Whether the Accept header asks for a Table.
pub fn wanted(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept.split(',').any(|part| {
                let p = part.replace(' ', "");
                p.contains("as=Table") && p.contains("g=meta.k8s.io")
            })
        })
}

/// The Table of `items` (a list when `revision` is given, else one object).
pub fn of_objects(call: &Call, items: &[Value], revision: Option<i64>, continue_token: Option<&str>) -> Value {
    let group = call.resource.group.as_str();
    let kind = call.resource.kind.as_str();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let columns = printers::columns(group, kind).unwrap_or_else(printers::default_columns);
    let include = call.query.get("includeObject").unwrap_or("Metadata");
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            let cells = printers::row(group, kind, obj, now)
                .unwrap_or_else(|| printers::default_row(obj));
            let object = match include {
                "None" => Value::Null,
                "Object" => obj.clone(),
                _ => json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata").cloned().unwrap_or_default(),
                }),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    let column_defs: Vec<Value> = columns.iter().map(|c| c.to_json()).collect();
    let mut meta = Map::new();
    match revision {
        Some(rv) => {
            meta.insert("resourceVersion".into(), json!(rv.to_string()));
        }
        None => {
            if let Some(rv) = items.first().and_then(|o| crate::object::meta_str(o, "resourceVersion")) {
                meta.insert("resourceVersion".into(), json!(rv));
            }
        }
    }
    if let Some(c) = continue_token {
        meta.insert("continue".into(), json!(c));
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": column_defs,
        "rows": rows,
    })
}
