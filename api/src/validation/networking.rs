//! Ingresses: rules, hosts, paths and backends.

use serde_json::Value;

use super::rules::{self, child, get, index, int_of, list_of, push_invalid, str_of, sub};
use super::FieldError;

const WILDCARD_MESSAGE: &str = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// Validates an Ingress.
pub(crate) fn validate_ingress(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    let rules_list = list_of(spec, "rules");
    let default_backend = get(spec, "defaultBackend");
    if rules_list.is_empty() && default_backend.is_none() {
        errs.push(
            FieldError::invalid(
                "spec",
                Value::Array(Vec::new()),
                "either `defaultBackend` or `rules` must be specified",
            )
            .with_go_repr("[]networking.IngressRule(nil)".to_owned()),
        );
    }
    if let Some(b) = default_backend {
        validate_backend(b, "spec.defaultBackend", errs);
    }
    for (i, rule) in rules_list.iter().enumerate() {
        let p = index("spec.rules", i);
        let host = str_of(rule, "host");
        validate_host(host, &child(&p, "host"), errs);
        if let Some(http) = get(rule, "http") {
            let hp = child(&p, "http");
            let paths = list_of(http, "paths");
            if paths.is_empty() {
                errs.push(FieldError::required(&child(&hp, "paths"), ""));
            }
            for (j, path) in paths.iter().enumerate() {
                validate_path(path, &index(&child(&hp, "paths"), j), errs);
            }
        }
    }
    for (i, tls) in list_of(spec, "tls").iter().enumerate() {
        let tp = index("spec.tls", i);
        for (j, host) in list_of(tls, "hosts").iter().enumerate() {
            let host = host.as_str().unwrap_or("");
            let p = index(&child(&tp, "hosts"), j);
            if host.contains('*') {
                push_invalid(errs, &p, host, wildcard(host));
            } else {
                push_invalid(errs, &p, host, rules::dns1123_subdomain(host));
            }
        }
        let secret = str_of(tls, "secretName");
        if !secret.is_empty() {
            push_invalid(
                errs,
                &child(&tp, "secretName"),
                secret,
                rules::dns1123_subdomain(secret),
            );
        }
    }
    if let Some(class) = spec.get("ingressClassName").and_then(Value::as_str) {
        push_invalid(
            errs,
            "spec.ingressClassName",
            class,
            rules::dns1123_subdomain(class),
        );
    }
}

/// On create only: the legacy class annotation must agree with `ingressClassName`.
pub(crate) fn validate_ingress_class_annotation(obj: &Value, errs: &mut Vec<FieldError>) {
    const ANNOTATION: &str = "kubernetes.io/ingress.class";
    let annotation = sub(sub(obj, "metadata"), "annotations")
        .get(ANNOTATION)
        .and_then(Value::as_str);
    let class = sub(obj, "spec")
        .get("ingressClassName")
        .and_then(Value::as_str);
    if let (Some(annotation), Some(class)) = (annotation, class) {
        if annotation != class {
            errs.push(FieldError::invalid(
                &child("annotations", ANNOTATION),
                annotation,
                "must match `ingressClassName` when both are specified",
            ));
        }
    }
}

fn wildcard(host: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    if host.len() > crate::names::DNS1123_SUBDOMAIN_MAX_LENGTH {
        msgs.push("must be no more than 253 characters".to_owned());
    }
    let ok = host
        .strip_prefix("*.")
        .is_some_and(|rest| rules::dns1123_subdomain(rest).is_empty());
    if !ok {
        msgs.push(WILDCARD_MESSAGE.to_owned());
    }
    msgs
}

fn validate_host(host: &str, path: &str, errs: &mut Vec<FieldError>) {
    if host.is_empty() {
        return;
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        errs.push(FieldError::invalid(
            path,
            host,
            "must be a DNS name, not an IP address",
        ));
    }
    if host.contains('*') {
        push_invalid(errs, path, host, wildcard(host));
    } else {
        push_invalid(errs, path, host, rules::dns1123_subdomain(host));
    }
}

