//! Printers for cluster configuration kinds: admission, certificates, API priority and
//! fairness, CSI storage, runtime classes, service CIDRs, component statuses, pod templates.

use serde_json::Value;

use super::cells::{
    age, arr_at, at, container_cells, format_label_selector, format_labels, int_at, name, opt_bool,
    opt_int, opt_str, str_at, string_map,
};
use super::{col, time, Column, ColumnType as T, AGE, NAME};

/// The length of the array at `path`, as an integer cell.
fn count(obj: &Value, path: &[&str]) -> Value {
    Value::from(i64::try_from(arr_at(obj, path).len()).unwrap_or(i64::MAX))
}

pub(super) const POD_TEMPLATE_COLUMNS: &[Column] = &[
    NAME,
    col("Containers", T::String, super::CONTAINERS_DESCRIPTION),
    col("Images", T::String, super::IMAGES_DESCRIPTION),
    col("Pod Labels", T::String, "The labels for the pod template."),
];

pub(super) fn pod_template_row(pt: &Value, _now: i64) -> Vec<Value> {
    let (names, images) = container_cells(at(pt, &["template", "spec"]));
    vec![
        Value::from(name(pt)),
        names,
        images,
        Value::from(format_labels(&string_map(
            pt,
            &["template", "metadata", "labels"],
        ))),
    ]
}

pub(super) const COMPONENT_STATUS_COLUMNS: &[Column] = &[
    NAME,
    col("Status", T::String, "Status of the component conditions"),
    col("Message", T::String, "Message of the component conditions"),
    col("Error", T::String, "Error of the component conditions"),
];

pub(super) fn component_status_row(cs: &Value, _now: i64) -> Vec<Value> {
    let healthy = arr_at(cs, &["conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == "Healthy");
    let (status, message, error) = match healthy {
        Some(c) => (
            if str_at(c, &["status"]) == "True" {
                "Healthy"
            } else {
                "Unhealthy"
            },
            str_at(c, &["message"]),
            str_at(c, &["error"]),
        ),
        None => ("Unknown", "", ""),
    };
    vec![
        Value::from(name(cs)),
        Value::from(status),
        Value::from(message),
        Value::from(error),
    ]
}

pub(super) const RUNTIME_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Handler",
        T::String,
        "The runtime handler pods of this class run with.",
    ),
    AGE,
];

pub(super) fn runtime_class_row(rc: &Value, now: i64) -> Vec<Value> {
    vec![
        Value::from(name(rc)),
        Value::from(str_at(rc, &["handler"])),
        age(rc, now),
    ]
}

pub(super) const CSR_COLUMNS: &[Column] = &[
    NAME,
    AGE,
    col(
        "SignerName",
        T::String,
        "The signer asked to sign the certificate.",
    ),
    col("Requestor", T::String, "The user who created the request."),
    col(
        "RequestedDuration",
        T::String,
        "The validity period asked for.",
    ),
    col(
        "Condition",
        T::String,
        "Approved, Denied or Pending, with Failed and Issued.",
    ),
];

pub(super) fn csr_row(csr: &Value, now: i64) -> Vec<Value> {
    let conditions = arr_at(csr, &["status", "conditions"]);
    let has = |t: &str| conditions.iter().any(|c| str_at(c, &["type"]) == t);
    let mut condition = if has("Denied") {
        "Denied".to_owned()
    } else if has("Approved") {
        "Approved".to_owned()
    } else {
        "Pending".to_owned()
    };
    if has("Failed") {
        condition.push_str(",Failed");
    }
    if !str_at(csr, &["status", "certificate"]).is_empty() {
        condition.push_str(",Issued");
    }
    let signer = match str_at(csr, &["spec", "signerName"]) {
        "" => "<none>",
        s => s,
    };
    let duration = opt_int(csr, &["spec", "expirationSeconds"])
        .map_or_else(|| "<none>".to_owned(), time::human_duration);
    vec![
        Value::from(name(csr)),
        age(csr, now),
        Value::from(signer),
        Value::from(str_at(csr, &["spec", "username"])),
        Value::from(duration),
        Value::from(condition),
    ]
}

pub(super) const WEBHOOK_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Webhooks",
        T::Integer,
        "Webhooks indicates the number of webhooks registered in this configuration",
    ),
    AGE,
];

pub(super) fn webhook_row(config: &Value, now: i64) -> Vec<Value> {
    vec![
        Value::from(name(config)),
        count(config, &["webhooks"]),
        age(config, now),
    ]
}

