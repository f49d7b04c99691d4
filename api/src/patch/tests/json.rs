use serde_json::{json, Value};

use crate::patch::{apply_json_patch, PatchError};

fn apply(doc: Value, patch: Value) -> Result<Value, PatchError> {
    apply_json_patch(&doc, &patch)
}

#[test]
fn add_sets_members_and_inserts_into_arrays() {
    let doc = json!({"metadata": {"labels": {"a": "1"}}, "list": [1, 3]});
    let got = apply(
        doc,
        json!([
            {"op": "add", "path": "/metadata/labels/b", "value": "2"},
            {"op": "add", "path": "/list/1", "value": 2},
            {"op": "add", "path": "/list/-", "value": 4},
            {"op": "add", "path": "/metadata/labels/a", "value": "replaced"},
        ]),
    )
    .unwrap();
    assert_eq!(
        got,
        json!({"metadata": {"labels": {"a": "replaced", "b": "2"}}, "list": [1, 2, 3, 4]})
    );
}

#[test]
fn pointer_escapes_are_unescaped() {
    let doc = json!({"metadata": {"annotations": {}}});
    let got = apply(
        doc,
        json!([{"op": "add", "path": "/metadata/annotations/example.com~1a~0b", "value": "x"}]),
    )
    .unwrap();
    assert_eq!(
        got,
        json!({"metadata": {"annotations": {"example.com/a~b": "x"}}})
    );
}

#[test]
fn remove_replace_move_copy() {
    let doc = json!({"a": {"b": 1, "c": [1, 2, 3]}, "d": "x"});
    let got = apply(
        doc,
        json!([
            {"op": "remove", "path": "/a/c/0"},
            {"op": "replace", "path": "/a/b", "value": 5},
            {"op": "move", "from": "/d", "path": "/a/d"},
            {"op": "copy", "from": "/a/c", "path": "/e"},
        ]),
    )
    .unwrap();
    assert_eq!(
        got,
        json!({"a": {"b": 5, "c": [2, 3], "d": "x"}, "e": [2, 3]})
    );
}

#[test]
fn test_operation_passes_and_fails() {
    let doc = json!({"spec": {"replicas": 3}});
    let ok = apply(
        doc.clone(),
        json!([
            {"op": "test", "path": "/spec/replicas", "value": 3.0},
            {"op": "replace", "path": "/spec/replicas", "value": 4},
        ]),
    )
    .unwrap();
    assert_eq!(ok, json!({"spec": {"replicas": 4}}));
    let err = apply(
        doc,
        json!([
            {"op": "replace", "path": "/spec/replicas", "value": 5},
            {"op": "test", "path": "/spec/replicas", "value": 3},
        ]),
    )
    .unwrap_err();
    assert_eq!(
        err,
        PatchError::NotApplicable("testing value /spec/replicas failed: test failed".to_owned())
    );
    assert_eq!(err.status_code(), 422);
}

#[test]
fn missing_paths_are_unprocessable() {
    let doc = json!({"a": {"b": 1}, "l": [1]});
    let cases = [
        (
            json!([{"op": "remove", "path": "/a/x"}]),
            "error in remove for path: '/a/x': Unable to remove nonexistent key: x: missing value",
        ),
        (
            json!([{"op": "replace", "path": "/a/x", "value": 1}]),
            "replace operation does not apply: doc is missing key: /a/x: missing value",
        ),
        (
            json!([{"op": "add", "path": "/x/y", "value": 1}]),
            "add operation does not apply: doc is missing path: \"/x/y\": missing value",
        ),
        (
            json!([{"op": "add", "path": "/l/5", "value": 1}]),
            "add operation does not apply: doc is missing path: \"/l/5\": missing value",
        ),
        (
            json!([{"op": "remove", "path": "/x/y"}]),
            "remove operation does not apply: doc is missing path: \"/x/y\": missing value",
        ),
        (
            json!([{"op": "copy", "from": "/nope", "path": "/a/c"}]),
            "copy operation does not apply: doc is missing from path: /nope: missing value",
        ),
        (
            json!([{"op": "frobnicate", "path": "/a"}]),
            "Unexpected kind: frobnicate",
        ),
    ];
    for (patch, message) in cases {
        let err = apply(doc.clone(), patch.clone()).unwrap_err();
        assert_eq!(err.to_string(), message, "{patch}");
        assert_eq!(err.status_code(), 422, "{patch}");
    }
}

#[test]
fn malformed_patches_are_bad_requests() {
    let doc = json!({});
    let err = apply(doc.clone(), json!({"op": "add"})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
    );
    assert_eq!(err.status_code(), 400);
    let err = apply(doc.clone(), json!([{"op": "add", "value": 1}])).unwrap_err();
    assert_eq!(
        err,
        PatchError::Invalid("operation missing path field".to_owned())
    );
    let err = apply(doc, json!([{"op": "add", "path": "a", "value": 1}])).unwrap_err();
    assert_eq!(err.status_code(), 400);
}

#[test]
fn a_failed_operation_leaves_the_input_untouched() {
    let doc = json!({"a": 1});
    let patch = json!([
        {"op": "replace", "path": "/a", "value": 2},
        {"op": "remove", "path": "/b"},
    ]);
    assert!(apply_json_patch(&doc, &patch).is_err());
    assert_eq!(doc, json!({"a": 1}));
}

#[test]
fn move_into_own_child_is_rejected() {
    let err = apply(
        json!({"a": {"b": {}}}),
        json!([{"op": "move", "from": "/a", "path": "/a/b/c"}]),
    )
    .unwrap_err();
    assert_eq!(err.status_code(), 422);
}

#[test]
fn too_many_operations_are_refused() {
    let op = json!({"op": "test", "path": "", "value": {}});
    let patch = Value::Array(vec![op; 10_001]);
    let err = apply(json!({}), patch).unwrap_err();
    assert_eq!(
        err.to_string(),
        "The allowed maximum operations in a JSON patch is 10000, got 10001"
    );
    assert_eq!(err.status_code(), 413);
}
