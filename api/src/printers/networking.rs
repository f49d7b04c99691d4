//! Printers for networking, discovery, coordination, storage, RBAC and scheduling kinds.

use std::collections::BTreeSet;

use serde_json::Value;

use super::cells::{
    age, arr_at, at, format_label_selector, int_at, list_with_more, name, opt_bool, opt_int,
    opt_str, str_at,
};
use super::{col, Column, ColumnType as T, AGE, NAME};

pub(super) const ENDPOINT_SLICE_COLUMNS: &[Column] = &[
    NAME,
    col("AddressType", T::String, "IPv4, IPv6 or FQDN."),
    col("Ports", T::String, "The ports of the endpoints."),
    col("Endpoints", T::String, "The endpoints' addresses."),
    AGE,
];

pub(super) fn endpoint_slice_row(slice: &Value, now: i64) -> Vec<Value> {
    let ports: Vec<String> = arr_at(slice, &["ports"])
        .iter()
        .map(|p| match (opt_int(p, &["port"]), opt_str(p, &["name"])) {
            (Some(port), _) => port.to_string(),
            (None, Some(name)) => name.to_owned(),
            (None, None) => "*".to_owned(),
        })
        .collect();
    let addresses: Vec<String> = arr_at(slice, &["endpoints"])
        .iter()
        .flat_map(|e| arr_at(e, &["addresses"]))
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    vec![
        Value::from(name(slice)),
        Value::from(str_at(slice, &["addressType"])),
        Value::from(list_with_more(&ports, 3)),
        Value::from(list_with_more(&addresses, 3)),
        age(slice, now),
    ]
}

pub(super) const INGRESS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Class",
        T::String,
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    col(
        "Hosts",
        T::String,
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    col(
        "Address",
        T::String,
        "Address is a list containing ingress points for the load-balancer",
    ),
    col("Ports", T::String, "Ports of TLS configurations that open"),
    AGE,
];

/// The first three non-empty rule hosts; once three are listed and more rules follow,
/// ` + N more...` counting every rule past the third; `*` when no rule names a host.
fn format_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut hosts = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
            break;
        }
        let host = str_at(rule, &["host"]);
        if !host.is_empty() {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return "*".to_owned();
    }
    let joined = hosts.join(",");
    if more {
        format!("{joined} + {} more...", rules.len() - MAX)
    } else {
        joined
    }
}

pub(super) fn ingress_row(ing: &Value, now: i64) -> Vec<Value> {
    let address: BTreeSet<&str> = arr_at(ing, &["status", "loadBalancer", "ingress"])
        .iter()
        .filter_map(|i| {
            [str_at(i, &["ip"]), str_at(i, &["hostname"])]
                .into_iter()
                .find(|s| !s.is_empty())
        })
        .collect();
    let ports = if arr_at(ing, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        Value::from(name(ing)),
        Value::from(opt_str(ing, &["spec", "ingressClassName"]).unwrap_or("<none>")),
        Value::from(format_hosts(arr_at(ing, &["spec", "rules"]))),
        Value::from(address.into_iter().collect::<Vec<_>>().join(",")),
        Value::from(ports),
        age(ing, now),
    ]
}

pub(super) const INGRESS_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Controller",
        T::String,
        "Controller that is responsible for handling this class",
    ),
    col(
        "Parameters",
        T::String,
        "A reference to a resource with additional parameters",
    ),
    AGE,
];

pub(super) fn ingress_class_row(class: &Value, now: i64) -> Vec<Value> {
    let parameters = match at(class, &["spec", "parameters"]).filter(|p| !p.is_null()) {
        Some(p) => {
            let mut kind = str_at(p, &["kind"]).to_owned();
            if let Some(group) = opt_str(p, &["apiGroup"]) {
                kind = format!("{kind}.{group}");
            }
            format!("{kind}/{}", str_at(p, &["name"]))
        }
        None => "<none>".to_owned(),
    };
    vec![
        Value::from(name(class)),
        Value::from(str_at(class, &["spec", "controller"])),
        Value::from(parameters),
        age(class, now),
    ]
}

pub(super) const NETWORK_POLICY_COLUMNS: &[Column] = &[
    NAME,
    col("Pod-Selector", T::String, "The pods the policy applies to."),
    AGE,
];

pub(super) fn network_policy_row(np: &Value, now: i64) -> Vec<Value> {
    vec![
        Value::from(name(np)),
        Value::from(format_label_selector(at(np, &["spec", "podSelector"]))),
        age(np, now),
    ]
}

