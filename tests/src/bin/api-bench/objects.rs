//! The objects the benchmark writes: small ConfigMaps and Pods shaped like a real workload's
//! (labels, owner-style annotations, one or two containers with env, ports, probes, resources).

use serde_json::{json, Value};

/// A ConfigMap of about 400 bytes of JSON; `generation` varies its content between updates.
pub fn config_map(namespace: &str, name: &str, generation: u64) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "api-bench", "app.kubernetes.io/component": "config"},
        },
        "data": {
            "generation": generation.to_string(),
            "log-level": "info",
            "listen": "0.0.0.0:8080",
            "upstreams": "http://backend-0.backend:9000,http://backend-1.backend:9000,http://backend-2.backend:9000",
            "feature-flags": "alpha=false,beta=true,gamma=false",
        },
    })
}

/// A Pod with `sidecar` adding a second container; about 1.2 KiB of JSON without, 2 KiB with.
pub fn pod(namespace: &str, name: &str, sidecar: bool) -> Value {
    let mut containers = vec![json!({
        "name": "app",
        "image": "registry.example.com/team/web-frontend:v1.24.3",
        "args": ["--port=8080", "--metrics-port=9090", "--log-format=json"],
        "ports": [
            {"name": "http", "containerPort": 8080, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
        ],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "BACKEND_URL", "value": "http://backend.default.svc.cluster.local:9000"},
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": 8080},
            "periodSeconds": 10,
        },
        "volumeMounts": [{"name": "config", "mountPath": "/etc/web", "readOnly": true}],
    })];
    if sidecar {
        containers.push(json!({
            "name": "log-shipper",
            "image": "registry.example.com/platform/log-shipper:2.8.1",
            "imagePullPolicy": "IfNotPresent",
            "securityContext": {
                "runAsNonRoot": true,
                "readOnlyRootFilesystem": true,
                "allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"]},
            },
            "args": ["--input=/var/log/app", "--output=http://logs.platform.svc:24224"],
            "env": [{"name": "SHIPPER_BUFFER", "value": "16Mi"}, {"name": "SHIPPER_TAG", "value": "web"}],
            "resources": {
                "requests": {"cpu": "20m", "memory": "32Mi"},
                "limits": {"cpu": "100m", "memory": "64Mi"},
            },
            "volumeMounts": [{"name": "logs", "mountPath": "/var/log/app"}],
        }));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": "web-frontend",
                "app.kubernetes.io/instance": "web-frontend-prod",
                "pod-template-hash": "7d9f8c6b5d",
            },
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
        },
        "spec": {
            "containers": containers,
            "volumes": [
                {"name": "config", "configMap": {"name": "web-frontend-config"}},
                {"name": "logs", "emptyDir": {}},
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "serviceAccountName": "default",
            "tolerations": [{
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }],
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    fn size(v: &Value) -> usize {
        serde_json::to_vec(v).unwrap().len()
    }

    #[test]
    fn objects_have_realistic_sizes() {
        let cm = size(&config_map("bench", "cm-00001", 7));
        assert!((300..600).contains(&cm), "configmap is {cm} bytes");
        let small = size(&pod("bench", "pod-00001", false));
        assert!((1000..1500).contains(&small), "small pod is {small} bytes");
        let full = size(&pod("bench", "pod-00001", true));
        assert!((1800..2300).contains(&full), "pod is {full} bytes");
    }

    #[test]
    fn config_maps_differ_by_generation() {
        let v = config_map("ns", "a", 3);
        assert_eq!(v["data"]["generation"], "3");
        assert_eq!(v["metadata"]["namespace"], "ns");
        assert_ne!(v, config_map("ns", "a", 4));
    }
}
