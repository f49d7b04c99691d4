//! The real kubectl against `rkube server`: what a user types, and what they read back.
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl (see `server_proc`).
//! Every scenario runs three times: on the server's embedded store, on a separate `rkube store`
//! over the etcd API, and on Debian's etcd 3.4 (`--datastore-endpoint`).

use std::time::Duration;

use rkube_tests::server_proc::{
    expect_failure, expect_success, output_text, Datastore, ServerProcess,
};
use serde_json::Value;

/// Runs each scenario against each datastore: `scenario::embedded`, `::rkube_store`, `::etcd`.
macro_rules! on_every_datastore {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                use super::*;

                #[test]
                fn embedded() {
                    super::$scenario(&start(Datastore::Embedded));
                }

                #[test]
                fn rkube_store() {
                    super::$scenario(&start(Datastore::RkubeStore));
                }

                #[test]
                fn etcd() {
                    super::$scenario(&start(Datastore::Etcd));
                }
            }
        )*
    };
}

on_every_datastore!(
    version_and_discovery,
    apply_get_and_reapply,
    server_side_apply,
    edit_verbs,
    errors_read_as_kubernetes_writes_them,
    delete_by_name_label_and_all,
    watch_prints_changes,
    wait_for_condition,
    custom_resources,
    unknown_fields_and_bad_bodies,
    describe_explain_paging_and_dry_run,
    versions_share_storage,
    imperative_creates,
    services_get_cluster_ips_and_node_ports,
);

fn start(datastore: Datastore) -> ServerProcess {
    ServerProcess::on(datastore).expect("rkube server starts")
}

/// Runs kubectl and returns stdout, failing the test (with everything printed) otherwise.
fn ok(s: &ServerProcess, args: &[&str]) -> String {
    expect_success("kubectl", args, &s.kubectl(args).expect("kubectl runs"))
}

/// Runs kubectl expecting failure and returns stderr.
fn fails(s: &ServerProcess, args: &[&str]) -> String {
    expect_failure("kubectl", args, &s.kubectl(args).expect("kubectl runs"))
}

fn apply_stdin(s: &ServerProcess, args: &[&str], manifest: &str) -> String {
    let out = s
        .kubectl_with_stdin(args, Some(manifest))
        .expect("kubectl runs");
    expect_success("kubectl", args, &out)
}

const APP: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: demo
  labels: {app: web}
data:
  a: \"1\"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.local/web:1
        env:
        - {name: A, value: \"1\"}
        - {name: B, value: \"2\"}
        ports:
        - containerPort: 8000
      - name: sidecar
        image: registry.local/sidecar:1
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8000
";

fn version_and_discovery(s: &ServerProcess) {
    let v = ok(s, &["version", "-o", "json"]);
    let v: Value = serde_json::from_str(&v).expect("version JSON");
    assert_eq!(v["serverVersion"]["major"], "1");
    let resources = ok(s, &["api-resources"]);
    for line in [
        "deployments",
        "deploy",
        "apps/v1",
        "horizontalpodautoscalers",
        "customresourcedefinitions",
    ] {
        assert!(
            resources.contains(line),
            "api-resources lacks {line}:\n{resources}"
        );
    }
    let ns = ok(s, &["get", "namespaces", "-o", "name"]);
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(ns.contains(&format!("namespace/{n}")), "{ns}");
    }
}

fn apply_get_and_reapply(s: &ServerProcess) {
    let out = apply_stdin(s, &["apply", "-f", "-"], APP);
    assert_eq!(
        out,
        "namespace/demo created\nconfigmap/cfg created\ndeployment.apps/web created\nservice/web created\n"
    );
    let again = apply_stdin(s, &["apply", "-f", "-"], APP);
    assert_eq!(
        again,
        "namespace/demo unchanged\nconfigmap/cfg unchanged\ndeployment.apps/web unchanged\nservice/web unchanged\n"
    );

    // A changed image and a removed env var: a strategic merge patch computed by kubectl.
    let changed = APP
        .replace("registry.local/web:1", "registry.local/web:2")
        .replace("        - {name: B, value: \"2\"}\n", "");
    let out = apply_stdin(s, &["apply", "-f", "-"], &changed);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let d: Value = serde_json::from_str(&ok(
        s,
        &["get", "deploy", "web", "-n", "demo", "-o", "json"],
    ))
    .expect("json");
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 2, "{d}");
    assert_eq!(containers[0]["image"], "registry.local/web:2");
    assert_eq!(
        containers[0]["env"].as_array().map(Vec::len),
        Some(1),
        "{d}"
    );
    assert_eq!(containers[1]["name"], "sidecar");
    assert_eq!(d["metadata"]["generation"], 2);
    // Defaults as Kubernetes fills them in.
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");

    let wide = ok(s, &["get", "deploy", "-n", "demo", "-o", "wide"]);
    let header = wide.lines().next().unwrap_or_default();
    for col in [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ] {
        assert!(header.contains(col), "{wide}");
    }
    assert!(wide.contains("web,sidecar"), "{wide}");
    assert!(wide.contains("app=web"), "{wide}");

    let names = ok(
        s,
        &["get", "cm,svc", "-n", "demo", "-l", "app=web", "-o", "name"],
    );
    assert_eq!(names, "configmap/cfg\n");
    let jp = ok(
        s,
        &["get", "cm", "cfg", "-n", "demo", "-o", "jsonpath={.data.a}"],
    );
    assert_eq!(jp, "1");
    let yaml = ok(s, &["get", "svc", "web", "-n", "demo", "-o", "yaml"]);
    assert!(yaml.contains("targetPort: 8000"), "{yaml}");
    let all = ok(s, &["get", "all", "-n", "demo"]);
    assert!(all.contains("deployment.apps/web"), "{all}");
    assert!(all.contains("service/web"), "{all}");
    let everywhere = ok(s, &["get", "cm", "-A"]);
    assert!(
        everywhere
            .lines()
            .next()
            .unwrap_or_default()
            .starts_with("NAMESPACE"),
        "{everywhere}"
    );
    assert!(everywhere.contains("demo "), "{everywhere}");
}

