use serde_json::{json, Value};

use crate::patch::{apply_strategic_merge_patch, PatchError};
use crate::schema::Schemas;

const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";
const POD: &str = "io.k8s.api.core.v1.Pod";
const SERVICE: &str = "io.k8s.api.core.v1.Service";

fn smp(doc: Value, patch: Value, definition: &str) -> Result<Value, PatchError> {
    apply_strategic_merge_patch(&doc, &patch, Schemas::builtin(), definition)
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.25",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        },
                        {"name": "sidecar", "image": "busybox:1.36", "args": ["sleep", "3600"]},
                    ],
                    "tolerations": [{"key": "a", "operator": "Exists"}],
                }
            }
        }
    })
}

#[test]
fn kubectl_apply_patch_changes_one_image_and_deletes_an_env_var() {
    // The patch `kubectl apply` computes when the manifest changes web's image and drops env B.
    let patch = json!({
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
            "containers": [{
                "$setElementOrder/env": [{"name": "A"}],
                "env": [{"$patch": "delete", "name": "B"}],
                "image": "nginx:1.27",
                "name": "web",
            }],
        }}}
    });
    let got = smp(deployment(), patch, DEPLOYMENT).unwrap();
    let mut want = deployment();
    want["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
    want["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "A", "value": "1"}]);
    assert_eq!(got, want);
}

#[test]
fn merge_list_updates_by_key_and_keeps_others() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "image": "busybox:1.37"}
    ]}}}});
    let got = smp(deployment(), patch, DEPLOYMENT).unwrap();
    let containers = &got["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["name"], "web");
    assert_eq!(containers[0]["image"], "nginx:1.25");
    assert_eq!(
        containers[1],
        json!({"name": "sidecar", "image": "busybox:1.37", "args": ["sleep", "3600"]})
    );
}

#[test]
fn new_merge_list_items_go_before_server_only_items_without_an_order() {
    let doc = json!({"spec": {"containers": [{"name": "a"}]}});
    let patch = json!({"spec": {"containers": [{"name": "b", "image": "x"}]}});
    let got = smp(doc.clone(), patch, POD).unwrap();
    assert_eq!(
        got["spec"]["containers"],
        json!([{"name": "b", "image": "x"}, {"name": "a"}])
    );
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
        "containers": [{"name": "b", "image": "x"}],
    }});
    let got = smp(doc, patch, POD).unwrap();
    assert_eq!(
        got["spec"]["containers"],
        json!([{"name": "a"}, {"name": "b", "image": "x"}])
    );
}

#[test]
fn set_element_order_reorders_without_content_changes() {
    let doc = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}});
    let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}});
    let got = smp(doc, patch, POD).unwrap();
    assert_eq!(
        got["spec"]["containers"],
        json!([{"name": "c"}, {"name": "a"}, {"name": "b"}])
    );
}

#[test]
fn set_element_order_must_agree_with_the_patch_list() {
    let doc = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
        "containers": [{"name": "b"}, {"name": "a"}],
    }});
    let err = smp(doc, patch, POD).unwrap_err();
    assert_eq!(
        err.to_string(),
        "The order in patch list:\n[map[name:b] map[name:a]]\n doesn't match $setElementOrder list:\n[map[name:a] map[name:b]]\n"
    );
}

#[test]
fn finalizers_merge_as_a_union() {
    let doc = json!({"metadata": {"name": "p", "finalizers": ["a", "b"]}});
    let got = smp(
        doc.clone(),
        json!({"metadata": {"finalizers": ["c", "a"]}}),
        POD,
    )
    .unwrap();
    assert_eq!(got["metadata"]["finalizers"], json!(["c", "a", "b"]));
    let got = smp(doc.clone(), json!({"metadata": {"finalizers": ["b"]}}), POD).unwrap();
    assert_eq!(got["metadata"]["finalizers"], json!(["a", "b"]));
    let got = smp(
        doc.clone(),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        POD,
    )
    .unwrap();
    assert_eq!(got["metadata"]["finalizers"], json!(["b"]));
    let got = smp(
        doc,
        json!({"metadata": {
            "$setElementOrder/finalizers": ["b", "c"],
            "$deleteFromPrimitiveList/finalizers": ["a"],
            "finalizers": ["c"],
        }}),
        POD,
    )
    .unwrap();
    assert_eq!(got["metadata"]["finalizers"], json!(["b", "c"]));
}

#[test]
fn service_port_changes_by_port_number() {
    let doc = json!({"spec": {"ports": [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
    ], "selector": {"app": "web", "tier": "front"}}});
    let patch =
        json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}], "selector": {"tier": null}}});
    let got = smp(doc, patch, SERVICE).unwrap();
    assert_eq!(
        got,
        json!({"spec": {"ports": [
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 9090},
            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
        ], "selector": {"app": "web"}}})
    );
}

