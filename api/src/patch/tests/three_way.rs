//! The patches of client-side `kubectl apply`, in kubectl's scenarios.

use serde_json::{json, Value};

use crate::patch::{apply_strategic_merge_patch, create_three_way_merge_patch, PatchError};
use crate::schema::Schemas;

const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";
const SERVICE: &str = "io.k8s.api.core.v1.Service";
const PDB: &str = "io.k8s.api.policy.v1.PodDisruptionBudget";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The configuration as kubectl sends it: with its own serialization as last-applied annotation.
fn annotated(config: &Value) -> Value {
    let mut modified = config.clone();
    modified["metadata"]["annotations"][LAST_APPLIED] =
        Value::String(serde_json::to_string(config).unwrap());
    modified
}

fn patch_for(original: Option<&Value>, config: &Value, current: &Value, definition: &str) -> Value {
    create_three_way_merge_patch(
        original,
        &annotated(config),
        current,
        Schemas::builtin(),
        definition,
    )
    .unwrap()
}

fn apply(current: &Value, patch: &Value, definition: &str) -> Value {
    apply_strategic_merge_patch(current, patch, Schemas::builtin(), definition).unwrap()
}

/// The patch with the (always changing) last-applied annotation taken out.
fn without_annotation(mut patch: Value) -> Value {
    if let Some(metadata) = patch.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(annotations) = metadata
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
        {
            annotations.remove(LAST_APPLIED);
            if annotations.is_empty() {
                metadata.remove("annotations");
            }
        }
        if metadata.is_empty() {
            patch.as_object_mut().unwrap().remove("metadata");
        }
    }
    patch
}

fn config() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.25",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 80}],
                        },
                        {"name": "sidecar", "image": "busybox:1.36", "args": ["sleep", "3600"]},
                    ]
                }
            }
        }
    })
}

/// The live object after applying `config`: annotated, defaulted, with status.
fn live(config: &Value) -> Value {
    let mut live = annotated(config);
    let metadata = live["metadata"].as_object_mut().unwrap();
    metadata.insert("uid".into(), json!("5b2c1c4e-1111-2222-3333-444455556666"));
    metadata.insert("resourceVersion".into(), json!("1234"));
    metadata.insert("generation".into(), json!(1));
    metadata.insert("creationTimestamp".into(), json!("2026-11-23T10:00:00Z"));
    let spec = live["spec"].as_object_mut().unwrap();
    spec.entry("replicas").or_insert(json!(1));
    spec.insert("revisionHistoryLimit".into(), json!(10));
    spec.insert("progressDeadlineSeconds".into(), json!(600));
    spec.entry("strategy").or_insert(json!({
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
    }));
    let pod = live["spec"]["template"]["spec"].as_object_mut().unwrap();
    pod.insert("restartPolicy".into(), json!("Always"));
    pod.insert("dnsPolicy".into(), json!("ClusterFirst"));
    pod.insert("terminationGracePeriodSeconds".into(), json!(30));
    for container in pod["containers"].as_array_mut().unwrap() {
        let container = container.as_object_mut().unwrap();
        container.insert("imagePullPolicy".into(), json!("IfNotPresent"));
        container.insert(
            "terminationMessagePath".into(),
            json!("/dev/termination-log"),
        );
        container.insert("resources".into(), json!({}));
        if let Some(ports) = container.get_mut("ports").and_then(Value::as_array_mut) {
            for port in ports {
                port["protocol"] = json!("TCP");
            }
        }
    }
    live["status"] = json!({"replicas": 1, "readyReplicas": 1, "observedGeneration": 1});
    live
}

#[test]
fn unchanged_configuration_gives_an_empty_patch() {
    let config = config();
    let patch = patch_for(Some(&config), &config, &live(&config), DEPLOYMENT);
    assert_eq!(patch, json!({}));
}

#[test]
fn replicas_changed_in_the_file() {
    let original = config();
    let mut config = config();
    config["spec"]["replicas"] = json!(3);
    let current = live(&original);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        patch,
        json!({
            "metadata": {"annotations": {LAST_APPLIED: serde_json::to_string(&config).unwrap()}},
            "spec": {"replicas": 3}
        })
    );
    let applied = apply(&current, &patch, DEPLOYMENT);
    assert_eq!(applied["spec"]["replicas"], json!(3));
    assert_eq!(applied["spec"]["strategy"], current["spec"]["strategy"]);
    assert_eq!(applied["status"], current["status"]);
    assert_eq!(
        applied["metadata"]["annotations"][LAST_APPLIED],
        json!(serde_json::to_string(&config).unwrap())
    );
}

