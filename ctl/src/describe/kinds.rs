//! Per-kind describe sections: deployments, services, config maps, namespaces, nodes, and a
//! generic layout for the rest.

use serde_json::Value;

use super::pod;
use super::{s, Writer};
use crate::discovery::ApiResource;

/// Writes the sections for `obj`; `extra` carries related objects some kinds show (endpoint
/// slices of a service, pods of a node).
pub fn describe(w: &mut Writer, resource: &ApiResource, obj: &Value, extra: &Value) {
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("apps", "Deployment") => deployment(w, obj, extra),
        ("", "Pod") => pod::pod(w, obj),
        ("", "Service") => service(w, obj, extra),
        ("", "ConfigMap") => config_map(w, obj),
        ("", "Namespace") => namespace(w, obj),
        ("", "Node") => node(w, obj),
        ("autoscaling", "HorizontalPodAutoscaler") => super::hpa::hpa(w, obj),
        _ => generic(w, resource, obj),
    }
}

/// Days since 1970-01-01 to (year, month, day).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// An RFC 3339 time as kubectl's describe prints it (`Mon, 02 Jan 2006 15:04:05 +0000`).
pub fn timestamp(t: &str) -> String {
    let Some(secs) = rkube_api::printers::parse_rfc3339(t) else {
        return t.to_owned();
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let weekday = WEEKDAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let month = MONTHS[usize::try_from(m - 1).unwrap_or(0)];
    format!(
        "{weekday}, {d:02} {month} {y} {:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// How long ago `t` was, in kubectl's short form.
pub fn since(t: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0);
    rkube_api::printers::parse_rfc3339(t).map_or_else(
        || "<unknown>".into(),
        |then| rkube_api::printers::human_duration(now - then),
    )
}

/// `Labels:` and `Annotations:` (without the last-applied configuration, as kubectl hides it).
pub fn labels_annotations(w: &mut Writer, obj: &Value) {
    w.map(0, "Labels", obj.pointer("/metadata/labels"), &[]);
    w.map(
        0,
        "Annotations",
        obj.pointer("/metadata/annotations"),
        &[crate::cmd::LAST_APPLIED],
    );
}

fn header(w: &mut Writer, obj: &Value, namespaced: bool, created: bool) {
    w.field(0, "Name", s(obj, "/metadata/name"));
    if namespaced {
        w.field(0, "Namespace", s(obj, "/metadata/namespace"));
    }
    if created {
        w.field(
            0,
            "CreationTimestamp",
            &timestamp(s(obj, "/metadata/creationTimestamp")),
        );
    }
    labels_annotations(w, obj);
}

/// A label selector as `k=v,k2 in (a,b)`.
pub fn selector_text(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".into();
    };
    let mut parts: Vec<String> = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    parts.sort();
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let key = s(e, "/key");
        parts.push(match s(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other}"),
        });
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn num(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn int_or_string(v: Option<&Value>, default: &str) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => default.to_owned(),
    }
}

