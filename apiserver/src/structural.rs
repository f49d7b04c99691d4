//! Objects checked against OpenAPI schemas: unknown fields found and pruned (as decoding into a
//! typed object drops them, and as custom resources are pruned), `default`s filled in, and the
//! value rules of a custom resource's structural schema validated, with kube-apiserver's messages.
//!
//! Built-in kinds use their definitions from [`Schemas::builtin`]; custom resources their CRD's
//! `openAPIV3Schema`. References (`$ref`) resolve through the built-in definitions, so the two
//! walk the same way.

use rkube_api::schema::Schemas;
use serde_json::{Map, Value};

/// One failed rule: (StatusCause reason, field path, message without the path).
pub type Cause = (String, String, String);

fn schemas() -> &'static Schemas {
    Schemas::builtin()
}

fn ext_true(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Removes every field `schema` does not declare (unless the schema preserves unknown fields)
/// and returns their paths (`spec.template.spec.containers[0].foo`). `metadata` at the root is
/// checked against ObjectMeta whatever the schema says of it.
pub fn prune(schema: &Value, obj: &mut Value) -> Vec<String> {
    let mut removed = Vec::new();
    let Some(map) = obj.as_object_mut() else {
        return removed;
    };
    let resolved = schemas().resolve(schema);
    for (key, value) in map.iter_mut() {
        if key == "metadata" {
            if let Some(meta) =
                schemas().definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
            {
                prune_at(meta, value, "metadata", &mut removed);
            }
        }
    }
    let props = resolved.get("properties").and_then(Value::as_object);
    if let Some(props) = props {
        let unknown: Vec<String> = map
            .keys()
            .filter(|k| {
                !props.contains_key(*k) && !matches!(k.as_str(), "apiVersion" | "kind" | "metadata")
            })
            .cloned()
            .collect();
        if !ext_true(resolved, "x-kubernetes-preserve-unknown-fields") {
            for k in unknown {
                map.remove(&k);
                removed.push(k);
            }
        }
        for (key, value) in map.iter_mut() {
            if key == "metadata" {
                continue;
            }
            if let Some(sub) = props.get(key) {
                prune_at(sub, value, key, &mut removed);
            }
        }
    }
    removed
}

fn prune_at(schema: &Value, value: &mut Value, path: &str, removed: &mut Vec<String>) {
    let schema = schemas().resolve(schema);
    if ext_true(schema, "x-kubernetes-embedded-resource") {
        // An embedded object keeps its apiVersion/kind/metadata; the rest is as declared.
        if let Some(map) = value.as_object_mut() {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                prune_object(
                    schema,
                    props,
                    map,
                    path,
                    removed,
                    &["apiVersion", "kind", "metadata"],
                );
            }
        }
        return;
    }
    match value {
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                prune_object(schema, props, map, path, removed, &[]);
            } else if let Some(items) = schema.get("additionalProperties").filter(|a| a.is_object())
            {
                for (k, v) in map.iter_mut() {
                    prune_at(items, v, &child_path(path, k), removed);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, v) in items.iter_mut().enumerate() {
                    prune_at(item_schema, v, &format!("{path}[{i}]"), removed);
                }
            }
        }
        _ => {}
    }
}

fn prune_object(
    schema: &Value,
    props: &Map<String, Value>,
    map: &mut Map<String, Value>,
    path: &str,
    removed: &mut Vec<String>,
    keep: &[&str],
) {
    if !ext_true(schema, "x-kubernetes-preserve-unknown-fields")
        && !schema
            .get("additionalProperties")
            .is_some_and(|a| a.is_object() || a == &Value::Bool(true))
    {
        let unknown: Vec<String> = map
            .keys()
            .filter(|k| !props.contains_key(*k) && !keep.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            map.remove(&k);
            removed.push(child_path(path, &k));
        }
    }
    for (k, v) in map.iter_mut() {
        if let Some(sub) = props.get(k) {
            prune_at(sub, v, &child_path(path, k), removed);
        }
    }
}