#[test]
fn image_changed_in_one_of_two_containers() {
    let original = config();
    let mut config = config();
    config["spec"]["template"]["spec"]["containers"][1]["image"] = json!("busybox:1.37");
    let current = live(&original);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
            "containers": [{"image": "busybox:1.37", "name": "sidecar"}]
        }}}})
    );
    let applied = apply(&current, &patch, DEPLOYMENT);
    let containers = &applied["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        containers[0],
        current["spec"]["template"]["spec"]["containers"][0]
    );
    assert_eq!(containers[1]["name"], json!("sidecar"));
    assert_eq!(containers[1]["image"], json!("busybox:1.37"));
    assert_eq!(containers[1]["imagePullPolicy"], json!("IfNotPresent"));
    assert_eq!(containers.as_array().unwrap().len(), 2);
}

#[test]
fn env_var_removed_becomes_a_delete_directive_with_element_order() {
    let original = config();
    let mut config = config();
    config["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "A", "value": "1"}]);
    let current = live(&original);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
            "containers": [{
                "$setElementOrder/env": [{"name": "A"}],
                "env": [{"$patch": "delete", "name": "B"}],
                "name": "web"
            }]
        }}}})
    );
    let applied = apply(&current, &patch, DEPLOYMENT);
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "A", "value": "1"}])
    );
}

#[test]
fn env_var_removed_in_one_container_and_image_changed_in_the_other() {
    let original = config();
    let mut config = config();
    config["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "A", "value": "1"}]);
    config["spec"]["template"]["spec"]["containers"][1]["image"] = json!("busybox:1.37");
    let current = live(&original);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    // Both containers in the file's order, although one comes from the deletions and the
    // other from the changes.
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
            "containers": [
                {
                    "$setElementOrder/env": [{"name": "A"}],
                    "env": [{"$patch": "delete", "name": "B"}],
                    "name": "web"
                },
                {"image": "busybox:1.37", "name": "sidecar"}
            ]
        }}}})
    );
    let applied = apply(&current, &patch, DEPLOYMENT);
    let containers = &applied["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["env"], json!([{"name": "A", "value": "1"}]));
    assert_eq!(containers[1]["image"], json!("busybox:1.37"));
}

#[test]
fn containers_reordered_and_one_removed() {
    let mut original = config();
    original["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "logger", "image": "fluent-bit:3"}));
    let mut config = original.clone();
    let containers = config["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap();
    containers.remove(0); // web
    containers.reverse(); // logger, sidecar
    containers[0]["image"] = json!("fluent-bit:4");
    let current = live(&original);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "logger"}, {"name": "sidecar"}],
            "containers": [
                {"image": "fluent-bit:4", "name": "logger"},
                {"$patch": "delete", "name": "web"}
            ]
        }}}})
    );
    let applied = apply(&current, &patch, DEPLOYMENT);
    let names: Vec<&str> = applied["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["logger", "sidecar"]);
}

#[test]
fn env_var_added_and_changed_keeps_the_file_order() {
    let original = config();
    let mut config = config();
    config["spec"]["template"]["spec"]["containers"][0]["env"] = json!([
        {"name": "C", "value": "3"},
        {"name": "A", "value": "1"},
        {"name": "B", "value": "two"}
    ]);
    let current = live(&original);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
            "containers": [{
                "$setElementOrder/env": [{"name": "C"}, {"name": "A"}, {"name": "B"}],
                "env": [{"name": "C", "value": "3"}, {"name": "B", "value": "two"}],
                "name": "web"
            }]
        }}}})
    );
    let applied = apply(&current, &patch, DEPLOYMENT);
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([
            {"name": "C", "value": "3"},
            {"name": "A", "value": "1"},
            {"name": "B", "value": "two"}
        ])
    );
}

#[test]
fn label_removed_becomes_null() {
    let original = config();
    let mut config = config();
    config["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("tier");
    let current = live(&original);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        patch,
        json!({"metadata": {
            "annotations": {LAST_APPLIED: serde_json::to_string(&config).unwrap()},
            "labels": {"tier": null}
        }})
    );
    let applied = apply(&current, &patch, DEPLOYMENT);
    assert_eq!(applied["metadata"]["labels"], json!({"app": "web"}));
}

