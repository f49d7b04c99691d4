//! rkctl against `rkube server`, its output compared with what kubectl 1.32 prints for the same
//! objects: tables, `-o wide|yaml|json|name|jsonpath|custom-columns`, describe, errors.
//!
//! Needs `target/debug/rkube` and `target/debug/rkctl` (`cargo build --bin rkube --bin rkctl`)
//! and kubectl (see `server_proc`).

use std::process::Output;

use rkube_tests::server_proc::{output_text, ServerProcess};

fn start() -> ServerProcess {
    // No scheduler or controllers: their events carry ages that tick between the two runs.
    ServerProcess::start_args(&["--disable-scheduler", "--disable-controller-manager"])
        .expect("rkube server starts")
}

/// stdout, stderr and exit code, as one comparable value.
fn run_both(s: &ServerProcess, args: &[&str]) -> (String, String) {
    let mine = s.rkctl(args).expect("rkctl runs");
    let theirs = s.kubectl(args).expect("kubectl runs");
    let show = |o: &Output| {
        format!(
            "stdout:\n{}\nstderr:\n{}\nexit: {:?}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            o.status.code()
        )
    };
    (show(&mine), show(&theirs))
}

/// rkctl prints exactly what kubectl prints (retried: an AGE column may tick between the two).
fn same(s: &ServerProcess, args: &[&str]) {
    let mut last = (String::new(), String::new());
    for _ in 0..3 {
        last = run_both(s, args);
        if last.0 == last.1 {
            return;
        }
    }
    assert_eq!(last.0, last.1, "rkctl {args:?} differs from kubectl");
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
  labels: {app: web, tier: front}
data:
  a: \"1\"
  text: |
    hello
    world
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
        ports:
        - containerPort: 8000
        resources:
          requests: {cpu: \"0.3\", memory: 300Mi}
          limits: {cpu: \"0.5\", memory: 500Mi}
        readinessProbe:
          httpGet: {path: /test, port: 8000}
          initialDelaySeconds: 5
          periodSeconds: 5
          successThreshold: 3
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  selector: {app: web}
  externalIPs: [192.168.1.11]
  ports:
  - port: 80
    targetPort: 8000
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: demo
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 6
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
---
apiVersion: v1
kind: Pod
metadata:
  name: p1
  namespace: demo
  labels: {app: p}
spec:
  containers:
  - name: main
    image: busybox
    command: [sh, -c]
    args: [sleep 3600]
    env:
    - {name: A, value: \"1\"}
    - name: B
      valueFrom: {configMapKeyRef: {name: cfg, key: a}}
    ports:
    - {containerPort: 80, name: http}
    - {containerPort: 443}
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: c, mountPath: /etc/c, readOnly: true}
    livenessProbe:
      tcpSocket: {port: 80}
  volumes:
  - name: data
    emptyDir: {}
  - name: c
    configMap: {name: cfg}
  nodeSelector: {disk: ssd}
";

#[test]
fn output_matches_kubectl() {
    let s = start();
    let applied = s
        .rkctl_with_stdin(&["apply", "-f", "-"], Some(APP))
        .expect("rkctl runs");
    assert!(applied.status.success(), "{}", output_text(&applied));
    for args in [
        &["get", "ns"][..],
        &["get", "all", "-n", "demo"],
        &["get", "all", "-n", "demo", "-o", "wide"],
        &["get", "deploy,svc", "-n", "demo", "-o", "name"],
        &["get", "deploy", "-A"],
        &["get", "cm", "-A", "--show-labels"],
        &["get", "cm", "-n", "demo", "-L", "tier"],
        &["get", "deploy/web", "svc/web", "-n", "demo"],
        &["get", "deploy", "web", "-n", "demo", "-o", "yaml"],
        &["get", "deploy", "-n", "demo", "-o", "yaml"],
        &["get", "cm", "cfg", "-n", "demo", "-o", "json"],
        &["get", "hpa", "-n", "demo", "-o", "yaml"],
        &["get", "svc", "-n", "demo", "-o", "wide", "--no-headers"],
        &["get", "pods", "-n", "demo", "-o", "wide"],
        &[
            "get",
            "cm",
            "-n",
            "demo",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
        &[
            "get",
            "deploy",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].resources}",
        ],
        &[
            "get",
            "cm",
            "-n",
            "demo",
            "-o",
            "custom-columns=NAME:.metadata.name,A:.data.a,NONE:.nope",
        ],
        &["get", "pods"],
        &["get", "nodes"],
        &["get", "cm", "-A", "--sort-by=.metadata.name"],
        &[
            "get",
            "cm",
            "-n",
            "demo",
            "--sort-by={.metadata.name}",
            "-o",
            "name",
        ],
        &["get", "foo"],
        &["get", "deploy", "nope", "-n", "demo"],
        &["get", "po,deploy", "-n", "nothing-here"],
        &["describe", "deploy", "web", "-n", "demo"],
        &["describe", "svc", "web", "-n", "demo"],
        &["describe", "cm", "cfg", "-n", "demo"],
        &["describe", "ns", "demo"],
        &["describe", "pod", "p1", "-n", "demo"],
        &["describe", "nodes"],
        &["describe", "hpa", "web", "-n", "demo"],
        &["api-resources"],
        &["api-resources", "-o", "wide"],
        &["api-resources", "--namespaced=false", "-o", "name"],
        &["api-resources", "--api-group=apps"],
        &["config", "get-contexts"],
        &["config", "current-context"],
        &["config", "view", "--minify", "--raw"],
        &["explain", "deploy"],
        &["explain", "deploy.spec.replicas"],
        &["explain", "deploy", "--recursive"],
        &["explain", "pod.spec.volumes", "--recursive"],
        &["explain", "crd", "--recursive"],
        &["explain", "pod.spec.containers"],
        &["explain", "svc.spec.ports.targetPort"],
        &[
            "explain",
            "deploy.spec.template.spec.containers.resources.limits",
        ],
        &["explain", "cm.foo"],
        &["explain", "foo"],
    ] {
        same(&s, args);
    }
}

#[test]
fn apply_messages_match_kubectl() {
    let s = start();
    let run = |args: &[&str], stdin: Option<&str>| {
        let out = s.rkctl_with_stdin(args, stdin).expect("rkctl runs");
        assert!(
            out.status.success(),
            "rkctl {args:?}:\n{}",
            output_text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = run(&["apply", "-f", "-"], Some(APP));
    assert_eq!(
        first,
        "namespace/demo created\nconfigmap/cfg created\ndeployment.apps/web created\nservice/web created\n\
         horizontalpodautoscaler.autoscaling/web created\npod/p1 created\n"
    );
    let again = run(&["apply", "-f", "-"], Some(APP));
    assert_eq!(
        again,
        "namespace/demo unchanged\nconfigmap/cfg unchanged\ndeployment.apps/web unchanged\nservice/web unchanged\n\
         horizontalpodautoscaler.autoscaling/web unchanged\npod/p1 unchanged\n"
    );
    // kubectl reads rkctl's last-applied configuration as its own.
    let theirs = s
        .kubectl_with_stdin(&["apply", "-f", "-"], Some(APP))
        .expect("kubectl runs");
    assert_eq!(
        String::from_utf8_lossy(&theirs.stdout),
        again,
        "{}",
        output_text(&theirs)
    );

    let scaled = APP.replace("replicas: 2", "replicas: 6");
    let out = run(&["apply", "-f", "-"], Some(&scaled));
    assert!(out.contains("deployment.apps/web configured\n"), "{out}");
    assert!(out.contains("service/web unchanged\n"), "{out}");
    let replicas = run(
        &[
            "get",
            "deploy",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
        None,
    );
    assert_eq!(replicas, "6");

    // Something else (an autoscaler) changed replicas: re-applying a file that sets them puts
    // them back, as kubectl's three-way merge does; a file without replicas leaves them alone.
    run(
        &["scale", "deploy", "web", "-n", "demo", "--replicas=4"],
        None,
    );
    let out = run(&["apply", "-f", "-"], Some(&scaled));
    assert!(out.contains("deployment.apps/web configured\n"), "{out}");
    let replicas = run(
        &[
            "get",
            "deploy",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
        None,
    );
    assert_eq!(replicas, "6");
    let unscaled = APP.replace("  replicas: 2\n", "");
    run(&["apply", "-f", "-"], Some(&unscaled));
    run(
        &["scale", "deploy", "web", "-n", "demo", "--replicas=4"],
        None,
    );
    let out = run(&["apply", "-f", "-"], Some(&unscaled));
    assert!(out.contains("deployment.apps/web unchanged\n"), "{out}");
    let replicas = run(
        &[
            "get",
            "deploy",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
        None,
    );
    assert_eq!(replicas, "4");

    let dry = run(
        &["apply", "-f", "-", "--dry-run=client"],
        Some(&APP.replace("replicas: 2", "replicas: 3")),
    );
    assert!(
        dry.contains("deployment.apps/web configured (dry run)\n"),
        "{dry}"
    );
    let dry = run(
        &["apply", "-f", "-", "--dry-run=server"],
        Some(&APP.replace("replicas: 2", "replicas: 3")),
    );
    assert!(
        dry.contains("deployment.apps/web configured (server dry run)\n"),
        "{dry}"
    );
    let replicas = run(
        &[
            "get",
            "deploy",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
        None,
    );
    assert_eq!(replicas, "4");

    let ssa = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  namespace: demo\ndata:\n  k: v\n";
    assert_eq!(
        run(&["apply", "--server-side", "-f", "-"], Some(ssa)),
        "configmap/ssa serverside-applied\n"
    );
    let managers = run(
        &[
            "get",
            "cm",
            "ssa",
            "-n",
            "demo",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
            "--show-managed-fields",
        ],
        None,
    );
    assert_eq!(managers, "rkctl");

    // Deleting with the file, then the same file again: kubectl's messages.
    let out = run(&["delete", "-f", "-", "--wait=false"], Some(ssa));
    assert_eq!(out, "configmap \"ssa\" deleted\n");
    let gone = s
        .rkctl_with_stdin(&["delete", "-f", "-"], Some(ssa))
        .expect("rkctl runs");
    assert!(!gone.status.success());
    assert_eq!(
        String::from_utf8_lossy(&gone.stderr),
        "Error from server (NotFound): error when deleting \"STDIN\": configmaps \"ssa\" not found\n"
    );
}
