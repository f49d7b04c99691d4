//! Printers for cluster-wide machinery: RBAC bindings, priority classes, leases, runtime
//! classes, admission configuration, certificate requests, API priority and fairness,
//! component statuses, pod templates.

use serde_json::Value;

use super::cells::{
    age, arr_at, array_len, at, container_cells, format_label_selector, format_labels, int_at,
    name, opt_bool, opt_int, opt_str, str_at, string_map,
};
use super::{col, time, Column, ColumnType as T, AGE, NAME};

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
        array_len(config, &["webhooks"]),
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
        array_len(policy, &["spec", "validations"]),
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
    fn runtime_classes() {
        let rc = json!({"metadata": {"name": "gvisor"}, "handler": "runsc"});
        assert_eq!(
            runtime_class_row(&rc, NOW),
            [json!("gvisor"), json!("runsc"), json!("<unknown>")]
        );
    }

    #[test]
    fn leases() {
        let lease = json!({"metadata": {"name": "node-1"}, "spec": {"holderIdentity": "node-1"}});
        assert_eq!(
            lease_row(&lease, NOW),
            [json!("node-1"), json!("node-1"), json!("<unknown>")]
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
