//! Printers for core/v1 kinds other than Pod.

use std::collections::BTreeSet;

use serde_json::Value;

use super::cells::{
    access_modes, age, arr_at, at, condition_status, deleting, format_labels, int_at, map_len,
    name, opt_str, quantity, str_at, string_map,
};
use super::{col, time, wide, Column, ColumnType as T, AGE, NAME};

pub(super) const NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", T::String, "The status of the namespace."),
    AGE,
];

pub(super) fn namespace_row(obj: &Value, now: i64) -> Vec<Value> {
    vec![
        Value::from(name(obj)),
        Value::from(str_at(obj, &["status", "phase"])),
        age(obj, now),
    ]
}

pub(super) const NODE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", T::String, "The status of the node."),
    col("Roles", T::String, "The roles of the node."),
    AGE,
    col(
        "Version",
        T::String,
        "The kubelet version the node reports.",
    ),
    wide("Internal-IP", T::String, "The node's first internal IP."),
    wide("External-IP", T::String, "The node's first external IP."),
    wide(
        "OS-Image",
        T::String,
        "The operating system image the node reports.",
    ),
    wide(
        "Kernel-Version",
        T::String,
        "The kernel version the node reports.",
    ),
    wide(
        "Container-Runtime",
        T::String,
        "The container runtime and version the node reports.",
    ),
];

/// The label prefix naming a node's roles (`node-role.kubernetes.io/control-plane`).
const NODE_ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// The legacy label naming a node's role in its value.
const NODE_ROLE_LABEL: &str = "kubernetes.io/role";

fn node_address(node: &Value, type_: &str) -> String {
    arr_at(node, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == type_)
        .map_or_else(
            || "<none>".to_owned(),
            |a| str_at(a, &["address"]).to_owned(),
        )
}

pub(super) fn node_row(node: &Value, now: i64) -> Vec<Value> {
    let conditions = arr_at(node, &["status", "conditions"]);
    let mut status = match condition_status(conditions, "Ready") {
        Some("True") => vec!["Ready"],
        Some(_) => vec!["NotReady"],
        None => vec!["Unknown"],
    };
    if at(node, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles = BTreeSet::new();
    for (k, v) in string_map(node, &["metadata", "labels"]) {
        if let Some(role) = k.strip_prefix(NODE_ROLE_PREFIX) {
            if !role.is_empty() {
                roles.insert(role.to_owned());
            }
        } else if k == NODE_ROLE_LABEL && !v.is_empty() {
            roles.insert(v);
        }
    }
    let roles = if roles.is_empty() {
        "<none>".to_owned()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    };
    let info = |field: &str| match str_at(node, &["status", "nodeInfo", field]) {
        "" => "<unknown>".to_owned(),
        s => s.to_owned(),
    };
    vec![
        Value::from(name(node)),
        Value::from(status.join(",")),
        Value::from(roles),
        age(node, now),
        Value::from(str_at(node, &["status", "nodeInfo", "kubeletVersion"])),
        Value::from(node_address(node, "InternalIP")),
        Value::from(node_address(node, "ExternalIP")),
        Value::from(info("osImage")),
        Value::from(info("kernelVersion")),
        Value::from(info("containerRuntimeVersion")),
    ]
}

pub(super) const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    col("Type", T::String, "How the service is exposed."),
    col(
        "Cluster-IP",
        T::String,
        "The service's virtual IP in the cluster.",
    ),
    col(
        "External-IP",
        T::String,
        "Addresses reaching the service from outside the cluster.",
    ),
    col("Port(s)", T::String, "The ports the service exposes."),
    AGE,
    wide(
        "Selector",
        T::String,
        "The labels of the pods the service routes to.",
    ),
];

/// Load-balancer ingress points: IPs (or hostnames), deduplicated and sorted.
fn load_balancer_ingress(obj: &Value) -> Vec<String> {
    let set: BTreeSet<String> = arr_at(obj, &["status", "loadBalancer", "ingress"])
        .iter()
        .filter_map(|i| {
            [str_at(i, &["ip"]), str_at(i, &["hostname"])]
                .into_iter()
                .find(|s| !s.is_empty())
                .map(str::to_owned)
        })
        .collect();
    set.into_iter().collect()
}

