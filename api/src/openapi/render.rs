//! Rendering paths and definitions as Swagger 2.0 and OpenAPI 3.0 JSON.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::params::{In, Param};
use super::paths::{self, Operation, PathItem, Payload};
use super::{all_definitions, content_hash, reachable, ServedResource, KUBERNETES_VERSION};
use crate::schema::{COMPONENTS_PREFIX, DEFINITIONS_PREFIX};

fn info() -> Value {
    json!({"title": "Kubernetes", "version": KUBERNETES_VERSION})
}

fn bearer_token() -> Value {
    json!({
        "BearerToken": {
            "description": "Bearer Token authentication",
            "in": "header",
            "name": "authorization",
            "type": "apiKey",
        }
    })
}

/// The Swagger 2.0 document served at `/openapi/v2`: every path of `resources` and every
/// definition (built-in and custom).
pub fn openapi_v2(resources: &[ServedResource]) -> Value {
    let mut paths = Map::new();
    for resource in resources {
        for item in paths::resource_paths(resource) {
            paths.insert(item.path.clone(), path_v2(&item));
        }
    }
    let definitions: Map<String, Value> = all_definitions(resources)
        .into_iter()
        .map(|(name, schema)| (name, schema_to_v2(schema)))
        .collect();
    json!({
        "swagger": "2.0",
        "info": info(),
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": bearer_token(),
        "security": [{"BearerToken": []}],
    })
}

fn param_v2(p: &Param) -> Value {
    let mut v = json!({
        "description": p.description,
        "in": location(p),
        "name": p.name,
        "type": p.ty,
        "uniqueItems": true,
    });
    if p.location == In::Path {
        v["required"] = Value::Bool(true);
    }
    v
}

fn location(p: &Param) -> &'static str {
    match p.location {
        In::Path => "path",
        In::Query => "query",
    }
}

fn path_v2(item: &PathItem) -> Value {
    let mut out = Map::new();
    out.insert(
        "parameters".to_owned(),
        item.params.iter().map(param_v2).collect(),
    );
    for op in &item.operations {
        let mut parameters: Vec<Value> = Vec::new();
        if let Some(body) = &op.body {
            parameters.push(json!({
                "in": "body",
                "name": "body",
                "required": true,
                "schema": {"$ref": format!("{DEFINITIONS_PREFIX}{body}")},
            }));
        }
        parameters.extend(op.query.iter().map(param_v2));
        let responses: Map<String, Value> = op
            .responses
            .iter()
            .map(|(code, description, payload)| {
                let schema = match payload {
                    Payload::Definition(d) => json!({"$ref": format!("{DEFINITIONS_PREFIX}{d}")}),
                    Payload::Text => json!({"type": "string"}),
                };
                (
                    (*code).to_owned(),
                    json!({"description": description, "schema": schema}),
                )
            })
            .chain([("401".to_owned(), json!({"description": "Unauthorized"}))])
            .collect();
        let mut v = common(op);
        v["consumes"] = json!(op.consumes);
        v["produces"] = json!(op.produces);
        v["parameters"] = Value::Array(parameters);
        v["responses"] = Value::Object(responses);
        v["schemes"] = json!(["https"]);
        out.insert(op.method.to_owned(), v);
    }
    Value::Object(out)
}

fn common(op: &Operation) -> Value {
    json!({
        "description": op.description,
        "operationId": op.id,
        "tags": [op.tag],
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": op.gvk.to_json(),
    })
}

/// The OpenAPI 3.0 document of one group version, served at `/openapi/v3/<key>` where `key`
/// is `api/v1` or `apis/<group>/<version>`; `None` when no resource is served there.
/// `components.schemas` holds the definitions that group version's operations reach.
pub fn openapi_v3_group_version(resources: &[ServedResource], key: &str) -> Option<Value> {
    group_version_document(resources, &all_definitions(resources), key)
}

