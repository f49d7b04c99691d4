//! Whole `meta.k8s.io/v1` Table objects for lists of built-in objects.

use serde_json::{json, Value};

use super::{columns, default_columns, default_row, row, row_conditions, Column};

/// What each row carries of its object (the `includeObject` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IncludeObject {
    /// No object.
    None,
    /// The object's metadata, as a `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

/// An `includeObject` value other than `None`, `Metadata`, `Object`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "includeObject: Unsupported value: {0:?}: supported values: \"Metadata\", \"None\", \"Object\""
)]
pub struct UnsupportedIncludeObject(pub String);

impl std::str::FromStr for IncludeObject {
    type Err = UnsupportedIncludeObject;

    /// Parses the query parameter; empty means the default, `Metadata`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "None" => Ok(IncludeObject::None),
            "Object" => Ok(IncludeObject::Object),
            other => Err(UnsupportedIncludeObject(other.to_owned())),
        }
    }
}

/// How to render a Table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableOptions {
    /// What each row carries of its object.
    pub include_object: IncludeObject,
    /// Leave out the column definitions (`columnDefinitions: null`), as watches after the
    /// first event ask.
    pub no_headers: bool,
}

/// The row's `object` field, if any.
fn row_object(obj: &Value, include: IncludeObject) -> Option<Value> {
    match include {
        IncludeObject::None => None,
        IncludeObject::Object => Some(obj.clone()),
        IncludeObject::Metadata => Some(json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        })),
    }
}

/// A Table of `objects` (all of `group`/`kind`) at `now_unix_secs`: the kind's columns and
/// rows, or the default table for kinds without a printer. `metadata` is left empty for the
/// caller to fill (`resourceVersion`, `continue`, `remainingItemCount`).
pub fn table(
    group: &str,
    kind: &str,
    objects: &[Value],
    options: TableOptions,
    now_unix_secs: i64,
) -> Value {
    let definitions: &[Column] = columns(group, kind).unwrap_or_else(default_columns);
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let cells = row(group, kind, obj, now_unix_secs).unwrap_or_else(|| default_row(obj));
            let mut r = serde_json::Map::new();
            r.insert("cells".to_owned(), Value::from(cells));
            let conditions = row_conditions(group, kind, obj);
            if !conditions.is_empty() {
                r.insert("conditions".to_owned(), Value::from(conditions));
            }
            if let Some(o) = row_object(obj, options.include_object) {
                r.insert("object".to_owned(), o);
            }
            Value::Object(r)
        })
        .collect();
    let column_definitions = if options.no_headers {
        Value::Null
    } else {
        Value::from(definitions.iter().map(Column::to_json).collect::<Vec<_>>())
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-10T00:00:00Z.
    const NOW: i64 = 1_704_844_800;

    #[test]
    fn tables_of_namespaces() {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "default", "creationTimestamp": "2024-01-09T00:00:00Z"},
            "status": {"phase": "Active"}});
        let t = table(
            "",
            "Namespace",
            std::slice::from_ref(&ns),
            TableOptions::default(),
            NOW,
        );
        assert_eq!(t["kind"], json!("Table"));
        assert_eq!(t["apiVersion"], json!("meta.k8s.io/v1"));
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .expect("definitions")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, ["Name", "Status", "Age"]);
        assert_eq!(
            t["rows"],
            json!([{"cells": ["default", "Active", "24h"],
                    "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                               "metadata": {"name": "default",
                                            "creationTimestamp": "2024-01-09T00:00:00Z"}}}])
        );
        let whole = TableOptions {
            include_object: IncludeObject::Object,
            no_headers: true,
        };
        let t = table("", "Namespace", &[ns], whole, NOW);
        assert_eq!(t["columnDefinitions"], Value::Null);
        assert_eq!(t["rows"][0]["object"]["status"]["phase"], json!("Active"));
    }

    #[test]
    fn default_tables_and_row_conditions() {
        let role =
            json!({"metadata": {"name": "reader", "creationTimestamp": "2024-01-09T00:00:00Z"}});
        let none = TableOptions {
            include_object: IncludeObject::None,
            no_headers: false,
        };
        let t = table("rbac.authorization.k8s.io", "Role", &[role], none, NOW);
        assert_eq!(t["columnDefinitions"][1]["type"], json!("date"));
        assert_eq!(
            t["rows"],
            json!([{"cells": ["reader", "2024-01-09T00:00:00Z"]}])
        );
        let pod = json!({"metadata": {"name": "job-x"}, "spec": {"containers": [{"name": "a"}]},
                         "status": {"phase": "Succeeded"}});
        let t = table("", "Pod", &[pod], none, NOW);
        assert_eq!(t["rows"][0]["conditions"][0]["reason"], json!("Succeeded"));
        assert!(table("", "Pod", &[], none, NOW)["rows"]
            .as_array()
            .is_some_and(Vec::is_empty));
    }

    #[test]
    fn include_object_parses_like_kubernetes() {
        assert_eq!("".parse(), Ok(IncludeObject::Metadata));
        assert_eq!("Object".parse(), Ok(IncludeObject::Object));
        assert_eq!("None".parse(), Ok(IncludeObject::None));
        assert_eq!(
            "All".parse::<IncludeObject>().map_err(|e| e.to_string()),
            Err(
                "includeObject: Unsupported value: \"All\": supported values: \"Metadata\", \
                 \"None\", \"Object\""
                    .to_owned()
            )
        );
    }
}