fn deployment(w: &mut Writer, obj: &Value, extra: &Value) {
    header(w, obj, true, true);
    w.field(0, "Selector", &selector_text(obj.pointer("/spec/selector")));
    let updated = num(obj, "/status/updatedReplicas");
    let total = num(obj, "/status/replicas");
    let available = num(obj, "/status/availableReplicas");
    let unavailable = num(obj, "/status/unavailableReplicas");
    w.field(
        0,
        "Replicas",
        &format!("{} desired | {updated} updated | {total} total | {available} available | {unavailable} unavailable", num(obj, "/spec/replicas")),
    );
    let strategy = s(obj, "/spec/strategy/type");
    w.field(0, "StrategyType", strategy);
    w.field(
        0,
        "MinReadySeconds",
        &num(obj, "/spec/minReadySeconds").to_string(),
    );
    if let Some(ru) = obj.pointer("/spec/strategy/rollingUpdate") {
        w.field(
            0,
            "RollingUpdateStrategy",
            &format!(
                "{} max unavailable, {} max surge",
                int_or_string(ru.get("maxUnavailable"), "25%"),
                int_or_string(ru.get("maxSurge"), "25%")
            ),
        );
    }
    pod::template(w, obj.pointer("/spec/template").unwrap_or(&Value::Null));
    let conditions = obj.pointer("/status/conditions").and_then(Value::as_array);
    if let Some(conditions) = conditions.filter(|c| !c.is_empty()) {
        w.line(0, "Conditions:");
        w.line(1, "Type\tStatus\tReason");
        w.line(1, "----\t------\t------");
        for c in conditions {
            w.line(
                1,
                &format!(
                    "{} \t{}\t{}",
                    s(c, "/type"),
                    s(c, "/status"),
                    s(c, "/reason")
                ),
            );
        }
    }
    if let Some(sets) = extra
        .get("replicaSets")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
    {
        let uid = s(obj, "/metadata/uid");
        let revision = s(
            obj,
            "/metadata/annotations/deployment.kubernetes.io~1revision",
        );
        let owned: Vec<&Value> = sets
            .iter()
            .filter(|rs| {
                rs.pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|o| o.iter().any(|r| s(r, "/uid") == uid))
            })
            .collect();
        let is_new = |rs: &Value| {
            s(
                rs,
                "/metadata/annotations/deployment.kubernetes.io~1revision",
            ) == revision
        };
        let describe_rs = |rs: &Value| {
            format!(
                "{} ({}/{} replicas created)",
                s(rs, "/metadata/name"),
                num(rs, "/status/replicas"),
                num(rs, "/spec/replicas")
            )
        };
        let old: Vec<String> = owned
            .iter()
            .filter(|rs| !is_new(rs) && num(rs, "/spec/replicas") > 0)
            .map(|rs| describe_rs(rs))
            .collect();
        w.field(
            0,
            "OldReplicaSets",
            &if old.is_empty() {
                "<none>".into()
            } else {
                old.join(", ")
            },
        );
        let new = owned
            .iter()
            .find(|rs| is_new(rs))
            .map_or_else(|| "<none>".into(), |rs| describe_rs(rs));
        w.field(0, "NewReplicaSet", &new);
    }
}

fn service(w: &mut Writer, obj: &Value, extra: &Value) {
    header(w, obj, true, false);
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let mut selector: Vec<String> = spec
        .get("selector")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    selector.sort();
    w.field(
        0,
        "Selector",
        &if selector.is_empty() {
            "<none>".into()
        } else {
            selector.join(",")
        },
    );
    w.field(0, "Type", s(spec, "/type"));
    if !s(spec, "/ipFamilyPolicy").is_empty() {
        w.field(0, "IP Family Policy", s(spec, "/ipFamilyPolicy"));
    }
    let families: Vec<&str> = spec
        .get("ipFamilies")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !families.is_empty() {
        w.field(0, "IP Families", &families.join(","));
    }
    let cluster_ip = s(spec, "/clusterIP");
    w.field(
        0,
        "IP",
        if cluster_ip == "None" {
            "None"
        } else {
            cluster_ip
        },
    );
    let ips: Vec<&str> = spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    w.field(
        0,
        "IPs",
        &if ips.is_empty() {
            "<none>".into()
        } else {
            ips.join(",")
        },
    );
    let external: Vec<&str> = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !external.is_empty() {
        w.field(0, "External IPs", &external.join(","));
    }
    if !s(spec, "/externalName").is_empty() {
        w.field(0, "External Name", s(spec, "/externalName"));
    }
    let ingress: Vec<String> = obj
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|i| {
            if s(i, "/ip").is_empty() {
                s(i, "/hostname").to_owned()
            } else {
                s(i, "/ip").to_owned()
            }
        })
        .collect();
    if !ingress.is_empty() {
        w.field(0, "LoadBalancer Ingress", &ingress.join(", "));
    }
    for p in spec
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = if s(p, "/name").is_empty() {
            "<unset>"
        } else {
            s(p, "/name")
        };
        let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
        w.field(0, "Port", &format!("{name}  {}/{proto}", num(p, "/port")));
        let target = int_or_string(p.get("targetPort"), &num(p, "/port").to_string());
        w.field(0, "TargetPort", &format!("{target}/{proto}"));
        if num(p, "/nodePort") != 0 {
            w.field(
                0,
                "NodePort",
                &format!("{name}  {}/{proto}", num(p, "/nodePort")),
            );
        }
        w.field(0, "Endpoints", &endpoints_text(extra, p));
    }
    w.field(0, "Session Affinity", s(spec, "/sessionAffinity"));
    if !s(spec, "/externalTrafficPolicy").is_empty() {
        w.field(
            0,
            "External Traffic Policy",
            s(spec, "/externalTrafficPolicy"),
        );
    }
    if !s(spec, "/internalTrafficPolicy").is_empty() {
        w.field(
            0,
            "Internal Traffic Policy",
            s(spec, "/internalTrafficPolicy"),
        );
    }
}