/// The first value whose JSON type a built-in kind's Go type cannot take (a quoted number for
/// `replicas`, an object where a list belongs), as Go's decoder reports it:
/// `json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`.
pub fn type_mismatch(schema: &Value, obj: &Value) -> Option<String> {
    let resolved = schemas().resolve(schema);
    let owner = definition_short_name(schema).unwrap_or_default();
    let props = resolved.get("properties")?.as_object()?;
    for (k, v) in obj.as_object()? {
        if let Some(sub) = props.get(k) {
            if let Some(m) = mismatch_at(sub, v, k, &owner) {
                return Some(m);
            }
        }
    }
    None
}

/// `DeploymentSpec` for a reference to `io.k8s.api.apps.v1.DeploymentSpec`.
fn definition_short_name(schema: &Value) -> Option<String> {
    let reference = schema
        .get("$ref")
        .or_else(|| schema.get("allOf")?.get(0)?.get("$ref"))?
        .as_str()?;
    Some(reference.rsplit('.').next()?.to_owned())
}

fn mismatch_at(schema: &Value, value: &Value, path: &str, owner: &str) -> Option<String> {
    let resolved = schemas().resolve(schema);
    let owner_here = definition_short_name(schema).unwrap_or_else(|| owner.to_owned());
    if value.is_null() || ext_true(resolved, "x-kubernetes-int-or-string") {
        return None;
    }
    let go_type = match (
        resolved.get("type").and_then(Value::as_str),
        resolved.get("format").and_then(Value::as_str),
    ) {
        (Some("integer"), Some(f)) => f.to_owned(),
        (Some("integer"), None) => "int64".to_owned(),
        (Some("number"), _) => "float64".to_owned(),
        (Some("boolean"), _) => "bool".to_owned(),
        (Some("array"), _) => {
            "[]".to_owned()
                + &resolved
                    .get("items")
                    .and_then(definition_short_name)
                    .unwrap_or_else(|| "string".into())
        }
        (Some("object"), _) if resolved.get("properties").is_some() => owner_here.clone(),
        // Strings (quantities take numbers too) and untyped values are not checked.
        _ => return None,
    };
    let ok = match go_type.as_str() {
        "bool" => value.is_boolean(),
        "float64" => value.is_number(),
        t if t.starts_with("int") => value.as_i64().is_some() || value.as_u64().is_some(),
        t if t.starts_with("[]") => value.is_array(),
        _ => value.is_object(),
    };
    if !ok {
        return Some(format!(
            "json: cannot unmarshal {} into Go struct field {owner}.{path} of type {go_type}",
            rkube_api::gojson::type_name(value)
        ));
    }
    match value {
        Value::Object(map) => {
            let props = resolved.get("properties").and_then(Value::as_object)?;
            for (k, v) in map {
                if let Some(sub) = props.get(k) {
                    if let Some(m) = mismatch_at(sub, v, &child_path(path, k), &owner_here) {
                        return Some(m);
                    }
                }
            }
            None
        }
        Value::Array(items) => {
            let item_schema = resolved.get("items")?;
            let item_owner = definition_short_name(item_schema).unwrap_or(owner_here);
            items
                .iter()
                .find_map(|v| mismatch_at(item_schema, v, path, &item_owner))
        }
        _ => None,
    }
}

/// Fills in the `default` of every absent property whose parent object exists.
pub fn apply_defaults(schema: &Value, value: &mut Value) {
    let schema = schemas().resolve(schema);
    match value {
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, sub) in props {
                    if !map.contains_key(k) {
                        if let Some(d) = schemas().resolve(sub).get("default") {
                            map.insert(k.clone(), d.clone());
                        }
                    }
                }
                for (k, v) in map.iter_mut() {
                    if let Some(sub) = props.get(k) {
                        apply_defaults(sub, v);
                    }
                }
            } else if let Some(items) = schema.get("additionalProperties").filter(|a| a.is_object())
            {
                for v in map.values_mut() {
                    apply_defaults(items, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for v in items.iter_mut() {
                    apply_defaults(item_schema, v);
                }
            }
        }
        _ => {}
    }
}