#[test]
fn lists_without_merge_strategy_are_replaced() {
    let patch = json!({"spec": {"template": {"spec": {
        "tolerations": [{"key": "b", "operator": "Exists"}],
        "containers": [{"name": "sidecar", "args": ["sleep", "1"]}],
    }}}});
    let got = smp(deployment(), patch, DEPLOYMENT).unwrap();
    let spec = &got["spec"]["template"]["spec"];
    assert_eq!(
        spec["tolerations"],
        json!([{"key": "b", "operator": "Exists"}])
    );
    assert_eq!(spec["containers"][1]["args"], json!(["sleep", "1"]));
}

#[test]
fn null_deletes_and_scalars_replace() {
    let patch = json!({"metadata": {"labels": null}, "spec": {"replicas": 5}});
    let got = smp(deployment(), patch, DEPLOYMENT).unwrap();
    assert!(got["metadata"].get("labels").is_none());
    assert_eq!(got["spec"]["replicas"], 5);
}

#[test]
fn patch_directives_on_objects() {
    let doc = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
    let got = smp(
        doc.clone(),
        json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
        POD,
    )
    .unwrap();
    assert_eq!(got["metadata"]["labels"], json!({"c": "3"}));
    let got = smp(
        doc.clone(),
        json!({"metadata": {"labels": {"$patch": "delete"}}}),
        POD,
    )
    .unwrap();
    assert_eq!(got["metadata"]["labels"], json!({}));
    let err = smp(
        doc.clone(),
        json!({"metadata": {"labels": {"$patch": "merge", "c": "3"}}}),
        POD,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown patch type: merge in map: map[$patch:merge c:3]"
    );
    let err = smp(
        doc,
        json!({"metadata": {"labels": {"$patch": "frob"}}}),
        POD,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown patch type: frob in map: map[$patch:frob]"
    );
    assert_eq!(err.status_code(), 422);
}

#[test]
fn patch_directives_in_lists() {
    let doc = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
    let got = smp(
        doc.clone(),
        json!({"spec": {"containers": [{"name": "z"}, {"$patch": "replace"}]}}),
        POD,
    )
    .unwrap();
    assert_eq!(got["spec"]["containers"], json!([{"name": "z"}]));
    let got = smp(
        doc.clone(),
        json!({"spec": {"containers": [{"$patch": "delete", "name": "a"}]}}),
        POD,
    )
    .unwrap();
    assert_eq!(got["spec"]["containers"], json!([{"name": "b"}]));
    let err = smp(
        doc.clone(),
        json!({"spec": {"containers": [{"$patch": "merge", "name": "a"}]}}),
        POD,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "merging lists cannot yet be specified in the patch"
    );
    let err = smp(
        doc,
        json!({"spec": {"containers": [{"$patch": "delete"}]}}),
        POD,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "map: map[$patch:delete] does not contain declared merge key: name"
    );
}

#[test]
fn merge_list_items_need_their_merge_key() {
    let doc = json!({"spec": {"containers": [{"name": "a"}]}});
    let err = smp(doc, json!({"spec": {"containers": [{"image": "x"}]}}), POD).unwrap_err();
    assert_eq!(
        err,
        PatchError::NotApplicable(
            "map: map[image:x] does not contain declared merge key: name".to_owned()
        )
    );
}

#[test]
fn retain_keys_clears_unlisted_keys() {
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
    let got = smp(deployment(), patch, DEPLOYMENT).unwrap();
    assert_eq!(got["spec"]["strategy"], json!({"type": "Recreate"}));

    let doc = json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}});
    let patch = json!({"spec": {"volumes": [
        {"$retainKeys": ["configMap", "name"], "name": "v", "configMap": {"name": "cm"}}
    ]}});
    let got = smp(doc, patch, POD).unwrap();
    assert_eq!(
        got["spec"]["volumes"],
        json!([{"name": "v", "configMap": {"name": "cm"}}])
    );

    let bad = json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}});
    let err = smp(deployment(), bad, DEPLOYMENT).unwrap_err();
    assert_eq!(
        err.to_string(),
        "patch content doesn't match retainKeys list"
    );
    let bad = json!({"spec": {"strategy": {"$retainKeys": "type"}}});
    let err = smp(deployment(), bad, DEPLOYMENT).unwrap_err();
    assert_eq!(
        err,
        PatchError::Invalid("invalid patch format of retainKeys".to_owned())
    );
    assert_eq!(err.status_code(), 400);
}