/// Ready endpoint addresses for one service port, from the service's EndpointSlices.
fn endpoints_text(extra: &Value, port: &Value) -> String {
    let port_name = s(port, "/name");
    let mut out = Vec::new();
    for slice in extra
        .get("endpointSlices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(p) = slice
            .get("ports")
            .and_then(Value::as_array)
            .and_then(|ps| ps.iter().find(|sp| s(sp, "/name") == port_name))
        else {
            continue;
        };
        let number = num(p, "/port");
        for e in slice
            .get("endpoints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if e.pointer("/conditions/ready").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            for a in e
                .get("addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                out.push(format!("{a}:{number}"));
            }
        }
    }
    // kubectl: `<none>` when the Service has no slices at all, empty when they list nobody.
    let no_slices = extra
        .get("endpointSlices")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if no_slices {
        "<none>".into()
    } else if out.len() > 3 {
        format!("{} + {} more...", out[..3].join(","), out.len() - 3)
    } else {
        out.join(",")
    }
}

fn config_map(w: &mut Writer, obj: &Value) {
    header(w, obj, true, false);
    let mut text = String::from("\nData\n====\n");
    if let Some(data) = obj.get("data").and_then(Value::as_object) {
        let mut keys: Vec<&String> = data.keys().collect();
        keys.sort();
        for k in keys {
            text.push_str(&format!(
                "{k}:\n----\n{}\n\n",
                data[k].as_str().unwrap_or_default()
            ));
        }
    }
    text.push_str("\nBinaryData\n====\n");
    if let Some(data) = obj.get("binaryData").and_then(Value::as_object) {
        let mut keys: Vec<&String> = data.keys().collect();
        keys.sort();
        for k in keys {
            let len = data[k].as_str().map_or(0, |b| b.len() / 4 * 3);
            text.push_str(&format!("{k}: {len} bytes\n"));
        }
    }
    text.push('\n');
    w.raw(&text);
}

fn namespace(w: &mut Writer, obj: &Value) {
    header(w, obj, false, false);
    w.field(0, "Status", s(obj, "/status/phase"));
    w.raw("\nNo resource quota.\n\nNo LimitRange resource.\n");
}

