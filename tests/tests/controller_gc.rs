//! The garbage collector through the real kubectl against `rkube server`: deleting an owner
//! takes its dependents (background, foreground), `--cascade=orphan` frees them, custom
//! resources own as built-ins do, and invalid owner references are reported.
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl (see `server_proc`).
//! The replicaset and deployment controllers are off, so only the test's objects matter.

use std::time::{Duration, Instant};

use rkube_tests::server_proc::{expect_success, ServerProcess};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(60);

fn start() -> ServerProcess {
    ServerProcess::start_args(&[
        "--disable-scheduler",
        "--disable-controllers",
        "replicaset,deployment",
    ])
    .expect("rkube server starts")
}

fn kubectl(s: &ServerProcess, args: &[&str]) -> String {
    expect_success("kubectl", args, &s.kubectl(args).expect("kubectl runs"))
}

fn apply(s: &ServerProcess, manifest: &str) -> String {
    let args = ["apply", "-f", "-"];
    let out = s
        .kubectl_with_stdin(&args, Some(manifest))
        .expect("kubectl runs");
    expect_success("kubectl", &args, &out)
}

fn get_json(s: &ServerProcess, args: &[&str]) -> Option<Value> {
    let mut all = vec!["get", "-o", "json"];
    all.extend_from_slice(args);
    let out = s.kubectl(&all).expect("kubectl runs");
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).expect("json"))
}

fn uid(s: &ServerProcess, args: &[&str]) -> String {
    get_json(s, args).expect("object exists")["metadata"]["uid"]
        .as_str()
        .expect("uid")
        .to_owned()
}

/// Polls `check` every 200 ms until it returns `Some`, for up to `TIMEOUT`.
fn poll<T>(s: &ServerProcess, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; server log:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn gone(s: &ServerProcess, args: &[&str]) -> bool {
    get_json(s, args).is_none()
}

const REPLICASET: &str = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
"#;

/// Dependents of the ReplicaSet `web` (uid `owner`): two ConfigMaps and a Pod.
fn dependents(owner: &str, block: bool) -> String {
    let refs = format!(
        "ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web, uid: {owner}, blockOwnerDeletion: {block}}}]"
    );
    format!(
        r#"
apiVersion: v1
kind: ConfigMap
metadata: {{name: dep1, {refs}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: dep2, {refs}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: dep-pod, labels: {{other: x}}, {refs}}}
spec: {{containers: [{{name: c, image: nginx}}]}}
"#
    )
}

#[test]
fn background_deletion_removes_dependents() {
    let s = start();
    apply(&s, REPLICASET);
    let owner = uid(&s, &["rs", "web"]);
    apply(&s, &dependents(&owner, false));
    apply(
        &s,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bystander}\n",
    );
    // The owner stands: nothing goes.
    std::thread::sleep(Duration::from_secs(2));
    assert!(get_json(&s, &["cm", "dep1"]).is_some());

    kubectl(&s, &["delete", "rs", "web"]);
    poll(&s, "dependents deleted", || {
        (gone(&s, &["cm", "dep1"]) && gone(&s, &["cm", "dep2"]) && gone(&s, &["pod", "dep-pod"]))
            .then_some(())
    });
    assert!(get_json(&s, &["cm", "bystander"]).is_some());
}

#[test]
fn dependents_of_an_owner_that_never_existed_go() {
    let s = start();
    apply(
        &s,
        &dependents("00000000-0000-0000-0000-000000000001", false),
    );
    poll(&s, "dangling dependents deleted", || {
        (gone(&s, &["cm", "dep1"]) && gone(&s, &["pod", "dep-pod"])).then_some(())
    });
}

#[test]
fn foreground_deletion_waits_for_blocking_dependents() {
    let s = start();
    apply(&s, REPLICASET);
    let owner = uid(&s, &["rs", "web"]);
    apply(&s, &dependents(&owner, true));
    // A finalizer holds one dependent, so the owner must wait for it.
    kubectl(
        &s,
        &[
            "patch",
            "cm",
            "dep1",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
        ],
    );
    kubectl(
        &s,
        &[
            "delete",
            "rs",
            "web",
            "--cascade=foreground",
            "--wait=false",
        ],
    );
    poll(&s, "unheld dependents deleted", || {
        (gone(&s, &["cm", "dep2"]) && gone(&s, &["pod", "dep-pod"])).then_some(())
    });
    let rs = get_json(&s, &["rs", "web"]).expect("owner waits for its dependents");
    assert!(rs["metadata"]["deletionTimestamp"].is_string(), "{rs}");
    assert_eq!(
        rs["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"])
    );
    let held = get_json(&s, &["cm", "dep1"]).expect("held dependent");
    assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");

    kubectl(
        &s,
        &[
            "patch",
            "cm",
            "dep1",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
    );
    poll(&s, "owner deleted", || {
        gone(&s, &["rs", "web"]).then_some(())
    });
}

