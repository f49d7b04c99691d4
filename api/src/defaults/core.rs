//! Core and cluster object defaults: Services, Namespaces, Secrets, Nodes, volumes and claims,
//! Endpoints, RBAC bindings, CRDs.

use serde_json::{json, Map, Value};

use super::{child, child_or_new, items, set};

/// Session affinity timeout for `ClientIP` affinity: three hours.
pub const DEFAULT_CLIENT_IP_TIMEOUT_SECONDS: i64 = 10800;

/// Defaults a Service, including the IP family fields Kubernetes fills in on create (rkube
/// clusters are single-stack IPv4).
pub(crate) fn default_service(obj: &mut Value) {
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    set(spec, "sessionAffinity", "None".into());
    let affinity = spec
        .get("sessionAffinity")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if affinity == "None" {
        if let Some(m) = spec.as_object_mut() {
            m.remove("sessionAffinityConfig");
        }
    } else if affinity == "ClientIP" {
        let has_timeout = spec
            .pointer("/sessionAffinityConfig/clientIP/timeoutSeconds")
            .is_some_and(|t| !t.is_null());
        if !has_timeout {
            spec["sessionAffinityConfig"] =
                json!({"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT_SECONDS}});
        }
    }
    set(spec, "type", "ClusterIP".into());
    for port in items(spec, "ports") {
        set(port, "protocol", "TCP".into());
        let unset = match port.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        if unset {
            if let Some(p) = port.get("port").cloned() {
                port["targetPort"] = p;
            }
        }
    }
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let externally_accessible = matches!(kind.as_str(), "NodePort" | "LoadBalancer")
        || (kind == "ClusterIP" && has_external_ips);
    if externally_accessible {
        set(spec, "externalTrafficPolicy", "Cluster".into());
    }
    if matches!(kind.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        set(spec, "internalTrafficPolicy", "Cluster".into());
    }
    if kind == "LoadBalancer" {
        set(spec, "allocateLoadBalancerNodePorts", true.into());
    }
    if kind == "ExternalName" {
        return;
    }
    let cluster_ip = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if !cluster_ip.is_empty() {
        set(spec, "clusterIPs", json!([cluster_ip]));
    }
    let selectorless = spec
        .get("selector")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    let policy = if cluster_ip == "None" && selectorless {
        "RequireDualStack"
    } else {
        "SingleStack"
    };
    set(spec, "ipFamilyPolicy", policy.into());
    set(spec, "ipFamilies", json!(["IPv4"]));
}

/// Defaults a Namespace: the `kubernetes` finalizer, phase `Active`, and the
/// `kubernetes.io/metadata.name` label.
pub(crate) fn default_namespace(obj: &mut Value) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if !name.is_empty() {
        if let Some(labels) = child_or_new(obj, "metadata").and_then(|m| child_or_new(m, "labels"))
        {
            labels[crate::names::LABEL_METADATA_NAME] = name.into();
        }
    }
    if let Some(spec) = child_or_new(obj, "spec") {
        set(
            spec,
            "finalizers",
            json!([crate::names::FINALIZER_KUBERNETES]),
        );
    }
    if let Some(status) = child_or_new(obj, "status") {
        set(status, "phase", "Active".into());
    }
}

/// Defaults a Secret: type `Opaque`, and `stringData` folded into `data` (base64), as Kubernetes
/// stores it.
pub(crate) fn default_secret(obj: &mut Value) {
    set(obj, "type", "Opaque".into());
    let Some(m) = obj.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = m.remove("stringData") else {
        return;
    };
    if string_data.is_empty() {
        return;
    }
    let data = m
        .entry("data".to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if data.is_null() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (k, v) in string_data {
            let text = v.as_str().unwrap_or("");
            data.insert(k, base64(text.as_bytes()).into());
        }
    }
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Defaults a Node: allocatable equals capacity unless reported.
pub(crate) fn default_node(obj: &mut Value) {
    let capacity = obj
        .pointer("/status/capacity")
        .filter(|c| c.is_object())
        .cloned();
    if let (Some(capacity), Some(status)) = (capacity, child(obj, "status")) {
        set(status, "allocatable", capacity);
    }
}

/// Defaults a PersistentVolumeClaim: filesystem mode, phase `Pending`.
pub(crate) fn default_pvc(obj: &mut Value) {
    if let Some(spec) = child(obj, "spec") {
        set(spec, "volumeMode", "Filesystem".into());
    }
    if let Some(status) = child_or_new(obj, "status") {
        set(status, "phase", "Pending".into());
    }
}

/// Defaults a PersistentVolume: `Retain`, filesystem mode, phase `Pending`.
pub(crate) fn default_pv(obj: &mut Value) {
    if let Some(spec) = child(obj, "spec") {
        set(spec, "persistentVolumeReclaimPolicy", "Retain".into());
        set(spec, "volumeMode", "Filesystem".into());
        if let Some(h) = child(spec, "hostPath") {
            set(h, "type", "".into());
        }
    }
    if let Some(status) = child_or_new(obj, "status") {
        set(status, "phase", "Pending".into());
    }
}

/// Defaults Endpoints: port protocols `TCP`.
pub(crate) fn default_endpoints(obj: &mut Value) {
    for subset in items(obj, "subsets") {
        for port in items(subset, "ports") {
            set(port, "protocol", "TCP".into());
        }
    }
}

/// Defaults a RoleBinding or ClusterRoleBinding: subjects' `apiGroup`.
pub(crate) fn default_role_binding(obj: &mut Value) {
    for subject in items(obj, "subjects") {
        let group = match subject.get("kind").and_then(Value::as_str) {
            Some("User" | "Group") => "rbac.authorization.k8s.io",
            Some("ServiceAccount") => "",
            _ => continue,
        };
        set(subject, "apiGroup", group.into());
    }
}

/// Defaults a CustomResourceDefinition: singular and list kind from the kind, conversion `None`.
pub(crate) fn default_crd(obj: &mut Value) {
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    if let Some(names) = child(spec, "names") {
        let kind = names
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if !kind.is_empty() {
            set(names, "singular", kind.to_lowercase().into());
            set(names, "listKind", format!("{kind}List").into());
        }
    }
    if let Some(conversion) = child_or_new(spec, "conversion") {
        set(conversion, "strategy", "None".into());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::apply_defaults;
    use super::base64;

    #[test]
    fn services() {
        let mut svc = json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
            "ports": [{"port": 80}, {"name": "https", "port": 443, "targetPort": "https"}]}});
        apply_defaults("", "v1", "Service", &mut svc);
        assert_eq!(
            svc,
            json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80},
                          {"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}],
                "type": "ClusterIP", "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]}})
        );
        let mut np = json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 80}]}});
        apply_defaults("", "v1", "Service", &mut np);
        assert_eq!(np["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(np["spec"]["allocateLoadBalancerNodePorts"], true);
        assert_eq!(
            np["spec"]["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );
        let mut headless = json!({"spec": {"clusterIP": "None"}});
        apply_defaults("", "v1", "Service", &mut headless);
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
        assert_eq!(headless["spec"]["ipFamilyPolicy"], "RequireDualStack");
        let mut external =
            json!({"spec": {"type": "ExternalName", "externalName": "db.example.com"}});
        apply_defaults("", "v1", "Service", &mut external);
        assert_eq!(
            external,
            json!({"spec": {"type": "ExternalName", "externalName": "db.example.com", "sessionAffinity": "None"}})
        );
    }

    #[test]
    fn namespaces_and_secrets() {
        let mut ns = json!({"metadata": {"name": "team-a"}});
        apply_defaults("", "v1", "Namespace", &mut ns);
        assert_eq!(
            ns,
            json!({"metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        );
        let mut secret = json!({"metadata": {"name": "s"}, "stringData": {"user": "admin", "pw": "s3cr3t!"}, "data": {"x": "eA=="}});
        apply_defaults("", "v1", "Secret", &mut secret);
        assert_eq!(
            secret,
            json!({"metadata": {"name": "s"}, "type": "Opaque",
                "data": {"x": "eA==", "user": "YWRtaW4=", "pw": "czNjcjN0IQ=="}})
        );
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn storage_nodes_and_others() {
        let mut pvc = json!({"spec": {"accessModes": ["ReadWriteOnce"]}});
        apply_defaults("", "v1", "PersistentVolumeClaim", &mut pvc);
        assert_eq!(
            pvc,
            json!({"spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"},
                "status": {"phase": "Pending"}})
        );
        let mut pv = json!({"spec": {"hostPath": {"path": "/data"}}});
        apply_defaults("", "v1", "PersistentVolume", &mut pv);
        assert_eq!(
            pv,
            json!({"spec": {"hostPath": {"path": "/data", "type": ""},
                "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"},
                "status": {"phase": "Pending"}})
        );
        let mut node = json!({"status": {"capacity": {"cpu": "2", "memory": "4Gi"}}});
        apply_defaults("", "v1", "Node", &mut node);
        assert_eq!(
            node["status"]["allocatable"],
            json!({"cpu": "2", "memory": "4Gi"})
        );
        let mut sa = json!({"metadata": {"name": "default"}});
        apply_defaults("", "v1", "ServiceAccount", &mut sa);
        assert_eq!(sa, json!({"metadata": {"name": "default"}}));
        let mut rb = json!({"subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "x"}]});
        apply_defaults("rbac.authorization.k8s.io", "v1", "RoleBinding", &mut rb);
        assert_eq!(rb["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][1]["apiGroup"], "");
        let mut crd = json!({"spec": {"names": {"kind": "Widget", "plural": "widgets"}}});
        apply_defaults(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            &mut crd,
        );
        assert_eq!(
            crd["spec"],
            json!({"names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
                "conversion": {"strategy": "None"}})
        );
    }
}
