//! Printers for networking and discovery kinds: endpoint slices, ingresses, network policies,
//! service CIDRs.

use std::collections::BTreeSet;

use serde_json::Value;

use super::cells::{
    age, arr_at, at, format_label_selector, list_with_more, name, opt_int, opt_str, str_at,
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

pub(super) const SERVICE_CIDR_COLUMNS: &[Column] = &[
    NAME,
    col(
        "CIDRs",
        T::String,
        "The ranges service IPs are allocated from.",
    ),
    AGE,
];

pub(super) fn service_cidr_row(cidr: &Value, now: i64) -> Vec<Value> {
    let cidrs: Vec<&str> = arr_at(cidr, &["spec", "cidrs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    vec![
        Value::from(name(cidr)),
        Value::from(cidrs.join(",")),
        age(cidr, now),
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
    fn network_policies() {
        let np = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
        assert_eq!(
            network_policy_row(&np, NOW),
            [json!("deny"), json!("<none>"), json!("<unknown>")]
        );
        let np = json!({"spec": {"podSelector": {"matchLabels": {"role": "db"}}}});
        assert_eq!(network_policy_row(&np, NOW)[1], json!("role=db"));
    }

    #[test]
    fn service_cidrs() {
        let cidr = json!({"metadata": {"name": "kubernetes"}, "spec": {"cidrs": ["10.96.0.0/12", "fd00:10:96::/108"]}});
        assert_eq!(
            service_cidr_row(&cidr, NOW)[1],
            json!("10.96.0.0/12,fd00:10:96::/108")
        );
    }
}
