//! The JSON merge patch of client-side `kubectl apply` (custom resources).

use serde_json::{json, Value};

use crate::patch::{apply_merge_patch, create_merge_patch};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn annotated(config: &Value) -> Value {
    let mut modified = config.clone();
    modified["metadata"]["annotations"][LAST_APPLIED] =
        Value::String(serde_json::to_string(config).unwrap());
    modified
}

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

fn widget() -> Value {
    json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "labels": {"a": "1", "b": "2"}},
        "spec": {"size": 3, "colors": ["red", "blue"], "options": {"fast": true, "loud": false}}
    })
}

fn live_widget(config: &Value) -> Value {
    let mut live = annotated(config);
    live["metadata"]["uid"] = json!("u");
    live["metadata"]["generation"] = json!(1);
    live["spec"]["defaulted"] = json!("yes");
    live["status"] = json!({"phase": "Ready"});
    live
}

#[test]
fn merge_patch_unchanged_is_empty() {
    let config = widget();
    let patch = create_merge_patch(Some(&config), &annotated(&config), &live_widget(&config));
    assert_eq!(patch, json!({}));
}

#[test]
fn merge_patch_changes_deletions_and_whole_lists() {
    let original = widget();
    let mut config = widget();
    config["spec"]["size"] = json!(4);
    config["spec"]["colors"] = json!(["red"]);
    config["spec"]["options"]
        .as_object_mut()
        .unwrap()
        .remove("loud");
    config["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("b");
    let current = live_widget(&original);
    let patch = create_merge_patch(Some(&original), &annotated(&config), &current);
    assert_eq!(
        without_annotation(patch.clone()),
        json!({
            "metadata": {"labels": {"b": null}},
            "spec": {"colors": ["red"], "options": {"loud": null}, "size": 4}
        })
    );
    let applied = apply_merge_patch(&current, &patch);
    assert_eq!(
        applied["spec"],
        json!({"size": 4, "colors": ["red"], "options": {"fast": true}, "defaulted": "yes"})
    );
    assert_eq!(applied["status"], json!({"phase": "Ready"}));
}

#[test]
fn merge_patch_without_last_applied_never_deletes() {
    let config = widget();
    let mut current = live_widget(&config);
    current["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    current["spec"]["extra"] = json!(1);
    let patch = create_merge_patch(None, &annotated(&config), &current);
    assert_eq!(
        patch,
        json!({"metadata": {"annotations": {LAST_APPLIED: serde_json::to_string(&config).unwrap()}}})
    );
}

#[test]
fn merge_patch_keeps_explicit_empty_objects_and_type_changes() {
    let original = json!({"spec": {"a": {"x": 1}, "b": 1}});
    let modified = json!({"spec": {"a": {}, "b": {"y": 2}, "c": {}}});
    let current = json!({"spec": {"a": {"x": 1}, "b": 1}});
    let patch = create_merge_patch(Some(&original), &modified, &current);
    assert_eq!(
        patch,
        json!({"spec": {"a": {"x": null}, "b": {"y": 2}, "c": {}}})
    );
    assert_eq!(create_merge_patch(None, &json!(5), &current), json!(5));
}