fn group_version_document(
    resources: &[ServedResource],
    definitions: &BTreeMap<String, Value>,
    key: &str,
) -> Option<Value> {
    let served: Vec<&ServedResource> = resources
        .iter()
        .filter(|r| r.group_version_key() == key)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut paths_json = Map::new();
    let mut roots = vec![
        paths::STATUS.to_owned(),
        paths::DELETE_OPTIONS.to_owned(),
        paths::WATCH_EVENT.to_owned(),
        paths::PATCH.to_owned(),
    ];
    for resource in &served {
        for item in paths::resource_paths(resource) {
            for op in &item.operations {
                roots.extend(op.body.clone());
                for (_, _, payload) in &op.responses {
                    if let Payload::Definition(d) = payload {
                        roots.push(d.clone());
                    }
                }
            }
            paths_json.insert(item.path.clone(), path_v3(&item));
        }
    }
    let schemas: Map<String, Value> = reachable(definitions, roots)
        .into_iter()
        .filter_map(|name| {
            let schema = definitions.get(&name)?.clone();
            let schema = scalar_to_v3(&name, schema_to_v3(schema));
            Some((name, schema))
        })
        .collect();
    Some(json!({
        "openapi": "3.0.0",
        "info": info(),
        "paths": paths_json,
        "components": {
            "schemas": schemas,
            "securitySchemes": bearer_token(),
        },
    }))
}

/// Every OpenAPI v3 document of a set of served resources, built at once: the index and each
/// group version's document with its hash. Building the index needs every document (for the
/// hashes), so a server builds this once per change of its served resources and answers
/// `/openapi/v3` and `/openapi/v3/<key>` from it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenApiV3 {
    /// The index served at `/openapi/v3`.
    pub index: Value,
    /// Each group version's document by key (`api/v1`, `apis/apps/v1`), with its hash.
    pub documents: BTreeMap<String, (Value, String)>,
}

impl OpenApiV3 {
    /// Builds the index and every document.
    pub fn build(resources: &[ServedResource]) -> OpenApiV3 {
        let definitions = all_definitions(resources);
        let mut keys: Vec<String> = resources.iter().map(|r| r.group_version_key()).collect();
        keys.sort();
        keys.dedup();
        let mut index = Map::new();
        let mut documents = BTreeMap::new();
        for key in keys {
            let Some(doc) = group_version_document(resources, &definitions, &key) else {
                continue;
            };
            let hash = content_hash(doc.to_string().as_bytes());
            index.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}),
            );
            documents.insert(key, (doc, hash));
        }
        OpenApiV3 {
            index: json!({ "paths": index }),
            documents,
        }
    }
}

/// The index served at `/openapi/v3`: for each served group version, the URL of its document
/// with the document's [`content_hash`]. (Builds every document; see [`OpenApiV3`].)
pub fn openapi_v3_index(resources: &[ServedResource]) -> Value {
    OpenApiV3::build(resources).index
}

fn param_v3(p: &Param) -> Value {
    let mut v = json!({
        "description": p.description,
        "in": location(p),
        "name": p.name,
        "schema": {"type": p.ty, "uniqueItems": true},
    });
    if p.location == In::Path {
        v["required"] = Value::Bool(true);
    }
    v
}

fn path_v3(item: &PathItem) -> Value {
    let mut out = Map::new();
    out.insert(
        "parameters".to_owned(),
        item.params.iter().map(param_v3).collect(),
    );
    for op in &item.operations {
        let mut v = common(op);
        v["parameters"] = op.query.iter().map(param_v3).collect();
        if let Some(body) = &op.body {
            let content: Map<String, Value> = op
                .consumes
                .iter()
                .map(|ct| {
                    let schema = json!({"$ref": format!("{COMPONENTS_PREFIX}{body}")});
                    ((*ct).to_owned(), json!({"schema": schema}))
                })
                .collect();
            v["requestBody"] = json!({"content": content, "required": true});
        }
        let mut responses: Map<String, Value> = op
            .responses
            .iter()
            .map(|(code, description, payload)| {
                let schema = match payload {
                    Payload::Definition(d) => json!({"$ref": format!("{COMPONENTS_PREFIX}{d}")}),
                    Payload::Text => json!({"type": "string"}),
                };
                let content: Map<String, Value> = op
                    .produces
                    .iter()
                    .map(|ct| ((*ct).to_owned(), json!({"schema": schema})))
                    .collect();
                (
                    (*code).to_owned(),
                    json!({"description": description, "content": content}),
                )
            })
            .collect();
        responses.insert("401".to_owned(), json!({"description": "Unauthorized"}));
        v["responses"] = Value::Object(responses);
        out.insert(op.method.to_owned(), v);
    }
    Value::Object(out)
}

