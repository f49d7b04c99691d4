//! Pod, pod template and pod spec defaults: policies, containers, probes, volumes.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{child, child_or_new, items, set};
use crate::Quantity;

/// The priority of pods with no priority class when no class is the global default.
pub const DEFAULT_PRIORITY: i64 = 0;

/// Defaults a Pod: its spec, plus what only Pods get (service links, requests from limits,
/// host ports under host networking, priority).
pub(crate) fn default_pod(obj: &mut Value) {
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    default_spec(spec);
    for field in ["containers", "initContainers"] {
        for c in items(spec, field) {
            requests_from_limits(c);
        }
    }
    for c in items(spec, "containers") {
        default_resize_policy(c);
    }
    set(spec, "enableServiceLinks", true.into());
    default_toleration_seconds(spec);
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for field in ["containers", "initContainers"] {
            for c in items(spec, field) {
                for port in items(c, "ports") {
                    if let Some(p) = port.get("containerPort").cloned() {
                        set(port, "hostPort", p);
                    }
                }
            }
        }
    }
    let class = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let priority = match class {
        "" => Some(DEFAULT_PRIORITY),
        "system-node-critical" => Some(2_000_001_000),
        "system-cluster-critical" => Some(2_000_000_000),
        _ => None,
    };
    if let Some(p) = priority {
        set(spec, "priority", p.into());
        set(spec, "preemptionPolicy", "PreemptLowerPriority".into());
    }
    let qos = qos_class(spec);
    if let Some(status) = child_or_new(obj, "status") {
        if status.get("phase").is_none_or(Value::is_null) {
            set(status, "phase", "Pending".into());
            set(status, "qosClass", qos.into());
        }
    }
}

/// How long a pod stays on a node that is not ready or unreachable, unless it says otherwise.
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// Kubernetes' `DefaultTolerationSeconds` admission: a pod that does not tolerate the
/// `not-ready` and `unreachable` NoExecute taints gets tolerations for them of
/// [`DEFAULT_TOLERATION_SECONDS`], so the node lifecycle controller evicts it only after 5 min.
fn default_toleration_seconds(spec: &mut Value) {
    for key in [
        crate::names::TAINT_NODE_NOT_READY,
        crate::names::TAINT_NODE_UNREACHABLE,
    ] {
        let tolerated = spec
            .get("tolerations")
            .and_then(Value::as_array)
            .is_some_and(|ts| {
                ts.iter().any(|t| {
                    let k = t.get("key").and_then(Value::as_str).unwrap_or("");
                    let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
                    (k.is_empty() || k == key) && (effect.is_empty() || effect == "NoExecute")
                })
            });
        if tolerated {
            continue;
        }
        let toleration = json!({"key": key, "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": DEFAULT_TOLERATION_SECONDS});
        let Some(m) = spec.as_object_mut() else {
            return;
        };
        let list = m
            .entry("tolerations")
            .or_insert_with(|| Value::Array(Vec::new()));
        if !list.is_array() {
            *list = Value::Array(Vec::new());
        }
        if let Some(list) = list.as_array_mut() {
            list.push(toleration);
        }
    }
}