fn server_side_apply(s: &ServerProcess) {
    let out = apply_stdin(s, &["apply", "--server-side", "-f", "-"], APP);
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );
    let changed = APP.replace("replicas: 2", "replicas: 3");
    let out = apply_stdin(s, &["apply", "--server-side", "-f", "-"], &changed);
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );
    let replicas = ok(
        s,
        &[
            "get",
            "deploy",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
    );
    assert_eq!(replicas, "3");
    let managers = ok(
        s,
        &[
            "get",
            "deploy",
            "web",
            "-n",
            "demo",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ],
    );
    // kubectl applied it; the deployment controller wrote the revision annotation and the
    // status, each as an Update of its own (as in Kubernetes).
    assert_eq!(
        managers,
        "kubectl kube-controller-manager kube-controller-manager"
    );

    // Another manager changes replicas; applying a different value now conflicts.
    ok(
        s,
        &[
            "patch",
            "deploy",
            "web",
            "-n",
            "demo",
            "-p",
            r#"{"spec":{"replicas":7}}"#,
        ],
    );
    let again = APP.replace("replicas: 2", "replicas: 4");
    let out = s
        .kubectl_with_stdin(&["apply", "--server-side", "-f", "-"], Some(&again))
        .expect("kubectl runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Apply failed with 1 conflict: conflict with \"kubectl-patch\" using apps/v1: .spec.replicas"),
        "{err}"
    );
    apply_stdin(
        s,
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        &again,
    );
    let replicas = ok(
        s,
        &[
            "get",
            "deploy",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
    );
    assert_eq!(replicas, "4");

    // A field dropped from the applied configuration is removed.
    let fewer = again.replace("  labels: {app: web}\ndata:", "data:");
    apply_stdin(s, &["apply", "--server-side", "-f", "-"], &fewer);
    let labels = ok(
        s,
        &[
            "get",
            "cm",
            "cfg",
            "-n",
            "demo",
            "-o",
            "jsonpath={.metadata.labels}",
        ],
    );
    assert_eq!(labels, "");
}