#[test]
fn labels_added_by_others_are_left_alone() {
    let config = config();
    let mut current = live(&config);
    current["metadata"]["labels"]["team"] = json!("blue");
    current["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!("3");
    let patch = patch_for(Some(&config), &config, &current, DEPLOYMENT);
    assert_eq!(patch, json!({}));
}

#[test]
fn replicas_scaled_by_an_autoscaler_are_kept_when_the_file_omits_them() {
    let mut config = config();
    config["spec"].as_object_mut().unwrap().remove("replicas");
    let mut current = live(&config);
    current["spec"]["replicas"] = json!(5);
    let patch = patch_for(Some(&config), &config, &current, DEPLOYMENT);
    assert_eq!(patch, json!({}));

    // A later change elsewhere in the file still leaves replicas alone.
    let mut changed = config.clone();
    changed["spec"]["minReadySeconds"] = json!(5);
    let patch = patch_for(Some(&config), &changed, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"spec": {"minReadySeconds": 5}})
    );
    assert_eq!(
        apply(&current, &patch, DEPLOYMENT)["spec"]["replicas"],
        json!(5)
    );
}

#[test]
fn replicas_in_the_file_reset_an_autoscaled_value_as_kubectl_does() {
    // kubectl sends what differs between the live object and the file: a file that still says
    // `replicas: 1` scales an autoscaled Deployment back (Kubernetes' documentation advises
    // removing `spec.replicas` from manifests of autoscaled workloads for this reason).
    let config = config();
    let mut current = live(&config);
    current["spec"]["replicas"] = json!(5);
    let patch = patch_for(Some(&config), &config, &current, DEPLOYMENT);
    assert_eq!(patch, json!({"spec": {"replicas": 1}}));
}

#[test]
fn replicas_removed_from_the_file_are_deleted() {
    let original = config();
    let mut config = config();
    config["spec"].as_object_mut().unwrap().remove("replicas");
    let mut current = live(&original);
    current["spec"]["replicas"] = json!(5);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch),
        json!({"spec": {"replicas": null}})
    );
}

#[test]
fn replicas_changed_in_the_file_over_an_autoscaled_value() {
    let original = config();
    let mut config = config();
    config["spec"]["replicas"] = json!(4);
    let mut current = live(&original);
    current["spec"]["replicas"] = json!(5);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"spec": {"replicas": 4}})
    );
    assert_eq!(
        apply(&current, &patch, DEPLOYMENT)["spec"]["replicas"],
        json!(4)
    );
}

#[test]
fn finalizers_merge_as_a_set() {
    let mut original = config();
    original["metadata"]["finalizers"] = json!(["example.com/b"]);
    let mut config = config();
    config["metadata"]["finalizers"] = json!(["example.com/a"]);
    let mut current = live(&original);
    current["metadata"]["finalizers"] = json!(["example.com/b", "kubernetes.io/x"]);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"metadata": {
            "$deleteFromPrimitiveList/finalizers": ["example.com/b"],
            "$setElementOrder/finalizers": ["example.com/a"],
            "finalizers": ["example.com/a"]
        }})
    );
    let applied = apply(&current, &patch, DEPLOYMENT);
    assert_eq!(
        applied["metadata"]["finalizers"],
        json!(["example.com/a", "kubernetes.io/x"])
    );
}

#[test]
fn finalizer_added_by_a_controller_only_sends_the_element_order() {
    // The live list differs from the file's, so kubectl sends the file's order although
    // nothing is added or removed.
    let mut config = config();
    config["metadata"]["finalizers"] = json!(["example.com/a"]);
    let mut current = live(&config);
    current["metadata"]["finalizers"] = json!(["example.com/a", "kubernetes.io/x"]);
    let patch = patch_for(Some(&config), &config, &current, DEPLOYMENT);
    assert_eq!(
        patch,
        json!({"metadata": {"$setElementOrder/finalizers": ["example.com/a"]}})
    );
    assert_eq!(
        apply(&current, &patch, DEPLOYMENT)["metadata"]["finalizers"],
        json!(["example.com/a", "kubernetes.io/x"])
    );
}

fn service(ports: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": ports}
    })
}

fn live_service(config: &Value) -> Value {
    let mut live = annotated(config);
    live["metadata"]["uid"] = json!("0d6f7b0a-aaaa-bbbb-cccc-ddddeeeeffff");
    live["spec"]["clusterIP"] = json!("10.96.12.34");
    live["spec"]["clusterIPs"] = json!(["10.96.12.34"]);
    live["spec"]["type"] = json!("ClusterIP");
    live["spec"]["sessionAffinity"] = json!("None");
    for port in live["spec"]["ports"].as_array_mut().unwrap() {
        port["protocol"] = json!("TCP");
    }
    live["status"] = json!({"loadBalancer": {}});
    live
}