/// A pod's quality-of-service class from its containers' CPU and memory requests and limits:
/// `Guaranteed` when every container has both limits and requests equal them, `BestEffort`
/// when nothing is set, else `Burstable` (Kubernetes' `GetPodQOS`).
pub fn qos_class(spec: &Value) -> &'static str {
    let mut requests: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let containers = ["containers", "initContainers"]
        .into_iter()
        .flat_map(|f| spec.get(f).and_then(Value::as_array).into_iter().flatten());
    for c in containers {
        let mut limited = 0;
        for (kind, sums) in [("requests", &mut requests), ("limits", &mut limits)] {
            for name in ["cpu", "memory"] {
                let Some(q) = c
                    .pointer(&format!("/resources/{kind}/{name}"))
                    .and_then(quantity_of)
                    .filter(|q| !q.is_zero())
                else {
                    continue;
                };
                if kind == "limits" {
                    limited += 1;
                }
                let sum = sums.entry(name).or_default();
                *sum = sum.checked_add(&q).unwrap_or(*sum);
            }
        }
        if limited < 2 {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    let equal = requests.iter().all(|(name, q)| limits.get(name) == Some(q));
    if guaranteed && equal && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn quantity_of(v: &Value) -> Option<Quantity> {
    match v {
        Value::String(s) => Quantity::parse(s).ok(),
        Value::Number(n) => Quantity::parse(&n.to_string()).ok(),
        _ => None,
    }
}

/// Defaults a pod template (`{metadata, spec}`).
pub(crate) fn default_template(template: &mut Value) {
    if let Some(spec) = child(template, "spec") {
        default_spec(spec);
    }
}

/// Defaults the pod template at `obj.spec.template`.
pub(crate) fn default_workload_template(obj: &mut Value) {
    if let Some(t) = child(obj, "spec").and_then(|s| child(s, "template")) {
        default_template(t);
    }
}

/// Kubernetes' `SetDefaults_PodSpec` and the defaults of everything inside a pod spec.
pub(crate) fn default_spec(spec: &mut Value) {
    set(spec, "dnsPolicy", "ClusterFirst".into());
    set(spec, "restartPolicy", "Always".into());
    set(spec, "securityContext", json!({}));
    set(spec, "terminationGracePeriodSeconds", 30.into());
    set(spec, "schedulerName", "default-scheduler".into());
    for field in ["containers", "initContainers", "ephemeralContainers"] {
        for c in items(spec, field) {
            default_container(c);
        }
    }
    for v in items(spec, "volumes") {
        default_volume(v);
    }
}

fn default_container(c: &mut Value) {
    if c.get("imagePullPolicy").is_none_or(Value::is_null) {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        let policy = match image_tag(image) {
            Some("latest") => "Always",
            Some(_) => "IfNotPresent",
            None if image.contains('@') => "IfNotPresent",
            None => "Always",
        };
        set(c, "imagePullPolicy", policy.into());
    }
    set(c, "terminationMessagePath", "/dev/termination-log".into());
    set(c, "terminationMessagePolicy", "File".into());
    set(c, "resources", json!({}));
    for port in items(c, "ports") {
        set(port, "protocol", "TCP".into());
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = child(c, probe) {
            set(p, "timeoutSeconds", 1.into());
            set(p, "periodSeconds", 10.into());
            set(p, "successThreshold", 1.into());
            set(p, "failureThreshold", 3.into());
            default_handler(p);
        }
    }
    if let Some(lifecycle) = child(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = child(lifecycle, hook) {
                default_handler(h);
            }
        }
    }
    for env in items(c, "env") {
        if let Some(field_ref) = child(env, "valueFrom").and_then(|f| child(f, "fieldRef")) {
            set(field_ref, "apiVersion", "v1".into());
        }
    }
}

fn default_handler(h: &mut Value) {
    if let Some(get) = child(h, "httpGet") {
        set(get, "path", "/".into());
        set(get, "scheme", "HTTP".into());
    }
    if let Some(grpc) = child(h, "grpc") {
        set(grpc, "service", "".into());
    }
}

/// The tag of an image reference (`nginx:1.27` → `1.27`), if it has one. A `:` before the last
/// `/` is a registry port, not a tag.
fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split_once(':').map(|(_, tag)| tag)
}

const VOLUME_SOURCES_WITH_MODE: &[&str] = &["secret", "configMap", "downwardAPI", "projected"];

fn default_volume(v: &mut Value) {
    let Some(m) = v.as_object_mut() else {
        return;
    };
    if m.keys().all(|k| k == "name") {
        m.insert("emptyDir".to_owned(), json!({}));
    }
    for source in VOLUME_SOURCES_WITH_MODE {
        if let Some(s) = child(v, source) {
            set(s, "defaultMode", 420.into());
        }
    }
    if let Some(h) = child(v, "hostPath") {
        set(h, "type", "".into());
    }
    let field_refs = child(v, "downwardAPI")
        .into_iter()
        .flat_map(|d| items(d, "items"))
        .filter_map(|i| child(i, "fieldRef"));
    for f in field_refs {
        set(f, "apiVersion", "v1".into());
    }
    if let Some(p) = child(v, "projected") {
        for source in items(p, "sources") {
            if let Some(token) = child(source, "serviceAccountToken") {
                set(token, "expirationSeconds", 3600.into());
            }
            if let Some(d) = child(source, "downwardAPI") {
                for item in items(d, "items") {
                    if let Some(f) = child(item, "fieldRef") {
                        set(f, "apiVersion", "v1".into());
                    }
                }
            }
        }
    }
    if let Some(spec) = child(v, "ephemeral")
        .and_then(|e| child(e, "volumeClaimTemplate"))
        .and_then(|t| child(t, "spec"))
    {
        set(spec, "volumeMode", "Filesystem".into());
    }
}