fn edit_verbs(s: &ServerProcess) {
    apply_stdin(s, &["apply", "-f", "-"], APP);
    let out = ok(s, &["label", "cm", "cfg", "-n", "demo", "tier=backend"]);
    assert_eq!(out, "configmap/cfg labeled\n");
    let out = ok(s, &["annotate", "cm", "cfg", "-n", "demo", "note=hello"]);
    assert_eq!(out, "configmap/cfg annotated\n");
    let labels = ok(
        s,
        &[
            "get",
            "cm",
            "-n",
            "demo",
            "-l",
            "tier=backend,app in (web)",
            "-o",
            "name",
        ],
    );
    assert_eq!(labels, "configmap/cfg\n");
    let none = ok(
        s,
        &[
            "get",
            "cm",
            "-n",
            "demo",
            "-l",
            "tier!=backend",
            "-o",
            "name",
        ],
    );
    assert!(!none.contains("configmap/cfg"), "{none}");

    let out = ok(s, &["scale", "deploy", "web", "-n", "demo", "--replicas=5"]);
    assert_eq!(out, "deployment.apps/web scaled\n");
    let r = ok(
        s,
        &[
            "get",
            "deploy",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
    );
    assert_eq!(r, "5");

    ok(
        s,
        &[
            "patch",
            "cm",
            "cfg",
            "-n",
            "demo",
            "--type=merge",
            "-p",
            r#"{"data":{"b":"2"}}"#,
        ],
    );
    ok(
        s,
        &[
            "patch",
            "cm",
            "cfg",
            "-n",
            "demo",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/data/a"}]"#,
        ],
    );
    ok(
        s,
        &[
            "patch",
            "deploy",
            "web",
            "-n",
            "demo",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"registry.local/sidecar:9"}]}}}}"#,
        ],
    );
    let data = ok(
        s,
        &["get", "cm", "cfg", "-n", "demo", "-o", "jsonpath={.data}"],
    );
    assert_eq!(data, r#"{"b":"2"}"#);
    let images = ok(
        s,
        &[
            "get",
            "deploy",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.template.spec.containers[*].image}",
        ],
    );
    assert_eq!(images, "registry.local/web:1 registry.local/sidecar:9");

    // edit with a non-interactive editor
    let mut cmd = s.kubectl_command();
    cmd.args(["edit", "cm", "cfg", "-n", "demo"])
        .env("EDITOR", "sed -i s/tier:\\ backend/tier:\\ edited/");
    let out = cmd.output().expect("kubectl edit runs");
    assert!(out.status.success(), "{}", output_text(&out));
    let tier = ok(
        s,
        &[
            "get",
            "cm",
            "cfg",
            "-n",
            "demo",
            "-o",
            "jsonpath={.metadata.labels.tier}",
        ],
    );
    assert_eq!(tier, "edited");
}

fn errors_read_as_kubernetes_writes_them(s: &ServerProcess) {
    let e = fails(s, &["get", "cm", "nope"]);
    assert_eq!(
        e.trim(),
        r#"Error from server (NotFound): configmaps "nope" not found"#
    );
    ok(s, &["create", "configmap", "dup", "--from-literal=a=b"]);
    let e = fails(s, &["create", "configmap", "dup", "--from-literal=a=b"]);
    assert_eq!(
        e.trim(),
        r#"error: failed to create configmap: configmaps "dup" already exists"#
    );
    let e = fails(s, &["create", "configmap", "x", "-n", "missing"]);
    assert_eq!(
        e.trim(),
        r#"error: failed to create configmap: namespaces "missing" not found"#
    );
    let e = fails(s, &["get", "cm", "-l", "a in (b"]);
    assert!(e.contains("unable to parse requirement"), "{e}");
}