fn node(w: &mut Writer, obj: &Value) {
    w.field(0, "Name", s(obj, "/metadata/name"));
    let mut roles: Vec<String> = obj
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    w.field(
        0,
        "Roles",
        &if roles.is_empty() {
            "<none>".into()
        } else {
            roles.join(",")
        },
    );
    labels_annotations(w, obj);
    w.field(
        0,
        "CreationTimestamp",
        &timestamp(s(obj, "/metadata/creationTimestamp")),
    );
    let taints: Vec<String> = obj
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| {
            let value = s(t, "/value");
            if value.is_empty() {
                format!("{}:{}", s(t, "/key"), s(t, "/effect"))
            } else {
                format!("{}={value}:{}", s(t, "/key"), s(t, "/effect"))
            }
        })
        .collect();
    match taints.split_first() {
        None => w.field(0, "Taints", "<none>"),
        Some((first, rest)) => {
            w.field(0, "Taints", first);
            for t in rest {
                w.line(0, &format!("\t{t}"));
            }
        }
    }
    w.field(
        0,
        "Unschedulable",
        &obj.pointer("/spec/unschedulable")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .to_string(),
    );
    let conditions = obj.pointer("/status/conditions").and_then(Value::as_array);
    w.line(0, "Conditions:");
    w.line(
        1,
        "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage",
    );
    w.line(
        1,
        "----\t------\t-----------------\t------------------\t------\t-------",
    );
    for c in conditions.into_iter().flatten() {
        w.line(
            1,
            &format!(
                "{} \t{} \t{} \t{} \t{} \t{}",
                s(c, "/type"),
                s(c, "/status"),
                timestamp(s(c, "/lastHeartbeatTime")),
                timestamp(s(c, "/lastTransitionTime")),
                s(c, "/reason"),
                s(c, "/message")
            ),
        );
    }
    w.line(0, "Addresses:");
    for a in obj
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        w.field(1, s(a, "/type"), s(a, "/address"));
    }
    for (key, title) in [("capacity", "Capacity"), ("allocatable", "Allocatable")] {
        if let Some(m) = obj
            .pointer(&format!("/status/{key}"))
            .and_then(Value::as_object)
        {
            w.line(0, &format!("{title}:"));
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                w.field(1, k, m[k].as_str().unwrap_or_default());
            }
        }
    }
    if let Some(info) = obj.pointer("/status/nodeInfo") {
        w.line(0, "System Info:");
        for (key, title) in [
            ("machineID", "Machine ID"),
            ("systemUUID", "System UUID"),
            ("bootID", "Boot ID"),
            ("kernelVersion", "Kernel Version"),
            ("osImage", "OS Image"),
            ("operatingSystem", "Operating System"),
            ("architecture", "Architecture"),
            ("containerRuntimeVersion", "Container Runtime Version"),
            ("kubeletVersion", "Kubelet Version"),
            ("kubeProxyVersion", "Kube-Proxy Version"),
        ] {
            w.field(1, title, s(info, &format!("/{key}")));
        }
    }
    if !s(obj, "/spec/podCIDR").is_empty() {
        w.field(0, "PodCIDR", s(obj, "/spec/podCIDR"));
        let cidrs: Vec<&str> = obj
            .pointer("/spec/podCIDRs")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        w.field(0, "PodCIDRs", &cidrs.join(","));
    }
}

fn generic(w: &mut Writer, resource: &ApiResource, obj: &Value) {
    header(w, obj, resource.namespaced, false);
    w.field(0, "API Version", s(obj, "/apiVersion"));
    w.field(0, "Kind", s(obj, "/kind"));
    for key in ["spec", "data", "status"] {
        if let Some(v) = obj.get(key) {
            w.line(0, &format!("{}:", capitalize(key)));
            nested(w, 1, v);
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// kubectl's generic describer: nested fields with capitalised names.
fn nested(w: &mut Writer, level: usize, v: &Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                match val {
                    Value::Object(_) | Value::Array(_) => {
                        w.line(level, &format!("{}:", capitalize(k)));
                        nested(w, level + 1, val);
                    }
                    other => w.field(
                        level,
                        &capitalize(k),
                        &match other {
                            Value::String(s) => s.clone(),
                            o => o.to_string(),
                        },
                    ),
                }
            }
        }
        Value::Array(a) => {
            for item in a {
                match item {
                    Value::Object(_) | Value::Array(_) => nested(w, level, item),
                    Value::String(s) => w.line(level, s),
                    other => w.line(level, &other.to_string()),
                }
            }
        }
        Value::String(s) => w.line(level, s),
        other => w.line(level, &other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_as_kubectl() {
        assert_eq!(
            timestamp("2026-11-23T18:07:58Z"),
            "Mon, 23 Nov 2026 18:07:58 +0000"
        );
        assert_eq!(
            timestamp("2024-02-29T00:00:00Z"),
            "Thu, 29 Feb 2024 00:00:00 +0000"
        );
    }
}
