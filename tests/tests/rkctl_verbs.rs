//! rkctl's verbs against `rkube server`: broken manifests change nothing and say why; label,
//! annotate, scale, patch, wait, delete, watch, config and version print what kubectl prints.
//!
//! Needs `target/debug/rkube` and `target/debug/rkctl` (`cargo build --bin rkube -p rkube-ctl`).

use std::time::Duration;

use rkube_tests::server_proc::{expect_success, output_text, ServerProcess};

fn start() -> ServerProcess {
    ServerProcess::start().expect("rkube server starts")
}

fn ok(s: &ServerProcess, args: &[&str]) -> String {
    expect_success("rkctl", args, &s.rkctl(args).expect("rkctl runs"))
}

/// Runs rkctl expecting exit code 1 and nothing on stdout; returns stderr.
fn fails(s: &ServerProcess, args: &[&str]) -> String {
    let out = s.rkctl(args).expect("rkctl runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "rkctl {args:?} should fail:\n{}",
        output_text(&out)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "rkctl {args:?} printed on stdout"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const FIRST: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\ndata:\n  a: b\n---\n";

#[test]
fn broken_manifests_say_where_and_create_nothing() {
    let s = start();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "tabs.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n\tname: x\n",
            &["error parsing ", "tabs.yaml: error converting YAML to JSON: yaml: line 11: found character that cannot start any token", "line 11 is indented with a tab"],
        ),
        (
            "nesting.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: nest\nspec:\n  containers:\n  - name: a\n    image: nginx\n   resources: {}\n",
            &["nesting.yaml: error converting YAML to JSON: yaml: line 16: ", "did not find expected key"],
        ),
        (
            "mount.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: mount\nspec:\n  containers:\n  - name: a\n    image: nginx\n    volumeMounts:\n    - name: data\n      montPath: /data\n  volumes:\n  - name: data\n    emptyDir: {}\n",
            &["Error from server (BadRequest): error when creating \"", "mount.yaml\": Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.containers[0].volumeMounts[0].montPath\""],
        ),
        (
            "cpus.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: cpus\nspec:\n  containers:\n  - name: a\n    image: nginx\n    resources:\n      limits:\n        cpus: 500m\n",
            &["The Pod \"cpus\" is invalid: \n* spec.containers[0].resources.limits[cpus]: Invalid value: \"cpus\": must be a standard resource for containers"],
        ),
        (
            "replicas.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: rq\nspec:\n  replicas: \"3\"\n  selector: {matchLabels: {app: rq}}\n  template:\n    metadata: {labels: {app: rq}}\n    spec:\n      containers: [{name: a, image: nginx}]\n",
            &["error validating \"", "replicas.yaml\": error validating data: [ValidationError(Deployment.spec.replicas): invalid type for io.k8s.api.apps.v1.DeploymentSpec.replicas: got \"string\", expected \"integer\"]"],
        ),
        (
            "kind.yaml",
            "apiVersion: apps/v1\nkind: Deploymnet\nmetadata:\n  name: k\n",
            &["no matches for kind \"Deploymnet\" in version \"apps/v1\"", "the server has: Deployment (apps/v1)"],
        ),
    ];
    for (name, body, expected) in cases {
        let path = s.scratch().join(name);
        std::fs::write(&path, format!("{FIRST}{body}")).expect("write manifest");
        let path = path.display().to_string();
        for verb in ["apply", "create"] {
            let err = fails(&s, &[verb, "-f", &path]);
            for e in *expected {
                assert!(err.contains(e), "{verb} {name}: {e:?} not in:\n{err}");
            }
            let cms = s.rkctl(&["get", "cm", "first"]).expect("rkctl runs");
            assert!(
                !cms.status.success(),
                "{verb} {name} created the first document"
            );
        }
    }
}