pub(super) const ADMISSION_POLICY_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Validations",
        T::Integer,
        "Validations indicates the number of validation rules defined in this configuration",
    ),
    col(
        "ParamKind",
        T::String,
        "ParamKind specifies the kind of resources used to parameterize this policy",
    ),
    AGE,
];

pub(super) fn admission_policy_row(policy: &Value, now: i64) -> Vec<Value> {
    let param_kind = match at(policy, &["spec", "paramKind"]).filter(|p| !p.is_null()) {
        Some(p) => format!("{}/{}", str_at(p, &["apiVersion"]), str_at(p, &["kind"])),
        None => "<unset>".to_owned(),
    };
    vec![
        Value::from(name(policy)),
        count(policy, &["spec", "validations"]),
        Value::from(param_kind),
        age(policy, now),
    ]
}

pub(super) const ADMISSION_POLICY_BINDING_COLUMNS: &[Column] = &[
    NAME,
    col(
        "PolicyName",
        T::String,
        "PolicyName indicates the policy definition which the policy binding binded to",
    ),
    col(
        "ParamRef",
        T::String,
        "ParamRef indicates the param resource which sets the configration param",
    ),
    AGE,
];

pub(super) fn admission_policy_binding_row(binding: &Value, now: i64) -> Vec<Value> {
    let param = match at(binding, &["spec", "paramRef"]).filter(|p| !p.is_null()) {
        None => "<unset>".to_owned(),
        Some(p) => match (str_at(p, &["name"]), str_at(p, &["namespace"])) {
            ("", _) => match at(p, &["selector"]).filter(|s| !s.is_null()) {
                // Kubernetes prints the selector's Go struct here; the selector syntax says
                // the same thing readably.
                Some(s) => format_label_selector(Some(s)),
                None => "<unset>".to_owned(),
            },
            // A param without namespace may be cluster-scoped or in the binding's namespace.
            (n, "") => format!("*/{n}"),
            (n, ns) => format!("{ns}/{n}"),
        },
    };
    vec![
        Value::from(name(binding)),
        Value::from(str_at(binding, &["spec", "policyName"])),
        Value::from(param),
        age(binding, now),
    ]
}

pub(super) const FLOW_SCHEMA_COLUMNS: &[Column] = &[
    NAME,
    col(
        "PriorityLevel",
        T::String,
        "The priority level requests of this schema go to.",
    ),
    col("MatchingPrecedence", T::String, "Lower values match first."),
    col(
        "DistinguisherMethod",
        T::String,
        "How requests are split into flows.",
    ),
    AGE,
    col(
        "MissingPL",
        T::String,
        "references a broken or non-existent PriorityLevelConfiguration",
    ),
];

pub(super) fn flow_schema_row(fs: &Value, now: i64) -> Vec<Value> {
    let distinguisher = opt_str(fs, &["spec", "distinguisherMethod", "type"]).unwrap_or("<none>");
    let dangling = arr_at(fs, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == "Dangling")
        .map_or("?", |c| str_at(c, &["status"]));
    vec![
        Value::from(name(fs)),
        Value::from(str_at(fs, &["spec", "priorityLevelConfiguration", "name"])),
        Value::from(int_at(fs, &["spec", "matchingPrecedence"])),
        Value::from(distinguisher),
        age(fs, now),
        Value::from(dangling),
    ]
}

pub(super) const PRIORITY_LEVEL_COLUMNS: &[Column] = &[
    NAME,
    col("Type", T::String, "Limited or Exempt."),
    col(
        "NominalConcurrencyShares",
        T::String,
        "This level's share of the server's concurrency limit.",
    ),
    col("Queues", T::String, "The number of queues."),
    col(
        "HandSize",
        T::String,
        "The queues each flow is shuffled over.",
    ),
    col(
        "QueueLengthLimit",
        T::String,
        "The most requests waiting in one queue.",
    ),
    AGE,
];

pub(super) fn priority_level_row(pl: &Value, now: i64) -> Vec<Value> {
    let none = || Value::from("<none>");
    let limited = at(pl, &["spec", "limited"]).filter(|l| !l.is_null());
    let queuing = limited
        .and_then(|l| at(l, &["limitResponse", "queuing"]))
        .filter(|q| !q.is_null());
    let int_or_none =
        |v: Option<&Value>, key: &str| v.map_or_else(none, |v| Value::from(int_at(v, &[key])));
    vec![
        Value::from(name(pl)),
        Value::from(str_at(pl, &["spec", "type"])),
        int_or_none(limited, "nominalConcurrencyShares"),
        int_or_none(queuing, "queues"),
        int_or_none(queuing, "handSize"),
        int_or_none(queuing, "queueLengthLimit"),
        age(pl, now),
    ]
}

