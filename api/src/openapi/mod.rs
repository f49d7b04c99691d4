//! The OpenAPI documents the API server serves at `/openapi/v2` and `/openapi/v3`.
//!
//! Input is the list of served endpoints as [`ServedResource`]s (built-in ones from
//! [`ServedResource::builtin`], custom resources with their CRD's inline `openAPIV3Schema`).
//! Output is JSON as kube-apiserver serves it, with what kubectl reads from it:
//!
//! - every operation carries `operationId`, `x-kubernetes-action` and
//!   `x-kubernetes-group-version-kind`, and lists its query parameters inline. kubectl checks
//!   that the first PATCH operation with the target's GVK lists `fieldValidation` (and
//!   `dryRun`) before sending them, so every PATCH operation, subresources included, lists them;
//! - every top-level kind's schema carries `x-kubernetes-group-version-kind`, which
//!   `kubectl explain` matches after finding the GVK on the resource's path;
//! - `GET /openapi/v3` is an index of one document per group version, each addressed with a
//!   content hash ([`content_hash`]) so clients may cache it.
//!
//! [`openapi_v2`] renders a Swagger 2.0 document with every definition; [`openapi_v3_index`]
//! and [`openapi_v3_group_version`] render the v3 index and the per-group-version OpenAPI 3.0
//! documents, whose `components.schemas` hold only what that group version reaches.

mod params;
mod paths;
mod render;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::registry::{self, Subresource, Verb};
use crate::schema::{collect_refs, Gvk, Schemas, DEFINITIONS_PREFIX};

pub use render::{openapi_v2, openapi_v3_group_version, openapi_v3_index, OpenApiV3};

/// The Kubernetes version the documents describe.
pub const KUBERNETES_VERSION: &str = "v1.33.0";

/// Where a resource's schema comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceSchema {
    /// A built-in definition of [`Schemas::builtin`], by name.
    Definition(String),
    /// A custom resource's `openAPIV3Schema`, inline.
    Inline(Value),
}

/// What a subresource's operations take and return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubresourceBody {
    /// The parent's own kind (`status`, `finalize`).
    Parent,
    /// Another built-in kind (`scale` takes an `autoscaling/v1` `Scale`).
    Kind(Gvk),
    /// Plain text (`log`).
    Text,
    /// A streaming connection (`exec`, `attach`, `portforward`).
    Connect,
}

/// One served subresource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedSubresource {
    /// The path segment, e.g. `status`.
    pub name: String,
    /// The verbs served.
    pub verbs: Vec<Verb>,
    /// What the operations take and return.
    pub body: SubresourceBody,
}

impl ServedSubresource {
    /// The built-in subresource as kube-apiserver serves it.
    pub fn from_registry(subresource: Subresource) -> ServedSubresource {
        let body = match subresource {
            Subresource::Status | Subresource::Finalize => SubresourceBody::Parent,
            Subresource::Scale => SubresourceBody::Kind(Gvk::new("autoscaling", "v1", "Scale")),
            Subresource::Binding => SubresourceBody::Kind(Gvk::new("", "v1", "Binding")),
            Subresource::Eviction => SubresourceBody::Kind(Gvk::new("policy", "v1", "Eviction")),
            Subresource::Token => {
                SubresourceBody::Kind(Gvk::new("authentication.k8s.io", "v1", "TokenRequest"))
            }
            Subresource::Log => SubresourceBody::Text,
            Subresource::Exec | Subresource::Attach | Subresource::PortForward => {
                SubresourceBody::Connect
            }
        };
        ServedSubresource {
            name: subresource.as_str().to_owned(),
            verbs: subresource.verbs().to_vec(),
            body,
        }
    }
}

/// One served resource in one group version.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedResource {
    /// The API group; `""` for the core group.
    pub group: String,
    /// The version, e.g. `v1`.
    pub version: String,
    /// The kind, e.g. `Deployment`.
    pub kind: String,
    /// The plural resource name used in paths.
    pub plural: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// The verbs served on the resource itself.
    pub verbs: Vec<Verb>,
    /// The subresources served.
    pub subresources: Vec<ServedSubresource>,
    /// The schema of the kind.
    pub schema: ResourceSchema,
}

impl ServedResource {
    /// A built-in resource of the registry. Its definition is looked up in
    /// [`Schemas::builtin`]; a kind without one is given an empty inline schema.
    pub fn from_registry(resource: &registry::Resource) -> ServedResource {
        let schema = match Schemas::builtin().definition_for_kind(
            resource.group,
            resource.version,
            resource.kind,
        ) {
            Some(name) => ResourceSchema::Definition(name.to_owned()),
            None => ResourceSchema::Inline(json!({"type": "object"})),
        };
        ServedResource {
            group: resource.group.to_owned(),
            version: resource.version.to_owned(),
            kind: resource.kind.to_owned(),
            plural: resource.plural.to_owned(),
            namespaced: resource.is_namespaced(),
            verbs: resource.verbs.to_vec(),
            subresources: resource
                .subresources
                .iter()
                .map(|s| ServedSubresource::from_registry(*s))
                .collect(),
            schema,
        }
    }

