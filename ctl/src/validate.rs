//! Client-side type checks of built-in objects against their OpenAPI schemas, before anything
//! is sent: a quoted number where an integer belongs (`replicas: "3"`) is named with the file
//! and the field, in the words kubectl's schema validation used.

use rkube_api::schema::{definition_name, Schemas};
use serde_json::Value;

/// One type mismatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    /// `Deployment.spec.replicas`.
    pub path: String,
    /// `io.k8s.api.apps.v1.DeploymentSpec.replicas`.
    pub field: String,
    pub got: &'static str,
    pub expected: String,
}

impl std::fmt::Display for TypeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ValidationError({}): invalid type for {}: got \"{}\", expected \"{}\"",
            self.path, self.field, self.got, self.expected
        )
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "map",
    }
}

/// Checks `obj` (of `group`/`version`/`kind`) against the built-in schemas; kinds without a
/// schema (custom resources) pass.
pub fn check(obj: &Value, group: &str, version: &str, kind: &str) -> Vec<TypeError> {
    let schemas = Schemas::builtin();
    let Some(def) = schemas.definition_for_kind(group, version, kind) else {
        return Vec::new();
    };
    let Some(schema) = schemas.definition(def) else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    walk(schemas, obj, schema, def, kind, &mut errors);
    errors
}

fn walk(
    schemas: &Schemas,
    v: &Value,
    schema: &Value,
    def: &str,
    path: &str,
    errors: &mut Vec<TypeError>,
) {
    let (schema, def) = deref(schemas, schema, def);
    if v.is_null() {
        return;
    }
    let format = schema
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if format == "int-or-string"
        || def.ends_with("resource.Quantity")
        || def.ends_with(".RawExtension")
        || def.ends_with(".JSON")
    {
        return;
    }
    let expected = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let got = type_name(v);
    let ok = match expected {
        "integer" => got == "integer",
        "number" => got == "integer" || got == "number",
        "boolean" => got == "boolean",
        "string" => !matches!(got, "map" | "array"),
        "array" => got == "array",
        "object" => got == "map",
        _ => true,
    };
    if !ok {
        let field = path
            .rsplit('.')
            .next()
            .unwrap_or(path)
            .split('[')
            .next()
            .unwrap_or_default();
        errors.push(TypeError {
            path: path.to_owned(),
            field: format!("{def}.{field}"),
            got,
            expected: expected.to_owned(),
        });
        return;
    }
    match v {
        Value::Object(m) => {
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, val) in m {
                if let Some(p) = props.and_then(|p| p.get(k)) {
                    walk(schemas, val, p, def, &format!("{path}.{k}"), errors);
                } else if let Some(extra) =
                    schema.get("additionalProperties").filter(|a| a.is_object())
                {
                    walk(schemas, val, extra, def, &format!("{path}.{k}"), errors);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(
                        schemas,
                        item,
                        item_schema,
                        def,
                        &format!("{path}[{i}]"),
                        errors,
                    );
                }
            }
        }
        _ => {}
    }
}

/// Follows a reference, returning the schema and the definition it belongs to.
fn deref<'a>(schemas: &'a Schemas, schema: &'a Value, def: &'a str) -> (&'a Value, &'a str) {
    let reference = schema.get("$ref").and_then(Value::as_str).or_else(|| {
        schema
            .get("allOf")?
            .as_array()?
            .first()?
            .get("$ref")?
            .as_str()
    });
    match reference.and_then(definition_name) {
        Some(name) => (schemas.resolve(schema), name),
        None => (schema, def),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quoted_numbers_are_named() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "labels": {"a": "b"}},
            "spec": {"replicas": "3", "selector": {"matchLabels": {"a": "b"}}, "template": {"spec": {"containers": [
                {"name": "c", "image": "i", "ports": [{"containerPort": "80"}], "resources": {"limits": {"cpu": 0.5}}}]}}}});
        let errors: Vec<String> = check(&d, "apps", "v1", "Deployment")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "ValidationError(Deployment.spec.replicas): invalid type for io.k8s.api.apps.v1.DeploymentSpec.replicas: got \"string\", expected \"integer\"",
                "ValidationError(Deployment.spec.template.spec.containers[0].ports[0].containerPort): invalid type for io.k8s.api.core.v1.ContainerPort.containerPort: got \"string\", expected \"integer\"",
            ]
        );
        let ok = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80, "targetPort": "http"}]}});
        assert!(check(&ok, "", "v1", "Service").is_empty());
    }
}