#[test]
fn service_port_removed() {
    let original = service(json!([
        {"name": "http", "port": 80, "targetPort": 8080},
        {"name": "https", "port": 443, "targetPort": 8443}
    ]));
    let config = service(json!([{"name": "http", "port": 80, "targetPort": 8080}]));
    let current = live_service(&original);
    let patch = patch_for(Some(&original), &config, &current, SERVICE);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"spec": {
            "$setElementOrder/ports": [{"port": 80}],
            "ports": [{"$patch": "delete", "port": 443}]
        }})
    );
    let applied = apply(&current, &patch, SERVICE);
    assert_eq!(
        applied["spec"]["ports"],
        json!([{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}])
    );
    assert_eq!(applied["spec"]["clusterIP"], json!("10.96.12.34"));
}

#[test]
fn service_unchanged_despite_defaults() {
    let config = service(json!([{"name": "http", "port": 80, "targetPort": 8080}]));
    let patch = patch_for(Some(&config), &config, &live_service(&config), SERVICE);
    assert_eq!(patch, json!({}));
}

#[test]
fn first_apply_over_an_object_made_by_create() {
    // `kubectl create` stored no annotation; the live object has server fields.
    let config = config();
    let mut current = live(&config);
    current["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    let patch = patch_for(None, &config, &current, DEPLOYMENT);
    assert_eq!(
        patch,
        json!({"metadata": {"annotations": {LAST_APPLIED: serde_json::to_string(&config).unwrap()}}})
    );
    let applied = apply(&current, &patch, DEPLOYMENT);
    assert_eq!(applied["spec"], current["spec"]);

    // Without the annotation nothing can be deleted: fields the file dropped stay.
    let mut smaller = config.clone();
    smaller["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("tier");
    smaller["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .pop();
    smaller["spec"]["replicas"] = json!(2);
    let patch = patch_for(None, &smaller, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"spec": {
            "replicas": 2,
            "template": {"spec": {"$setElementOrder/containers": [{"name": "web"}]}}
        }})
    );
    let applied = apply(&current, &patch, DEPLOYMENT);
    assert_eq!(applied["metadata"]["labels"]["tier"], json!("front"));
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn container_added_and_removed() {
    let original = config();
    let mut config = config();
    let containers = config["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap();
    containers.remove(1);
    containers.insert(0, json!({"name": "init-proxy", "image": "envoy:1.30"}));
    let current = live(&original);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "init-proxy"}, {"name": "web"}],
            "containers": [
                {"image": "envoy:1.30", "name": "init-proxy"},
                {"$patch": "delete", "name": "sidecar"}
            ]
        }}}})
    );
    let applied = apply(&current, &patch, DEPLOYMENT);
    let names: Vec<&str> = applied["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["init-proxy", "web"]);
}

#[test]
fn container_args_are_replaced_whole() {
    let original = config();
    let mut config = config();
    config["spec"]["template"]["spec"]["containers"][1]["args"] = json!(["sleep", "60"]);
    let current = live(&original);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch),
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
            "containers": [{"args": ["sleep", "60"], "name": "sidecar"}]
        }}}})
    );
}

#[test]
fn volume_source_switched_uses_retain_keys() {
    let mut original = config();
    original["spec"]["template"]["spec"]["volumes"] =
        json!([{"name": "cfg", "configMap": {"name": "web-config"}}]);
    let mut config = config();
    config["spec"]["template"]["spec"]["volumes"] =
        json!([{"name": "cfg", "secret": {"secretName": "web-secret"}}]);
    let mut current = live(&original);
    current["spec"]["template"]["spec"]["volumes"] =
        json!([{"name": "cfg", "configMap": {"name": "web-config", "defaultMode": 420}}]);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/volumes": [{"name": "cfg"}],
            "volumes": [{
                "$retainKeys": ["name", "secret"],
                "configMap": null,
                "name": "cfg",
                "secret": {"secretName": "web-secret"}
            }]
        }}}})
    );
    let applied = apply(&current, &patch, DEPLOYMENT);
    assert_eq!(
        applied["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "cfg", "secret": {"secretName": "web-secret"}}])
    );
}

