//! Printing objects the ways `-o` asks: name, json, yaml, jsonpath, custom-columns (tables are in
//! [`table`]).

pub mod progress;
pub mod table;
pub mod tabwriter;
pub mod yaml;

use rkube_api::jsonpath::{self, JsonPath};
use serde_json::{Map, Value};

/// What `-o` asked for.
#[derive(Debug, Clone)]
pub enum Format {
    /// The server's Table (the default).
    Table,
    /// The Table with priority columns.
    Wide,
    Name,
    Json,
    Yaml,
    JsonPath(JsonPath),
    CustomColumns(Vec<(String, Option<JsonPath>)>),
}

/// An `-o` value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unable to match a printer suitable for the output format \"{0}\", allowed formats are: custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,template,templatefile,wide,yaml")]
    Unknown(String),
    #[error("{0}")]
    Template(String),
    #[error("unexpected custom-columns spec: {0}, expected <header>:<json-path-expr>")]
    CustomColumns(String),
    #[error("custom-columns format specified but no custom columns given")]
    NoColumns,
    #[error("failed to read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Format {
    /// Parses `-o`.
    ///
    /// # Errors
    /// Unknown formats and templates that do not parse, with kubectl's messages.
    pub fn parse(output: Option<&str>) -> Result<Format, Error> {
        let Some(o) = output else {
            return Ok(Format::Table);
        };
        let (kind, arg) = match o.split_once('=') {
            Some((k, a)) => (k, Some(a)),
            None => (o, None),
        };
        Ok(match (kind, arg) {
            ("", None) => Format::Table,
            ("wide", None) => Format::Wide,
            ("name", None) => Format::Name,
            ("json", None) => Format::Json,
            ("yaml", None) => Format::Yaml,
            ("jsonpath" | "jsonpath-as-json", Some(t)) => Format::JsonPath(parse_template(t)?),
            ("jsonpath-file", Some(path)) => {
                let t = std::fs::read_to_string(path).map_err(|source| Error::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Format::JsonPath(parse_template(&t)?)
            }
            ("jsonpath" | "jsonpath-file", None) => {
                return Err(Error::Template(
                    "template format specified but no template given".into(),
                ))
            }
            ("custom-columns", Some(spec)) => Format::CustomColumns(parse_columns(spec)?),
            ("custom-columns-file", Some(path)) => {
                let t = std::fs::read_to_string(path).map_err(|source| Error::Read {
                    path: path.to_owned(),
                    source,
                })?;
                let mut lines = t.lines();
                let headers: Vec<&str> = lines
                    .next()
                    .unwrap_or_default()
                    .split_whitespace()
                    .collect();
                let paths: Vec<&str> = lines
                    .next()
                    .unwrap_or_default()
                    .split_whitespace()
                    .collect();
                let spec = headers
                    .iter()
                    .zip(paths.iter())
                    .map(|(h, p)| format!("{h}:{p}"))
                    .collect::<Vec<_>>()
                    .join(",");
                Format::CustomColumns(parse_columns(&spec)?)
            }
            ("custom-columns", None) => return Err(Error::NoColumns),
            _ => return Err(Error::Unknown(o.to_owned())),
        })
    }

    /// Whether objects (not a Table) are needed from the server.
    pub fn wants_objects(&self) -> bool {
        !matches!(self, Format::Table | Format::Wide)
    }
}

fn parse_template(t: &str) -> Result<JsonPath, Error> {
    JsonPath::parse(t)
        .map(|p| p.allow_missing_keys(true))
        .map_err(|e| Error::Template(jsonpath::parse_error_message(t, &e).trim_end().to_owned()))
}

fn parse_columns(spec: &str) -> Result<Vec<(String, Option<JsonPath>)>, Error> {
    let mut columns = Vec::new();
    for part in spec.split(',') {
        let Some((header, path)) = part.split_once(':') else {
            return Err(Error::CustomColumns(part.to_owned()));
        };
        let expr = jsonpath::relaxed_expression(path)
            .ok_or_else(|| Error::CustomColumns(part.to_owned()))?;
        let parsed = if expr.is_empty() {
            None
        } else {
            Some(parse_template(&expr)?)
        };
        columns.push((header.to_owned(), parsed));
    }
    Ok(columns)
}

/// Removes `metadata.managedFields` (kubectl hides them unless `--show-managed-fields`).
pub fn strip_managed_fields(v: &mut Value) {
    if let Some(Value::Object(m)) = v.get_mut("metadata") {
        m.remove("managedFields");
    }
    if let Some(Value::Array(items)) = v.get_mut("items") {
        for i in items {
            strip_managed_fields(i);
        }
    }
}

/// kubectl's list wrapper around several objects.
pub fn list_of(items: Vec<Value>) -> Value {
    let mut m = Map::new();
    m.insert("apiVersion".into(), Value::String("v1".into()));
    m.insert("items".into(), Value::Array(items));
    m.insert("kind".into(), Value::String("List".into()));
    m.insert(
        "metadata".into(),
        serde_json::json!({"resourceVersion": ""}),
    );
    Value::Object(m)
}

/// JSON as kubectl prints it: four-space indent, `<`, `>`, `&` escaped as Go does.
pub fn to_json(v: &Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if serde::Serialize::serialize(&sort_keys(v), &mut ser).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    format!("{text}\n")
}

pub fn sort_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sort_keys(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// `kind.group/name`, as `-o name` prints an object.
pub fn object_name(obj: &Value) -> String {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_lowercase();
    let group = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|a| a.split_once('/'))
        .map(|(g, _)| g)
        .unwrap_or_default();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if group.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{group}/{name}")
    }
}

/// Renders custom columns over `objects`.
pub fn custom_columns(
    columns: &[(String, Option<JsonPath>)],
    objects: &[Value],
    no_headers: bool,
) -> String {
    let mut rows = Vec::new();
    if !no_headers {
        rows.push(columns.iter().map(|(h, _)| h.clone()).collect());
    }
    for obj in objects {
        let row = columns
            .iter()
            .map(|(_, path)| {
                let Some(path) = path else {
                    return "<none>".to_owned();
                };
                let values: Vec<Value> = path
                    .find_results(obj)
                    .unwrap_or_default()
                    .into_iter()
                    .flatten()
                    .collect();
                if values.is_empty() {
                    return "<none>".to_owned();
                }
                values
                    .iter()
                    .map(jsonpath_text)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        rows.push(row);
    }
    table::align(&rows)
}

fn jsonpath_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_like_go() {
        let v = json!({"b": "<x>", "a": {"z": [], "y": {}}});
        assert_eq!(
            to_json(&v),
            "{\n    \"a\": {\n        \"y\": {},\n        \"z\": []\n    },\n    \"b\": \"\\u003cx\\u003e\"\n}\n"
        );
    }

    #[test]
    fn names_and_columns() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"image": "a"}, {"image": "b"}]}}}});
        assert_eq!(object_name(&d), "deployment.apps/web");
        let Format::CustomColumns(cols) =
            Format::parse(Some("custom-columns=NAME:.metadata.name,IMAGES:.spec.template.spec.containers[*].image,X:.nope")).unwrap()
        else {
            panic!("not custom columns")
        };
        assert_eq!(
            custom_columns(&cols, &[d], false),
            "NAME   IMAGES   X\nweb    a,b      <none>\n"
        );
        assert!(Format::parse(Some("foo"))
            .unwrap_err()
            .to_string()
            .contains("\"foo\""));
    }
}
