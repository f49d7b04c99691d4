//! Builds the built-in definitions from k8s-openapi's schemas and annotates them.

use std::collections::BTreeMap;

use k8s_openapi::api::{
    apps, authentication, autoscaling, batch, coordination, core, discovery, events, networking,
    policy, rbac, scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta;
use k8s_openapi::schemars::generate::SchemaSettings;
use k8s_openapi::schemars::{JsonSchema, SchemaGenerator};
use k8s_openapi::{ListableResource, Resource};
use serde_json::{json, Map, Value};

use super::rules::{ATOMIC_DEFINITIONS, FIELD_RULES};
use super::{Gvk, Schemas, DEFINITIONS_PREFIX};

/// The kinds of one generator run: top-level kinds and their list kinds.
struct Collector {
    generator: SchemaGenerator,
    kinds: Vec<(Gvk, String)>,
    lists: Vec<(Gvk, String)>,
}

impl Collector {
    fn new() -> Collector {
        let generator = SchemaSettings::draft07()
            .with(|s| {
                s.transforms.clear();
                s.meta_schema = None;
            })
            .into_generator();
        Collector {
            generator,
            kinds: Vec::new(),
            lists: Vec::new(),
        }
    }

    /// A top-level kind without a list (subresource bodies such as `Scale`).
    fn kind<T: JsonSchema + Resource>(&mut self) {
        self.generator.subschema_for::<T>();
        self.kinds.push((
            Gvk::new(T::GROUP, T::VERSION, T::KIND),
            T::schema_name().into_owned(),
        ));
    }

    /// A top-level kind served as a resource, with its `...List` kind.
    fn listable<T: JsonSchema + ListableResource>(&mut self) {
        self.kind::<T>();
        self.lists.push((
            Gvk::new(T::GROUP, T::VERSION, T::LIST_KIND),
            T::schema_name().into_owned(),
        ));
    }

    /// A discovery document, registered as a core `v1` kind as Kubernetes registers it.
    fn discovery<T: JsonSchema>(&mut self, kind: &str) {
        self.generator.subschema_for::<T>();
        self.kinds
            .push((Gvk::new("", "v1", kind), T::schema_name().into_owned()));
    }

    fn helper<T: JsonSchema>(&mut self) {
        self.generator.subschema_for::<T>();
    }
}

/// Generates, annotates and indexes every built-in definition.
pub(super) fn build() -> Schemas {
    let mut c = Collector::new();
    c.listable::<core::v1::Namespace>();
    c.listable::<core::v1::Pod>();
    c.listable::<core::v1::Service>();
    c.listable::<core::v1::Endpoints>();
    c.listable::<core::v1::Node>();
    c.listable::<core::v1::ConfigMap>();
    c.listable::<core::v1::Secret>();
    c.listable::<core::v1::ServiceAccount>();
    c.listable::<core::v1::Event>();
    c.listable::<core::v1::PersistentVolume>();
    c.listable::<core::v1::PersistentVolumeClaim>();
    c.listable::<core::v1::LimitRange>();
    c.listable::<core::v1::ResourceQuota>();
    c.kind::<core::v1::Binding>();
    c.listable::<apps::v1::Deployment>();
    c.listable::<apps::v1::ReplicaSet>();
    c.listable::<apps::v1::StatefulSet>();
    c.listable::<apps::v1::DaemonSet>();
    c.listable::<apps::v1::ControllerRevision>();
    c.listable::<batch::v1::Job>();
    c.listable::<batch::v1::CronJob>();
    c.listable::<autoscaling::v2::HorizontalPodAutoscaler>();
    c.listable::<autoscaling::v1::HorizontalPodAutoscaler>();
    c.kind::<autoscaling::v1::Scale>();
    c.listable::<networking::v1::Ingress>();
    c.listable::<networking::v1::IngressClass>();
    c.listable::<networking::v1::NetworkPolicy>();
    c.listable::<discovery::v1::EndpointSlice>();
    c.listable::<coordination::v1::Lease>();
    c.listable::<events::v1::Event>();
    c.listable::<storage::v1::StorageClass>();
    c.listable::<rbac::v1::Role>();
    c.listable::<rbac::v1::RoleBinding>();
    c.listable::<rbac::v1::ClusterRole>();
    c.listable::<rbac::v1::ClusterRoleBinding>();
    c.listable::<apiextensions::v1::CustomResourceDefinition>();
    c.listable::<scheduling::v1::PriorityClass>();
    c.listable::<policy::v1::PodDisruptionBudget>();
    c.kind::<policy::v1::Eviction>();
    c.kind::<authentication::v1::TokenRequest>();
    c.kind::<meta::v1::Status>();
    c.helper::<meta::v1::DeleteOptions>();
    c.helper::<meta::v1::WatchEvent<core::v1::Pod>>();
    c.discovery::<meta::v1::APIResourceList>("APIResourceList");
    c.discovery::<meta::v1::APIGroupList>("APIGroupList");
    c.discovery::<meta::v1::APIGroup>("APIGroup");
    c.discovery::<meta::v1::APIVersions>("APIVersions");
    c.helper::<meta::v1::ListMeta>();
    c.helper::<meta::v1::Patch>();

    let mut definitions: BTreeMap<String, Value> =
        c.generator.take_definitions(false).into_iter().collect();
    let mut kinds: BTreeMap<Gvk, String> = BTreeMap::new();
    for (gvk, name) in c.kinds {
        add_gvk(&mut definitions, &name, &gvk);
        kinds.insert(gvk, name);
    }
    for (gvk, item) in c.lists {
        let name = format!("{item}List");
        definitions.insert(name.clone(), list_schema(&item, &gvk));
        kinds.insert(gvk, name);
    }
    add_meta_gvks(&mut definitions, &kinds);
    normalize_scalars(&mut definitions);
    make_arbitrary(&mut definitions);
    apply_rules(&mut definitions);
    Schemas { definitions, kinds }
}

fn add_gvk(definitions: &mut BTreeMap<String, Value>, name: &str, gvk: &Gvk) {
    let Some(Value::Object(schema)) = definitions.get_mut(name) else {
        return;
    };
    let entry = schema
        .entry("x-kubernetes-group-version-kind")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = entry {
        list.push(gvk.to_json());
    }
}

/// `DeleteOptions` and `WatchEvent` are registered in every group version, as Kubernetes does.
fn add_meta_gvks(definitions: &mut BTreeMap<String, Value>, kinds: &BTreeMap<Gvk, String>) {
    let mut group_versions: Vec<(String, String)> = kinds
        .keys()
        .map(|g| (g.group.clone(), g.version.clone()))
        .collect();
    group_versions.push(("meta.k8s.io".to_owned(), "v1".to_owned()));
    group_versions.sort();
    group_versions.dedup();
    for kind in ["DeleteOptions", "WatchEvent"] {
        let name = format!("io.k8s.apimachinery.pkg.apis.meta.v1.{kind}");
        for (group, version) in &group_versions {
            add_gvk(definitions, &name, &Gvk::new(group, version, kind));
        }
    }
}

fn list_schema(item: &str, gvk: &Gvk) -> Value {
    let item_kind = gvk.kind.trim_end_matches("List");
    json!({
        "description": format!("{} is a list of {item_kind} objects.", gvk.kind),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object.",
                "type": "string",
            },
            "items": {
                "description": format!("The {item_kind} objects."),
                "type": "array",
                "items": { "$ref": format!("{DEFINITIONS_PREFIX}{item}") },
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents.",
                "type": "string",
            },
            "metadata": {
                "$ref": format!("{DEFINITIONS_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"),
                "description": "Standard list metadata.",
            },
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [gvk.to_json()],
    })
}

