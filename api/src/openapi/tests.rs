//! Tests of the served documents, including the lookups kubectl performs on them.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::*;
use crate::schema::{collect_refs, definition_name};

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

fn crontab() -> ServedResource {
    ServedResource {
        group: "stable.example.com".to_owned(),
        version: "v1".to_owned(),
        kind: "CronTab".to_owned(),
        plural: "crontabs".to_owned(),
        namespaced: true,
        verbs: registry::STANDARD_VERBS.to_vec(),
        subresources: vec![ServedSubresource::from_registry(Subresource::Status)],
        schema: ResourceSchema::Inline(json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {
                "cronSpec": {"type": "string", "description": "When to run."},
                "replicas": {"type": "integer"},
                "image": {"type": "string", "nullable": true},
                "size": {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": true},
            }}},
        })),
    }
}

fn resources() -> &'static [ServedResource] {
    static RESOURCES: OnceLock<Vec<ServedResource>> = OnceLock::new();
    RESOURCES.get_or_init(|| {
        let mut all = ServedResource::builtin();
        all.push(crontab());
        all
    })
}

fn v2() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| openapi_v2(resources()))
}

fn v3(key: &str) -> Value {
    openapi_v3_group_version(resources(), key).unwrap()
}

fn gvk_matches(op: &Value, gvk: &Gvk) -> bool {
    op.get("x-kubernetes-group-version-kind") == Some(&gvk.to_json())
}

/// What kubectl's v3 query-parameter check does: in the group version's document, the first
/// PATCH operation carrying the GVK decides. Go iterates maps in random order, so every PATCH
/// operation with the GVK must list the parameter for the check to pass reliably.
fn v3_patch_supports(doc: &Value, gvk: &Gvk, param: &str) -> Option<bool> {
    let mut seen = None;
    for item in doc["paths"].as_object().unwrap().values() {
        let Some(op) = item.get("patch") else {
            continue;
        };
        if !gvk_matches(op, gvk) {
            continue;
        }
        let listed = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == param && p["in"] == "query");
        if !listed {
            return Some(false);
        }
        seen = Some(true);
    }
    seen
}

#[test]
fn v2_document_shape() {
    let doc = v2();
    assert_eq!(doc["swagger"], "2.0");
    assert_eq!(doc["info"]["title"], "Kubernetes");
    assert_eq!(doc["info"]["version"], KUBERNETES_VERSION);
    let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(patch["operationId"], "patchAppsV1NamespacedDeployment");
    assert_eq!(patch["x-kubernetes-action"], "patch");
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group": "apps", "kind": "Deployment", "version": "v1"})
    );
    assert_eq!(
        patch["consumes"],
        json!([
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/apply-patch+yaml"
        ])
    );
    let names: Vec<&str> = patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["body", "dryRun", "fieldManager", "fieldValidation", "force"]
    );
    assert_eq!(
        patch["parameters"][2],
        json!({
            "description": "The name of the actor making these changes, recorded in managedFields.",
            "in": "query",
            "name": "fieldManager",
            "type": "string",
            "uniqueItems": true,
        })
    );
    assert_eq!(
        patch["responses"]["200"]["schema"]["$ref"],
        "#/definitions/io.k8s.api.apps.v1.Deployment"
    );
    let list = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["get"];
    assert_eq!(list["operationId"], "listAppsV1NamespacedDeployment");
    assert_eq!(list["x-kubernetes-action"], "list");
    assert_eq!(
        list["responses"]["200"]["schema"]["$ref"],
        "#/definitions/io.k8s.api.apps.v1.DeploymentList"
    );
    let list_params: BTreeSet<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in [
        "labelSelector",
        "fieldSelector",
        "limit",
        "continue",
        "resourceVersion",
        "resourceVersionMatch",
        "watch",
        "allowWatchBookmarks",
        "timeoutSeconds",
    ] {
        assert!(list_params.contains(p), "{p}");
    }
    let delete = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["delete"];
    let delete_params: BTreeSet<&str> = delete["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in ["body", "dryRun", "gracePeriodSeconds", "propagationPolicy"] {
        assert!(delete_params.contains(p), "{p}");
    }
    let path_params = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["parameters"];
    assert_eq!(path_params[0]["name"], "name");
    assert_eq!(path_params[0]["in"], "path");
    assert_eq!(path_params[0]["required"], true);
    assert_eq!(path_params[2]["name"], "pretty");
}