#[test]
fn deployment_strategy_switched_to_recreate_clears_rolling_update() {
    let original = config();
    let mut config = config();
    config["spec"]["strategy"] = json!({"type": "Recreate"});
    let current = live(&original);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    );
    let applied = apply(&current, &patch, DEPLOYMENT);
    assert_eq!(applied["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn replace_strategy_objects_are_always_sent() {
    // A PodDisruptionBudget's selector has the `replace` strategy: kubectl sends it on every
    // apply, so such an object is never reported unchanged.
    let config = json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}
    });
    let current = annotated(&config);
    let patch = patch_for(Some(&config), &config, &current, PDB);
    assert_eq!(
        patch,
        json!({"spec": {"selector": {"matchLabels": {"app": "web"}}}})
    );
}

#[test]
fn unknown_definition_diffs_lists_whole() {
    let original = json!({"spec": {"items": [{"name": "a"}, {"name": "b"}], "size": 1}});
    let modified = json!({"spec": {"items": [{"name": "a"}]}});
    let current =
        json!({"spec": {"items": [{"name": "a"}, {"name": "b"}], "size": 1, "extra": true}});
    let patch = create_three_way_merge_patch(
        Some(&original),
        &modified,
        &current,
        Schemas::builtin(),
        "com.example.v1.Widget",
    )
    .unwrap();
    assert_eq!(
        patch,
        json!({"spec": {"items": [{"name": "a"}], "size": null}})
    );
}

#[test]
fn errors() {
    let schemas = Schemas::builtin();
    let err = create_three_way_merge_patch(None, &json!([1]), &json!({}), schemas, DEPLOYMENT)
        .unwrap_err();
    assert_eq!(
        err,
        PatchError::Invalid("the modified configuration must be a JSON object, not [1]".into())
    );
    assert_eq!(err.status_code(), 400);
    let err = create_three_way_merge_patch(
        Some(&json!("x")),
        &json!({}),
        &json!({}),
        schemas,
        DEPLOYMENT,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PatchError::Invalid("the last-applied configuration must be a JSON object, not x".into())
    );
    let modified = json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx"}]}}}});
    let current = json!({"spec": {"template": {"spec": {"containers": [{"name": "web"}]}}}});
    let err =
        create_three_way_merge_patch(None, &modified, &current, schemas, DEPLOYMENT).unwrap_err();
    assert_eq!(
        err,
        PatchError::NotApplicable(
            "map: map[image:nginx] does not contain declared merge key: name".into()
        )
    );
}

#[test]
fn finalizers_all_removed_with_repeats() {
    // Repeated values are removed once; the list of removals is deduplicated the way
    // Kubernetes does it (a repeat is replaced by the last value).
    let mut original = config();
    original["metadata"]["finalizers"] = json!(["a", "a", "b", "c"]);
    let mut config = config();
    config["metadata"]["finalizers"] = json!([]);
    let current = live(&original);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "c", "b"]}})
    );
    assert_eq!(
        apply(&current, &patch, DEPLOYMENT)["metadata"]["finalizers"],
        json!([])
    );
}

#[test]
fn lists_without_a_strategy_are_replaced_whole() {
    let mut original = config();
    original["spec"]["template"]["spec"]["tolerations"] =
        json!([{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]);
    let mut config = original.clone();
    config["spec"]["template"]["spec"]["tolerations"] = json!([{"key": "a", "operator": "Exists"}]);
    let current = live(&original);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch),
        json!({"spec": {"template": {"spec": {
            "tolerations": [{"key": "a", "operator": "Exists"}]
        }}}})
    );
}

#[test]
fn container_port_added_and_a_value_changing_type() {
    let mut original = config();
    original["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"] = json!("http");
    let mut config = original.clone();
    config["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([
        {"containerPort": 80, "name": "http"},
        {"containerPort": 9090, "name": "metrics"}
    ]);
    let current = live(&original);
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
            "containers": [{
                "$setElementOrder/ports": [{"containerPort": 80}, {"containerPort": 9090}],
                "name": "web",
                "ports": [{"containerPort": 9090, "name": "metrics"}]
            }]
        }}}})
    );
    let applied = apply(&current, &patch, DEPLOYMENT);
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"][0]["ports"],
        json!([
            {"containerPort": 80, "name": "http", "protocol": "TCP"},
            {"containerPort": 9090, "name": "metrics"}
        ])
    );

    let mut config = original.clone();
    config["spec"]["selector"] = json!("app=web");
    let patch = patch_for(Some(&original), &config, &current, DEPLOYMENT);
    assert_eq!(
        without_annotation(patch),
        json!({"spec": {"selector": "app=web"}})
    );
}
