//! The namespace and service-account controllers through the real kubectl against
//! `rkube server`: deleting a namespace empties it and it goes, `kubectl delete -f` of a
//! manifest with a Namespace returns, and every namespace gets its `default` ServiceAccount
//! and `kube-root-ca.crt`.
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl (see `server_proc`).

use std::time::{Duration, Instant};

use rkube_tests::server_proc::{expect_success, ServerProcess};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(60);

fn start() -> ServerProcess {
    ServerProcess::start_args(&["--disable-scheduler"]).expect("rkube server starts")
}

fn kubectl(s: &ServerProcess, args: &[&str]) -> String {
    expect_success("kubectl", args, &s.kubectl(args).expect("kubectl runs"))
}

fn kubectl_stdin(s: &ServerProcess, args: &[&str], manifest: &str) -> String {
    let out = s
        .kubectl_with_stdin(args, Some(manifest))
        .expect("kubectl runs");
    expect_success("kubectl", args, &out)
}

fn get_json(s: &ServerProcess, args: &[&str]) -> Option<Value> {
    let mut all = vec!["get", "-o", "json"];
    all.extend_from_slice(args);
    let out = s.kubectl(&all).expect("kubectl runs");
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).expect("json"))
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

const CONTENT: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: doomed}
data: {a: b}
---
apiVersion: v1
kind: Secret
metadata: {name: password, namespace: doomed}
stringData: {p: q}
---
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: doomed}
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: doomed}
"#;

fn names(s: &ServerProcess, args: &[&str]) -> Vec<String> {
    let mut all = vec!["get", "-o", "name"];
    all.extend_from_slice(args);
    kubectl(s, &all).lines().map(str::to_owned).collect()
}

#[test]
fn deleting_a_namespace_empties_it_and_it_goes() {
    let s = start();
    kubectl_stdin(&s, &["apply", "-f", "-"], CRD);
    poll(&s, "widgets served", || {
        s.kubectl(&["get", "widgets"])
            .ok()?
            .status
            .success()
            .then_some(())
    });
    kubectl(&s, &["create", "namespace", "doomed"]);
    kubectl_stdin(&s, &["apply", "-f", "-"], CONTENT);
    kubectl(&s, &["delete", "namespace", "doomed", "--wait=false"]);
    poll(&s, "the namespace gone", || {
        get_json(&s, &["namespace", "doomed"])
            .is_none()
            .then_some(())
    });
    for resource in [
        "configmaps",
        "secrets",
        "pods",
        "widgets",
        "serviceaccounts",
    ] {
        assert_eq!(
            names(&s, &[resource, "-n", "doomed"]),
            Vec::<String>::new(),
            "{resource}"
        );
    }
}

#[test]
fn a_namespace_held_by_a_finalizer_shows_why() {
    let s = start();
    kubectl(&s, &["create", "namespace", "held"]);
    kubectl_stdin(
        &s,
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stuck, namespace: held, finalizers: [example.com/hold]}\n",
    );
    kubectl(&s, &["delete", "namespace", "held", "--wait=false"]);
    let conditions = poll(&s, "the namespace's conditions", || {
        let ns = get_json(&s, &["namespace", "held"])?;
        let conds = ns["status"]["conditions"].as_array()?.clone();
        conds
            .iter()
            .any(|c| c["type"] == "NamespaceFinalizersRemaining" && c["status"] == "True")
            .then_some((ns, conds))
    });
    let (ns, conds) = conditions;
    assert_eq!(ns["status"]["phase"], "Terminating");
    let by_type = |t: &str| {
        conds
            .iter()
            .find(|c| c["type"] == t)
            .cloned()
            .unwrap_or_default()
    };
    let remaining = by_type("NamespaceContentRemaining");
    assert_eq!(remaining["status"], "True", "{conds:?}");
    assert_eq!(remaining["reason"], "SomeResourcesRemain");
    assert_eq!(
        remaining["message"],
        "Some resources are remaining: configmaps has 1 resource instances"
    );
    let finalizers = by_type("NamespaceFinalizersRemaining");
    assert_eq!(finalizers["reason"], "SomeFinalizersRemain");
    assert_eq!(
        finalizers["message"],
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    );
    assert_eq!(
        by_type("NamespaceDeletionContentFailure")["status"],
        "False"
    );
    assert_eq!(
        by_type("NamespaceDeletionDiscoveryFailure")["status"],
        "False"
    );

    kubectl(
        &s,
        &[
            "patch",
            "cm",
            "stuck",
            "-n",
            "held",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
    );
    poll(&s, "the namespace gone", || {
        get_json(&s, &["namespace", "held"]).is_none().then_some(())
    });
}

#[test]
fn kubectl_delete_f_of_a_manifest_with_its_namespace_returns() {
    let s = start();
    let manifest = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
"#;
    kubectl_stdin(&s, &["apply", "-f", "-"], manifest);
    let out = kubectl_stdin(&s, &["delete", "-f", "-", "--timeout=120s"], manifest);
    assert!(out.contains("namespace \"shop\" deleted"), "{out}");
    assert!(get_json(&s, &["namespace", "shop"]).is_none());
}

#[test]
fn new_namespaces_get_a_default_service_account_and_the_root_ca() {
    let s = start();
    kubectl(&s, &["create", "namespace", "fresh"]);
    poll(&s, "the default ServiceAccount", || {
        get_json(&s, &["serviceaccount", "default", "-n", "fresh"])
    });
    let cm = poll(&s, "kube-root-ca.crt", || {
        get_json(&s, &["configmap", "kube-root-ca.crt", "-n", "fresh"])
    });
    let ca = std::fs::read_to_string(s.data_dir().join("tls").join("ca.crt")).expect("the CA");
    assert_eq!(cm["data"]["ca.crt"], ca.as_str());

    // Deleted or changed, they come back as they were.
    kubectl(&s, &["delete", "serviceaccount", "default", "-n", "fresh"]);
    kubectl(
        &s,
        &[
            "patch",
            "configmap",
            "kube-root-ca.crt",
            "-n",
            "fresh",
            "--type=merge",
            "-p",
            r#"{"data":{"ca.crt":"nonsense"}}"#,
        ],
    );
    poll(&s, "the default ServiceAccount again", || {
        get_json(&s, &["serviceaccount", "default", "-n", "fresh"])
    });
    poll(&s, "the CA put back", || {
        let cm = get_json(&s, &["configmap", "kube-root-ca.crt", "-n", "fresh"])?;
        (cm["data"]["ca.crt"] == ca.as_str()).then_some(())
    });
    // The namespaces that were there before the controllers started have them too.
    for ns in ["default", "kube-system", "kube-public"] {
        poll(&s, "the default ServiceAccount everywhere", || {
            get_json(&s, &["serviceaccount", "default", "-n", ns])
        });
    }
}
