//! Containers of a pod spec: names, images, ports, env, mounts, resources, probes.

use std::collections::BTreeSet;

use serde_json::Value;

use super::rules::{self, child, get, index, int_of, list_of, push_invalid, str_of};
use super::{probe, resources, FieldError};

const SUPPORTED_PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

/// Validates `containers` and `initContainers` of a pod spec at `path`. `volumes` are the names
/// of the pod's valid volumes.
pub(crate) fn validate_containers(
    spec: &Value,
    volumes: &BTreeSet<String>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let containers_path = child(path, "containers");
    let containers = list_of(spec, "containers");
    let mut names = BTreeSet::new();
    if containers.is_empty() {
        errs.push(FieldError::required(&containers_path, ""));
    }
    for (i, c) in containers.iter().enumerate() {
        let p = index(&containers_path, i);
        validate_common(c, volumes, &p, errs);
        let name = str_of(c, "name");
        if !names.insert(name.to_owned()) {
            errs.push(FieldError::duplicate(&child(&p, "name"), name));
        }
        probe::validate_probe(c, "livenessProbe", &p, errs);
        probe::validate_probe(c, "readinessProbe", &p, errs);
        probe::validate_probe(c, "startupProbe", &p, errs);
        if get(c, "restartPolicy").is_some() {
            errs.push(FieldError::forbidden(
                &child(&p, "restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    unique_host_ports(containers, &containers_path, errs);
    let init_path = child(path, "initContainers");
    for (i, c) in list_of(spec, "initContainers").iter().enumerate() {
        let p = index(&init_path, i);
        validate_common(c, volumes, &p, errs);
        let restartable = match c.get("restartPolicy").and_then(Value::as_str) {
            None => false,
            Some("Always") => true,
            Some(other) => {
                errs.push(FieldError::not_supported(
                    &child(&p, "restartPolicy"),
                    other,
                    &["Always"],
                ));
                false
            }
        };
        let name = str_of(c, "name");
        if names.contains(name) {
            errs.push(FieldError::duplicate(&child(&p, "name"), name));
        } else if !name.is_empty() {
            names.insert(name.to_owned());
        }
        // Init containers run one at a time, so each is checked alone (and, as in Kubernetes,
        // reported at index 0).
        unique_host_ports(std::slice::from_ref(c), &init_path, errs);
        if restartable {
            probe::validate_probe(c, "livenessProbe", &p, errs);
            probe::validate_probe(c, "readinessProbe", &p, errs);
            probe::validate_probe(c, "startupProbe", &p, errs);
        } else {
            for field in [
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
            ] {
                if get(c, field).is_some() {
                    errs.push(FieldError::forbidden(
                        &child(&p, field),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
}

/// Host ports (by protocol and host IP) may be used once across `containers`.
fn unique_host_ports(containers: &[Value], path: &str, errs: &mut Vec<FieldError>) {
    let mut seen = BTreeSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in list_of(c, "ports").iter().enumerate() {
            let host_port = int_of(port, "hostPort").unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{host_port}",
                str_of(port, "protocol"),
                str_of(port, "hostIP")
            );
            if seen.contains(&key) {
                let p = index(&child(&index(path, ci), "ports"), pi);
                errs.push(FieldError::duplicate(&child(&p, "hostPort"), key));
            } else {
                seen.insert(key);
            }
        }
    }
}

/// Checks shared by every kind of container.
fn validate_common(c: &Value, volumes: &BTreeSet<String>, path: &str, errs: &mut Vec<FieldError>) {
    let name = str_of(c, "name");
    let name_path = child(path, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&name_path, ""));
    } else {
        push_invalid(errs, &name_path, name, rules::dns1123_label(name));
    }
    if str_of(c, "image").is_empty() {
        errs.push(FieldError::required(&child(path, "image"), ""));
    }
    let tmp = child(path, "terminationMessagePolicy");
    match str_of(c, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(&tmp, "")),
        other => errs.push(FieldError::not_supported(
            &tmp,
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    validate_ports(list_of(c, "ports"), &child(path, "ports"), errs);
    validate_env(list_of(c, "env"), &child(path, "env"), errs);
    let privileged = c
        .pointer("/securityContext/privileged")
        .and_then(Value::as_bool)
        == Some(true);
    validate_mounts(
        list_of(c, "volumeMounts"),
        volumes,
        privileged,
        &child(path, "volumeMounts"),
        errs,
    );
    let ipp = child(path, "imagePullPolicy");
    match str_of(c, "imagePullPolicy") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(FieldError::required(&ipp, "")),
        other => errs.push(FieldError::not_supported(
            &ipp,
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    if let Some(resources) = get(c, "resources") {
        resources::validate_resources(resources, &child(path, "resources"), errs);
    }
}

fn validate_ports(ports: &[Value], path: &str, errs: &mut Vec<FieldError>) {
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = index(path, i);
        let name = str_of(port, "name");
        if !name.is_empty() {
            let msgs = rules::port_name(name);
            if !msgs.is_empty() {
                push_invalid(errs, &child(&p, "name"), name, msgs);
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(&child(&p, "name"), name));
            }
        }
        match int_of(port, "containerPort").unwrap_or(0) {
            0 => errs.push(FieldError::required(&child(&p, "containerPort"), "")),
            n => push_invalid(errs, &child(&p, "containerPort"), n, rules::port_num(n)),
        }
        if let Some(n) = int_of(port, "hostPort").filter(|n| *n != 0) {
            push_invalid(errs, &child(&p, "hostPort"), n, rules::port_num(n));
        }
        validate_protocol(errs, &child(&p, "protocol"), str_of(port, "protocol"));
    }
}

/// A port protocol: `SCTP`, `TCP` or `UDP`.
pub(crate) fn validate_protocol(errs: &mut Vec<FieldError>, path: &str, protocol: &str) {
    if protocol.is_empty() {
        errs.push(FieldError::required(path, ""));
    } else if !SUPPORTED_PROTOCOLS.contains(&protocol) {
        errs.push(FieldError::not_supported(
            path,
            protocol,
            SUPPORTED_PROTOCOLS,
        ));
    }
}

fn validate_env(env: &[Value], path: &str, errs: &mut Vec<FieldError>) {
    for (i, var) in env.iter().enumerate() {
        let p = index(path, i);
        let name = str_of(var, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&child(&p, "name"), ""));
        } else if !name.chars().all(|c| c.is_ascii_graphic() || c == ' ') || name.contains('=') {
            errs.push(FieldError::invalid(
                &child(&p, "name"),
                name,
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
        let Some(from) = get(var, "valueFrom") else {
            continue;
        };
        let from_path = child(&p, "valueFrom");
        let sources = [
            "fieldRef",
            "resourceFieldRef",
            "configMapKeyRef",
            "secretKeyRef",
            "fileKeyRef",
        ];
        let present: Vec<&str> = sources
            .into_iter()
            .filter(|s| get(from, s).is_some())
            .collect();
        if present.is_empty() {
            errs.push(FieldError::invalid(
                &from_path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if present.len() > 1 {
            errs.push(FieldError::invalid(
                &from_path,
                "",
                "may not have more than one field specified at a time",
            ));
        } else if !str_of(var, "value").is_empty() {
            errs.push(FieldError::invalid(
                &from_path,
                "",
                "may not be specified when `value` is not empty",
            ));
        }
        for source in ["configMapKeyRef", "secretKeyRef"] {
            if let Some(r) = get(from, source) {
                let rp = child(&from_path, source);
                if str_of(r, "key").is_empty() {
                    errs.push(FieldError::required(&child(&rp, "key"), ""));
                }
                if str_of(r, "name").is_empty() {
                    errs.push(FieldError::required(&child(&rp, "name"), ""));
                }
            }
        }
        if let Some(r) = get(from, "fieldRef") {
            if str_of(r, "fieldPath").is_empty() {
                errs.push(FieldError::required(
                    &child(&child(&from_path, "fieldRef"), "fieldPath"),
                    "",
                ));
            }
        }
    }
}

fn validate_mounts(
    mounts: &[Value],
    volumes: &BTreeSet<String>,
    privileged: bool,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let mut mount_points = BTreeSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let p = index(path, i);
        let name = str_of(m, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&child(&p, "name"), ""));
        }
        if !volumes.contains(name) {
            errs.push(FieldError::not_found(&child(&p, "name"), name));
        }
        let mount_path = str_of(m, "mountPath");
        if mount_path.is_empty() {
            errs.push(FieldError::required(&child(&p, "mountPath"), ""));
        }
        if !mount_points.insert(mount_path) {
            errs.push(FieldError::invalid(
                &child(&p, "mountPath"),
                mount_path,
                "must be unique",
            ));
        }
        let sub_path = str_of(m, "subPath");
        if !sub_path.is_empty() {
            validate_local_path(errs, &child(path, "subPath"), sub_path, false);
        }
        let sub_path_expr = str_of(m, "subPathExpr");
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(FieldError::invalid(
                    &child(&p, "subPathExpr"),
                    sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            validate_local_path(errs, &child(path, "subPathExpr"), sub_path_expr, false);
        }
        if let Some(mode) = m.get("mountPropagation").and_then(Value::as_str) {
            let mp = child(path, "mountPropagation");
            const MODES: &[&str] = &["Bidirectional", "HostToContainer", "None"];
            if !MODES.contains(&mode) {
                errs.push(FieldError::not_supported(&mp, mode, MODES));
            }
            if mode == "Bidirectional" && !privileged {
                errs.push(FieldError::forbidden(
                    &mp,
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
    }
}

/// A relative path that stays inside its parent (`subPath`, volume `items[].path`).
pub(crate) fn validate_local_path(
    errs: &mut Vec<FieldError>,
    path: &str,
    value: &str,
    required: bool,
) {
    if value.is_empty() {
        if required {
            errs.push(FieldError::required(path, ""));
        }
        return;
    }
    if value.starts_with('/') {
        errs.push(FieldError::invalid(path, value, "must be a relative path"));
    }
    if value.split('/').any(|part| part == "..") {
        errs.push(FieldError::invalid(path, value, "must not contain '..'"));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::validate;

    fn messages(containers: serde_json::Value) -> Vec<String> {
        let pod = json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "volumes": [{"name": "data", "emptyDir": {}}],
            "containers": containers}});
        validate("", "Pod", &pod, None)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn container(extra: serde_json::Value) -> serde_json::Value {
        let mut c = json!({"name": "app", "image": "nginx", "imagePullPolicy": "IfNotPresent",
            "terminationMessagePolicy": "File"});
        if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                c.insert(k.clone(), v.clone());
            }
        }
        c
    }

    #[test]
    fn required_and_unique() {
        assert_eq!(messages(json!([])), ["spec.containers: Required value"]);
        assert_eq!(
            messages(json!([
                container(json!({"name": "", "image": ""})),
                container(json!({}))
            ])),
            [
                "spec.containers[0].name: Required value",
                "spec.containers[0].image: Required value"
            ]
        );
        assert_eq!(
            messages(json!([container(json!({})), container(json!({}))])),
            ["spec.containers[1].name: Duplicate value: \"app\""]
        );
        let got = messages(json!([container(json!({"name": "App"}))]));
        assert!(got[0].starts_with(
            "spec.containers[0].name: Invalid value: \"App\": a lowercase RFC 1123 label"
        ));
    }

    #[test]
    fn ports() {
        assert_eq!(
            messages(json!([container(json!({"ports": [
                {"containerPort": 80, "protocol": "TCP", "name": "http"},
                {"containerPort": 70000, "protocol": "TCP", "name": "http"},
                {"protocol": "HTTP"}]}))])),
            [
                "spec.containers[0].ports[1].name: Duplicate value: \"http\"",
                "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[2].containerPort: Required value",
                "spec.containers[0].ports[2].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ]
        );
    }

    #[test]
    fn env_and_mounts() {
        assert_eq!(
            messages(json!([container(json!({
                "env": [{"name": ""}, {"name": "A=B"}, {"name": "X", "value": "1", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "volumeMounts": [{"name": "data", "mountPath": "/d"}, {"name": "logs", "mountPath": "/d"}]}))])),
            [
                "spec.containers[0].env[0].name: Required value",
                "spec.containers[0].env[1].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
                "spec.containers[0].env[2].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
                "spec.containers[0].volumeMounts[1].name: Not found: \"logs\"",
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/d\": must be unique",
            ]
        );
    }

    #[test]
    fn resources() {
        assert_eq!(
            messages(json!([container(json!({"resources": {
                "limits": {"cpu": "1", "memory": "1Gi", "example.com/gpu": "2"},
                "requests": {"cpu": "2", "memory": "-1", "example.com/gpu": "1", "disk": "1"}}}))])),
            [
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
                "spec.containers[0].resources.requests[disk]: Invalid value: \"disk\": must be a standard resource for containers",
                "spec.containers[0].resources.requests: Invalid value: \"1\": must be equal to example.com/gpu limit of 2",
                "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
            ]
        );
    }

    #[test]
    fn host_ports_and_mounts() {
        assert_eq!(
            messages(json!([
                container(json!({"ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}],
                    "volumeMounts": [{"name": "data", "mountPath": "/d", "mountPropagation": "Bidirectional"}]})),
                container(json!({"name": "b", "ports": [{"containerPort": 81, "hostPort": 8080, "protocol": "TCP"}]}))
            ])),
            [
                "spec.containers[0].volumeMounts.mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged containers",
                "spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//8080\"",
            ]
        );
    }

    #[test]
    fn init_containers() {
        let pod = json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "containers": [container(json!({}))],
            "initContainers": [container(json!({"name": "init", "image": "",
                "startupProbe": {"exec": {"command": ["true"]}}}))]}});
        let got: Vec<String> = validate("", "Pod", &pod, None)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            super::super::invalid_message("Pod", "", "p", &validate("", "Pod", &pod, None)),
            "Pod \"p\" is invalid: [spec.initContainers[0].image: Required value, spec.initContainers[0].startupProbe: Forbidden: may not be set for init containers without restartPolicy=Always]"
        );
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn probes() {
        assert_eq!(
            messages(json!([container(json!({
                "livenessProbe": {"httpGet": {"path": "/", "port": 0, "scheme": "HTTP"}, "exec": {"command": ["x"]}, "successThreshold": 2},
                "readinessProbe": {"periodSeconds": -1}}))])),
            [
                "spec.containers[0].livenessProbe.httpGet: Forbidden: may not specify more than 1 handler type",
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
                "spec.containers[0].readinessProbe: Required value: must specify a handler type",
                "spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
            ]
        );
    }
}
