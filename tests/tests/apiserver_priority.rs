//! Pod priority as the API server admits it: the system PriorityClasses exist, a pod's
//! `priorityClassName` becomes `spec.priority` and `spec.preemptionPolicy`, a global default
//! class applies to pods naming none, and a missing class or a hand-written priority that
//! disagrees is refused with Kubernetes' message. Read back with the real kubectl.
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl (see `server_proc`).

use rkube_tests::server_proc::{expect_failure, expect_success, ServerProcess};

fn ok(s: &ServerProcess, args: &[&str]) -> String {
    expect_success("kubectl", args, &s.kubectl(args).expect("kubectl runs"))
}

fn apply(s: &ServerProcess, manifest: &str) -> std::process::Output {
    s.kubectl_with_stdin(&["apply", "-f", "-"], Some(manifest))
        .expect("kubectl runs")
}

fn pod(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{extra_spec}  containers:\n  - name: c\n    image: busybox\n"
    )
}

#[test]
fn priority_classes_resolve_into_pod_priority() {
    let s = ServerProcess::start_args(&["--disable-scheduler", "--disable-controller-manager"])
        .expect("rkube server starts");

    let classes = ok(
        &s,
        &[
            "get",
            "priorityclasses",
            "-o",
            "custom-columns=NAME:.metadata.name,VALUE:.value,DEFAULT:.globalDefault",
            "--no-headers",
        ],
    );
    let classes: Vec<Vec<&str>> = classes
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        classes,
        vec![
            vec!["system-cluster-critical", "2000000000", "false"],
            vec!["system-node-critical", "2000001000", "false"],
        ]
    );

    // No class at all: priority 0.
    expect_success("kubectl", &["apply"], &apply(&s, &pod("plain", "")));
    let plain = ok(
        &s,
        &[
            "get",
            "pod",
            "plain",
            "-o",
            "jsonpath={.spec.priority} {.spec.preemptionPolicy}",
        ],
    );
    assert_eq!(plain, "0 PreemptLowerPriority");

    // A class of the user's, never preempting.
    let high = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: high\nvalue: 1000\npreemptionPolicy: Never\n";
    expect_success("kubectl", &["apply"], &apply(&s, high));
    expect_success(
        "kubectl",
        &["apply"],
        &apply(&s, &pod("important", "  priorityClassName: high\n")),
    );
    let important = ok(
        &s,
        &[
            "get",
            "pod",
            "important",
            "-o",
            "jsonpath={.spec.priority} {.spec.preemptionPolicy}",
        ],
    );
    assert_eq!(important, "1000 Never");

    // The system classes work for pods too.
    expect_success(
        "kubectl",
        &["apply"],
        &apply(
            &s,
            &pod("critical", "  priorityClassName: system-node-critical\n"),
        ),
    );
    let critical = ok(
        &s,
        &["get", "pod", "critical", "-o", "jsonpath={.spec.priority}"],
    );
    assert_eq!(critical, "2000001000");

    // A missing class, and a priority that disagrees with the class.
    let err = expect_failure(
        "kubectl",
        &["apply"],
        &apply(&s, &pod("lost", "  priorityClassName: nope\n")),
    );
    assert!(
        err.contains("pods \"lost\" is forbidden: no PriorityClass with name nope was found"),
        "{err}"
    );
    let err = expect_failure(
        "kubectl",
        &["apply"],
        &apply(
            &s,
            &pod("liar", "  priorityClassName: high\n  priority: 5\n"),
        ),
    );
    assert!(
        err.contains("the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name"),
        "{err}"
    );

    // A global default applies to pods naming no class.
    let default = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: everyday\nvalue: 7\nglobalDefault: true\n";
    expect_success("kubectl", &["apply"], &apply(&s, default));
    expect_success("kubectl", &["apply"], &apply(&s, &pod("later", "")));
    let later = ok(
        &s,
        &[
            "get",
            "pod",
            "later",
            "-o",
            "jsonpath={.spec.priorityClassName} {.spec.priority}",
        ],
    );
    assert_eq!(later, "everyday 7");
}
