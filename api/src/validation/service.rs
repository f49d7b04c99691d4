//! Services: type, ports, cluster IPs, external names, traffic policies.

use std::collections::BTreeSet;

use serde_json::Value;

use super::render::{go_int_or_string, go_quote};
use super::rules::{self, child, get, index, int_of, list_of, push_invalid, str_of, sub};
use super::{pod_container, FieldError};

/// The node port range Kubernetes allocates from by default (`--service-node-port-range`).
pub const NODE_PORT_RANGE: std::ops::RangeInclusive<i64> = 30000..=32767;
/// The kubelet's port, which a LoadBalancer may not expose.
const KUBELET_PORT: i64 = 10250;

fn cluster_ips(spec: &Value) -> Vec<String> {
    let ips: Vec<String> = list_of(spec, "clusterIPs")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let ip = str_of(spec, "clusterIP");
    if ips.is_empty() && !ip.is_empty() {
        return vec![ip.to_owned()];
    }
    if !ip.is_empty() && ips.first().map(String::as_str) != Some(ip) {
        return vec![ip.to_owned()];
    }
    ips
}

/// Validates a Service (expects a defaulted object: type, session affinity, protocols set).
pub(crate) fn validate_service(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    let kind = str_of(spec, "type");
    let ips = cluster_ips(spec);
    let headless = ips.first().map(String::as_str) == Some("None");
    let ports = list_of(spec, "ports");
    if ports.is_empty() && !headless && kind != "ExternalName" {
        errs.push(FieldError::required("spec.ports", ""));
    }
    match kind {
        "LoadBalancer" => {
            for (i, p) in ports.iter().enumerate() {
                if int_of(p, "port") == Some(KUBELET_PORT) {
                    errs.push(FieldError::invalid(
                        &index("spec.ports", i),
                        KUBELET_PORT,
                        "may not expose port 10250 externally since it is used by kubelet",
                    ));
                }
            }
            if headless {
                errs.push(FieldError::invalid(
                    "spec.clusterIPs[0]",
                    "None",
                    "may not be set to 'None' for LoadBalancer services",
                ));
            }
        }
        "NodePort" if headless => errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            "None",
            "may not be set to 'None' for NodePort services",
        )),
        "ExternalName" => {
            if !ips.is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.clusterIPs",
                    "may not be set for ExternalName services",
                ));
            }
            if !list_of(spec, "ipFamilies").is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.ipFamilies",
                    "may not be set for ExternalName services",
                ));
            }
            if get(spec, "ipFamilyPolicy").is_some() {
                errs.push(FieldError::forbidden(
                    "spec.ipFamilyPolicy",
                    "may not be set for ExternalName services",
                ));
            }
            let name = str_of(spec, "externalName");
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                errs.push(FieldError::required("spec.externalName", ""));
            } else {
                push_invalid(
                    errs,
                    "spec.externalName",
                    cname,
                    rules::dns1123_subdomain(cname),
                );
            }
        }
        _ => {}
    }
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        validate_port(
            port,
            ports.len() > 1,
            &mut names,
            &index("spec.ports", i),
            errs,
        );
    }
    rules::labels(errs, "spec.selector", spec.get("selector"));
    match str_of(spec, "sessionAffinity") {
        "" => errs.push(FieldError::required("spec.sessionAffinity", "")),
        "None" | "ClientIP" => {}
        other => errs.push(FieldError::not_supported(
            "spec.sessionAffinity",
            other,
            &["ClientIP", "None"],
        )),
    }
    if str_of(spec, "sessionAffinity") == "ClientIP" {
        let timeout = get(spec, "sessionAffinityConfig")
            .and_then(|c| get(c, "clientIP"))
            .and_then(|c| int_of(c, "timeoutSeconds"));
        if let Some(t) = timeout.filter(|t| !(1..=86400).contains(t)) {
            errs.push(FieldError::invalid(
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                t,
                "must be greater than 0 and less than 86400",
            ));
        }
    }
    for (i, ip) in ips.iter().enumerate() {
        if ip != "None" && ip.parse::<std::net::IpAddr>().is_err() && kind != "ExternalName" {
            errs.push(FieldError::invalid(
                &index("spec.clusterIPs", i),
                ip.as_str(),
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ));
        }
    }
    match kind {
        "" => errs.push(FieldError::required("spec.type", "")),
        "ClusterIP" | "ExternalName" | "LoadBalancer" | "NodePort" => {}
        other => errs.push(FieldError::not_supported(
            "spec.type",
            other,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }
    if kind == "ClusterIP" {
        for (i, p) in ports.iter().enumerate() {
            if int_of(p, "nodePort").unwrap_or(0) != 0 {
                errs.push(FieldError::forbidden(
                    &child(&index("spec.ports", i), "nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    if matches!(kind, "NodePort" | "LoadBalancer") {
        for (i, p) in ports.iter().enumerate() {
            let node_port = int_of(p, "nodePort").unwrap_or(0);
            if node_port != 0 && !NODE_PORT_RANGE.contains(&node_port) {
                errs.push(FieldError::invalid(
                    &child(&index("spec.ports", i), "nodePort"),
                    node_port,
                    "provided port is not in the valid range. The range of valid ports is 30000-32767",
                ));
            }
        }
    }
    let mut node_ports = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let node_port = int_of(p, "nodePort").unwrap_or(0);
        if node_port != 0 && !node_ports.insert((str_of(p, "protocol"), node_port)) {
            errs.push(FieldError::duplicate(
                &child(&index("spec.ports", i), "nodePort"),
                node_port,
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let protocol = str_of(p, "protocol");
        let port = int_of(p, "port").unwrap_or(0);
        if !seen.insert((protocol, port)) {
            errs.push(
                FieldError::duplicate(
                    &index("spec.ports", i),
                    serde_json::json!({"protocol": protocol, "port": port}),
                )
                .with_go_repr(format!(
                    "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:{}, NodePort:0}}",
                    go_quote(protocol),
                    go_int_or_string(None)
                )),
            );
        }
    }
    validate_traffic_policies(spec, kind, errs);
    if let Some(old) = old {
        validate_update(spec, sub(old, "spec"), errs);
    }
}

fn validate_port(
    port: &Value,
    require_name: bool,
    names: &mut BTreeSet<String>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let name = str_of(port, "name");
    let name_path = child(path, "name");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(&name_path, ""));
    } else if !name.is_empty() {
        push_invalid(errs, &name_path, name, rules::dns1123_label(name));
        if !names.insert(name.to_owned()) {
            errs.push(FieldError::duplicate(&name_path, name));
        }
    }
    let number = int_of(port, "port").unwrap_or(0);
    push_invalid(errs, &child(path, "port"), number, rules::port_num(number));
    pod_container::validate_protocol(errs, &child(path, "protocol"), str_of(port, "protocol"));
    rules::port_num_or_name(errs, &child(path, "targetPort"), port.get("targetPort"));
}

fn validate_traffic_policies(spec: &Value, kind: &str, errs: &mut Vec<FieldError>) {
    let external = str_of(spec, "externalTrafficPolicy");
    let externally_accessible = matches!(kind, "NodePort" | "LoadBalancer")
        || (kind == "ClusterIP" && !list_of(spec, "externalIPs").is_empty());
    if !externally_accessible {
        if !external.is_empty() {
            errs.push(FieldError::invalid(
                "spec.externalTrafficPolicy",
                external,
                "may only be set for externally-accessible services",
            ));
        }
    } else if external.is_empty() {
        errs.push(FieldError::required("spec.externalTrafficPolicy", ""));
    } else if external != "Cluster" && external != "Local" {
        errs.push(FieldError::not_supported(
            "spec.externalTrafficPolicy",
            external,
            &["Cluster", "Local"],
        ));
    }
    if kind != "ExternalName" {
        match spec.get("internalTrafficPolicy").and_then(Value::as_str) {
            None => errs.push(FieldError::required("spec.internalTrafficPolicy", "")),
            Some("Cluster" | "Local") => {}
            Some(other) => errs.push(FieldError::not_supported(
                "spec.internalTrafficPolicy",
                other,
                &["Cluster", "Local"],
            )),
        }
    }
    if let Some(policy) = spec.get("ipFamilyPolicy").and_then(Value::as_str) {
        if !matches!(
            policy,
            "SingleStack" | "PreferDualStack" | "RequireDualStack"
        ) {
            errs.push(FieldError::not_supported(
                "spec.ipFamilyPolicy",
                policy,
                &["PreferDualStack", "RequireDualStack", "SingleStack"],
            ));
        }
    }
}

/// Cluster IPs may not change, except when moving from or to `ExternalName`.
fn validate_update(spec: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    if str_of(spec, "type") == "ExternalName" || str_of(old, "type") == "ExternalName" {
        return;
    }
    let new_ips = cluster_ips(spec);
    let old_ips = cluster_ips(old);
    if new_ips.is_empty() {
        return;
    }
    for (i, old_ip) in old_ips.iter().enumerate() {
        if new_ips.get(i).is_some_and(|ip| ip != old_ip) {
            errs.push(FieldError::invalid(
                &index("spec.clusterIPs", i),
                new_ips.clone(),
                "may not change once set",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::validate;

    fn service(spec: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    fn defaulted(extra: serde_json::Value) -> serde_json::Value {
        let mut spec = json!({"type": "ClusterIP", "sessionAffinity": "None",
            "internalTrafficPolicy": "Cluster", "selector": {"app": "web"},
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        spec
    }

    fn messages(obj: &serde_json::Value, old: Option<&serde_json::Value>) -> Vec<String> {
        validate("", "Service", &super::super::versioned(obj, old), old)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn valid_and_names() {
        assert_eq!(
            messages(&service(defaulted(json!({}))), None),
            Vec::<String>::new()
        );
        let mut svc = service(defaulted(json!({})));
        svc["metadata"]["name"] = json!("1web");
        assert_eq!(
            messages(&svc, None),
            ["metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]
        );
    }

    #[test]
    fn ports() {
        let spec = defaulted(json!({"type": "X", "ports": [
            {"port": 80, "protocol": "TCP", "targetPort": 80},
            {"name": "http", "port": 0, "protocol": "TCP", "targetPort": "Http"},
            {"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30001}]}));
        assert_eq!(
            messages(&service(spec), None),
            [
                "spec.ports[0].name: Required value",
                "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[1].targetPort: Invalid value: \"Http\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "spec.type: Unsupported value: \"X\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
                "spec.ports[2]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
            ]
        );
        assert_eq!(
            messages(&service(defaulted(json!({"ports": []}))), None),
            ["spec.ports: Required value"]
        );
        assert_eq!(
            messages(
                &service(defaulted(json!({"ports": [], "clusterIP": "None"}))),
                None
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn node_ports_and_policies() {
        let spec = defaulted(
            json!({"type": "NodePort", "externalTrafficPolicy": "Cluster",
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 80}]}),
        );
        assert_eq!(
            messages(&service(spec), None),
            ["spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"]
        );
        let spec = defaulted(
            json!({"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30080}],
            "externalTrafficPolicy": "Local"}),
        );
        assert_eq!(
            messages(&service(spec), None),
            [
                "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
                "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services",
            ]
        );
    }

    #[test]
    fn external_names() {
        let spec = json!({"type": "ExternalName", "externalName": "my_db.example.com", "sessionAffinity": "None"});
        let got = messages(&service(spec), None);
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("spec.externalName: Invalid value: \"my_db.example.com\": a lowercase RFC 1123 subdomain"));
        let spec = json!({"type": "ExternalName", "sessionAffinity": "None"});
        assert_eq!(
            messages(&service(spec), None),
            ["spec.externalName: Required value"]
        );
    }

    #[test]
    fn cluster_ip_is_immutable() {
        let old = service(defaulted(
            json!({"clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5"]}),
        ));
        let new = service(defaulted(
            json!({"clusterIP": "10.96.0.6", "clusterIPs": ["10.96.0.5"]}),
        ));
        assert_eq!(
            messages(&new, Some(&old)),
            ["spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.6\"}: may not change once set"]
        );
    }
}