fn validate_path(path: &Value, p: &str, errs: &mut Vec<FieldError>) {
    let Some(path_type) = path.get("pathType").and_then(Value::as_str) else {
        errs.push(FieldError::required(
            &child(p, "pathType"),
            "pathType must be specified",
        ));
        return;
    };
    let value = str_of(path, "path");
    let pp = child(p, "path");
    match path_type {
        "Exact" | "Prefix" => {
            if !value.starts_with('/') {
                errs.push(FieldError::invalid(&pp, value, "must be an absolute path"));
            }
            if !value.is_empty() {
                for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                    if value.contains(seq) {
                        errs.push(FieldError::invalid(
                            &pp,
                            value,
                            &format!("must not contain '{seq}'"),
                        ));
                    }
                }
                for suffix in ["/..", "/."] {
                    if value.ends_with(suffix) {
                        errs.push(FieldError::invalid(
                            &pp,
                            value,
                            &format!("cannot end with '{suffix}'"),
                        ));
                    }
                }
            }
        }
        "ImplementationSpecific" => {
            if !value.is_empty() && !value.starts_with('/') {
                errs.push(FieldError::invalid(&pp, value, "must be an absolute path"));
            }
        }
        other => errs.push(FieldError::not_supported(
            &child(p, "pathType"),
            other,
            &["Exact", "ImplementationSpecific", "Prefix"],
        )),
    }
    validate_backend(sub(path, "backend"), &child(p, "backend"), errs);
}

fn validate_backend(backend: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let resource = get(backend, "resource");
    let service = get(backend, "service");
    match (resource, service) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        )),
        (Some(r), None) => {
            let rp = child(path, "resource");
            if let Some(group) = r.get("apiGroup").and_then(Value::as_str) {
                push_invalid(
                    errs,
                    &child(&rp, "apiGroup"),
                    group,
                    rules::dns1123_subdomain(group),
                );
            }
            for field in ["kind", "name"] {
                let v = str_of(r, field);
                let p = child(&rp, field);
                if v.is_empty() {
                    errs.push(FieldError::required(&p, &format!("{field} is required")));
                } else {
                    push_invalid(errs, &p, v, rules::path_segment(v, false));
                }
            }
        }
        (None, Some(s)) => {
            let sp = child(path, "service");
            let name = str_of(s, "name");
            if name.is_empty() {
                errs.push(FieldError::required(&child(&sp, "name"), ""));
            } else {
                push_invalid(errs, &child(&sp, "name"), name, rules::dns1035_label(name));
            }
            let port = sub(s, "port");
            let port_name = str_of(port, "name");
            let number = int_of(port, "number").unwrap_or(0);
            let pp = child(&sp, "port");
            match (port_name.is_empty(), number) {
                (false, n) if n != 0 => errs.push(FieldError::invalid(
                    path,
                    "",
                    "cannot set both port name & port number",
                )),
                (false, _) => push_invalid(
                    errs,
                    &child(&pp, "name"),
                    port_name,
                    rules::port_name(port_name),
                ),
                (true, 0) => errs.push(FieldError::required(
                    path,
                    "port name or number is required",
                )),
                (true, n) => push_invalid(errs, &child(&pp, "number"), n, rules::port_num(n)),
            }
        }
        (None, None) => errs.push(FieldError::invalid(
            path,
            "",
            "resource or service backend is required",
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::validate;

    fn messages(spec: serde_json::Value) -> Vec<String> {
        let ing = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec});
        validate("networking.k8s.io", "Ingress", &ing, None)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn ingresses() {
        assert_eq!(
            messages(json!({})),
            ["spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"]
        );
        assert_eq!(
            messages(json!({"rules": [{"host": "example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]})),
            Vec::<String>::new()
        );
        assert_eq!(
            messages(json!({"rules": [
                {"host": "10.0.0.1", "http": {"paths": [
                    {"path": "api", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {}}}},
                    {"path": "/"}]}},
                {"host": "*.example.com", "http": {"paths": []}}]})),
            [
                "spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address",
                "spec.rules[0].http.paths[0].path: Invalid value: \"api\": must be an absolute path",
                "spec.rules[0].http.paths[0].backend: Required value: port name or number is required",
                "spec.rules[0].http.paths[1].pathType: Required value: pathType must be specified",
                "spec.rules[1].http.paths: Required value",
            ]
        );
        assert_eq!(
            messages(
                json!({"defaultBackend": {"resource": {"kind": ""}}, "ingressClassName": "nginx"})
            ),
            [
                "spec.defaultBackend.resource.kind: Required value: kind is required",
                "spec.defaultBackend.resource.name: Required value: name is required",
            ]
        );
        let ing = json!({"metadata": {"name": "web", "namespace": "default",
            "annotations": {"kubernetes.io/ingress.class": "traefik"}},
            "spec": {"ingressClassName": "nginx", "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}});
        let got: Vec<String> = validate("networking.k8s.io", "Ingress", &ing, None)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            ["annotations.kubernetes.io/ingress.class: Invalid value: \"traefik\": must match `ingressClassName` when both are specified"]
        );
    }
}