/// In-place resize (on by default in Kubernetes 1.33): CPU and memory requests get a
/// `NotRequired` resize policy unless one is given (Pods' regular containers only).
fn default_resize_policy(c: &mut Value) {
    let requested: Vec<&str> = ["cpu", "memory"]
        .into_iter()
        .filter(|r| c.pointer(&format!("/resources/requests/{r}")).is_some())
        .collect();
    if requested.is_empty() {
        return;
    }
    let Some(m) = c.as_object_mut() else {
        return;
    };
    let policies = m
        .entry("resizePolicy".to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if policies.is_null() {
        *policies = Value::Array(Vec::new());
    }
    let Some(list) = policies.as_array_mut() else {
        return;
    };
    for r in requested {
        let present = list
            .iter()
            .any(|p| p.get("resourceName").and_then(Value::as_str) == Some(r));
        if !present {
            list.push(json!({"resourceName": r, "restartPolicy": "NotRequired"}));
        }
    }
}

/// A container's missing requests are its limits (Pods only, not templates).
fn requests_from_limits(c: &mut Value) {
    let Some(limits) = c
        .get("resources")
        .and_then(|r| r.get("limits"))
        .and_then(Value::as_object)
        .filter(|l| !l.is_empty())
        .cloned()
    else {
        return;
    };
    let Some(resources) = child_or_new(c, "resources") else {
        return;
    };
    let Some(requests) = child_or_new(resources, "requests") else {
        return;
    };
    for (name, q) in limits {
        set(requests, &name, q);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use serde_json::Value;

    use super::super::apply_defaults;
    use super::image_tag;

    #[test]
    fn image_tags() {
        assert_eq!(image_tag("nginx"), None);
        assert_eq!(image_tag("nginx:1.27"), Some("1.27"));
        assert_eq!(image_tag("registry:5000/app"), None);
        assert_eq!(image_tag("registry:5000/app:v2"), Some("v2"));
        assert_eq!(image_tag("app@sha256:abc"), None);
    }

    #[test]
    fn minimal_pod() {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": [{"name": "web", "image": "nginx",
                "ports": [{"containerPort": 80}],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                "readinessProbe": {"httpGet": {"port": 80}}}]}});
        apply_defaults("", "v1", "Pod", &mut pod);
        assert_eq!(
            pod,
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "containers": [{"name": "web", "image": "nginx", "imagePullPolicy": "Always",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"},
                                      "requests": {"cpu": "500m", "memory": "128Mi"}},
                        "resizePolicy": [
                            {"resourceName": "cpu", "restartPolicy": "NotRequired"},
                            {"resourceName": "memory", "restartPolicy": "NotRequired"}],
                        "readinessProbe": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                            "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                            "failureThreshold": 3},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File"}],
                    "restartPolicy": "Always",
                    "dnsPolicy": "ClusterFirst",
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {},
                    "schedulerName": "default-scheduler",
                    "enableServiceLinks": true,
                    "tolerations": [
                        {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                            "effect": "NoExecute", "tolerationSeconds": 300},
                        {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                            "effect": "NoExecute", "tolerationSeconds": 300}],
                    "priority": 0,
                    "preemptionPolicy": "PreemptLowerPriority"},
                "status": {"phase": "Pending", "qosClass": "Guaranteed"}})
        );
    }

    #[test]
    fn default_toleration_seconds_only_where_missing() {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web"},
            "spec": {"containers": [{"name": "web", "image": "nginx"}],
                "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                    "effect": "NoExecute", "tolerationSeconds": 5}]}});
        apply_defaults("", "v1", "Pod", &mut pod);
        assert_eq!(
            pod["spec"]["tolerations"],
            json!([
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                    "effect": "NoExecute", "tolerationSeconds": 5},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                    "effect": "NoExecute", "tolerationSeconds": 300}])
        );
        // Defaulting again (an update) adds nothing.
        let before = pod.clone();
        apply_defaults("", "v1", "Pod", &mut pod);
        assert_eq!(pod, before);
        // A toleration of every taint covers both.
        let mut pod = json!({"spec": {"containers": [], "tolerations": [{"operator": "Exists"}]}});
        apply_defaults("", "v1", "Pod", &mut pod);
        assert_eq!(pod["spec"]["tolerations"], json!([{"operator": "Exists"}]));
    }

    #[test]
    fn qos_classes() {
        let qos = |containers: Value| super::qos_class(&json!({"containers": containers}));
        assert_eq!(qos(json!([{"name": "a"}])), "BestEffort");
        assert_eq!(
            qos(
                json!([{"resources": {"limits": {"cpu": "1", "memory": "1Gi"},
                "requests": {"cpu": "1000m", "memory": "1Gi"}}}])
            ),
            "Guaranteed"
        );
        assert_eq!(
            qos(
                json!([{"resources": {"limits": {"cpu": "1", "memory": "1Gi"},
                "requests": {"cpu": "1000m", "memory": "1Gi"}}}, {"name": "sidecar"}])
            ),
            "Burstable"
        );
        assert_eq!(
            qos(json!([{"resources": {"requests": {"cpu": "100m"}}}])),
            "Burstable"
        );
        assert_eq!(
            qos(json!([{"resources": {"requests": {"cpu": "0"}}}])),
            "BestEffort"
        );
    }

    #[test]
    fn user_values_win_and_volumes() {
        let mut pod = json!({"spec": {"restartPolicy": "Never", "hostNetwork": true,
            "priorityClassName": "system-node-critical",
            "containers": [{"name": "a", "image": "busybox:1.36", "ports": [{"containerPort": 53, "protocol": "UDP"}],
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
            "volumes": [{"name": "s", "secret": {"secretName": "x"}}, {"name": "e"},
                {"name": "h", "hostPath": {"path": "/tmp"}}]}});
        apply_defaults("", "v1", "Pod", &mut pod);
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "Never");
        assert_eq!(spec["priority"], 2_000_001_000);
        let c = &spec["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(
            c["ports"][0],
            json!({"containerPort": 53, "protocol": "UDP", "hostPort": 53})
        );
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(c["resources"], json!({}));
        assert_eq!(spec["volumes"][0]["secret"]["defaultMode"], 420);
        assert_eq!(spec["volumes"][1], json!({"name": "e", "emptyDir": {}}));
        assert_eq!(
            spec["volumes"][2]["hostPath"],
            json!({"path": "/tmp", "type": ""})
        );
    }
}