pub(super) const LEASE_COLUMNS: &[Column] = &[
    NAME,
    col("Holder", T::String, "The identity holding the lease."),
    AGE,
];

pub(super) fn lease_row(lease: &Value, now: i64) -> Vec<Value> {
    vec![
        Value::from(name(lease)),
        Value::from(str_at(lease, &["spec", "holderIdentity"])),
        age(lease, now),
    ]
}

pub(super) const STORAGE_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Provisioner",
        T::String,
        "The volume plugin provisioning volumes.",
    ),
    col(
        "ReclaimPolicy",
        T::String,
        "What happens to provisioned volumes when released.",
    ),
    col(
        "VolumeBindingMode",
        T::String,
        "When volumes are provisioned and bound.",
    ),
    col(
        "AllowVolumeExpansion",
        T::String,
        "Whether claims of this class can grow.",
    ),
    AGE,
];

/// Annotations marking the default storage class.
const DEFAULT_CLASS_ANNOTATIONS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

pub(super) fn storage_class_row(sc: &Value, now: i64) -> Vec<Value> {
    let is_default = DEFAULT_CLASS_ANNOTATIONS
        .iter()
        .any(|a| opt_str(sc, &["metadata", "annotations", a]) == Some("true"));
    let mut shown_name = name(sc).to_owned();
    if is_default {
        shown_name.push_str(" (default)");
    }
    vec![
        Value::from(shown_name),
        Value::from(str_at(sc, &["provisioner"])),
        Value::from(opt_str(sc, &["reclaimPolicy"]).unwrap_or("Delete")),
        Value::from(opt_str(sc, &["volumeBindingMode"]).unwrap_or("Immediate")),
        Value::from(opt_bool(sc, &["allowVolumeExpansion"]).unwrap_or(false)),
        age(sc, now),
    ]
}

/// Columns of RoleBinding and ClusterRoleBinding.
const fn binding_columns(
    users: &'static str,
    groups: &'static str,
    sas: &'static str,
) -> [Column; 6] {
    [
        NAME,
        col("Role", T::String, "The role the binding grants."),
        AGE,
        super::wide("Users", T::String, users),
        super::wide("Groups", T::String, groups),
        super::wide("ServiceAccounts", T::String, sas),
    ]
}

pub(super) const ROLE_BINDING_COLUMNS: &[Column] = &binding_columns(
    "Users in the roleBinding",
    "Groups in the roleBinding",
    "ServiceAccounts in the roleBinding",
);

pub(super) const CLUSTER_ROLE_BINDING_COLUMNS: &[Column] = &binding_columns(
    "Users in the clusterRoleBinding",
    "Groups in the clusterRoleBinding",
    "ServiceAccounts in the clusterRoleBinding",
);

/// A RoleBinding or ClusterRoleBinding row: the role and the subjects by kind.
pub(super) fn role_binding_row(rb: &Value, now: i64) -> Vec<Value> {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut sas = Vec::new();
    for s in arr_at(rb, &["subjects"]) {
        let subject = str_at(s, &["name"]);
        match str_at(s, &["kind"]) {
            "User" => users.push(subject.to_owned()),
            "Group" => groups.push(subject.to_owned()),
            "ServiceAccount" => {
                sas.push(format!("{}/{subject}", str_at(s, &["namespace"])));
            }
            _ => {}
        }
    }
    vec![
        Value::from(name(rb)),
        Value::from(format!(
            "{}/{}",
            str_at(rb, &["roleRef", "kind"]),
            str_at(rb, &["roleRef", "name"])
        )),
        age(rb, now),
        Value::from(users.join(", ")),
        Value::from(groups.join(", ")),
        Value::from(sas.join(", ")),
    ]
}

pub(super) const PRIORITY_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Value",
        T::Integer,
        "The priority of pods using this class.",
    ),
    col(
        "Global-Default",
        T::Boolean,
        "Whether pods without a class get this one.",
    ),
    AGE,
    col(
        "PreemptionPolicy",
        T::String,
        "Whether pods of this class preempt lower-priority pods.",
    ),
];