/// Go's rendering of a bad value in messages: strings quoted, the rest as JSON.
fn render(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Validates a custom resource's value rules (type, required, enum, bounds, lengths, pattern,
/// item counts) below the root; `metadata` is validated elsewhere.
pub fn validate(schema: &Value, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let schema = schemas().resolve(schema);
    if let (Some(map), Some(props)) = (
        obj.as_object(),
        schema.get("properties").and_then(Value::as_object),
    ) {
        for (k, v) in map {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            if let Some(sub) = props.get(k) {
                validate_at(sub, v, k, &mut causes);
            }
        }
        required(schema, map, "", &mut causes);
    }
    causes
}

fn required(schema: &Value, map: &Map<String, Value>, path: &str, causes: &mut Vec<Cause>) {
    for r in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = r.as_str() {
            if !map.contains_key(name) {
                causes.push((
                    "FieldValueRequired".into(),
                    child_path(path, name),
                    "Required value".into(),
                ));
            }
        }
    }
}

fn validate_at(schema: &Value, value: &Value, path: &str, causes: &mut Vec<Cause>) {
    let schema = schemas().resolve(schema);
    let invalid = |causes: &mut Vec<Cause>, msg: String| {
        causes.push((
            "FieldValueInvalid".into(),
            path.to_owned(),
            format!("Invalid value: {}: {msg}", render(value)),
        ));
    };
    if value.is_null() {
        if !ext_true(schema, "nullable") && schema.get("type").is_some() {
            invalid(
                causes,
                format!(
                    "{path} in body must be of type {}: \"null\"",
                    schema["type"].as_str().unwrap_or("object")
                ),
            );
        }
        return;
    }
    let int_or_string = ext_true(schema, "x-kubernetes-int-or-string");
    if let Some(want) = schema.get("type").and_then(Value::as_str) {
        let have = type_of(value);
        let ok = int_or_string && matches!(have, "integer" | "string")
            || have == want
            || (want == "number" && have == "integer");
        if !ok {
            invalid(
                causes,
                format!("{path} in body must be of type {want}: \"{have}\""),
            );
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            let list: Vec<String> = allowed.iter().map(render).collect();
            causes.push((
                "FieldValueNotSupported".into(),
                path.to_owned(),
                format!(
                    "Unsupported value: {}: supported values: {}",
                    render(value),
                    list.join(", ")
                ),
            ));
        }
    }
    match value {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or_default();
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
                let exclusive = ext_true(schema, "exclusiveMinimum");
                if x < min || (exclusive && x == min) {
                    let rel = if exclusive {
                        "greater than"
                    } else {
                        "greater than or equal to"
                    };
                    invalid(
                        causes,
                        format!("{path} in body should be {rel} {}", schema["minimum"]),
                    );
                }
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
                let exclusive = ext_true(schema, "exclusiveMaximum");
                if x > max || (exclusive && x == max) {
                    let rel = if exclusive {
                        "less than"
                    } else {
                        "less than or equal to"
                    };
                    invalid(
                        causes,
                        format!("{path} in body should be {rel} {}", schema["maximum"]),
                    );
                }
            }
        }
        Value::String(s) => {
            let len = s.chars().count() as u64;
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                if len > max {
                    causes.push((
                        "FieldValueTooLong".into(),
                        path.to_owned(),
                        format!("Too long: may not be more than {max} bytes"),
                    ));
                }
            }
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
                if len < min {
                    invalid(
                        causes,
                        format!("{path} in body should be at least {min} chars long"),
                    );
                }
            }
            if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
                match regex::Regex::new(p) {
                    Ok(re) if !re.is_match(s) => {
                        invalid(causes, format!("{path} in body should match '{p}'"))
                    }
                    _ => {}
                }
            }
        }
        Value::Array(items) => {
            let n = items.len() as u64;
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
                if n > max {
                    causes.push((
                        "FieldValueTooMany".into(),
                        path.to_owned(),
                        format!("Too many: {n}: must have at most {max} items"),
                    ));
                }
            }
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                if n < min {
                    invalid(
                        causes,
                        format!("{path} in body should have at least {min} items"),
                    );
                }
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    validate_at(item_schema, v, &format!("{path}[{i}]"), causes);
                }
            }
        }
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, v) in map {
                    if let Some(sub) = props.get(k) {
                        validate_at(sub, v, &child_path(path, k), causes);
                    }
                }
            } else if let Some(items) = schema.get("additionalProperties").filter(|a| a.is_object())
            {
                for (k, v) in map {
                    validate_at(items, v, &child_path(path, k), causes);
                }
            }
            required(schema, map, path, causes);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "minLength": 1},
                        "replicas": {"type": "integer", "minimum": 0, "default": 1},
                        "mode": {"type": "string", "enum": ["fast", "slow"]},
                        "port": {"x-kubernetes-int-or-string": true},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    },
                },
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
            },
        })
    }

    #[test]
    fn custom_resources_are_pruned_defaulted_and_validated() {
        let schema = crd_schema();
        let mut obj = json!({
            "apiVersion": "example.com/v1", "kind": "Web",
            "metadata": {"name": "a", "bogus": 1},
            "spec": {"image": "x", "junk": true, "port": "http", "extra": {"any": {"thing": 1}}},
            "other": 1,
        });
        let removed = prune(&schema, &mut obj);
        assert_eq!(removed, vec!["metadata.bogus", "other", "spec.junk"]);
        apply_defaults(&schema, &mut obj);
        assert_eq!(obj["spec"]["replicas"], 1);
        assert_eq!(obj["spec"]["extra"]["any"]["thing"], 1);
        assert!(validate(&schema, &obj).is_empty());

        let bad = json!({"spec": {"replicas": -1, "mode": "x", "image": 3}});
        let messages: Vec<String> = validate(&schema, &bad)
            .into_iter()
            .map(|(_, f, m)| format!("{f}: {m}"))
            .collect();
        assert_eq!(messages, vec![
            "spec.image: Invalid value: 3: spec.image in body must be of type string: \"integer\"",
            "spec.mode: Unsupported value: \"x\": supported values: \"fast\", \"slow\"",
            "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
        ]);
        let missing: Vec<String> = validate(&schema, &json!({"spec": {}}))
            .into_iter()
            .map(|(_, f, m)| format!("{f}: {m}"))
            .collect();
        assert_eq!(missing, vec!["spec.image: Required value"]);
    }

    fn deployment_schema() -> &'static Value {
        let name = schemas()
            .definition_for_kind("apps", "v1", "Deployment")
            .unwrap();
        schemas().definition(name).unwrap()
    }

    #[test]
    fn built_in_type_mismatches_read_as_go_reports_them() {
        let def = deployment_schema();
        let quoted = json!({"spec": {"replicas": "3"}});
        assert_eq!(
            type_mismatch(def, &quoted).unwrap(),
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
        );
        let fine = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": 1}}}]}}}});
        assert_eq!(type_mismatch(def, &fine), None);
    }

    #[test]
    fn built_in_unknown_fields() {
        let def = deployment_schema();
        let mut d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"},
            "spec": {"replicas": 1, "foo": 1, "template": {"spec": {"containers": [{"name": "a", "image": "b", "bar": 2}]}}},
        });
        let removed = prune(def, &mut d);
        assert_eq!(
            removed,
            vec!["spec.foo", "spec.template.spec.containers[0].bar"]
        );
    }
}
