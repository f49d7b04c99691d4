//! Tests of the built-in schemas and their lookups.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use serde_json::json;

use super::*;
use crate::registry::RESOURCES;

fn schemas() -> &'static Schemas {
    Schemas::builtin()
}

#[test]
fn every_served_kind_and_its_list_has_a_definition() {
    for r in RESOURCES {
        let name = schemas()
            .definition_for_kind(r.group, r.version, r.kind)
            .unwrap_or_else(|| panic!("no definition for {}/{} {}", r.group, r.version, r.kind));
        assert!(schemas().definition(name).is_some(), "{name}");
        let list_kind = format!("{}List", r.kind);
        let list = schemas()
            .definition_for_kind(r.group, r.version, &list_kind)
            .unwrap_or_else(|| panic!("no list for {}", r.kind));
        assert_eq!(list, format!("{name}List"));
    }
}

#[test]
fn definition_names_follow_kubernetes() {
    let s = schemas();
    assert_eq!(
        s.definition_for_kind("apps", "v1", "Deployment"),
        Some("io.k8s.api.apps.v1.Deployment")
    );
    assert_eq!(
        s.definition_for_kind("", "v1", "Pod"),
        Some("io.k8s.api.core.v1.Pod")
    );
    assert_eq!(
        s.definition_for_kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        Some("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition")
    );
    assert_eq!(
        s.definition_for_kind("autoscaling", "v1", "Scale"),
        Some("io.k8s.api.autoscaling.v1.Scale")
    );
    assert_eq!(
        s.definition_for_kind("policy", "v1", "Eviction"),
        Some("io.k8s.api.policy.v1.Eviction")
    );
    assert_eq!(
        s.definition_for_kind("authentication.k8s.io", "v1", "TokenRequest"),
        Some("io.k8s.api.authentication.v1.TokenRequest")
    );
    assert_eq!(
        s.definition_for_kind("", "v1", "Binding"),
        Some("io.k8s.api.core.v1.Binding")
    );
    for meta in [
        "ObjectMeta",
        "Status",
        "DeleteOptions",
        "WatchEvent",
        "ListMeta",
        "APIResourceList",
        "APIGroupList",
        "Patch",
    ] {
        let name = format!("io.k8s.apimachinery.pkg.apis.meta.v1.{meta}");
        assert!(s.definition(&name).is_some(), "{name}");
    }
}