fn delete_by_name_label_and_all(s: &ServerProcess) {
    apply_stdin(s, &["apply", "-f", "-"], APP);
    for n in ["a", "b", "c"] {
        ok(s, &["create", "configmap", n, "-n", "demo"]);
    }
    ok(s, &["label", "cm", "a", "b", "-n", "demo", "del=yes"]);
    let out = ok(s, &["delete", "cm", "-n", "demo", "-l", "del=yes"]);
    assert_eq!(out, "configmap \"a\" deleted\nconfigmap \"b\" deleted\n");
    let out = ok(s, &["delete", "deploy", "web", "-n", "demo", "--wait"]);
    assert_eq!(out, "deployment.apps \"web\" deleted\n");
    let out = ok(s, &["delete", "cm", "--all", "-n", "demo"]);
    assert!(out.contains("configmap \"c\" deleted"), "{out}");
    // The root CA publisher puts its ConfigMap back in every namespace, as Kubernetes' does.
    let left = ok(s, &["get", "cm", "-n", "demo", "-o", "name"]);
    let left: Vec<&str> = left
        .lines()
        .filter(|l| *l != "configmap/kube-root-ca.crt")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn watch_prints_changes(s: &ServerProcess) {
    let mut cmd = s.kubectl_command();
    cmd.args(["get", "cm", "-n", "default", "-w", "--output-watch-events"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("kubectl get -w starts");
    std::thread::sleep(Duration::from_secs(1));
    ok(s, &["create", "configmap", "w1", "--from-literal=a=b"]);
    ok(s, &["label", "cm", "w1", "x=y"]);
    ok(s, &["delete", "cm", "w1"]);
    std::thread::sleep(Duration::from_secs(2));
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    let printed = String::from_utf8_lossy(&out.stdout);
    let events: Vec<(&str, &str)> = printed
        .lines()
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            Some((cols.next()?, cols.next()?))
        })
        .filter(|(_, name)| *name != "kube-root-ca.crt")
        .collect();
    assert_eq!(
        events,
        vec![
            ("EVENT", "NAME"),
            ("ADDED", "w1"),
            ("MODIFIED", "w1"),
            ("DELETED", "w1")
        ],
        "{printed}"
    );
}

fn wait_for_condition(s: &ServerProcess) {
    ok(s, &["create", "namespace", "w"]);
    let out = ok(
        s,
        &[
            "wait",
            "--for=jsonpath={.status.phase}=Active",
            "namespace/w",
            "--timeout=20s",
        ],
    );
    assert_eq!(out, "namespace/w condition met\n");
}

const CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: webapps.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: webapps
    singular: webapp
    kind: WebApp
    shortNames: [wa]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - {name: Image, type: string, jsonPath: .spec.image}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [image]
            properties:
              image: {type: string}
              replicas: {type: integer, minimum: 0, default: 1}
          status:
            type: object
            properties:
              replicas: {type: integer}
";

fn custom_resources(s: &ServerProcess) {
    let out = apply_stdin(s, &["apply", "-f", "-"], CRD);
    assert_eq!(
        out,
        "customresourcedefinition.apiextensions.k8s.io/webapps.example.com created\n"
    );
    ok(
        s,
        &[
            "wait",
            "--for=condition=established",
            "crd/webapps.example.com",
            "--timeout=20s",
        ],
    );
    let cr =
        "apiVersion: example.com/v1\nkind: WebApp\nmetadata: {name: shop}\nspec: {image: shop:1}\n";
    let out = apply_stdin(s, &["apply", "-f", "-"], cr);
    assert_eq!(out, "webapp.example.com/shop created\n");
    let table = ok(s, &["get", "wa"]);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["NAME", "IMAGE", "REPLICAS"],
            vec!["shop", "shop:1", "1"]
        ],
        "{table}"
    );
    let out = ok(s, &["scale", "webapp", "shop", "--replicas=4"]);
    assert_eq!(out, "webapp.example.com/shop scaled\n");
    let r = ok(
        s,
        &["get", "webapp", "shop", "-o", "jsonpath={.spec.replicas}"],
    );
    assert_eq!(r, "4");
    // The schema is enforced.
    let bad =
        "apiVersion: example.com/v1\nkind: WebApp\nmetadata: {name: bad}\nspec: {replicas: -1}\n";
    let out = s
        .kubectl_with_stdin(&["apply", "-f", "-"], Some(bad))
        .expect("kubectl runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spec.image: Required value"), "{err}");
    assert!(
        err.contains("spec.replicas in body should be greater than or equal to 0"),
        "{err}"
    );
    // explain reads the CRD's schema through /openapi/v3.
    let explain = ok(s, &["explain", "webapp.spec"]);
    assert!(explain.contains("image"), "{explain}");
    // Deleting the CRD removes its objects.
    ok(
        s,
        &[
            "delete",
            "crd",
            "webapps.example.com",
            "--wait",
            "--timeout=30s",
        ],
    );
    let e = fails(
        s,
        &[
            "get",
            "--raw",
            "/apis/example.com/v1/namespaces/default/webapps",
        ],
    );
    assert!(e.contains("NotFound"), "{e}");
    // Created again, the CRD serves no leftovers of the old objects.
    apply_stdin(s, &["apply", "-f", "-"], CRD);
    ok(
        s,
        &[
            "wait",
            "--for=condition=established",
            "crd/webapps.example.com",
            "--timeout=20s",
        ],
    );
    let list = ok(
        s,
        &[
            "get",
            "--raw",
            "/apis/example.com/v1/namespaces/default/webapps",
        ],
    );
    let list: Value = serde_json::from_str(&list).expect("list JSON");
    assert_eq!(list["items"], serde_json::json!([]), "{list}");
}