#[test]
fn everyday_verbs() {
    let s = start();
    assert_eq!(
        ok(&s, &["create", "namespace", "work"]),
        "namespace/work created\n"
    );
    assert_eq!(
        ok(
            &s,
            &["config", "set-context", "--current", "--namespace", "work"]
        ),
        "Context \"rkube\" modified.\n"
    );
    let contexts = ok(&s, &["config", "get-contexts"]);
    assert!(contexts.contains("work"), "{contexts}");
    assert_eq!(
        ok(
            &s,
            &[
                "create",
                "deployment",
                "web",
                "--image=registry.local/web:1",
                "--replicas=2"
            ]
        ),
        "deployment.apps/web created\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "deploy",
                "-o",
                "jsonpath={.items[*].metadata.namespace}"
            ]
        ),
        "work"
    );
    assert_eq!(
        ok(&s, &["label", "deploy", "web", "tier=front"]),
        "deployment.apps/web labeled\n"
    );
    let err = fails(&s, &["label", "deploy/web", "tier=back"]);
    assert_eq!(
        err,
        "error: 'tier' already has a value (front), and --overwrite is false\n"
    );
    assert_eq!(
        ok(&s, &["label", "deploy/web", "tier=back", "--overwrite"]),
        "deployment.apps/web labeled\n"
    );
    assert_eq!(
        ok(&s, &["label", "deploy/web", "tier-"]),
        "deployment.apps/web unlabeled\n"
    );
    assert_eq!(
        ok(&s, &["label", "deploy/web", "tier-"]),
        "deployment.apps/web not labeled\n"
    );
    assert_eq!(
        ok(&s, &["annotate", "deploy", "web", "note=hi"]),
        "deployment.apps/web annotated\n"
    );
    assert_eq!(
        ok(&s, &["scale", "deploy", "web", "--replicas=3"]),
        "deployment.apps/web scaled\n"
    );
    assert_eq!(
        ok(
            &s,
            &["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]
        ),
        "3"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "patch",
                "deploy",
                "web",
                "-p",
                "{\"spec\":{\"replicas\":4}}"
            ]
        ),
        "deployment.apps/web patched\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "patch",
                "deploy",
                "web",
                "--type",
                "merge",
                "-p",
                "{\"spec\":{\"replicas\":4}}"
            ]
        ),
        "deployment.apps/web patched (no change)\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "patch",
                "deploy",
                "web",
                "--type",
                "json",
                "-p",
                "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":1}]"
            ]
        ),
        "deployment.apps/web patched\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "wait",
                "--for=jsonpath={.status.phase}=Active",
                "namespace/work"
            ]
        ),
        "namespace/work condition met\n"
    );
    let err = fails(
        &s,
        &[
            "wait",
            "--for=condition=Ready",
            "deploy/web",
            "--timeout=1s",
        ],
    );
    assert_eq!(
        err,
        "error: timed out waiting for the condition on deployments/web\n"
    );

    // Errors: kubectl's words, exit code 1, nothing on stdout.
    assert_eq!(
        fails(&s, &["get", "foo"]),
        "error: the server doesn't have a resource type \"foo\"\n"
    );
    assert_eq!(
        fails(&s, &["get", "deploy", "nope"]),
        "Error from server (NotFound): deployments.apps \"nope\" not found\n"
    );
    assert_eq!(
        fails(&s, &["delete", "cm", "nope"]),
        "Error from server (NotFound): configmaps \"nope\" not found\n"
    );

    // get -w prints the changes as they happen.
    let mut cmd = s.rkctl_command().expect("rkctl built");
    cmd.args(["get", "cm", "-w", "--output-watch-events"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("rkctl get -w starts");
    std::thread::sleep(Duration::from_secs(1));
    ok(&s, &["create", "configmap", "w1", "--from-literal=a=b"]);
    ok(&s, &["label", "cm", "w1", "x=y"]);
    assert_eq!(
        ok(&s, &["delete", "cm", "w1"]),
        "configmap \"w1\" deleted\n"
    );
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

    // The same watch through kubectl prints the same lines.
    let mut mine = s.rkctl_command().expect("rkctl built");
    mine.args(["get", "cm", "-w", "--output-watch-events"])
        .stdout(std::process::Stdio::piped());
    let mut theirs = s.kubectl_command();
    theirs
        .args(["get", "cm", "-w", "--output-watch-events"])
        .stdout(std::process::Stdio::piped());
    let mine = mine.spawn().expect("rkctl get -w starts");
    let theirs = theirs.spawn().expect("kubectl get -w starts");
    std::thread::sleep(Duration::from_secs(1));
    ok(
        &s,
        &["create", "configmap", "a-longer-name", "--from-literal=a=b"],
    );
    ok(&s, &["label", "cm", "a-longer-name", "x=y"]);
    ok(&s, &["delete", "cm", "a-longer-name"]);
    std::thread::sleep(Duration::from_secs(2));
    let mut outputs = Vec::new();
    for mut child in [mine, theirs] {
        let _ = child.kill();
        let out = child.wait_with_output().expect("output");
        outputs.push(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    // The AGE column is computed by each tool when it prints a line: the two may read the
    // clock a second apart, so it is left out of the comparison.
    let without_age = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| {
                l.rsplit_once(' ')
                    .map_or(l, |(rest, _)| rest.trim_end())
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(
        without_age(&outputs[0]),
        without_age(&outputs[1]),
        "rkctl get -w differs from kubectl's:\n{}\n{}",
        outputs[0],
        outputs[1]
    );

    // delete by label and --all.
    ok(&s, &["create", "configmap", "l1", "--from-literal=a=b"]);
    ok(&s, &["create", "configmap", "l2", "--from-literal=a=b"]);
    ok(&s, &["label", "cm", "l1", "group=x"]);
    assert_eq!(
        ok(&s, &["delete", "cm", "-l", "group=x"]),
        "configmap \"l1\" deleted\n"
    );
    let all = ok(&s, &["delete", "cm", "--all"]);
    assert!(all.contains("configmap \"l2\" deleted\n"), "{all}");
    assert_eq!(
        ok(&s, &["delete", "deploy/web"]),
        "deployment.apps \"web\" deleted\n"
    );

    let version = ok(&s, &["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&version).expect("version JSON");
    assert_eq!(v["serverVersion"]["major"], "1");
    assert!(ok(&s, &["version"]).starts_with("Client Version: v"));
}

#[test]
fn workload_and_node_verbs() {
    let s = start();
    ok(
        &s,
        &[
            "create",
            "deployment",
            "web",
            "--image=registry.local/web:1",
            "--port=8000",
        ],
    );
    let status = ok(&s, &["rollout", "status", "deploy/web", "--watch=false"]);
    assert!(status.starts_with("Waiting for deployment"), "{status}");
    assert_eq!(
        ok(&s, &["rollout", "restart", "deploy/web"]),
        "deployment.apps/web restarted\n"
    );
    assert_eq!(
        ok(
            &s,
            &["set", "image", "deploy/web", "web=registry.local/web:2"]
        ),
        "deployment.apps/web image updated\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].image}"
            ]
        ),
        "registry.local/web:2"
    );
    assert_eq!(
        fails(&s, &["set", "image", "deploy/web", "nope=x"]),
        "error: unable to find container named \"nope\"\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "autoscale",
                "deploy",
                "web",
                "--min=2",
                "--max=6",
                "--cpu-percent=50"
            ]
        ),
        "horizontalpodautoscaler.autoscaling/web autoscaled\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "hpa",
                "web",
                "-o",
                "jsonpath={.spec.metrics[0].resource.target.averageUtilization}"
            ]
        ),
        "50"
    );
    assert_eq!(
        ok(
            &s,
            &["expose", "deploy", "web", "--port=80", "--target-port=8000"]
        ),
        "service/web exposed\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "svc",
                "web",
                "-o",
                "jsonpath={.spec.selector.app} {.spec.ports[0].targetPort}"
            ]
        ),
        "web 8000"
    );
    assert_eq!(
        ok(&s, &["run", "one", "--image=busybox", "--", "sleep", "10"]),
        "pod/one created\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "pod",
                "one",
                "-o",
                "jsonpath={.spec.containers[0].args}"
            ]
        ),
        "[\"sleep\",\"10\"]"
    );

    // edit through an editor script.
    let editor = s.scratch().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/^  replicas: 1$/  replicas: 5/' \"$1\"\n",
    )
    .expect("write editor");
    let chmod = std::process::Command::new("chmod")
        .arg("+x")
        .arg(&editor)
        .status()
        .expect("chmod");
    assert!(chmod.success());
    let mut cmd = s.rkctl_command().expect("rkctl built");
    cmd.args(["edit", "deploy/web"]).env("KUBE_EDITOR", &editor);
    let out = cmd.output().expect("rkctl edit runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "deployment.apps/web edited\n",
        "{}",
        output_text(&out)
    );
    assert_eq!(
        ok(
            &s,
            &["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]
        ),
        "5"
    );
    let mut cmd = s.rkctl_command().expect("rkctl built");
    cmd.args(["edit", "deploy/web"]).env("KUBE_EDITOR", "true");
    let out = cmd.output().expect("rkctl edit runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Edit cancelled, no changes made.\n"
    );

    // Nodes: cordon, uncordon, taint.
    let node = "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n";
    let created = s
        .rkctl_with_stdin(&["create", "-f", "-"], Some(node))
        .expect("rkctl runs");
    assert!(created.status.success(), "{}", output_text(&created));
    assert_eq!(ok(&s, &["cordon", "n1"]), "node/n1 cordoned\n");
    assert_eq!(ok(&s, &["cordon", "n1"]), "node/n1 already cordoned\n");
    assert_eq!(ok(&s, &["uncordon", "n1"]), "node/n1 uncordoned\n");
    assert_eq!(
        ok(&s, &["taint", "nodes", "n1", "dedicated=gpu:NoSchedule"]),
        "node/n1 tainted\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "node",
                "n1",
                "-o",
                "jsonpath={.spec.taints[0].key}={.spec.taints[0].value}:{.spec.taints[0].effect}"
            ]
        ),
        "dedicated=gpu:NoSchedule"
    );
    assert_eq!(
        ok(&s, &["taint", "node/n1", "dedicated:NoSchedule-"]),
        "node/n1 untainted\n"
    );

    // drain: an unmanaged pod needs --force; then it is evicted and the node drained.
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bound\n  namespace: default\nspec:\n  nodeName: n1\n  containers: [{name: a, image: b}]\n";
    let created = s
        .rkctl_with_stdin(&["create", "-f", "-"], Some(pod))
        .expect("rkctl runs");
    assert!(created.status.success(), "{}", output_text(&created));
    let out = s.rkctl(&["drain", "n1"]).expect("rkctl runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot delete Pods that declare no controller (use --force to override): default/bound"),
        "{}",
        output_text(&out)
    );
    // (Deleted rather than evicted: without a kubelet only an immediate deletion completes.)
    assert_eq!(
        ok(
            &s,
            &[
                "drain",
                "n1",
                "--force",
                "--grace-period=0",
                "--disable-eviction",
                "--timeout=20s"
            ]
        ),
        "node/n1 already cordoned\npod/bound deleted\nnode/n1 drained\n"
    );
}