#[test]
fn kubectl_delete_cascade_foreground_returns_once_dependents_are_gone() {
    let s = start();
    apply(&s, REPLICASET);
    let owner = uid(&s, &["rs", "web"]);
    apply(&s, &dependents(&owner, true));
    let out = kubectl(
        &s,
        &[
            "delete",
            "rs",
            "web",
            "--cascade=foreground",
            "--timeout=120s",
        ],
    );
    assert_eq!(out, "replicaset.apps \"web\" deleted\n");
    assert!(gone(&s, &["rs", "web"]));
    assert!(
        gone(&s, &["cm", "dep1"]) && gone(&s, &["cm", "dep2"]) && gone(&s, &["pod", "dep-pod"])
    );
}

#[test]
fn orphan_deletion_leaves_dependents_without_owner_references() {
    let s = start();
    apply(&s, REPLICASET);
    let owner = uid(&s, &["rs", "web"]);
    apply(&s, &dependents(&owner, true));
    let out = kubectl(
        &s,
        &["delete", "rs", "web", "--cascade=orphan", "--timeout=120s"],
    );
    assert_eq!(out, "replicaset.apps \"web\" deleted\n");
    poll(&s, "owner deleted", || {
        gone(&s, &["rs", "web"]).then_some(())
    });
    for args in [["cm", "dep1"], ["cm", "dep2"], ["pod", "dep-pod"]] {
        let obj = get_json(&s, &args).expect("orphaned dependent stays");
        assert!(obj["metadata"]["ownerReferences"].is_null(), "{obj}");
    }
    // And they stay.
    std::thread::sleep(Duration::from_secs(3));
    assert!(get_json(&s, &["cm", "dep1"]).is_some());
}

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

#[test]
fn a_custom_resource_owns_a_configmap() {
    let s = start();
    apply(&s, CRD);
    poll(&s, "widgets served", || {
        s.kubectl(&["get", "widgets"])
            .ok()?
            .status
            .success()
            .then_some(())
    });
    apply(
        &s,
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
    );
    let owner = uid(&s, &["widget", "w"]);
    apply(
        &s,
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: of-widget, ownerReferences: [{{apiVersion: example.com/v1, kind: Widget, name: w, uid: {owner}}}]}}\n"
        ),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(get_json(&s, &["cm", "of-widget"]).is_some());
    kubectl(&s, &["delete", "widget", "w"]);
    poll(&s, "the widget's ConfigMap deleted", || {
        gone(&s, &["cm", "of-widget"]).then_some(())
    });
}

#[test]
fn owner_references_across_namespaces_are_reported() {
    let s = start();
    kubectl(&s, &["create", "namespace", "other"]);
    apply(
        &s,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owner, namespace: other}\n",
    );
    let owner = uid(&s, &["cm", "owner", "-n", "other"]);
    apply(
        &s,
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cross, namespace: default, ownerReferences: [{{apiVersion: v1, kind: ConfigMap, name: owner, uid: {owner}}}]}}\n"
        ),
    );
    let events = poll(&s, "an OwnerRefInvalidNamespace event", || {
        let out = kubectl(
            &s,
            &[
                "get",
                "events",
                "-n",
                "default",
                "--field-selector",
                "reason=OwnerRefInvalidNamespace",
                "-o",
                "json",
            ],
        );
        let v: Value = serde_json::from_str(&out).ok()?;
        let items = v["items"].as_array()?.clone();
        (!items.is_empty()).then_some(items)
    });
    assert_eq!(events[0]["involvedObject"]["name"], "cross", "{events:?}");
    assert_eq!(events[0]["type"], "Warning");
    // The owner it names is not where it should be: the dependent goes, the owner stays.
    poll(&s, "the dependent deleted", || {
        gone(&s, &["cm", "cross"]).then_some(())
    });
    assert!(get_json(&s, &["cm", "owner", "-n", "other"]).is_some());
}

#[test]
fn a_cluster_scoped_object_naming_a_namespaced_owner_stays() {
    let s = start();
    apply(
        &s,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: odd, ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: x, uid: 00000000-0000-0000-0000-000000000002}]}\n",
    );
    let events = poll(&s, "an OwnerRefInvalidNamespace event", || {
        let out = kubectl(
            &s,
            &[
                "get",
                "events",
                "-A",
                "--field-selector",
                "reason=OwnerRefInvalidNamespace",
                "-o",
                "json",
            ],
        );
        let v: Value = serde_json::from_str(&out).ok()?;
        let items = v["items"].as_array()?.clone();
        (!items.is_empty()).then_some(items)
    });
    assert_eq!(events[0]["involvedObject"]["name"], "odd", "{events:?}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(get_json(&s, &["ns", "odd"]).is_some());
}