fn unknown_fields_and_bad_bodies(s: &ServerProcess) {
    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\nbogus: 1\n";
    let out = s
        .kubectl_with_stdin(&["apply", "-f", "-"], Some(bad))
        .expect("kubectl runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("strict decoding error: unknown field \"bogus\""),
        "{err}"
    );
    // With validation off the field is dropped, as Kubernetes drops it.
    let out = apply_stdin(s, &["apply", "--validate=false", "-f", "-"], bad);
    assert_eq!(out, "configmap/x created\n");
    let e = fails(
        s,
        &[
            "get",
            "--raw",
            "/api/v1/namespaces/default/configmaps/x/nope",
        ],
    );
    assert!(e.contains("NotFound"), "{e}");
    let big = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"big\"}},\"data\":{{\"a\":\"{}\"}}}}",
        "x".repeat(4 << 20)
    );
    let path = s.scratch().join("big.json");
    std::fs::write(&path, big).expect("write");
    let e = fails(s, &["create", "-f", path.to_str().expect("utf-8 path")]);
    assert!(e.contains("Request entity too large"), "{e}");
    // A quoted number where Kubernetes' Go type is an integer: 400, as Go's decoder words it.
    let quoted = APP.replace("replicas: 2", "replicas: \"3\"");
    let out = s
        .kubectl_with_stdin(&["apply", "--validate=false", "-f", "-"], Some(&quoted))
        .expect("kubectl runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
        "{err}"
    );
    // Malformed JSON: 400 with the parser's position, and nothing stored.
    let broken = s.scratch().join("broken.json");
    std::fs::write(
        &broken,
        "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\",\n \"metadata\": {\"name\": \"half\"\n",
    )
    .expect("write");
    let e = fails(
        s,
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/default/configmaps",
            "-f",
            broken.to_str().expect("utf-8 path"),
        ],
    );
    assert!(e.contains("BadRequest") || e.contains("400"), "{e}");
    assert!(e.contains("line 3"), "{e}");
    let e = fails(s, &["get", "cm", "half"]);
    assert!(e.contains("NotFound"), "{e}");
}

fn describe_explain_paging_and_dry_run(s: &ServerProcess) {
    apply_stdin(s, &["apply", "-f", "-"], APP);
    let d = ok(s, &["describe", "deployment", "web", "-n", "demo"]);
    for line in [
        "Name:",
        "web",
        "Namespace:",
        "demo",
        "Replicas:",
        "2 desired",
        "StrategyType:",
        "RollingUpdate",
        "registry.local/web:1",
    ] {
        assert!(d.contains(line), "describe lacks {line}:\n{d}");
    }
    let explain = ok(s, &["explain", "deployment.spec.strategy"]);
    assert!(explain.contains("rollingUpdate"), "{explain}");
    assert!(
        explain.contains("KIND:") && explain.contains("Deployment"),
        "{explain}"
    );

    for i in 0..7 {
        let manifest = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: page-{i}, namespace: demo}}\n"
        );
        apply_stdin(s, &["apply", "-f", "-"], &manifest);
    }
    // The root CA publisher's ConfigMap is the ninth.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while s
        .kubectl(&["get", "cm", "kube-root-ca.crt", "-n", "demo"])
        .is_ok_and(|o| !o.status.success())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no kube-root-ca.crt in demo"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Pages of two, followed by continue tokens: all nine configmaps, once each.
    let names = ok(
        s,
        &["get", "cm", "-n", "demo", "--chunk-size=2", "-o", "name"],
    );
    let listed: Vec<&str> = names.lines().collect();
    assert_eq!(listed.len(), 9, "{names}");
    let raw = ok(
        s,
        &["get", "--raw", "/api/v1/namespaces/demo/configmaps?limit=3"],
    );
    let page: Value = serde_json::from_str(&raw).expect("list JSON");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(page["metadata"]["remainingItemCount"], 6);
    assert!(page["metadata"]["continue"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));

    let out = ok(
        s,
        &[
            "create",
            "configmap",
            "ghost",
            "-n",
            "demo",
            "--dry-run=server",
            "-o",
            "name",
        ],
    );
    assert_eq!(out, "configmap/ghost\n");
    let e = fails(s, &["get", "cm", "ghost", "-n", "demo"]);
    assert!(e.contains("NotFound"), "{e}");
    let out = ok(
        s,
        &["delete", "cm", "page-0", "-n", "demo", "--dry-run=server"],
    );
    assert!(out.contains("deleted (server dry run)"), "{out}");
    ok(s, &["get", "cm", "page-0", "-n", "demo"]);
}