/// `IntOrString` and `Quantity` are typed strings in v2 but alternatives in v3, as
/// Kubernetes publishes them (so `kubectl explain` names them instead of saying `string`).
fn scalar_to_v3(name: &str, mut schema: Value) -> Value {
    let alternatives = match name {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => ["integer", "string"],
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => ["string", "number"],
        _ => return schema,
    };
    if let Value::Object(map) = &mut schema {
        map.remove("type");
        map.insert(
            "oneOf".to_owned(),
            alternatives.iter().map(|t| json!({ "type": t })).collect(),
        );
    }
    schema
}

/// Rewrites a stored schema for OpenAPI 3: references point into `components/schemas`, and a
/// reference with sibling keys (a description) is wrapped in `allOf`, since OpenAPI 3.0 ignores
/// a reference's siblings.
pub(super) fn schema_to_v3(schema: Value) -> Value {
    match schema {
        Value::Object(mut map) => {
            // Only a string is a reference: JSONSchemaProps has a *property* named `$ref`.
            let reference = match map.get("$ref") {
                Some(Value::String(_)) => map.remove("$ref"),
                _ => None,
            };
            let mut out: Map<String, Value> =
                map.into_iter().map(|(k, v)| (k, schema_to_v3(v))).collect();
            if let Some(Value::String(r)) = reference {
                let target = match crate::schema::definition_name(&r) {
                    Some(name) => format!("{COMPONENTS_PREFIX}{name}"),
                    None => r,
                };
                if out.is_empty() {
                    out.insert("$ref".to_owned(), Value::String(target));
                } else {
                    out.insert("allOf".to_owned(), json!([{"$ref": target}]));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(schema_to_v3).collect()),
        other => other,
    }
}

/// The keywords a Swagger 2.0 schema may carry (besides `x-` extensions).
pub(super) const SWAGGER_SCHEMA_KEYS: &[&str] = &[
    "$ref",
    "additionalProperties",
    "allOf",
    "default",
    "description",
    "discriminator",
    "enum",
    "example",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "externalDocs",
    "format",
    "items",
    "maxItems",
    "maxLength",
    "maxProperties",
    "maximum",
    "minItems",
    "minLength",
    "minProperties",
    "minimum",
    "multipleOf",
    "pattern",
    "properties",
    "readOnly",
    "required",
    "title",
    "type",
    "uniqueItems",
    "xml",
];

/// Rewrites a schema for Swagger 2.0: references take the v2 form and keywords Swagger 2.0
/// lacks (`nullable`, `oneOf`, `anyOf`, `not` in custom resources' schemas) are dropped, as
/// Kubernetes drops them when it publishes custom resources in v2.
fn schema_to_v2(schema: Value) -> Value {
    let Value::Object(map) = schema else {
        return schema;
    };
    let mut out = Map::new();
    for (key, value) in map {
        let value = match (key.as_str(), value) {
            ("$ref", Value::String(r)) => match r.strip_prefix(COMPONENTS_PREFIX) {
                Some(name) => Value::String(format!("{DEFINITIONS_PREFIX}{name}")),
                None => Value::String(r),
            },
            ("properties", Value::Object(properties)) => Value::Object(
                properties
                    .into_iter()
                    .map(|(name, s)| (name, schema_to_v2(s)))
                    .collect(),
            ),
            ("items" | "additionalProperties" | "allOf", Value::Array(items)) => {
                Value::Array(items.into_iter().map(schema_to_v2).collect())
            }
            ("items" | "additionalProperties", value @ Value::Object(_)) => schema_to_v2(value),
            (k, value) if k.starts_with("x-") || SWAGGER_SCHEMA_KEYS.contains(&k) => value,
            _ => continue,
        };
        out.insert(key, value);
    }
    Value::Object(out)
}
