//! Pods, and the pod templates of workloads: containers, probes, environment, mounts, volumes.

use serde_json::Value;

use super::{s, Writer};

/// Where a container list is printed: in a pod, or in a workload's pod template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Pod,
    Template,
}

fn arr<'a>(v: &'a Value, pointer: &str) -> Vec<&'a Value> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A quantity in canonical form (`0.5` prints as `500m`), as kubectl shows typed objects.
pub fn quantity(v: &Value) -> String {
    let raw = text(v);
    rkube_api::Quantity::parse(&raw).map_or(raw, |q| q.to_string())
}

/// kubectl's QoS class from the containers' requests and limits.
fn qos_class(spec: &Value) -> &'static str {
    let mut any = false;
    let mut guaranteed = true;
    for c in arr(spec, "/containers")
        .into_iter()
        .chain(arr(spec, "/initContainers"))
    {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        for res in ["cpu", "memory"] {
            let r = requests
                .and_then(|m| m.get(res))
                .or_else(|| limits.and_then(|m| m.get(res)));
            let l = limits.and_then(|m| m.get(res));
            if r.is_some() || l.is_some() {
                any = true;
            }
            match (r, l) {
                (Some(r), Some(l)) if quantity(r) == quantity(l) => {}
                _ => guaranteed = false,
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// `80/TCP, 443/TCP` (or `<none>`) for container or host ports.
fn ports(c: &Value, key: &str) -> (bool, String) {
    let list = arr(c, "/ports");
    if list.is_empty() {
        return (false, "<none>".into());
    }
    let items: Vec<String> = list
        .iter()
        .map(|p| {
            let n = p.get(key).map(text).unwrap_or_else(|| "0".into());
            let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            format!("{n}/{proto}")
        })
        .collect();
    (items.len() > 1, items.join(", "))
}

fn probe_text(p: &Value) -> String {
    let handler = if let Some(h) = p.get("httpGet") {
        let scheme = h
            .get("scheme")
            .and_then(Value::as_str)
            .unwrap_or("HTTP")
            .to_lowercase();
        let host = s(h, "/host");
        let port = h.get("port").map(text).unwrap_or_default();
        format!("http-get {scheme}://{host}:{port}{}", s(h, "/path"))
    } else if let Some(t) = p.get("tcpSocket") {
        format!(
            "tcp-socket {}:{}",
            s(t, "/host"),
            t.get("port").map(text).unwrap_or_default()
        )
    } else if let Some(e) = p.get("exec") {
        let cmd: Vec<String> = arr(e, "/command").into_iter().map(text).collect();
        format!("exec [{}]", cmd.join(" "))
    } else if let Some(g) = p.get("grpc") {
        format!(
            "grpc <pod>:{} {}",
            g.get("port").map(text).unwrap_or_default(),
            s(g, "/service")
        )
    } else {
        "unknown".into()
    };
    let n = |k: &str, d: i64| p.get(k).and_then(Value::as_i64).unwrap_or(d);
    format!(
        "{handler} delay={}s timeout={}s period={}s #success={} #failure={}",
        n("initialDelaySeconds", 0),
        n("timeoutSeconds", 1),
        n("periodSeconds", 10),
        n("successThreshold", 1),
        n("failureThreshold", 3)
    )
}

fn env_value(e: &Value) -> String {
    if let Some(v) = e.get("value") {
        return text(v);
    }
    let Some(from) = e.get("valueFrom") else {
        return String::new();
    };
    let optional = |r: &Value| r.get("optional").and_then(Value::as_bool).unwrap_or(false);
    if let Some(r) = from.get("configMapKeyRef") {
        return format!(
            "<set to the key '{}' of config map '{}'>\tOptional: {}",
            s(r, "/key"),
            s(r, "/name"),
            optional(r)
        );
    }
    if let Some(r) = from.get("secretKeyRef") {
        return format!(
            "<set to the key '{}' in secret '{}'>\tOptional: {}",
            s(r, "/key"),
            s(r, "/name"),
            optional(r)
        );
    }
    if let Some(r) = from.get("fieldRef") {
        return format!(
            " ({}:{})",
            r.get("apiVersion").and_then(Value::as_str).unwrap_or("v1"),
            s(r, "/fieldPath")
        );
    }
    if let Some(r) = from.get("resourceFieldRef") {
        return format!(
            "{} ({}/{})",
            r.get("divisor").map(text).unwrap_or_else(|| "0".into()),
            s(r, "/containerName"),
            s(r, "/resource")
        );
    }
    String::new()
}

/// One container list (`Containers:` or `Init Containers:`).
pub fn containers(w: &mut Writer, label: &str, list: &[&Value], statuses: &[&Value], place: Place) {
    let (label_indent, name_indent) = match place {
        Place::Pod => ("", "  "),
        Place::Template => ("  ", "   "),
    };
    w.line(0, &format!("{label_indent}{label}:"));
    for c in list {
        let name = s(c, "/name");
        let status = statuses.iter().find(|st| s(st, "/name") == name);
        w.line(0, &format!("{name_indent}{name}:"));
        if let Some(st) = status {
            w.field(2, "Container ID", s(st, "/containerID"));
        }
        w.field(2, "Image", s(c, "/image"));
        if let Some(st) = status {
            w.field(2, "Image ID", s(st, "/imageID"));
        }
        let (many, p) = ports(c, "containerPort");
        w.field(2, if many { "Ports" } else { "Port" }, &p);
        let (many, hp) = ports(c, "hostPort");
        w.field(2, if many { "Host Ports" } else { "Host Port" }, &hp);
        for (key, title) in [("command", "Command"), ("args", "Args")] {
            let items = arr(c, &format!("/{key}"));
            if !items.is_empty() {
                w.line(2, &format!("{title}:"));
                for i in items {
                    for l in text(i).split('\n') {
                        w.line(3, l);
                    }
                }
            }
        }
        if let Some(st) = status {
            state(w, "State", st.get("state"));
            if st
                .get("lastState")
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty())
            {
                state(w, "Last State", st.get("lastState"));
            }
            w.field(
                2,
                "Ready",
                if st.get("ready").and_then(Value::as_bool).unwrap_or(false) {
                    "True"
                } else {
                    "False"
                },
            );
            w.field(
                2,
                "Restart Count",
                &st.get("restartCount")
                    .map(text)
                    .unwrap_or_else(|| "0".into()),
            );
        }
        for (key, title) in [("limits", "Limits"), ("requests", "Requests")] {
            if let Some(m) = c
                .pointer(&format!("/resources/{key}"))
                .and_then(Value::as_object)
            {
                if !m.is_empty() {
                    w.line(2, &format!("{title}:"));
                    let mut keys: Vec<&String> = m.keys().collect();
                    keys.sort();
                    for k in keys {
                        w.field(3, k, &quantity(&m[k]));
                    }
                }
            }
        }
        for (key, title) in [
            ("livenessProbe", "Liveness"),
            ("readinessProbe", "Readiness"),
            ("startupProbe", "Startup"),
        ] {
            if let Some(p) = c.get(key) {
                w.field(2, title, &probe_text(p));
            }
        }
        let env_from = arr(c, "/envFrom");
        if !env_from.is_empty() {
            w.line(2, "Environment Variables from:");
            for e in env_from {
                let (kind, r) = match (e.get("configMapRef"), e.get("secretRef")) {
                    (Some(r), _) => ("ConfigMap", r),
                    (_, Some(r)) => ("Secret", r),
                    _ => continue,
                };
                let optional = r.get("optional").and_then(Value::as_bool).unwrap_or(false);
                let prefix = s(e, "/prefix");
                let prefix = if prefix.is_empty() {
                    String::new()
                } else {
                    format!(" with prefix '{prefix}'")
                };
                w.line(
                    3,
                    &format!("{}\t{kind}{prefix}\tOptional: {optional}", s(r, "/name")),
                );
            }
        }
        let env = arr(c, "/env");
        if env.is_empty() {
            w.field(2, "Environment", "<none>");
        } else {
            w.line(2, "Environment:");
            for e in env {
                w.field(3, s(e, "/name"), &env_value(e));
            }
        }
        let mounts = arr(c, "/volumeMounts");
        if mounts.is_empty() {
            w.field(2, "Mounts", "<none>");
        } else {
            w.line(2, "Mounts:");
            let mut sorted = mounts;
            sorted.sort_by_key(|m| s(m, "/mountPath"));
            for m in sorted {
                let ro = if m.get("readOnly").and_then(Value::as_bool).unwrap_or(false) {
                    "ro"
                } else {
                    "rw"
                };
                let sub = s(m, "/subPath");
                let sub = if sub.is_empty() {
                    String::new()
                } else {
                    format!(", path = \"{sub}\"")
                };
                w.line(
                    3,
                    &format!("{} from {} ({ro}{sub})", s(m, "/mountPath"), s(m, "/name")),
                );
            }
        }
    }
}

fn state(w: &mut Writer, title: &str, st: Option<&Value>) {
    let Some(st) = st else {
        w.field(2, title, "Waiting");
        return;
    };
    if let Some(r) = st.get("running") {
        w.field(2, title, "Running");
        w.field(3, "Started", &super::kinds::timestamp(s(r, "/startedAt")));
    } else if let Some(r) = st.get("waiting") {
        w.field(2, title, "Waiting");
        if !s(r, "/reason").is_empty() {
            w.field(3, "Reason", s(r, "/reason"));
        }
        if !s(r, "/message").is_empty() {
            w.field(3, "Message", s(r, "/message"));
        }
    } else if let Some(r) = st.get("terminated") {
        w.field(2, title, "Terminated");
        if !s(r, "/reason").is_empty() {
            w.field(3, "Reason", s(r, "/reason"));
        }
        if !s(r, "/message").is_empty() {
            w.field(3, "Message", s(r, "/message"));
        }
        w.field(
            3,
            "Exit Code",
            &r.get("exitCode").map(text).unwrap_or_else(|| "0".into()),
        );
        if let Some(sig) = r.get("signal").and_then(Value::as_i64).filter(|s| *s > 0) {
            w.field(3, "Signal", &sig.to_string());
        }
        w.field(3, "Started", &super::kinds::timestamp(s(r, "/startedAt")));
        w.field(3, "Finished", &super::kinds::timestamp(s(r, "/finishedAt")));
    } else {
        w.field(2, title, "Waiting");
    }
}

/// `Volumes:` of a pod spec.
pub fn volumes(w: &mut Writer, spec: &Value, place: Place) {
    let (level, name_indent) = match place {
        Place::Pod => (0, "  "),
        Place::Template => (1, "   "),
    };
    let list = arr(spec, "/volumes");
    if list.is_empty() {
        w.field(level, "Volumes", "<none>");
        return;
    }
    w.line(level, "Volumes:");
    for v in list {
        w.line(0, &format!("{name_indent}{}:", s(v, "/name")));
        let bool_text = |x: Option<&Value>| x.and_then(Value::as_bool).unwrap_or(false).to_string();
        if let Some(e) = v.get("emptyDir") {
            w.field(
                2,
                "Type",
                "EmptyDir (a temporary directory that shares a pod's lifetime)",
            );
            w.field(2, "Medium", s(e, "/medium"));
            w.field(
                2,
                "SizeLimit",
                &e.get("sizeLimit")
                    .map(text)
                    .unwrap_or_else(|| "<unset>".into()),
            );
        } else if let Some(c) = v.get("configMap") {
            w.field(2, "Type", "ConfigMap (a volume populated by a ConfigMap)");
            w.field(2, "Name", s(c, "/name"));
            w.field(2, "Optional", &bool_text(c.get("optional")));
        } else if let Some(c) = v.get("secret") {
            w.field(2, "Type", "Secret (a volume populated by a Secret)");
            w.field(2, "SecretName", s(c, "/secretName"));
            w.field(2, "Optional", &bool_text(c.get("optional")));
        } else if let Some(c) = v.get("hostPath") {
            w.field(2, "Type", "HostPath (bare host directory volume)");
            w.field(2, "Path", s(c, "/path"));
            w.field(2, "HostPathType", s(c, "/type"));
        } else if let Some(c) = v.get("persistentVolumeClaim") {
            w.field(2, "Type", "PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)");
            w.field(2, "ClaimName", s(c, "/claimName"));
            w.field(2, "ReadOnly", &bool_text(c.get("readOnly")));
        } else if let Some(c) = v.get("projected") {
            w.field(
                2,
                "Type",
                "Projected (a volume that contains injected data from multiple sources)",
            );
            for src in arr(c, "/sources") {
                if let Some(t) = src.get("serviceAccountToken") {
                    w.field(
                        2,
                        "TokenExpirationSeconds",
                        &t.get("expirationSeconds")
                            .map(text)
                            .unwrap_or_else(|| "3600".into()),
                    );
                } else if let Some(cm) = src.get("configMap") {
                    w.field(2, "ConfigMapName", s(cm, "/name"));
                    w.field(
                        2,
                        "Optional",
                        &cm.get("optional")
                            .and_then(Value::as_bool)
                            .map_or("<nil>".into(), |b| b.to_string()),
                    );
                } else if src.get("downwardAPI").is_some() {
                    w.field(2, "DownwardAPI", "true");
                } else if let Some(sec) = src.get("secret") {
                    w.field(2, "SecretName", s(sec, "/name"));
                    w.field(
                        2,
                        "Optional",
                        &sec.get("optional")
                            .and_then(Value::as_bool)
                            .map_or("<nil>".into(), |b| b.to_string()),
                    );
                }
            }
        } else {
            w.field(2, "Type", "<unknown>");
        }
    }
}

/// `Tolerations:` lines.
pub fn tolerations(w: &mut Writer, level: usize, spec: &Value) {
    let list = arr(spec, "/tolerations");
    if list.is_empty() {
        w.field(level, "Tolerations", "<none>");
        return;
    }
    for (i, t) in list.iter().enumerate() {
        let mut text = s(t, "/key").to_owned();
        if !s(t, "/value").is_empty() {
            text.push('=');
            text.push_str(s(t, "/value"));
        }
        if !s(t, "/effect").is_empty() {
            text.push(':');
            text.push_str(s(t, "/effect"));
        }
        if s(t, "/operator") == "Exists" && s(t, "/value").is_empty() {
            text.push_str(" op=Exists");
        }
        if let Some(secs) = t.get("tolerationSeconds").and_then(Value::as_i64) {
            text.push_str(&format!(" for {secs}s"));
        }
        if i == 0 {
            w.field(level, "Tolerations", &text);
        } else {
            w.line(level, &format!("\t{text}"));
        }
    }
}

/// `Pod Template:` of a workload.
pub fn template(w: &mut Writer, template: &Value) {
    w.line(0, "Pod Template:");
    w.map(1, "Labels", template.pointer("/metadata/labels"), &[]);
    if template
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
    {
        w.map(
            1,
            "Annotations",
            template.pointer("/metadata/annotations"),
            &[],
        );
    }
    let spec = template.get("spec").unwrap_or(&Value::Null);
    if !s(spec, "/serviceAccountName").is_empty() {
        w.field(1, "Service Account", s(spec, "/serviceAccountName"));
    }
    let init = arr(spec, "/initContainers");
    if !init.is_empty() {
        containers(w, "Init Containers", &init, &[], Place::Template);
    }
    containers(
        w,
        "Containers",
        &arr(spec, "/containers"),
        &[],
        Place::Template,
    );
    volumes(w, spec, Place::Template);
    w.map(1, "Node-Selectors", spec.get("nodeSelector"), &[]);
    tolerations(w, 1, spec);
}

/// A whole pod.
pub fn pod(w: &mut Writer, obj: &Value) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let status = obj.get("status").unwrap_or(&Value::Null);
    w.field(0, "Name", s(obj, "/metadata/name"));
    w.field(0, "Namespace", s(obj, "/metadata/namespace"));
    w.field(
        0,
        "Priority",
        &spec.get("priority").map(text).unwrap_or_else(|| "0".into()),
    );
    if !s(spec, "/priorityClassName").is_empty() {
        w.field(0, "Priority Class Name", s(spec, "/priorityClassName"));
    }
    if !s(spec, "/serviceAccountName").is_empty() {
        w.field(0, "Service Account", s(spec, "/serviceAccountName"));
    }
    let node = s(spec, "/nodeName");
    let node = if node.is_empty() {
        "<none>".to_owned()
    } else if s(status, "/hostIP").is_empty() {
        node.to_owned()
    } else {
        format!("{node}/{}", s(status, "/hostIP"))
    };
    w.field(0, "Node", &node);
    if !s(status, "/startTime").is_empty() {
        w.field(
            0,
            "Start Time",
            &super::kinds::timestamp(s(status, "/startTime")),
        );
    }
    super::kinds::labels_annotations(w, obj);
    if !s(obj, "/metadata/deletionTimestamp").is_empty() {
        w.field(
            0,
            "Status",
            &format!(
                "Terminating (lasts {})",
                super::kinds::since(s(obj, "/metadata/deletionTimestamp"))
            ),
        );
        w.field(
            0,
            "Termination Grace Period",
            &format!(
                "{}s",
                obj.pointer("/metadata/deletionGracePeriodSeconds")
                    .map(text)
                    .unwrap_or_else(|| "0".into())
            ),
        );
    } else {
        w.field(0, "Status", s(status, "/phase"));
    }
    if !s(status, "/reason").is_empty() {
        w.field(0, "Reason", s(status, "/reason"));
    }
    if !s(status, "/message").is_empty() {
        w.field(0, "Message", s(status, "/message"));
    }
    w.field(0, "IP", s(status, "/podIP"));
    let ips = arr(status, "/podIPs");
    if ips.is_empty() {
        w.field(0, "IPs", "<none>");
    } else {
        w.line(0, "IPs:");
        for ip in ips {
            w.field(1, "IP", s(ip, "/ip"));
        }
    }
    if let Some(owner) = arr(obj, "/metadata/ownerReferences")
        .into_iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
    {
        w.field(
            0,
            "Controlled By",
            &format!("{}/{}", s(owner, "/kind"), s(owner, "/name")),
        );
    }
    let init = arr(spec, "/initContainers");
    if !init.is_empty() {
        containers(
            w,
            "Init Containers",
            &init,
            &arr(status, "/initContainerStatuses"),
            Place::Pod,
        );
    }
    containers(
        w,
        "Containers",
        &arr(spec, "/containers"),
        &arr(status, "/containerStatuses"),
        Place::Pod,
    );
    let conditions = arr(status, "/conditions");
    if !conditions.is_empty() {
        w.line(0, "Conditions:");
        w.line(1, "Type\tStatus");
        for c in conditions {
            w.line(1, &format!("{} \t{} ", s(c, "/type"), s(c, "/status")));
        }
    }
    volumes(w, spec, Place::Pod);
    let qos = s(status, "/qosClass");
    w.field(
        0,
        "QoS Class",
        if qos.is_empty() { qos_class(spec) } else { qos },
    );
    w.map(0, "Node-Selectors", spec.get("nodeSelector"), &[]);
    tolerations(w, 0, spec);
}