pub(super) fn priority_class_row(pc: &Value, now: i64) -> Vec<Value> {
    vec![
        Value::from(name(pc)),
        Value::from(int_at(pc, &["value"])),
        Value::from(opt_bool(pc, &["globalDefault"]).unwrap_or(false)),
        age(pc, now),
        Value::from(str_at(pc, &["preemptionPolicy"])),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2024-01-10T00:00:00Z.
    const NOW: i64 = 1_704_844_800;

    #[test]
    fn endpoint_slices() {
        let slice = json!({
            "metadata": {"name": "web-abc12", "creationTimestamp": "2024-01-09T23:00:00Z"},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "metrics"}],
            "endpoints": [{"addresses": ["10.244.1.2"]}, {"addresses": ["10.244.2.3"]},
                          {"addresses": ["10.244.3.4"]}, {"addresses": ["10.244.4.5"]}]
        });
        assert_eq!(
            endpoint_slice_row(&slice, NOW),
            [
                json!("web-abc12"),
                json!("IPv4"),
                json!("80,metrics"),
                json!("10.244.1.2,10.244.2.3,10.244.3.4 + 1 more..."),
                json!("60m"),
            ]
        );
        let empty = json!({"addressType": "IPv6", "ports": [{}]});
        assert_eq!(
            &endpoint_slice_row(&empty, NOW)[2..4],
            [json!("*"), json!("<unset>")]
        );
    }

    #[test]
    fn ingresses() {
        let ing = json!({
            "metadata": {"name": "site"},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"]}],
                     "rules": [{"host": "a.example.com"}, {"host": "b.example.com"},
                               {}, {"host": "d.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"ip": "198.51.100.2"}]}}
        });
        assert_eq!(
            ingress_row(&ing, NOW),
            [
                json!("site"),
                json!("nginx"),
                json!("a.example.com,b.example.com,d.example.com"),
                json!("198.51.100.2,203.0.113.9"),
                json!("80, 443"),
                json!("<unknown>"),
            ]
        );
        let many = json!({"spec": {"rules": [{"host": "a"}, {"host": "b"}, {"host": "c"}, {}, {"host": "e"}]}});
        assert_eq!(ingress_row(&many, NOW)[2], json!("a,b,c + 2 more..."));
        let bare = json!({"spec": {"defaultBackend": {}}});
        assert_eq!(
            &ingress_row(&bare, NOW)[1..5],
            [json!("<none>"), json!("*"), json!(""), json!("80")]
        );
    }

    #[test]
    fn ingress_classes() {
        let class = json!({"metadata": {"name": "nginx"},
            "spec": {"controller": "k8s.io/ingress-nginx",
                     "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}});
        assert_eq!(
            ingress_class_row(&class, NOW),
            [
                json!("nginx"),
                json!("k8s.io/ingress-nginx"),
                json!("IngressParameters.k8s.example.com/external-lb"),
                json!("<unknown>"),
            ]
        );
        let plain = json!({"spec": {"controller": "c"}});
        assert_eq!(ingress_class_row(&plain, NOW)[2], json!("<none>"));
    }

    #[test]
    fn network_policies_and_leases() {
        let np = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
        assert_eq!(
            network_policy_row(&np, NOW),
            [json!("deny"), json!("<none>"), json!("<unknown>")]
        );
        let np = json!({"spec": {"podSelector": {"matchLabels": {"role": "db"}}}});
        assert_eq!(network_policy_row(&np, NOW)[1], json!("role=db"));
        let lease = json!({"metadata": {"name": "node-1"}, "spec": {"holderIdentity": "node-1"}});
        assert_eq!(
            lease_row(&lease, NOW),
            [json!("node-1"), json!("node-1"), json!("<unknown>")]
        );
    }

    #[test]
    fn storage_classes() {
        let sc = json!({
            "metadata": {"name": "local-path",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"
        });
        assert_eq!(
            storage_class_row(&sc, NOW),
            [
                json!("local-path (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!(false),
                json!("<unknown>"),
            ]
        );
    }

    #[test]
    fn role_bindings() {
        let rb = json!({
            "metadata": {"name": "admins"},
            "roleRef": {"kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "User", "name": "jane"}, {"kind": "User", "name": "joe"},
                         {"kind": "Group", "name": "ops"},
                         {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"}]
        });
        assert_eq!(
            role_binding_row(&rb, NOW),
            [
                json!("admins"),
                json!("ClusterRole/admin"),
                json!("<unknown>"),
                json!("jane, joe"),
                json!("ops"),
                json!("tools/ci"),
            ]
        );
    }

    #[test]
    fn priority_classes() {
        let pc = json!({"metadata": {"name": "system-node-critical"}, "value": 2_000_001_000,
                        "preemptionPolicy": "PreemptLowerPriority"});
        assert_eq!(
            priority_class_row(&pc, NOW),
            [
                json!("system-node-critical"),
                json!(2_000_001_000),
                json!(false),
                json!("<unknown>"),
                json!("PreemptLowerPriority"),
            ]
        );
    }
}
