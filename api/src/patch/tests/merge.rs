use serde_json::json;

use crate::patch::{apply_merge_patch, go_format};

#[test]
fn merge_patch_follows_rfc_7386_examples() {
    let doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
    let patch = json!({"a": "z", "c": {"f": null}});
    assert_eq!(
        apply_merge_patch(&doc, &patch),
        json!({"a": "z", "c": {"d": "e"}})
    );
    let cases = [
        (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
        (
            json!({"a": "b"}),
            json!({"b": "c"}),
            json!({"a": "b", "b": "c"}),
        ),
        (json!({"a": "b"}), json!({"a": null}), json!({})),
        (
            json!({"a": "b", "b": "c"}),
            json!({"a": null}),
            json!({"b": "c"}),
        ),
        (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
        (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
        (
            json!({"a": {"b": "c"}}),
            json!({"a": {"b": "d", "c": null}}),
            json!({"a": {"b": "d"}}),
        ),
        (
            json!({"a": [{"b": "c"}]}),
            json!({"a": [1]}),
            json!({"a": [1]}),
        ),
        (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
        (json!({"a": "b"}), json!(["c"]), json!(["c"])),
        (json!({"a": "foo"}), json!(null), json!(null)),
        (json!({"a": "foo"}), json!("bar"), json!("bar")),
        (
            json!({"e": null}),
            json!({"a": 1}),
            json!({"e": null, "a": 1}),
        ),
        (
            json!([1, 2]),
            json!({"a": "b", "c": null}),
            json!({"a": "b"}),
        ),
        (
            json!({}),
            json!({"a": {"bb": {"ccc": null}}}),
            json!({"a": {"bb": {}}}),
        ),
    ];
    for (doc, patch, want) in cases {
        assert_eq!(apply_merge_patch(&doc, &patch), want, "{doc} + {patch}");
    }
}

#[test]
fn merge_patch_replaces_lists_of_a_deployment() {
    let doc = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
        {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}}});
    let patch = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
        {"name": "a", "image": "a:2"}]}}}});
    assert_eq!(
        apply_merge_patch(&doc, &patch),
        json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "a", "image": "a:2"}]}}}})
    );
}

#[test]
fn go_format_prints_like_go() {
    assert_eq!(
        go_format(&json!({"name": "x", "ports": [80, 1.5], "on": true, "n": null})),
        "map[n:<nil> name:x on:true ports:[80 1.5]]"
    );
}