    /// Every built-in resource of [`registry::RESOURCES`].
    pub fn builtin() -> Vec<ServedResource> {
        registry::RESOURCES
            .iter()
            .map(ServedResource::from_registry)
            .collect()
    }

    /// The kind's group, version and kind.
    pub fn gvk(&self) -> Gvk {
        Gvk::new(&self.group, &self.version, &self.kind)
    }

    /// The definition name of the kind: the built-in one, or for an inline schema the
    /// reversed group followed by version and kind (`com.example.stable.v1.CronTab`), as
    /// Kubernetes names custom resources' definitions.
    pub fn definition_name(&self) -> String {
        match &self.schema {
            ResourceSchema::Definition(name) => name.clone(),
            ResourceSchema::Inline(_) => {
                let mut parts: Vec<&str> =
                    self.group.split('.').filter(|p| !p.is_empty()).collect();
                parts.reverse();
                parts.push(&self.version);
                parts.push(&self.kind);
                parts.join(".")
            }
        }
    }

    /// The key of the resource's group version in the v3 index: `api/v1`, `apis/apps/v1`.
    pub fn group_version_key(&self) -> String {
        group_version_key(&self.group, &self.version)
    }
}

/// The key of a group version in the v3 index and under `/openapi/v3/`: `api/v1` for the core
/// group, `apis/<group>/<version>` otherwise.
pub fn group_version_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// A stable content hash for the `hash` query of v3 document URLs: 32 uppercase hex digits
/// (two 64-bit FNV-1a hashes with different offsets).
pub fn content_hash(bytes: &[u8]) -> String {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for &byte in bytes {
        a = (a ^ u64::from(byte)).wrapping_mul(PRIME);
        b = (b ^ u64::from(byte.rotate_left(3))).wrapping_mul(PRIME);
    }
    format!("{a:016X}{b:016X}")
}

/// Every definition the documents of `resources` may refer to: the built-in ones plus each
/// custom resource's schema and list schema.
fn all_definitions(resources: &[ServedResource]) -> BTreeMap<String, Value> {
    let mut definitions = Schemas::builtin().definitions().clone();
    for resource in resources {
        if let ResourceSchema::Inline(schema) = &resource.schema {
            let name = resource.definition_name();
            definitions.insert(name.clone(), custom_schema(schema, &resource.gvk()));
            let list_gvk = Gvk::new(
                &resource.group,
                &resource.version,
                &format!("{}List", resource.kind),
            );
            definitions.insert(format!("{name}List"), custom_list_schema(&name, &list_gvk));
        }
    }
    definitions
}

/// A custom resource's schema as Kubernetes publishes it: `apiVersion`, `kind` and `metadata`
/// filled in, and the GVK attached.
fn custom_schema(schema: &Value, gvk: &Gvk) -> Value {
    let mut schema = match schema {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    schema
        .entry("type")
        .or_insert_with(|| Value::from("object"));
    let properties = schema.entry("properties").or_insert_with(|| json!({}));
    if let Value::Object(properties) = properties {
        properties.insert(
            "apiVersion".to_owned(),
            json!({"description": "APIVersion defines the versioned schema of this representation of an object.", "type": "string"}),
        );
        properties.insert(
            "kind".to_owned(),
            json!({"description": "Kind is a string value representing the REST resource this object represents.", "type": "string"}),
        );
        properties.insert(
            "metadata".to_owned(),
            json!({"$ref": format!("{DEFINITIONS_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), "description": "Standard object's metadata."}),
        );
    }
    schema.insert(
        "x-kubernetes-group-version-kind".to_owned(),
        json!([gvk.to_json()]),
    );
    Value::Object(schema)
}

fn custom_list_schema(item: &str, gvk: &Gvk) -> Value {
    json!({
        "description": format!("{} is a list of {}", gvk.kind, gvk.kind.trim_end_matches("List")),
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": format!("{DEFINITIONS_PREFIX}{item}")}},
            "kind": {"type": "string"},
            "metadata": {"$ref": format!("{DEFINITIONS_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta")},
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [gvk.to_json()],
    })
}

/// The names reachable from `roots` through references in `definitions`, roots included.
fn reachable(
    definitions: &BTreeMap<String, Value>,
    roots: impl IntoIterator<Item = String>,
) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut stack: Vec<String> = roots.into_iter().collect();
    while let Some(name) = stack.pop() {
        if !definitions.contains_key(&name) || !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = definitions.get(&name) {
            collect_refs(schema, &mut |r| stack.push(r.to_owned()));
        }
    }
    seen.into_iter().collect()
}

#[cfg(test)]
mod tests;