#[test]
fn v2_operation_ids_are_unique_and_well_known_ones_exist() {
    let mut ids = BTreeSet::new();
    for (path, item) in v2()["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(*method) {
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_owned()), "duplicate {id} at {path}");
            }
        }
    }
    for id in [
        "listCoreV1NamespacedPod",
        "listCoreV1PodForAllNamespaces",
        "readCoreV1NamespacedPodStatus",
        "patchCoreV1NamespacedPodStatus",
        "createCoreV1NamespacedPodBinding",
        "createCoreV1NamespacedPodEviction",
        "readCoreV1NamespacedPodLog",
        "connectCoreV1PostNamespacedPodExec",
        "connectCoreV1GetNamespacedPodPortforward",
        "replaceCoreV1NamespaceFinalize",
        "createCoreV1NamespacedServiceAccountToken",
        "readAppsV1NamespacedDeploymentScale",
        "deleteAppsV1CollectionNamespacedDeployment",
        "watchAppsV1NamespacedDeploymentList",
        "watchAppsV1DeploymentListForAllNamespaces",
        "listRbacAuthorizationV1ClusterRole",
        "patchApiextensionsV1CustomResourceDefinitionStatus",
        "listStableExampleComV1NamespacedCronTab",
    ] {
        assert!(ids.contains(id), "{id}");
    }
}

#[test]
fn subresources_carry_their_own_kind() {
    let paths = &v2()["paths"];
    let scale = &paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(
        scale["patch"]["x-kubernetes-group-version-kind"],
        json!({"group": "autoscaling", "kind": "Scale", "version": "v1"})
    );
    assert_eq!(
        scale["get"]["responses"]["200"]["schema"]["$ref"],
        "#/definitions/io.k8s.api.autoscaling.v1.Scale"
    );
    let binding = &paths["/api/v1/namespaces/{namespace}/pods/{name}/binding"]["post"];
    assert_eq!(
        binding["parameters"][0]["schema"]["$ref"],
        "#/definitions/io.k8s.api.core.v1.Binding"
    );
    let log = &paths["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"];
    assert_eq!(log["produces"][0], "text/plain");
    assert_eq!(log["responses"]["200"]["schema"], json!({"type": "string"}));
    let exec = &paths["/api/v1/namespaces/{namespace}/pods/{name}/exec"]["post"];
    assert_eq!(exec["x-kubernetes-action"], "connect");
    assert_eq!(
        exec["x-kubernetes-group-version-kind"],
        json!({"group": "", "kind": "PodExecOptions", "version": "v1"})
    );
}

/// kubectl's v2 check (used when v3 is unavailable) reads inline query parameters of every
/// PATCH operation carrying the GVK.
#[test]
fn every_patch_operation_supports_field_validation_and_dry_run_in_v2() {
    let mut checked = 0;
    for item in v2()["paths"].as_object().unwrap().values() {
        let Some(op) = item.get("patch") else {
            continue;
        };
        for param in ["fieldValidation", "dryRun", "fieldManager"] {
            assert!(
                op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == param && p["in"] == "query"),
                "{} lacks {param}",
                op["operationId"]
            );
        }
        checked += 1;
    }
    assert!(checked > 40, "{checked}");
}

#[test]
fn v3_index_lists_every_group_version_with_its_hash() {
    let index = openapi_v3_index(resources());
    let paths = index["paths"].as_object().unwrap();
    for key in [
        "api/v1",
        "apis/apps/v1",
        "apis/batch/v1",
        "apis/autoscaling/v1",
        "apis/autoscaling/v2",
        "apis/rbac.authorization.k8s.io/v1",
        "apis/apiextensions.k8s.io/v1",
        "apis/stable.example.com/v1",
    ] {
        let url = paths[key]["serverRelativeURL"].as_str().unwrap();
        let hash = content_hash(v3(key).to_string().as_bytes());
        assert_eq!(url, format!("/openapi/v3/{key}?hash={hash}"));
    }
    assert!(!paths.contains_key("apis/authentication.k8s.io/v1"));
    assert!(openapi_v3_group_version(resources(), "apis/nope/v1").is_none());
}

/// kubectl's `QueryParamVerifierV3`: `kubectl apply --validate=strict` sends
/// `fieldValidation=Strict` only if the patch operation of the kind lists it; for custom
/// resources it checks Namespace's in `api/v1`.
#[test]
fn kubectl_query_param_check_succeeds_for_every_served_kind() {
    for r in resources() {
        let doc = v3(&r.group_version_key());
        for param in ["fieldValidation", "dryRun"] {
            assert_eq!(
                v3_patch_supports(&doc, &r.gvk(), param),
                Some(true),
                "{} {param}",
                r.kind
            );
        }
    }
    let core = v3("api/v1");
    assert_eq!(
        v3_patch_supports(&core, &Gvk::new("", "v1", "Namespace"), "fieldValidation"),
        Some(true)
    );
}

