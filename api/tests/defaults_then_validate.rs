//! Minimal manifests, defaulted as the API server does, pass validation; broken ones fail with
//! Kubernetes' messages.

use rkube_api::defaults::{apply_defaults, generate_job_selector};
use rkube_api::validation::{invalid_message, validate, ErrorKind};
use serde_json::{json, Value};

fn check(api_version: &str, kind: &str, mut obj: Value) -> Vec<String> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    apply_defaults(group, version, kind, &mut obj);
    if kind == "Job" {
        generate_job_selector(&mut obj);
    }
    validate(group, kind, &obj, None)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn pod_template(labels: Value, restart: Option<&str>) -> Value {
    let mut t = json!({"metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
            "ports": [{"containerPort": 80}],
            "livenessProbe": {"httpGet": {"port": 80}}}]}});
    if let Some(r) = restart {
        t["spec"]["restartPolicy"] = json!(r);
    }
    t
}

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default"})
}

#[test]
fn minimal_manifests_are_valid_once_defaulted() {
    let cases = [
        (
            "v1",
            "Pod",
            json!({"metadata": meta("web"), "spec": pod_template(json!({}), None)["spec"]}),
        ),
        (
            "apps/v1",
            "Deployment",
            json!({"metadata": meta("web"), "spec": {
            "selector": {"matchLabels": {"app": "web"}}, "template": pod_template(json!({"app": "web"}), None)}}),
        ),
        (
            "apps/v1",
            "ReplicaSet",
            json!({"metadata": meta("web"), "spec": {
            "selector": {"matchLabels": {"app": "web"}}, "template": pod_template(json!({"app": "web"}), None)}}),
        ),
        (
            "apps/v1",
            "StatefulSet",
            json!({"metadata": meta("db"), "spec": {"serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}}, "template": pod_template(json!({"app": "db"}), None)}}),
        ),
        (
            "apps/v1",
            "DaemonSet",
            json!({"metadata": meta("agent"), "spec": {
            "selector": {"matchLabels": {"app": "agent"}}, "template": pod_template(json!({"app": "agent"}), None)}}),
        ),
        (
            "batch/v1",
            "CronJob",
            json!({"metadata": meta("tick"), "spec": {"schedule": "*/5 * * * *",
            "jobTemplate": {"spec": {"template": pod_template(json!({}), Some("OnFailure"))}}}}),
        ),
        (
            "v1",
            "Service",
            json!({"metadata": meta("web"), "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
        ),
        (
            "v1",
            "Service",
            json!({"metadata": meta("web-np"), "spec": {"type": "NodePort", "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}}),
        ),
        (
            "v1",
            "Service",
            json!({"metadata": meta("web-lb"), "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}),
        ),
        (
            "v1",
            "Service",
            json!({"metadata": meta("db-headless"), "spec": {"clusterIP": "None"}}),
        ),
        (
            "v1",
            "Service",
            json!({"metadata": meta("ext"), "spec": {"type": "ExternalName", "externalName": "db.example.com."}}),
        ),
        (
            "v1",
            "ConfigMap",
            json!({"metadata": meta("cfg"), "data": {"app.properties": "a=b"}}),
        ),
        (
            "v1",
            "Secret",
            json!({"metadata": meta("creds"), "stringData": {"password": "x"}}),
        ),
        ("v1", "Namespace", json!({"metadata": {"name": "team-a"}})),
        (
            "v1",
            "Node",
            json!({"metadata": {"name": "node-1"}, "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}}),
        ),
        ("v1", "ServiceAccount", json!({"metadata": meta("builder")})),
        (
            "v1",
            "PersistentVolumeClaim",
            json!({"metadata": meta("data"), "spec": {"accessModes": ["ReadWriteOnce"]}}),
        ),
        (
            "coordination.k8s.io/v1",
            "Lease",
            json!({"metadata": {"name": "node-1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}}),
        ),
        (
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            json!({"metadata": meta("web"), "spec": {"maxReplicas": 5,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
        ),
        (
            "networking.k8s.io/v1",
            "Ingress",
            json!({"metadata": meta("web"), "spec": {"rules": [{"host": "web.example.com",
            "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}}),
        ),
        (
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            json!({"metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object"}}}]}}),
        ),
    ];
    let job = json!({"metadata": {"name": "pi", "namespace": "default", "uid": "8d1f"},
        "spec": {"template": pod_template(json!({}), Some("Never"))}});
    assert_eq!(check("batch/v1", "Job", job), Vec::<String>::new(), "Job");
    for (api_version, kind, obj) in cases {
        assert_eq!(
            check(api_version, kind, obj),
            Vec::<String>::new(),
            "{kind}"
        );
    }
}

#[test]
fn defaulted_job_without_restart_policy_is_rejected() {
    let job = json!({"metadata": {"name": "pi", "namespace": "default", "uid": "8d1f"},
        "spec": {"template": pod_template(json!({}), None)}});
    assert_eq!(
        check("batch/v1", "Job", job),
        ["spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""]
    );
}

#[test]
fn status_message_for_a_mismatched_deployment() {
    let mut d = json!({"metadata": meta("web"), "spec": {
        "selector": {"matchLabels": {"app": "web"}}, "template": pod_template(json!({"app": "x"}), None)}});
    apply_defaults("apps", "v1", "Deployment", &mut d);
    let errs = validate("apps", "Deployment", &d, None);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].kind, ErrorKind::Invalid);
    assert_eq!(errs[0].kind.reason(), "FieldValueInvalid");
    assert_eq!(errs[0].field, "spec.template.metadata.labels");
    assert_eq!(
        errs[0].body(),
        "Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"
    );
    assert_eq!(
        invalid_message("Deployment", "apps", "web", &errs),
        "Deployment.apps \"web\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"
    );
}