/// Gives `IntOrString` and `Quantity` the `type`/`format` Kubernetes' own documents carry, so
/// OpenAPI v2 readers (which require a type) treat them as strings that also accept numbers.
fn normalize_scalars(definitions: &mut BTreeMap<String, Value>) {
    for (name, format) in [
        (
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
            Some("int-or-string"),
        ),
        ("io.k8s.apimachinery.pkg.api.resource.Quantity", None),
    ] {
        if let Some(Value::Object(schema)) = definitions.get_mut(name) {
            schema.insert("type".to_owned(), Value::from("string"));
            if let Some(format) = format {
                schema.insert("format".to_owned(), Value::from(format));
            }
        }
    }
}

/// The apiextensions types that hold any JSON value are published without a type, as
/// Kubernetes does: schemars' `oneOf` is not Swagger 2.0, and `JSON` is not only objects.
fn make_arbitrary(definitions: &mut BTreeMap<String, Value>) {
    for kind in [
        "JSON",
        "JSONSchemaPropsOrArray",
        "JSONSchemaPropsOrBool",
        "JSONSchemaPropsOrStringArray",
    ] {
        let name = format!("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.{kind}");
        if let Some(Value::Object(schema)) = definitions.get_mut(&name) {
            schema.retain(|key, _| key == "description");
        }
    }
}

/// Writes the [`FIELD_RULES`] and [`ATOMIC_DEFINITIONS`] into the schemas as extensions.
fn apply_rules(definitions: &mut BTreeMap<String, Value>) {
    for rule in FIELD_RULES {
        let Some(property) = definitions
            .get_mut(rule.definition)
            .and_then(|d| d.get_mut("properties"))
            .and_then(|p| p.get_mut(rule.field))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        insert_rule(property, rule);
    }
    for name in ATOMIC_DEFINITIONS {
        if let Some(Value::Object(schema)) = definitions.get_mut(*name) {
            schema.insert("x-kubernetes-map-type".to_owned(), Value::from("atomic"));
        }
    }
}

fn insert_rule(property: &mut Map<String, Value>, rule: &super::FieldRule) {
    if let Some(strategy) = rule.strategy {
        property.insert(
            "x-kubernetes-patch-strategy".to_owned(),
            Value::from(strategy.as_str()),
        );
    }
    if let Some(key) = rule.merge_key {
        property.insert("x-kubernetes-patch-merge-key".to_owned(), Value::from(key));
    }
    if let Some(list_type) = rule.list_type {
        property.insert(
            "x-kubernetes-list-type".to_owned(),
            Value::from(list_type.as_str()),
        );
        if let super::ListType::Map(keys) = list_type {
            property.insert("x-kubernetes-list-map-keys".to_owned(), json!(keys));
        }
    }
    if let Some(map_type) = rule.map_type {
        property.insert(
            "x-kubernetes-map-type".to_owned(),
            Value::from(map_type.as_str()),
        );
    }
}