#[test]
fn top_level_kinds_carry_their_gvk() {
    let deployment = schemas()
        .definition("io.k8s.api.apps.v1.Deployment")
        .unwrap();
    assert_eq!(
        deployment["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    let list = schemas().definition("io.k8s.api.core.v1.PodList").unwrap();
    assert_eq!(
        list["x-kubernetes-group-version-kind"],
        json!([{"group": "", "kind": "PodList", "version": "v1"}])
    );
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/definitions/io.k8s.api.core.v1.Pod"
    );
    let delete_options = schemas()
        .definition("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")
        .unwrap();
    let gvks = delete_options["x-kubernetes-group-version-kind"]
        .as_array()
        .unwrap();
    assert!(gvks.contains(&json!({"group": "apps", "kind": "DeleteOptions", "version": "v1"})));
    assert!(gvks.contains(&json!({"group": "", "kind": "DeleteOptions", "version": "v1"})));
}

#[test]
fn upstream_descriptions_are_kept() {
    let deployment = schemas()
        .definition("io.k8s.api.apps.v1.Deployment")
        .unwrap();
    assert_eq!(
        deployment["description"],
        "Deployment enables declarative updates for Pods and ReplicaSets."
    );
    let replicas = schemas()
        .field("io.k8s.api.apps.v1.DeploymentSpec", "replicas")
        .unwrap();
    assert_eq!(replicas["type"], "integer");
    assert_eq!(replicas["format"], "int32");
}

#[test]
fn every_rule_names_an_existing_field() {
    for rule in rules::FIELD_RULES {
        assert!(
            schemas().field(rule.definition, rule.field).is_some(),
            "{}.{} does not exist",
            rule.definition,
            rule.field
        );
    }
    for name in rules::ATOMIC_DEFINITIONS {
        let schema = schemas()
            .definition(name)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(schema["x-kubernetes-map-type"], "atomic");
    }
}

#[test]
fn merge_lists_carry_strategy_and_key() {
    let s = schemas();
    let check = |definition: &str, field: &str, key: Option<&str>| {
        let p = s.field(definition, field).unwrap();
        let meta = PatchMeta::of(p);
        assert_eq!(
            meta.strategy.map(|s| s.merges()),
            Some(true),
            "{definition}.{field}"
        );
        assert_eq!(meta.merge_key, key, "{definition}.{field}");
    };
    check("io.k8s.api.core.v1.PodSpec", "containers", Some("name"));
    check("io.k8s.api.core.v1.PodSpec", "initContainers", Some("name"));
    check(
        "io.k8s.api.core.v1.PodSpec",
        "ephemeralContainers",
        Some("name"),
    );
    check("io.k8s.api.core.v1.PodSpec", "volumes", Some("name"));
    check(
        "io.k8s.api.core.v1.PodSpec",
        "imagePullSecrets",
        Some("name"),
    );
    check("io.k8s.api.core.v1.PodSpec", "hostAliases", Some("ip"));
    check(
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        Some("topologyKey"),
    );
    check(
        "io.k8s.api.core.v1.Container",
        "ports",
        Some("containerPort"),
    );
    check("io.k8s.api.core.v1.Container", "env", Some("name"));
    check(
        "io.k8s.api.core.v1.Container",
        "volumeMounts",
        Some("mountPath"),
    );
    check("io.k8s.api.core.v1.ServiceSpec", "ports", Some("port"));
    check(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        Some("uid"),
    );
    check(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "finalizers",
        None,
    );
    check(
        "io.k8s.api.apps.v1.DeploymentStatus",
        "conditions",
        Some("type"),
    );
    let volumes = s.field("io.k8s.api.core.v1.PodSpec", "volumes").unwrap();
    assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
    assert_eq!(volumes["x-kubernetes-list-type"], "map");
    assert_eq!(volumes["x-kubernetes-list-map-keys"], json!(["name"]));
    let ports = s.field("io.k8s.api.core.v1.ServiceSpec", "ports").unwrap();
    assert_eq!(
        ports["x-kubernetes-list-map-keys"],
        json!(["port", "protocol"])
    );
    let tolerations = s
        .field("io.k8s.api.core.v1.PodSpec", "tolerations")
        .unwrap();
    assert_eq!(PatchMeta::of(tolerations), PatchMeta::default());
    assert_eq!(tolerations["x-kubernetes-list-type"], "atomic");
    let strategy = s
        .field("io.k8s.api.apps.v1.DeploymentSpec", "strategy")
        .unwrap();
    assert_eq!(
        PatchMeta::of(strategy).strategy,
        Some(PatchStrategy::RetainKeys)
    );
}

#[test]
fn walk_follows_references_and_list_elements() {
    let image = schemas()
        .walk(
            "io.k8s.api.apps.v1.Deployment",
            &["spec", "template", "spec", "containers", "image"],
        )
        .unwrap();
    assert_eq!(image["type"], "string");
    let env = schemas()
        .walk(
            "io.k8s.api.apps.v1.Deployment",
            &["spec", "template", "spec", "containers", "env"],
        )
        .unwrap();
    assert_eq!(env["x-kubernetes-patch-merge-key"], "name");
    assert!(schemas()
        .walk("io.k8s.api.apps.v1.Deployment", &["spec", "nonsense"])
        .is_none());
    assert!(schemas().walk("io.k8s.api.apps.v1.Nope", &[]).is_none());
}

#[test]
fn resolve_accepts_v3_references_and_all_of() {
    let s = schemas();
    let v3 = json!({"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}]});
    assert_eq!(
        s.resolve(&v3)["description"],
        "PodSpec is a description of a pod."
    );
    let unknown = json!({"$ref": "#/definitions/io.k8s.nothing"});
    assert_eq!(s.resolve(&unknown), &unknown);
}

#[test]
fn int_or_string_and_quantity_are_typed_strings() {
    let ios = schemas()
        .definition("io.k8s.apimachinery.pkg.util.intstr.IntOrString")
        .unwrap();
    assert_eq!(ios["type"], "string");
    assert_eq!(ios["format"], "int-or-string");
    let quantity = schemas()
        .definition("io.k8s.apimachinery.pkg.api.resource.Quantity")
        .unwrap();
    assert_eq!(quantity["type"], "string");
}

#[test]
fn reachable_follows_references_transitively() {
    let reachable = schemas().reachable(["io.k8s.api.apps.v1.Deployment"]);
    assert!(reachable.contains("io.k8s.api.apps.v1.Deployment"));
    assert!(reachable.contains("io.k8s.api.core.v1.Container"));
    assert!(reachable.contains("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
    assert!(!reachable.contains("io.k8s.api.core.v1.Service"));
}

#[test]
fn every_reference_resolves() {
    let s = schemas();
    for (name, schema) in s.definitions() {
        collect_refs(schema, &mut |r| {
            assert!(s.definition(r).is_some(), "{name} refers to missing {r}");
        });
    }
}

#[test]
fn patch_strategy_parses_combinations() {
    assert_eq!(PatchStrategy::parse("merge"), Some(PatchStrategy::Merge));
    assert_eq!(
        PatchStrategy::parse("merge,retainKeys"),
        Some(PatchStrategy::MergeRetainKeys)
    );
    assert_eq!(
        PatchStrategy::parse("retainKeys"),
        Some(PatchStrategy::RetainKeys)
    );
    assert_eq!(
        PatchStrategy::parse("replace"),
        Some(PatchStrategy::Replace)
    );
    assert_eq!(PatchStrategy::parse(""), None);
}

#[test]
fn discovery_documents_are_core_v1_kinds() {
    let s = schemas();
    assert_eq!(
        s.definition_for_kind("", "v1", "APIResourceList"),
        Some("io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList")
    );
    let status = s
        .definition("io.k8s.apimachinery.pkg.apis.meta.v1.Status")
        .unwrap();
    assert_eq!(
        status["x-kubernetes-group-version-kind"],
        json!([{"group": "", "kind": "Status", "version": "v1"}])
    );
}

#[test]
fn arbitrary_json_types_are_untyped() {
    let json_type = schemas()
        .definition("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON")
        .unwrap();
    assert!(json_type.get("type").is_none());
    let conditions = schemas()
        .field(
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
            "conditions",
        )
        .unwrap();
    assert_eq!(PatchMeta::of(conditions), PatchMeta::default());
    assert_eq!(conditions["x-kubernetes-list-map-keys"], json!(["type"]));
}