fn versions_share_storage(s: &ServerProcess) {
    let hpa = "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  minReplicas: 2\n  maxReplicas: 6\n  targetCPUUtilizationPercentage: 50\n";
    let out = apply_stdin(s, &["apply", "-f", "-"], hpa);
    assert_eq!(out, "horizontalpodautoscaler.autoscaling/web created\n");
    // Read back as autoscaling/v2 (the preferred version) and as v1.
    let v2 = ok(s, &["get", "hpa", "web", "-o", "jsonpath={.apiVersion} {.spec.metrics[0].resource.name} {.spec.metrics[0].resource.target.averageUtilization}"]);
    assert_eq!(v2, "autoscaling/v2 cpu 50");
    let v1 = ok(
        s,
        &[
            "get",
            "horizontalpodautoscalers.v1.autoscaling",
            "web",
            "-o",
            "jsonpath={.apiVersion} {.spec.targetCPUUtilizationPercentage}",
        ],
    );
    assert_eq!(v1, "autoscaling/v1 50");
    let table = ok(s, &["get", "hpa", "web"]);
    assert!(table.contains("cpu: <unknown>/50%"), "{table}");
    // The same object through events.k8s.io and core/v1.
    let event = "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {name: e1}\neventTime: \"2026-01-01T00:00:00.000000Z\"\nreportingController: example.com/ctl\nreportingInstance: ctl-1\naction: Scale\nreason: Scaled\nnote: scaled up\ntype: Normal\nregarding: {kind: Deployment, name: web, namespace: default}\n";
    apply_stdin(s, &["apply", "-f", "-"], event);
    let core = ok(s, &["get", "--raw", "/api/v1/namespaces/default/events/e1"]);
    let core: Value = serde_json::from_str(&core).expect("event JSON");
    assert_eq!(core["apiVersion"], "v1");
    assert_eq!(core["message"], "scaled up");
    assert_eq!(core["involvedObject"]["name"], "web");
}

/// kubectl's `create`/`run` subcommands send protobuf bodies.
fn imperative_creates(s: &ServerProcess) {
    assert_eq!(
        ok(s, &["create", "namespace", "imp"]),
        "namespace/imp created\n"
    );
    assert_eq!(
        ok(
            s,
            &[
                "create",
                "deployment",
                "d",
                "--image=registry.local/web:1",
                "--replicas=3",
                "-n",
                "imp"
            ]
        ),
        "deployment.apps/d created\n"
    );
    assert_eq!(
        ok(
            s,
            &["run", "p", "--image=registry.local/busybox:1", "-n", "imp"]
        ),
        "pod/p created\n"
    );
    assert_eq!(
        ok(
            s,
            &[
                "create",
                "secret",
                "generic",
                "sec",
                "--from-literal=k=v",
                "-n",
                "imp"
            ]
        ),
        "secret/sec created\n"
    );
    assert_eq!(
        ok(
            s,
            &[
                "create",
                "service",
                "clusterip",
                "svc",
                "--tcp=80:8080",
                "-n",
                "imp"
            ]
        ),
        "service/svc created\n"
    );
    assert_eq!(
        ok(
            s,
            &[
                "create",
                "job",
                "j",
                "--image=registry.local/busybox:1",
                "-n",
                "imp"
            ]
        ),
        "job.batch/j created\n"
    );
    let d: Value = serde_json::from_str(&ok(s, &["get", "deploy", "d", "-n", "imp", "-o", "json"]))
        .expect("json");
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.local/web:1"
    );
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "d");
    let secret = ok(
        s,
        &[
            "get",
            "secret",
            "sec",
            "-n",
            "imp",
            "-o",
            "jsonpath={.data.k}",
        ],
    );
    assert_eq!(secret, "dg==");
    let port = ok(
        s,
        &[
            "get",
            "svc",
            "svc",
            "-n",
            "imp",
            "-o",
            "jsonpath={.spec.ports[0].targetPort}",
        ],
    );
    assert_eq!(port, "8080");
    let job = ok(
        s,
        &[
            "get",
            "job",
            "j",
            "-n",
            "imp",
            "-o",
            "jsonpath={.spec.selector.matchLabels}",
        ],
    );
    assert!(job.contains("controller-uid"), "{job}");
    let pod = ok(
        s,
        &[
            "get",
            "pod",
            "p",
            "-n",
            "imp",
            "-o",
            "jsonpath={.status.phase} {.spec.restartPolicy}",
        ],
    );
    assert_eq!(pod, "Pending Always");
}

