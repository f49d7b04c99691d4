//! The OpenAPI schemas of the built-in kinds, annotated with Kubernetes' patch and list markers.
//!
//! [`Schemas::builtin`] holds one map from OpenAPI definition name
//! (`io.k8s.api.apps.v1.Deployment`) to JSON schema, generated once from k8s-openapi's
//! Kubernetes 1.33 types (with their upstream field descriptions) and then annotated from the
//! hand-written [`rules`] table: `x-kubernetes-group-version-kind` on top-level kinds,
//! `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` for strategic merge patch and
//! `x-kubernetes-list-type` / `x-kubernetes-list-map-keys` / `x-kubernetes-map-type` for
//! server-side apply. `...List` kinds are synthesized, since k8s-openapi models lists generically.
//!
//! Schemas are stored in the OpenAPI v2 shape: references read `#/definitions/<name>` and may
//! carry sibling keys (a `description`). [`crate::openapi`] rewrites them for OpenAPI v3.

mod builtin;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::{json, Value};

pub use rules::{FieldRule, ListType, MapType, PatchStrategy};

/// How references to definitions start in the stored (OpenAPI v2) schemas.
pub const DEFINITIONS_PREFIX: &str = "#/definitions/";
/// How references to definitions start in OpenAPI v3 documents.
pub const COMPONENTS_PREFIX: &str = "#/components/schemas/";

/// A group, version and kind, as `x-kubernetes-group-version-kind` spells them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gvk {
    /// The API group; `""` for the core group.
    pub group: String,
    /// The version, e.g. `v1`.
    pub version: String,
    /// The kind, e.g. `Deployment`.
    pub kind: String,
}

impl Gvk {
    /// A GVK from its parts.
    pub fn new(group: &str, version: &str, kind: &str) -> Gvk {
        Gvk {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// The extension's JSON form: `{"group": ..., "kind": ..., "version": ...}`.
    pub fn to_json(&self) -> Value {
        json!({ "group": self.group, "kind": self.kind, "version": self.version })
    }
}

/// A field's strategic-merge-patch markers, read from its schema's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PatchMeta<'a> {
    /// `x-kubernetes-patch-strategy`.
    pub strategy: Option<PatchStrategy>,
    /// `x-kubernetes-patch-merge-key`.
    pub merge_key: Option<&'a str>,
}

impl<'a> PatchMeta<'a> {
    /// Reads the markers of a property schema (the schema as it appears under `properties`,
    /// before any `$ref` is followed, since the markers sit beside the reference).
    pub fn of(property: &'a Value) -> PatchMeta<'a> {
        PatchMeta {
            strategy: property
                .get("x-kubernetes-patch-strategy")
                .and_then(Value::as_str)
                .and_then(PatchStrategy::parse),
            merge_key: property
                .get("x-kubernetes-patch-merge-key")
                .and_then(Value::as_str),
        }
    }
}

/// A set of named definitions and the kinds they describe.
#[derive(Debug, Clone, Default)]
pub struct Schemas {
    definitions: BTreeMap<String, Value>,
    kinds: BTreeMap<Gvk, String>,
}

impl Schemas {
    /// The built-in definitions, generated on first use.
    pub fn builtin() -> &'static Schemas {
        static BUILTIN: OnceLock<Schemas> = OnceLock::new();
        BUILTIN.get_or_init(builtin::build)
    }

    /// Every definition by name.
    pub fn definitions(&self) -> &BTreeMap<String, Value> {
        &self.definitions
    }

    /// One definition by name (`io.k8s.api.core.v1.Pod`).
    pub fn definition(&self, name: &str) -> Option<&Value> {
        self.definitions.get(name)
    }

    /// Every top-level kind (including `...List` kinds) and its definition name.
    pub fn kinds(&self) -> impl Iterator<Item = (&Gvk, &str)> {
        self.kinds.iter().map(|(gvk, name)| (gvk, name.as_str()))
    }

    /// The definition name of a kind, e.g. `("apps", "v1", "Deployment")` ->
    /// `io.k8s.api.apps.v1.Deployment`.
    pub fn definition_for_kind(&self, group: &str, version: &str, kind: &str) -> Option<&str> {
        self.kinds
            .get(&Gvk::new(group, version, kind))
            .map(String::as_str)
    }

    /// Follows `$ref`s (v2 or v3 form, also wrapped in a one-element `allOf`) to the schema they
    /// name. A reference to an unknown definition resolves to itself.
    pub fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        // Bounded: a cycle of plain references would otherwise never end.
        for _ in 0..16 {
            match self.referenced(schema) {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    fn referenced<'a>(&'a self, schema: &'a Value) -> Option<&'a Value> {
        let reference = match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => r,
            None => match schema.get("allOf").and_then(Value::as_array) {
                Some(all) if all.len() == 1 => all[0].get("$ref").and_then(Value::as_str)?,
                _ => return None,
            },
        };
        let name = definition_name(reference)?;
        self.definitions.get(name)
    }

    /// The schema of `field` under `schema` (resolving `schema`'s reference first), as written
    /// under `properties`: the markers sit on it, its type may still be a `$ref`.
    pub fn property<'a>(&'a self, schema: &'a Value, field: &str) -> Option<&'a Value> {
        self.resolve(schema).get("properties")?.get(field)
    }

    /// The property `field` of the definition `definition`.
    pub fn field(&self, definition: &str, field: &str) -> Option<&Value> {
        self.property(self.definitions.get(definition)?, field)
    }

    /// The schema of a list's elements (`items`), or of a map's values
    /// (`additionalProperties`), resolved.
    pub fn element<'a>(&'a self, schema: &'a Value) -> Option<&'a Value> {
        let schema = self.resolve(schema);
        let element = schema
            .get("items")
            .or_else(|| schema.get("additionalProperties").filter(|v| v.is_object()))?;
        Some(self.resolve(element))
    }

    /// Walks a path of field names from a definition, stepping into list elements and map
    /// values where a field is a list or map: `["spec", "template", "spec", "containers",
    /// "image"]` from `io.k8s.api.apps.v1.Deployment`.
    pub fn walk(&self, definition: &str, path: &[&str]) -> Option<&Value> {
        let mut schema = self.definitions.get(definition)?;
        for field in path {
            let resolved = self.resolve(schema);
            schema = match self.property(resolved, field) {
                Some(p) => p,
                None => self.property(self.element(resolved)?, field)?,
            };
        }
        Some(schema)
    }

    /// The names of every definition reachable from `roots` through references, roots included.
    pub fn reachable<'a>(&self, roots: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<String> = roots.into_iter().map(str::to_owned).collect();
        while let Some(name) = stack.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(schema) = self.definitions.get(&name) {
                collect_refs(schema, &mut |r| {
                    if !seen.contains(r) {
                        stack.push(r.to_owned());
                    }
                });
            }
        }
        seen.retain(|n| self.definitions.contains_key(n));
        seen
    }
}

/// The definition name a `$ref` names, in either the v2 or the v3 form.
pub fn definition_name(reference: &str) -> Option<&str> {
    reference
        .strip_prefix(DEFINITIONS_PREFIX)
        .or_else(|| reference.strip_prefix(COMPONENTS_PREFIX))
}

/// Calls `found` with the definition name of every `$ref` inside `schema`.
pub fn collect_refs(schema: &Value, found: &mut impl FnMut(&str)) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref" {
                    if let Some(name) = value.as_str().and_then(definition_name) {
                        found(name);
                    }
                } else {
                    collect_refs(value, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