#[test]
fn apply_prune_removes_what_the_files_dropped() {
    let s = start();
    let two = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {app: p}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  labels: {app: p}\n";
    let one = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {app: p}\n";
    let out = s
        .rkctl_with_stdin(&["apply", "-f", "-"], Some(two))
        .expect("rkctl runs");
    assert!(out.status.success(), "{}", output_text(&out));
    // Not applied, so never pruned.
    ok(&s, &["create", "configmap", "c", "--from-literal=x=y"]);
    ok(&s, &["label", "cm", "c", "app=p"]);
    let out = s
        .rkctl_with_stdin(&["apply", "-f", "-", "--prune", "-l", "app=p"], Some(one))
        .expect("rkctl runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "configmap/a unchanged\nconfigmap/b pruned\n",
        "{}",
        output_text(&out)
    );
    let names = ok(&s, &["get", "cm", "-l", "app=p", "-o", "name"]);
    assert_eq!(names, "configmap/a\nconfigmap/c\n");
}

/// Splits the server's kubeconfig into a clusters file and a users-and-contexts file, with
/// the client certificate and key as files and the cluster trusted by file too.
fn split_kubeconfig(s: &ServerProcess) -> (String, String) {
    use base64::Engine as _;
    let cfg: serde_json::Value =
        serde_json::from_str(&ok(s, &["config", "view", "--raw", "-o", "json"]))
            .expect("config JSON");
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 data"))
            .expect("valid base64")
    };
    let dir = s.scratch();
    std::fs::write(
        dir.join("ca.crt"),
        b64(&cfg["clusters"][0]["cluster"]["certificate-authority-data"]),
    )
    .expect("write");
    std::fs::write(
        dir.join("admin.crt"),
        b64(&cfg["users"][0]["user"]["client-certificate-data"]),
    )
    .expect("write");
    std::fs::write(
        dir.join("admin.key"),
        b64(&cfg["users"][0]["user"]["client-key-data"]),
    )
    .expect("write");
    let server = cfg["clusters"][0]["cluster"]["server"]
        .as_str()
        .expect("server")
        .to_owned();
    let clusters = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority: ca.crt\n- name: broken\n  cluster:\n    server: https://127.0.0.1:1\n"
    );
    let users = "apiVersion: v1\nkind: Config\ncurrent-context: main\ncontexts:\n- name: main\n  context: {cluster: c, user: u, namespace: kube-system}\n- name: other\n  context: {cluster: broken, user: u}\nusers:\n- name: u\n  user:\n    client-certificate: admin.crt\n    client-key: admin.key\n";
    let a = dir.join("clusters.yaml");
    let b = dir.join("users.yaml");
    std::fs::write(&a, clusters).expect("write");
    std::fs::write(&b, users).expect("write");
    (a.display().to_string(), b.display().to_string())
}

