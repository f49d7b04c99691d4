//! Preparing kubectl apply's inputs, and the whole apply flow.

use serde_json::{json, Value};

use crate::patch::{
    apply_strategic_merge_patch, check_apply_preconditions, create_three_way_merge_patch,
    modified_configuration, original_configuration, PatchError, PRECONDITION_FAILED,
};
use crate::schema::Schemas;

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const CONFIGMAP: &str = "io.k8s.api.core.v1.ConfigMap";

fn config_map() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "default"},
        "data": {"k": "v", "html": "<b>&</b>"}
    })
}

#[test]
fn modified_configuration_serializes_like_kubectl() {
    let modified = modified_configuration(&config_map());
    assert_eq!(
        modified["metadata"]["annotations"][LAST_APPLIED],
        json!(concat!(
            r#"{"apiVersion":"v1","data":{"html":"\u003cb\u003e\u0026\u003c/b\u003e","k":"v"},"#,
            r#""kind":"ConfigMap","metadata":{"annotations":{},"name":"cm","namespace":"default"}}"#,
            "\n"
        ))
    );
    assert_eq!(modified["data"], config_map()["data"]);
    assert_eq!(modified["metadata"]["name"], json!("cm"));
}

#[test]
fn modified_configuration_drops_a_stale_annotation_and_keeps_others() {
    let mut config = config_map();
    config["metadata"]["annotations"] = json!({LAST_APPLIED: "old", "team": "blue"});
    config["data"] = json!({"n": 1.0, "f": 0.5});
    let modified = modified_configuration(&config);
    assert_eq!(
        modified["metadata"]["annotations"][LAST_APPLIED],
        json!(concat!(
            r#"{"apiVersion":"v1","data":{"f":0.5,"n":1},"kind":"ConfigMap","#,
            r#""metadata":{"annotations":{"team":"blue"},"name":"cm","namespace":"default"}}"#,
            "\n"
        ))
    );
    assert_eq!(modified["metadata"]["annotations"]["team"], json!("blue"));
}

#[test]
fn original_configuration_reads_the_annotation() {
    let modified = modified_configuration(&config_map());
    let mut expected = config_map();
    expected["metadata"]["annotations"] = json!({});
    assert_eq!(original_configuration(&modified).unwrap(), Some(expected));
    assert_eq!(original_configuration(&config_map()).unwrap(), None);
    let mut empty = config_map();
    empty["metadata"]["annotations"] = json!({LAST_APPLIED: ""});
    assert_eq!(original_configuration(&empty).unwrap(), None);
    let mut broken = config_map();
    broken["metadata"]["annotations"] = json!({LAST_APPLIED: "[1]"});
    assert_eq!(
        original_configuration(&broken).unwrap_err(),
        PatchError::Invalid(
            "the annotation kubectl.kubernetes.io/last-applied-configuration does not hold a JSON object"
                .into()
        )
    );
}

#[test]
fn preconditions() {
    assert_eq!(
        check_apply_preconditions(&json!({"data": {"k": "w"}})),
        Ok(())
    );
    for patch in [
        json!({"kind": "Secret"}),
        json!({"apiVersion": "v2"}),
        json!({"metadata": {"name": "other"}}),
    ] {
        assert_eq!(
            check_apply_preconditions(&patch),
            Err(PatchError::Invalid(PRECONDITION_FAILED.into()))
        );
    }
    assert_eq!(
        PRECONDITION_FAILED,
        "At least one of apiVersion, kind and name was changed"
    );
}

/// One `kubectl apply` round: the patch sent and the object stored afterwards.
fn kubectl_apply(config: &Value, live: &Value) -> (Value, Value) {
    let original = original_configuration(live).unwrap();
    let modified = modified_configuration(config);
    let patch = create_three_way_merge_patch(
        original.as_ref(),
        &modified,
        live,
        Schemas::builtin(),
        CONFIGMAP,
    )
    .unwrap();
    check_apply_preconditions(&patch).unwrap();
    let stored = apply_strategic_merge_patch(live, &patch, Schemas::builtin(), CONFIGMAP).unwrap();
    (patch, stored)
}

#[test]
fn apply_flow_created_then_unchanged_then_changed() {
    // First apply of an object made by `kubectl create`: only the annotation is added.
    let mut live = config_map();
    live["metadata"]["uid"] = json!("u-1");
    live["metadata"]["resourceVersion"] = json!("7");
    let (patch, stored) = kubectl_apply(&config_map(), &live);
    let annotation =
        modified_configuration(&config_map())["metadata"]["annotations"][LAST_APPLIED].clone();
    assert_eq!(
        patch,
        json!({"metadata": {"annotations": {LAST_APPLIED: annotation}}})
    );

    // Applying the same file again: unchanged.
    let (patch, stored) = kubectl_apply(&config_map(), &stored);
    assert_eq!(patch, json!({}));

    // A key removed from the file and another added.
    let mut config = config_map();
    config["data"] = json!({"k": "v", "new": "x"});
    let (patch, stored) = kubectl_apply(&config, &stored);
    let annotation =
        modified_configuration(&config)["metadata"]["annotations"][LAST_APPLIED].clone();
    assert_eq!(
        patch,
        json!({
            "data": {"html": null, "new": "x"},
            "metadata": {"annotations": {LAST_APPLIED: annotation}}
        })
    );
    assert_eq!(stored["data"], json!({"k": "v", "new": "x"}));
    assert_eq!(stored["metadata"]["uid"], json!("u-1"));
    let (patch, _) = kubectl_apply(&config, &stored);
    assert_eq!(patch, json!({}));
}