fn service_external_ip(svc: &Value, type_: &str) -> String {
    let external: Vec<&str> = arr_at(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match type_ {
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".to_owned(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            let mut all = load_balancer_ingress(svc);
            if all.is_empty() && external.is_empty() {
                return "<pending>".to_owned();
            }
            all.extend(external.iter().map(|s| (*s).to_owned()));
            all.join(",")
        }
        "ExternalName" => str_at(svc, &["spec", "externalName"]).to_owned(),
        _ => "<unknown>".to_owned(),
    }
}

fn service_ports(svc: &Value) -> String {
    let ports: Vec<String> = arr_at(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let protocol = match str_at(p, &["protocol"]) {
                "" => "TCP",
                proto => proto,
            };
            let port = int_at(p, &["port"]);
            match int_at(p, &["nodePort"]) {
                n if n > 0 => format!("{port}:{n}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    if ports.is_empty() {
        "<none>".to_owned()
    } else {
        ports.join(",")
    }
}

pub(super) fn service_row(svc: &Value, now: i64) -> Vec<Value> {
    // The API server defaults `type` to ClusterIP and `clusterIPs` from `clusterIP`.
    let type_ = opt_str(svc, &["spec", "type"]).unwrap_or("ClusterIP");
    let cluster_ip = arr_at(svc, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .or_else(|| opt_str(svc, &["spec", "clusterIP"]).filter(|s| !s.is_empty()))
        .unwrap_or("<none>");
    vec![
        Value::from(name(svc)),
        Value::from(type_),
        Value::from(cluster_ip),
        Value::from(service_external_ip(svc, type_)),
        Value::from(service_ports(svc)),
        age(svc, now),
        Value::from(format_labels(&string_map(svc, &["spec", "selector"]))),
    ]
}

pub(super) const ENDPOINTS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Endpoints",
        T::String,
        "The addresses and ports of the service's endpoints.",
    ),
    AGE,
];

/// `ip:port` pairs of every subset, the first three then ` + N more...`.
fn format_endpoints(obj: &Value) -> String {
    const MAX: usize = 3;
    let subsets = arr_at(obj, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_owned();
    }
    let mut list = Vec::new();
    let mut count = 0;
    for ss in subsets {
        let addresses = arr_at(ss, &["addresses"]);
        let ports = arr_at(ss, &["ports"]);
        if ports.is_empty() {
            // Headless services may have no ports.
            count += addresses.len();
            list.extend(
                addresses
                    .iter()
                    .take(MAX.saturating_sub(list.len()))
                    .map(|a| str_at(a, &["ip"]).to_owned()),
            );
            continue;
        }
        for port in ports {
            count += addresses.len();
            let p = int_at(port, &["port"]);
            for a in addresses.iter().take(MAX.saturating_sub(list.len())) {
                let ip = str_at(a, &["ip"]);
                list.push(if ip.contains(':') {
                    format!("[{ip}]:{p}")
                } else {
                    format!("{ip}:{p}")
                });
            }
        }
    }
    let joined = list.join(",");
    if count > list.len() {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

pub(super) fn endpoints_row(obj: &Value, now: i64) -> Vec<Value> {
    vec![
        Value::from(name(obj)),
        Value::from(format_endpoints(obj)),
        age(obj, now),
    ]
}

pub(super) const CONFIG_MAP_COLUMNS: &[Column] = &[
    NAME,
    col("Data", T::String, "How many keys the config map holds."),
    AGE,
];

pub(super) fn config_map_row(obj: &Value, now: i64) -> Vec<Value> {
    vec![
        Value::from(name(obj)),
        Value::from(map_len(obj, &["data"]) + map_len(obj, &["binaryData"])),
        age(obj, now),
    ]
}

pub(super) const SECRET_COLUMNS: &[Column] = &[
    NAME,
    col("Type", T::String, "The type of the secret."),
    col("Data", T::String, "How many keys the secret holds."),
    AGE,
];

pub(super) fn secret_row(obj: &Value, now: i64) -> Vec<Value> {
    vec![
        Value::from(name(obj)),
        Value::from(opt_str(obj, &["type"]).unwrap_or("Opaque")),
        Value::from(map_len(obj, &["data"])),
        age(obj, now),
    ]
}

pub(super) const SERVICE_ACCOUNT_COLUMNS: &[Column] = &[NAME, AGE];

pub(super) fn service_account_row(obj: &Value, now: i64) -> Vec<Value> {
    vec![Value::from(name(obj)), age(obj, now)]
}

pub(super) const EVENT_COLUMNS: &[Column] = &[
    col(
        "Last Seen",
        T::String,
        "How long ago the event was last seen.",
    ),
    col("Type", T::String, "Normal or Warning."),
    col("Reason", T::String, "Why the event happened, in one word."),
    col("Object", T::String, "The object the event is about."),
    wide(
        "Subobject",
        T::String,
        "The part of the object the event is about.",
    ),
    wide(
        "Source",
        T::String,
        "The component that reported the event.",
    ),
    col("Message", T::String, "What happened."),
    wide(
        "First Seen",
        T::String,
        "How long ago the event was first seen.",
    ),
    wide("Count", T::String, "How many times the event happened."),
    Column {
        priority: 1,
        ..NAME
    },
];

/// The time since a (micro)timestamp field, `<unknown>` when unset.
fn since(obj: &Value, path: &[&str], now: i64) -> (bool, String) {
    let t = opt_str(obj, path).and_then(time::parse_rfc3339);
    (t.is_some(), time::age(opt_str(obj, path), now))
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() {
        b
    } else {
        a
    }
}

pub(super) fn event_row(ev: &Value, now: i64) -> Vec<Value> {
    let (has_first, mut first_seen) = since(ev, &["firstTimestamp"], now);
    if !has_first {
        first_seen = since(ev, &["eventTime"], now).1;
    }
    let (has_last, mut last_seen) = since(ev, &["lastTimestamp"], now);
    if !has_last {
        last_seen.clone_from(&first_seen);
    }
    let mut count = int_at(ev, &["count"]);
    if let Some(series) = at(ev, &["series"]).filter(|s| !s.is_null()) {
        last_seen = since(series, &["lastObservedTime"], now).1;
        count = int_at(series, &["count"]);
    } else if count == 0 {
        // Events of the new API carry no count when they happened once.
        count = 1;
    }
    let kind = str_at(ev, &["involvedObject", "kind"]).to_lowercase();
    let object_name = str_at(ev, &["involvedObject", "name"]);
    let target = if object_name.is_empty() {
        kind
    } else {
        format!("{kind}/{object_name}")
    };
    let component = first_non_empty(
        str_at(ev, &["source", "component"]),
        str_at(ev, &["reportingComponent"]),
    );
    let instance = first_non_empty(
        str_at(ev, &["source", "host"]),
        str_at(ev, &["reportingInstance"]),
    );
    let source = if instance.is_empty() {
        component.to_owned()
    } else {
        format!("{component}, {instance}")
    };
    vec![
        Value::from(last_seen),
        Value::from(str_at(ev, &["type"])),
        Value::from(str_at(ev, &["reason"])),
        Value::from(target),
        Value::from(str_at(ev, &["involvedObject", "fieldPath"])),
        Value::from(source),
        Value::from(str_at(ev, &["message"]).trim()),
        Value::from(first_seen),
        Value::from(count),
        Value::from(name(ev)),
    ]
}

/// An events.k8s.io/v1 Event: Kubernetes serves it from the same storage as core Events and
/// prints it with the same columns, so its fields are renamed to the core ones first.
pub(super) fn events_v1_row(ev: &Value, now: i64) -> Vec<Value> {
    let renames = [
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
        ("reportingController", "reportingComponent"),
    ];
    let mut core = serde_json::Map::new();
    for key in [
        "metadata",
        "type",
        "reason",
        "eventTime",
        "series",
        "reportingInstance",
    ] {
        if let Some(v) = ev.get(key) {
            core.insert(key.to_owned(), v.clone());
        }
    }
    for (from, to) in renames {
        if let Some(v) = ev.get(from) {
            core.insert(to.to_owned(), v.clone());
        }
    }
    event_row(&Value::Object(core), now)
}

pub(super) const PV_COLUMNS: &[Column] = &[
    NAME,
    col("Capacity", T::String, "The volume's storage capacity."),
    col("Access Modes", T::String, "How the volume can be mounted."),
    col(
        "Reclaim Policy",
        T::String,
        "What happens to the volume when its claim is released.",
    ),
    col("Status", T::String, "The phase of the volume."),
    col("Claim", T::String, "The claim bound to the volume."),
    col("StorageClass", T::String, "StorageClass of the pv"),
    col(
        "VolumeAttributesClass",
        T::String,
        "VolumeAttributesClass of the pv",
    ),
    col("Reason", T::String, "Why the volume is in its phase."),
    AGE,
    wide("VolumeMode", T::String, "Filesystem or Block."),
];

/// The beta annotation naming a volume's or claim's storage class; it wins over the field.
const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

fn storage_class(obj: &Value) -> String {
    if let Some(class) = opt_str(obj, &["metadata", "annotations", BETA_STORAGE_CLASS]) {
        return class.to_owned();
    }
    str_at(obj, &["spec", "storageClassName"]).to_owned()
}

fn unset_if_missing(obj: &Value, path: &[&str]) -> String {
    opt_str(obj, path).unwrap_or("<unset>").to_owned()
}

pub(super) fn pv_row(pv: &Value, now: i64) -> Vec<Value> {
    let claim = match at(pv, &["spec", "claimRef"]).filter(|c| !c.is_null()) {
        Some(c) => format!("{}/{}", str_at(c, &["namespace"]), str_at(c, &["name"])),
        None => String::new(),
    };
    let phase = if deleting(pv) {
        "Terminating"
    } else {
        str_at(pv, &["status", "phase"])
    };
    vec![
        Value::from(name(pv)),
        Value::from(quantity(at(pv, &["spec", "capacity", "storage"]))),
        Value::from(access_modes(arr_at(pv, &["spec", "accessModes"]))),
        Value::from(str_at(pv, &["spec", "persistentVolumeReclaimPolicy"])),
        Value::from(phase),
        Value::from(claim),
        Value::from(storage_class(pv)),
        Value::from(unset_if_missing(pv, &["spec", "volumeAttributesClassName"])),
        Value::from(str_at(pv, &["status", "reason"])),
        age(pv, now),
        Value::from(unset_if_missing(pv, &["spec", "volumeMode"])),
    ]
}

pub(super) const PVC_COLUMNS: &[Column] = &[
    NAME,
    col("Status", T::String, "The phase of the claim."),
    col("Volume", T::String, "The volume bound to the claim."),
    col("Capacity", T::String, "The bound volume's capacity."),
    col(
        "Access Modes",
        T::String,
        "How the bound volume can be mounted.",
    ),
    col("StorageClass", T::String, "StorageClass of the pvc"),
    col(
        "VolumeAttributesClass",
        T::String,
        "VolumeAttributesClass of the pvc",
    ),
    AGE,
    wide("VolumeMode", T::String, "Filesystem or Block."),
];

pub(super) fn pvc_row(pvc: &Value, now: i64) -> Vec<Value> {
    let phase = if deleting(pvc) {
        "Terminating"
    } else {
        str_at(pvc, &["status", "phase"])
    };
    let volume = str_at(pvc, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(at(pvc, &["status", "capacity", "storage"])),
            access_modes(arr_at(pvc, &["status", "accessModes"])),
        )
    };
    vec![
        Value::from(name(pvc)),
        Value::from(phase),
        Value::from(volume),
        Value::from(capacity),
        Value::from(modes),
        Value::from(storage_class(pvc)),
        Value::from(unset_if_missing(
            pvc,
            &["spec", "volumeAttributesClassName"],
        )),
        age(pvc, now),
        Value::from(unset_if_missing(pvc, &["spec", "volumeMode"])),
    ]
}

pub(super) const RESOURCE_QUOTA_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Request",
        T::String,
        "Used and hard amounts of each resource other than limits.",
    ),
    col(
        "Limit",
        T::String,
        "Used and hard amounts of each limits.* resource.",
    ),
    AGE,
];

pub(super) fn resource_quota_row(rq: &Value, now: i64) -> Vec<Value> {
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    // serde_json maps iterate in key order, the order Kubernetes sorts resource names in.
    if let Some(hard) = at(rq, &["status", "hard"]).and_then(Value::as_object) {
        for (resource, hard_qty) in hard {
            let used = quantity(at(rq, &["status", "used", resource]));
            let entry = format!("{resource}: {used}/{}", quantity(Some(hard_qty)));
            if resource.starts_with("limits.") {
                limits.push(entry);
            } else {
                requests.push(entry);
            }
        }
    }
    vec![
        Value::from(name(rq)),
        Value::from(requests.join(", ")),
        Value::from(limits.join(", ")),
        age(rq, now),
    ]
}

#[cfg(test)]
mod tests;