/// `kubectl explain`: the GVK comes from an operation on the resource's path, then the schema
/// whose `x-kubernetes-group-version-kind` contains it is rendered, following the field path.
fn explain(key: &str, group: &str, version: &str, plural: &str, fields: &[&str]) -> Value {
    let doc = v3(key);
    let prefix = if group.is_empty() {
        "/api".to_owned()
    } else {
        format!("/apis/{group}")
    };
    let candidates = [
        format!("{prefix}/{version}/{plural}"),
        format!("{prefix}/{version}/{plural}/{{name}}"),
        format!("{prefix}/{version}/namespaces/{{namespace}}/{plural}"),
        format!("{prefix}/{version}/namespaces/{{namespace}}/{plural}/{{name}}"),
    ];
    let gvk = candidates
        .iter()
        .filter_map(|p| doc["paths"].get(p))
        .flat_map(|item| ["get", "post", "put", "patch", "delete"].map(|m| item.get(m)))
        .flatten()
        .find_map(|op| op.get("x-kubernetes-group-version-kind").cloned())
        .unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut schema = schemas
        .values()
        .find(|s| {
            s["x-kubernetes-group-version-kind"]
                .as_array()
                .is_some_and(|l| l.contains(&gvk))
        })
        .unwrap()
        .clone();
    let resolve = |s: &Value| -> Value {
        let r = s
            .get("$ref")
            .or_else(|| s.get("allOf").and_then(|a| a[0].get("$ref")))
            .and_then(Value::as_str);
        match r {
            Some(r) => schemas[r.strip_prefix("#/components/schemas/").unwrap()].clone(),
            None => s.clone(),
        }
    };
    for field in fields {
        let mut resolved = resolve(&schema);
        if let Some(items) = resolved.get("items") {
            resolved = resolve(items);
        }
        schema = resolved["properties"][field].clone();
        assert!(!schema.is_null(), "no field {field}");
    }
    schema
}