#[test]
fn unknown_definitions_fall_back_to_merge_patch() {
    let doc = json!({"spec": {"items": [{"name": "a", "v": 1}], "keep": true}});
    let patch = json!({"spec": {"items": [{"name": "a", "v": 2}]}});
    let got = smp(doc, patch, "com.example.v1.Widget").unwrap();
    assert_eq!(
        got,
        json!({"spec": {"items": [{"name": "a", "v": 2}], "keep": true}})
    );
}

#[test]
fn new_values_have_directives_applied_and_nulls_dropped() {
    let doc = json!({"metadata": {"name": "p"}});
    let patch = json!({"spec": {"containers": [
        {"name": "a", "image": "x", "resources": null},
        {"$patch": "delete", "name": "b"},
    ]}});
    let got = smp(doc, patch, POD).unwrap();
    assert_eq!(
        got["spec"]["containers"],
        json!([{"name": "a", "image": "x"}])
    );
}

#[test]
fn nested_merge_lists_inside_merge_lists() {
    let doc = json!({"spec": {"containers": [{"name": "a", "ports": [
        {"containerPort": 80, "protocol": "TCP"}, {"containerPort": 81, "protocol": "TCP"}
    ], "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}});
    let patch = json!({"spec": {"containers": [{"name": "a",
        "ports": [{"containerPort": 81, "name": "metrics"}],
        "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
    }]}});
    let got = smp(doc, patch, POD).unwrap();
    let c = &got["spec"]["containers"][0];
    assert_eq!(
        c["ports"],
        json!([
            {"containerPort": 80, "protocol": "TCP"},
            {"containerPort": 81, "protocol": "TCP", "name": "metrics"},
        ])
    );
    assert_eq!(
        c["volumeMounts"],
        json!([
            {"name": "cache", "mountPath": "/cache"},
            {"name": "data", "mountPath": "/data"},
        ])
    );
}

#[test]
fn malformed_patches_are_rejected() {
    let err = smp(json!({}), json!([1]), POD).unwrap_err();
    assert_eq!(err.status_code(), 400);
    let doc = json!({"metadata": {"finalizers": ["a"]}});
    let err = smp(
        doc.clone(),
        json!({"metadata": {"finalizers": [["x"]]}}),
        POD,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "lists of lists are not supported");
    let err = smp(doc.clone(), json!({"metadata": {"finalizers": [1]}}), POD).unwrap_err();
    assert_eq!(
        err.to_string(),
        "list element types are not identical: [[a] [1]]"
    );
    let err = smp(
        doc,
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
        POD,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PatchError::Invalid("invalid patch format of primitive list".to_owned())
    );
}

#[test]
fn replace_strategy_replaces_the_object() {
    let doc = json!({"spec": {"selector": {"matchLabels": {"a": "1"}, "matchExpressions": []}}});
    let patch = json!({"spec": {"selector": {"matchLabels": {"b": "2"}}}});
    let got = smp(doc, patch, "io.k8s.api.policy.v1.PodDisruptionBudget").unwrap();
    assert_eq!(got["spec"]["selector"], json!({"matchLabels": {"b": "2"}}));
}

#[test]
fn the_input_is_not_modified() {
    let doc = deployment();
    let patch = json!({"spec": {"replicas": 9}});
    smp(doc.clone(), patch.clone(), DEPLOYMENT).unwrap();
    let before = deployment();
    apply_strategic_merge_patch(&doc, &patch, Schemas::builtin(), DEPLOYMENT).unwrap();
    assert_eq!(doc, before);
}

/// The patch kubectl 1.32's client-side `apply` sent (captured verbatim) when a manifest changed
/// web's image and dropped env B, computed from this crate's OpenAPI v3 document.
#[test]
fn kubectl_1_32_apply_patch_verbatim() {
    let doc = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "1",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "old"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [
                {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "image": "nginx:1.25", "name": "web"},
                {"image": "busybox:1.36", "name": "sidecar"},
            ]}}},
    });
    let patch: Value = serde_json::from_str(
        r#"{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"new"}},"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"},{"name":"sidecar"}],"containers":[{"$setElementOrder/env":[{"name":"A"}],"env":[{"$patch":"delete","name":"B"}],"image":"nginx:1.27","name":"web"}]}}}}"#,
    )
    .unwrap();
    let got = smp(doc.clone(), patch, DEPLOYMENT).unwrap();
    let mut want = doc;
    want["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
        json!("new");
    want["spec"]["template"]["spec"]["containers"][0] =
        json!({"env": [{"name": "A", "value": "1"}], "image": "nginx:1.27", "name": "web"});
    assert_eq!(got, want);
}
