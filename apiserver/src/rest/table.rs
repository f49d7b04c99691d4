//! Server-side printing: `meta.k8s.io/v1` Tables, the form `kubectl get` asks for. Built-in
//! kinds use rkube-api's printers; custom resources their CRD's `additionalPrinterColumns`.

use http::{header, HeaderMap};
use rkube_api::jsonpath::JsonPath;
use rkube_api::printers::{self, IncludeObject, TableOptions};
use serde_json::{json, Value};

use super::Call;
use crate::resources::CustomVersion;

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

/// The Table of `items`; `revision` and `continue_token` go into its list metadata.
pub fn of_objects(
    call: &Call,
    items: &[Value],
    revision: Option<i64>,
    continue_token: Option<&str>,
) -> Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let options = TableOptions {
        include_object: call
            .query
            .get("includeObject")
            .and_then(|s| s.parse().ok())
            .unwrap_or(IncludeObject::Metadata),
        no_headers: false,
    };
    let mut table = match &call.resource.custom {
        Some(custom) if !custom.columns.is_empty() => custom_table(custom, items, options, now),
        _ => printers::table(
            &call.resource.group,
            &call.resource.kind,
            items,
            options,
            now,
        ),
    };
    let rv = revision.map(|r| r.to_string()).or_else(|| {
        items
            .first()
            .and_then(|o| crate::object::meta_str(o, "resourceVersion"))
            .map(str::to_owned)
    });
    if let Some(rv) = rv {
        table["metadata"]["resourceVersion"] = json!(rv);
    }
    if let Some(c) = continue_token {
        table["metadata"]["continue"] = json!(c);
    }
    table
}

/// A custom resource's Table: the name, then the CRD's printer columns.
fn custom_table(custom: &CustomVersion, items: &[Value], options: TableOptions, now: i64) -> Value {
    let mut table = printers::table("", "", &[], options, now);
    let mut defs = vec![json!({
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.",
        "priority": 0,
    })];
    let paths: Vec<Option<JsonPath>> = custom
        .columns
        .iter()
        .map(|c| JsonPath::parse_expression(&c.json_path).ok())
        .collect();
    for c in &custom.columns {
        defs.push(json!({
            "name": c.name,
            "type": c.type_,
            "format": c.format,
            "description": c.description,
            "priority": c.priority,
        }));
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            let mut cells = vec![json!(crate::object::name(obj))];
            for (c, path) in custom.columns.iter().zip(&paths) {
                cells.push(match path {
                    Some(p) => printers::custom_column_cell(&c.type_, p, obj, now),
                    None => Value::Null,
                });
            }
            let mut row =
                printers::table("", "", std::slice::from_ref(obj), options, now)["rows"][0].clone();
            row["cells"] = json!(cells);
            row
        })
        .collect();
    table["columnDefinitions"] = json!(defs);
    table["rows"] = json!(rows);
    table
}