#[test]
fn kubectl_explain_finds_kinds_and_fields() {
    let containers = explain(
        "apis/apps/v1",
        "apps",
        "v1",
        "deployments",
        &["spec", "template", "spec", "containers"],
    );
    assert_eq!(containers["type"], "array");
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    let image = explain(
        "apis/apps/v1",
        "apps",
        "v1",
        "deployments",
        &["spec", "template", "spec", "containers", "image"],
    );
    assert!(image["description"]
        .as_str()
        .unwrap()
        .contains("Container image name"));
    let metadata = explain("api/v1", "", "v1", "pods", &["metadata"]);
    assert_eq!(
        metadata["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert!(metadata["description"]
        .as_str()
        .unwrap()
        .starts_with("Standard object's metadata"));
    let nodes = explain("api/v1", "", "v1", "nodes", &["spec", "podCIDRs"]);
    assert_eq!(nodes["x-kubernetes-patch-strategy"], "merge");
    let cron = explain(
        "apis/stable.example.com/v1",
        "stable.example.com",
        "v1",
        "crontabs",
        &["spec", "cronSpec"],
    );
    assert_eq!(cron["description"], "When to run.");
}

#[test]
fn v3_documents_hold_only_reachable_schemas_and_every_reference_resolves() {
    for key in [
        "api/v1",
        "apis/apps/v1",
        "apis/stable.example.com/v1",
        "apis/apiextensions.k8s.io/v1",
    ] {
        let doc = v3(key);
        assert_eq!(doc["openapi"], "3.0.0");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut check = |r: &str| assert!(schemas.contains_key(r), "{key}: dangling {r}");
        collect_refs(&doc, &mut check);
        let text = doc.to_string();
        assert!(!text.contains("#/definitions/"), "{key} has a v2 reference");
    }
    let apps = v3("apis/apps/v1");
    let schemas = apps["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("io.k8s.api.apps.v1.Deployment"));
    assert!(schemas.contains_key("io.k8s.api.core.v1.Container"));
    assert!(schemas.contains_key("io.k8s.api.autoscaling.v1.Scale"));
    assert!(!schemas.contains_key("io.k8s.api.core.v1.Service"));
    let patch = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(
        patch["requestBody"]["content"]["application/strategic-merge-patch+json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
    );
    assert_eq!(
        patch["parameters"][2],
        json!({
            "description": "How the server treats unknown or duplicate fields in the request body: Ignore (drop them), Warn (drop them and warn, the default) or Strict (reject the request).",
            "in": "query",
            "name": "fieldValidation",
            "schema": {"type": "string", "uniqueItems": true},
        })
    );
    assert_eq!(
        patch["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.Deployment"
    );
}

#[test]
fn v2_references_resolve() {
    let definitions = v2()["definitions"].as_object().unwrap();
    collect_refs(v2(), &mut |r| {
        assert!(definitions.contains_key(r), "dangling {r}")
    });
}

#[test]
fn custom_resources_get_a_kubernetes_style_definition() {
    let r = crontab();
    assert_eq!(r.definition_name(), "com.example.stable.v1.CronTab");
    let def = &v2()["definitions"]["com.example.stable.v1.CronTab"];
    assert_eq!(
        def["x-kubernetes-group-version-kind"],
        json!([{"group": "stable.example.com", "kind": "CronTab", "version": "v1"}])
    );
    assert_eq!(
        def["properties"]["metadata"]["$ref"],
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    let list = &v2()["definitions"]["com.example.stable.v1.CronTabList"];
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/definitions/com.example.stable.v1.CronTab"
    );
    let doc = v3("apis/stable.example.com/v1");
    assert!(doc["components"]["schemas"]
        .as_object()
        .unwrap()
        .contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
}

#[test]
fn v3_schemas_wrap_references_with_siblings_in_all_of() {
    let converted = render::schema_to_v3(json!({
        "properties": {
            "a": {"$ref": "#/definitions/x.A", "description": "d"},
            "b": {"$ref": "#/definitions/x.B"},
            "$ref": {"type": "string"},
        }
    }));
    assert_eq!(
        converted,
        json!({"properties": {
            "a": {"allOf": [{"$ref": "#/components/schemas/x.A"}], "description": "d"},
            "b": {"$ref": "#/components/schemas/x.B"},
            "$ref": {"type": "string"},
        }})
    );
    assert_eq!(definition_name("#/components/schemas/x.A"), Some("x.A"));
}

#[test]
fn content_hash_is_stable_and_sensitive() {
    assert_eq!(content_hash(b"abc"), content_hash(b"abc"));
    assert_ne!(content_hash(b"abc"), content_hash(b"abd"));
    assert_eq!(content_hash(b"").len(), 32);
    assert!(content_hash(b"x")
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
}

#[test]
fn group_version_keys() {
    assert_eq!(group_version_key("", "v1"), "api/v1");
    assert_eq!(group_version_key("apps", "v1"), "apis/apps/v1");
}

#[test]
fn custom_resource_schemas_drop_what_swagger_2_lacks() {
    let spec = &v2()["definitions"]["com.example.stable.v1.CronTab"]["properties"]["spec"];
    assert_eq!(spec["properties"]["image"], json!({"type": "string"}));
    assert_eq!(
        spec["properties"]["size"],
        json!({"x-kubernetes-int-or-string": true})
    );
    let v3_spec = &v3("apis/stable.example.com/v1")["components"]["schemas"]
        ["com.example.stable.v1.CronTab"]["properties"]["spec"];
    assert_eq!(v3_spec["properties"]["image"]["nullable"], true);
}

#[test]
fn v2_schemas_use_only_swagger_keywords() {
    fn check(schema: &Value, at: &str) {
        let Some(map) = schema.as_object() else {
            return;
        };
        for (key, value) in map {
            assert!(
                key.starts_with("x-") || render::SWAGGER_SCHEMA_KEYS.contains(&key.as_str()),
                "{at}: {key}"
            );
            match key.as_str() {
                "properties" => {
                    for (name, s) in value.as_object().unwrap() {
                        check(s, &format!("{at}.{name}"));
                    }
                }
                "items" | "additionalProperties" => check(value, &format!("{at}[]")),
                "allOf" => value.as_array().unwrap().iter().for_each(|s| check(s, at)),
                _ => {}
            }
        }
    }
    for (name, schema) in v2()["definitions"].as_object().unwrap() {
        check(schema, name);
    }
}

#[test]
fn v3_set_matches_the_single_document_functions() {
    let set = OpenApiV3::build(resources());
    assert_eq!(set.index, openapi_v3_index(resources()));
    let (doc, hash) = &set.documents["apis/apps/v1"];
    assert_eq!(doc, &v3("apis/apps/v1"));
    assert_eq!(hash, &content_hash(doc.to_string().as_bytes()));
}

#[test]
fn custom_resources_do_not_offer_strategic_merge_patch() {
    let patch = &v2()["paths"]
        ["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["patch"];
    assert_eq!(
        patch["consumes"],
        json!([
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml"
        ])
    );
}

#[test]
fn int_or_string_and_quantity_are_alternatives_in_v3() {
    let doc = v3("apis/apps/v1");
    let schemas = &doc["components"]["schemas"];
    let ios = &schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert!(ios.get("type").is_none());
    assert_eq!(ios["format"], "int-or-string");
    assert_eq!(
        ios["oneOf"],
        json!([{"type": "integer"}, {"type": "string"}])
    );
    let quantity = &schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"];
    assert_eq!(
        quantity["oneOf"],
        json!([{"type": "string"}, {"type": "number"}])
    );
    let v2_ios = &v2()["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(v2_ios["type"], "string");
}