fn services_get_cluster_ips_and_node_ports(s: &ServerProcess) {
    let ip = ok(
        s,
        &[
            "get",
            "svc",
            "kubernetes",
            "-n",
            "default",
            "-o",
            "jsonpath={.spec.clusterIP} {.spec.ports[0].port}",
        ],
    );
    assert_eq!(ip, "10.96.0.1 443");
    // The API server publishes its own address behind the Service, in both forms.
    let endpoints = ok(s, &["get", "endpoints", "kubernetes", "-n", "default"]);
    let port = s.port();
    assert!(
        endpoints.contains(&format!("127.0.0.1:{port}")),
        "{endpoints}"
    );
    let slice = ok(
        s,
        &[
            "get",
            "endpointslices",
            "kubernetes",
            "-n",
            "default",
            "-o",
            "jsonpath={.addressType} {.endpoints[0].addresses[0]} {.ports[0].name} {.ports[0].port}",
        ],
    );
    assert_eq!(slice, format!("IPv4 127.0.0.1 https {port}"));
    apply_stdin(s, &["apply", "-f", "-"], APP);
    let ip = ok(
        s,
        &[
            "get",
            "svc",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ],
    );
    let parsed: std::net::Ipv4Addr = ip.parse().expect("an IPv4 cluster IP");
    // Inside the service CIDR, 10.96.0.0/12.
    assert!(
        parsed.octets()[0] == 10 && (96..=111).contains(&parsed.octets()[1]),
        "{ip}"
    );
    // Re-applying the manifest (which names no IP) keeps it; kubectl reports unchanged.
    let again = apply_stdin(s, &["apply", "-f", "-"], APP);
    assert!(again.contains("service/web unchanged"), "{again}");
    // A NodePort service gets a port from 30000-32767; asking for a taken port or IP is refused.
    let np = "apiVersion: v1\nkind: Service\nmetadata: {name: np, namespace: demo}\nspec:\n  type: NodePort\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8000}]\n";
    apply_stdin(s, &["apply", "-f", "-"], np);
    let port: u16 = ok(
        s,
        &[
            "get",
            "svc",
            "np",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ],
    )
    .parse()
    .expect("a node port");
    assert!((30000..=32767).contains(&port), "{port}");
    let clash = format!("apiVersion: v1\nkind: Service\nmetadata: {{name: clash, namespace: demo}}\nspec:\n  clusterIP: {ip}\n  ports: [{{port: 80}}]\n");
    let out = s
        .kubectl_with_stdin(&["apply", "-f", "-"], Some(&clash))
        .expect("kubectl runs");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("provided IP is already allocated"),
        "{}",
        output_text(&out)
    );
    let table = ok(s, &["get", "svc", "-n", "demo"]);
    assert!(table.contains(&ip), "{table}");
    assert!(table.contains(&format!("80:{port}/TCP")), "{table}");
    // Deleted, its IP can be asked for again.
    ok(s, &["delete", "svc", "web", "-n", "demo"]);
    let reuse = clash.replace("name: clash", "name: reuse");
    apply_stdin(s, &["apply", "-f", "-"], &reuse);
}