#[test]
fn kubeconfig_files_merge_and_flags_override() {
    let s = start();
    let (a, b) = split_kubeconfig(&s);
    let run = |env: &str, args: &[&str]| {
        let mut cmd = s.rkctl_command().expect("rkctl built");
        cmd.env("KUBECONFIG", env).args(args);
        cmd.output().expect("rkctl runs")
    };
    let merged = format!("{a}:{b}");
    // The namespace comes from the context.
    let out = run(&merged, &["get", "cm", "-o", "name"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let out = run(
        &merged,
        &[
            "config",
            "view",
            "--minify",
            "-o",
            "jsonpath={.contexts[0].context.namespace}",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "kube-system");
    // --context picks the unreachable cluster; --server puts it right again.
    let out = run(&merged, &["--context", "other", "get", "ns"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?\n"
    );
    let server = format!("https://127.0.0.1:{}", s.port());
    let out = run(
        &merged,
        &[
            "--context",
            "other",
            "--server",
            &server,
            "--certificate-authority",
            &s.scratch().join("ca.crt").display().to_string(),
            "get",
            "ns",
            "default",
            "-o",
            "name",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "namespace/default\n",
        "{}",
        output_text(&out)
    );
    let out = run(
        &merged,
        &[
            "--context",
            "other",
            "--server",
            &server,
            "--insecure-skip-tls-verify",
            "get",
            "ns",
            "default",
            "-o",
            "name",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "namespace/default\n",
        "{}",
        output_text(&out)
    );
    // Unknown users are refused before anything is sent; a bad token by the server.
    let out = run(&merged, &["--user", "nobody", "get", "ns"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: auth info \"nobody\" does not exist\n"
    );
    let token_only = s.scratch().join("token.yaml");
    std::fs::write(
        &token_only,
        format!("apiVersion: v1\nkind: Config\ncurrent-context: t\nclusters:\n- name: c\n  cluster: {{server: \"{server}\", insecure-skip-tls-verify: true}}\ncontexts:\n- name: t\n  context: {{cluster: c, user: t}}\nusers:\n- name: t\n  user: {{token: nope}}\n"),
    )
    .expect("write");
    let out = run(&token_only.display().to_string(), &["get", "ns"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: You must be logged in to the server (Unauthorized)\n"
    );
    // use-context writes the file holding current-context.
    let out = run(&merged, &["config", "use-context", "other"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Switched to context \"other\".\n",
        "{}",
        output_text(&out)
    );
    let users = std::fs::read_to_string(&b).expect("read");
    assert!(users.contains("current-context: other"), "{users}");
    let out = run(&merged, &["config", "use-context", "nope"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no context exists with the name: \"nope\"\n"
    );
}

#[test]
fn rollout_and_top_messages() {
    let s = start();
    ok(
        &s,
        &[
            "create",
            "deployment",
            "web",
            "--image=registry.local/web:1",
        ],
    );
    assert_eq!(
        ok(&s, &["rollout", "pause", "deploy/web"]),
        "deployment.apps/web paused\n"
    );
    assert_eq!(
        fails(&s, &["rollout", "pause", "deploy/web"]),
        "error: deployments.apps \"web\" is already paused\n"
    );
    assert_eq!(
        ok(&s, &["rollout", "resume", "deploy/web"]),
        "deployment.apps/web resumed\n"
    );
    assert_eq!(
        fails(&s, &["rollout", "resume", "deploy/web"]),
        "error: deployments.apps \"web\" is not paused\n"
    );
    assert_eq!(
        ok(&s, &["rollout", "history", "deploy/web"]),
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n\n"
    );
    assert_eq!(
        fails(&s, &["rollout", "undo", "deploy/web"]),
        "error: no rollout history found for deployment \"web\"\n"
    );
    assert_eq!(
        fails(&s, &["top", "pod"]),
        "error: Metrics API not available\n"
    );
}

#[test]
fn diff_shows_what_apply_would_change() {
    let s = start();
    let v1 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\ndata:\n  k: one\n";
    let path = s.scratch().join("d.yaml");
    std::fs::write(&path, v1).expect("write");
    let path = path.display().to_string();
    // Not there yet: the whole object is new.
    let out = s.rkctl(&["diff", "-f", &path]).expect("rkctl runs");
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("+  k: one\n"),
        "{}",
        output_text(&out)
    );
    ok(&s, &["apply", "-f", &path]);
    let out = s.rkctl(&["diff", "-f", &path]).expect("rkctl runs");
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    std::fs::write(s.scratch().join("d.yaml"), v1.replace("one", "two")).expect("write");
    let out = s.rkctl(&["diff", "-f", &path]).expect("rkctl runs");
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("-  k: one\n+  k: two\n"), "{printed}");
    assert!(printed.starts_with("diff -u -N "), "{printed}");
    // Nothing was changed by diff.
    assert_eq!(
        ok(&s, &["get", "cm", "d", "-o", "jsonpath={.data.k}"]),
        "one"
    );
}

#[test]
fn bash_completion_offers_verbs_types_and_names() {
    let s = start();
    ok(
        &s,
        &["create", "configmap", "complete-me", "--from-literal=a=b"],
    );
    let script = s.scratch().join("rkctl.bash");
    std::fs::write(&script, ok(&s, &["completion", "bash"])).expect("write script");
    let rkctl = rkube_tests::server_proc::rkctl_binary().expect("rkctl built");
    let bin_dir = rkctl.parent().expect("directory").display().to_string();
    let complete = |words: &str, cword: usize| {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; _rkctl; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(program)
            .env("PATH", format!("{bin_dir}:/usr/bin:/bin"))
            .env("KUBECONFIG", s.kubeconfig())
            .output()
            .expect("bash runs");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(complete("rkctl dele", 1), "delete");
    assert_eq!(complete("rkctl get configm", 2), "configmaps");
    assert_eq!(complete("rkctl get configmaps compl", 3), "complete-me");
    assert_eq!(
        complete("rkctl -n default describe cm/comp", 4),
        "cm/complete-me"
    );
    assert!(fails(&s, &["completion", "fish"]).contains("Unsupported shell type \"fish\""));
}

/// A web server on loopback serving `dir` (Python's http.server), stopped on drop.
struct WebServer(std::process::Child, u16);

impl WebServer {
    fn start(dir: &std::path::Path) -> Option<WebServer> {
        let port = rkube_tests::store_proc::free_ports(1).ok()?[0];
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .arg("--directory")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(WebServer(child, port))
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn manifests_from_urls() {
    let s = start();
    let dir = s.scratch().join("www");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    std::fs::write(dir.join("app.yaml"), FIRST).expect("manifest written");
    let Some(web) = WebServer::start(&dir) else {
        eprintln!("SKIPPED: python3 cannot serve files on loopback here");
        return;
    };
    let url = format!("http://127.0.0.1:{}/app.yaml", web.1);
    assert_eq!(ok(&s, &["apply", "-f", &url]), "configmap/first created\n");
    assert_eq!(
        ok(&s, &["apply", "-f", &url]),
        "configmap/first unchanged\n"
    );
    let missing = format!("http://127.0.0.1:{}/missing.yaml", web.1);
    let stderr = fails(&s, &["apply", "-f", &missing]);
    assert_eq!(
        stderr,
        format!("error: unable to read URL \"{missing}\", server reported 404 Not Found, status code=404\n")
    );
}