pub(super) const CSI_NODE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Drivers",
        T::Integer,
        "Drivers indicates the number of CSI drivers registered on the node",
    ),
    AGE,
];

pub(super) fn csi_node_row(node: &Value, now: i64) -> Vec<Value> {
    vec![
        Value::from(name(node)),
        count(node, &["spec", "drivers"]),
        age(node, now),
    ]
}

pub(super) const CSI_DRIVER_COLUMNS: &[Column] = &[
    NAME,
    col(
        "AttachRequired",
        T::Boolean,
        "Whether volumes need attaching.",
    ),
    col(
        "PodInfoOnMount",
        T::Boolean,
        "Whether mounts receive pod information.",
    ),
    col(
        "StorageCapacity",
        T::Boolean,
        "Whether the scheduler considers reported capacity.",
    ),
    col(
        "TokenRequests",
        T::String,
        "Audiences of the service account tokens passed to the driver.",
    ),
    col(
        "RequiresRepublish",
        T::Boolean,
        "Whether volumes are mounted again periodically.",
    ),
    col("Modes", T::String, "Persistent and/or Ephemeral."),
    AGE,
];

pub(super) fn csi_driver_row(driver: &Value, now: i64) -> Vec<Value> {
    let spec = |key: &str| opt_bool(driver, &["spec", key]);
    let modes: Vec<&str> = arr_at(driver, &["spec", "volumeLifecycleModes"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let token_requests = match at(driver, &["spec", "tokenRequests"]).and_then(Value::as_array) {
        Some(requests) => requests
            .iter()
            .map(|r| str_at(r, &["audience"]))
            .collect::<Vec<_>>()
            .join(","),
        None => "<unset>".to_owned(),
    };
    vec![
        Value::from(name(driver)),
        Value::from(spec("attachRequired").unwrap_or(true)),
        Value::from(spec("podInfoOnMount").unwrap_or(false)),
        Value::from(spec("storageCapacity").unwrap_or(false)),
        Value::from(token_requests),
        Value::from(spec("requiresRepublish").unwrap_or(false)),
        Value::from(if modes.is_empty() {
            "<none>".to_owned()
        } else {
            modes.join(",")
        }),
        age(driver, now),
    ]
}

pub(super) const VOLUME_ATTACHMENT_COLUMNS: &[Column] = &[
    NAME,
    Column {
        format: "name",
        ..col(
            "Attacher",
            T::String,
            "The CSI driver attaching the volume.",
        )
    },
    col("PV", T::String, "The persistent volume attached."),
    col("Node", T::String, "The node the volume is attached to."),
    col("Attached", T::Boolean, "Whether the volume is attached."),
    AGE,
];

pub(super) fn volume_attachment_row(va: &Value, now: i64) -> Vec<Value> {
    vec![
        Value::from(name(va)),
        Value::from(str_at(va, &["spec", "attacher"])),
        Value::from(str_at(va, &["spec", "source", "persistentVolumeName"])),
        Value::from(str_at(va, &["spec", "nodeName"])),
        Value::from(opt_bool(va, &["status", "attached"]).unwrap_or(false)),
        age(va, now),
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
    fn pod_templates_and_component_statuses() {
        let pt = json!({"metadata": {"name": "t"}, "template": {
            "metadata": {"labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}});
        assert_eq!(
            pod_template_row(&pt, NOW),
            [json!("t"), json!("c"), json!("i"), json!("app=x")]
        );
        let cs = json!({"metadata": {"name": "etcd-0"},
            "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]});
        assert_eq!(
            component_status_row(&cs, NOW),
            [json!("etcd-0"), json!("Healthy"), json!("ok"), json!("")]
        );
        assert_eq!(component_status_row(&json!({}), NOW)[1], json!("Unknown"));
    }

    #[test]
    fn certificate_signing_requests() {
        let csr = json!({
            "metadata": {"name": "node-csr-abc"},
            "spec": {"signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                     "username": "system:bootstrap:abcdef", "expirationSeconds": 86400},
            "status": {"conditions": [{"type": "Approved", "status": "True"}],
                       "certificate": "LS0t"}
        });
        assert_eq!(
            csr_row(&csr, NOW),
            [
                json!("node-csr-abc"),
                json!("<unknown>"),
                json!("kubernetes.io/kube-apiserver-client-kubelet"),
                json!("system:bootstrap:abcdef"),
                json!("24h"),
                json!("Approved,Issued"),
            ]
        );
        let denied = json!({"status": {"conditions": [{"type": "Approved"}, {"type": "Denied"},
                                                      {"type": "Failed"}]}});
        let cells = csr_row(&denied, NOW);
        assert_eq!(cells[2], json!("<none>"));
        assert_eq!(cells[4], json!("<none>"));
        assert_eq!(cells[5], json!("Denied,Failed"));
    }

    #[test]
    fn admission_configuration() {
        let hooks = json!({"metadata": {"name": "h"}, "webhooks": [{}, {}]});
        assert_eq!(
            webhook_row(&hooks, NOW),
            [json!("h"), json!(2), json!("<unknown>")]
        );
        let policy = json!({"metadata": {"name": "p"}, "spec": {
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}, "validations": [{}]}});
        assert_eq!(
            admission_policy_row(&policy, NOW),
            [
                json!("p"),
                json!(1),
                json!("v1/ConfigMap"),
                json!("<unknown>")
            ]
        );
        let binding = |param: Value| {
            admission_policy_binding_row(
                &json!({"spec": {"policyName": "p", "paramRef": param}}),
                NOW,
            )[2]
            .clone()
        };
        assert_eq!(
            binding(json!({"name": "cfg", "namespace": "ns"})),
            json!("ns/cfg")
        );
        assert_eq!(binding(json!({"name": "cfg"})), json!("*/cfg"));
        assert_eq!(binding(json!(null)), json!("<unset>"));
        assert_eq!(
            binding(json!({"selector": {"matchLabels": {"a": "b"}}})),
            json!("a=b")
        );
    }

    #[test]
    fn flow_control() {
        let fs = json!({"metadata": {"name": "system-nodes"}, "spec": {
            "priorityLevelConfiguration": {"name": "system"}, "matchingPrecedence": 500,
            "distinguisherMethod": {"type": "ByUser"}},
            "status": {"conditions": [{"type": "Dangling", "status": "False"}]}});
        assert_eq!(
            flow_schema_row(&fs, NOW),
            [
                json!("system-nodes"),
                json!("system"),
                json!(500),
                json!("ByUser"),
                json!("<unknown>"),
                json!("False")
            ]
        );
        let pl = json!({"metadata": {"name": "workload-low"}, "spec": {"type": "Limited",
            "limited": {"nominalConcurrencyShares": 100,
                        "limitResponse": {"type": "Queue",
                            "queuing": {"queues": 128, "handSize": 6, "queueLengthLimit": 50}}}}});
        assert_eq!(
            priority_level_row(&pl, NOW),
            [
                json!("workload-low"),
                json!("Limited"),
                json!(100),
                json!(128),
                json!(6),
                json!(50),
                json!("<unknown>")
            ]
        );
        let exempt = json!({"spec": {"type": "Exempt"}});
        assert_eq!(
            &priority_level_row(&exempt, NOW)[2..6],
            [
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn storage_and_runtime() {
        let driver = json!({"metadata": {"name": "csi.example.com"},
            "spec": {"attachRequired": false, "volumeLifecycleModes": ["Persistent", "Ephemeral"],
                     "tokenRequests": [{"audience": "vault"}]}});
        assert_eq!(
            csi_driver_row(&driver, NOW),
            [
                json!("csi.example.com"),
                json!(false),
                json!(false),
                json!(false),
                json!("vault"),
                json!(false),
                json!("Persistent,Ephemeral"),
                json!("<unknown>"),
            ]
        );
        let node = json!({"metadata": {"name": "n"}, "spec": {"drivers": [{}]}});
        assert_eq!(csi_node_row(&node, NOW)[1], json!(1));
        let va = json!({"metadata": {"name": "csi-1"}, "spec": {"attacher": "csi.example.com",
            "nodeName": "n", "source": {"persistentVolumeName": "pv-1"}}, "status": {"attached": true}});
        assert_eq!(
            volume_attachment_row(&va, NOW),
            [
                json!("csi-1"),
                json!("csi.example.com"),
                json!("pv-1"),
                json!("n"),
                json!(true),
                json!("<unknown>")
            ]
        );
        let rc = json!({"metadata": {"name": "gvisor"}, "handler": "runsc"});
        assert_eq!(
            runtime_class_row(&rc, NOW),
            [json!("gvisor"), json!("runsc"), json!("<unknown>")]
        );
        let cidr = json!({"metadata": {"name": "kubernetes"}, "spec": {"cidrs": ["10.96.0.0/12", "fd00:10:96::/108"]}});
        assert_eq!(
            service_cidr_row(&cidr, NOW)[1],
            json!("10.96.0.0/12,fd00:10:96::/108")
        );
    }
}
