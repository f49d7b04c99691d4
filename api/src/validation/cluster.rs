//! Cluster objects: Namespaces, Nodes, Leases.

use std::collections::BTreeSet;

use serde_json::Value;

use super::render::go_quote;
use super::rules::{self, child, index, int_of, list_of, push_invalid, str_of, sub};
use super::{meta, pod, FieldError};

const POD_CIDR_CHANGE: &str = "node updates may not change podCIDR except from \"\" to valid";

/// Validates a new Namespace: its `spec.finalizers` are standard or qualified names (updates
/// go through the finalize subresource, which the API server handles).
pub(crate) fn validate_namespace(obj: &Value, errs: &mut Vec<FieldError>) {
    let path = "spec.finalizers";
    for f in list_of(sub(obj, "spec"), "finalizers") {
        let f = f.as_str().unwrap_or("");
        push_invalid(errs, path, f, rules::qualified_name(f));
        if !f.contains('/') && !meta::STANDARD_FINALIZERS.contains(&f) {
            errs.push(FieldError::invalid(path, f, meta::NOT_STANDARD_FINALIZER));
        }
    }
}

/// Whether `s` is a CIDR such as `10.244.1.0/24` or `fd00::/64`.
fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

/// Validates a Node: taints (reported under `metadata.taints`, as Kubernetes does), pod CIDRs,
/// and on update the pod CIDRs and provider ID once set.
pub(crate) fn validate_node(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    let mut unique = BTreeSet::new();
    for (i, taint) in list_of(spec, "taints").iter().enumerate() {
        let p = index("metadata.taints", i);
        let key = str_of(taint, "key");
        push_invalid(errs, &child(&p, "key"), key, rules::qualified_name(key));
        let value = str_of(taint, "value");
        let msgs = rules::label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                &child(&p, "value"),
                value,
                &msgs.join(";"),
            ));
        }
        let effect = str_of(taint, "effect");
        pod::validate_taint_effect(errs, &child(&p, "effect"), effect);
        if !unique.insert((effect, key)) {
            let mut dup = FieldError::duplicate(&p, taint.clone()).with_go_repr(format!(
                "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:(*v1.Time)(nil)}}",
                go_quote(key),
                go_quote(value),
                go_quote(effect)
            ));
            dup.detail = "taints must be unique by key and effect pair".to_owned();
            errs.push(dup);
        }
    }
    let cidrs = list_of(spec, "podCIDRs");
    for (i, cidr) in cidrs.iter().enumerate() {
        let cidr = cidr.as_str().unwrap_or("");
        if !is_cidr(cidr) {
            errs.push(FieldError::invalid(
                &index("spec.podCIDRs", i),
                cidr,
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ));
        }
    }
    let Some(old) = old else {
        return;
    };
    let old_spec = sub(old, "spec");
    let old_cidrs = list_of(old_spec, "podCIDRs");
    if !old_cidrs.is_empty() {
        if old_cidrs.len() != cidrs.len() {
            errs.push(FieldError::forbidden("spec.podCIDRs", POD_CIDR_CHANGE));
        } else {
            for (a, b) in old_cidrs.iter().zip(cidrs) {
                if a != b {
                    errs.push(FieldError::forbidden("spec.podCIDRs", POD_CIDR_CHANGE));
                }
            }
        }
    }
    let old_provider = str_of(old_spec, "providerID");
    if !old_provider.is_empty() && old_provider != str_of(spec, "providerID") {
        errs.push(FieldError::forbidden(
            "spec.providerID",
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
}

/// Validates a Lease: positive duration, non-negative transitions.
pub(crate) fn validate_lease(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = sub(obj, "spec");
    if let Some(d) = int_of(spec, "leaseDurationSeconds").filter(|d| *d <= 0) {
        errs.push(FieldError::invalid(
            "spec.leaseDurationSeconds",
            d,
            "must be greater than 0",
        ));
    }
    rules::non_negative(
        errs,
        "spec.leaseTransitions",
        int_of(spec, "leaseTransitions"),
    );
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::validate;

    fn messages(
        group: &str,
        kind: &str,
        obj: &serde_json::Value,
        old: Option<&serde_json::Value>,
    ) -> Vec<String> {
        validate(group, kind, &super::super::versioned(obj, old), old)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn namespaces() {
        let ns =
            json!({"metadata": {"name": "team-a"}, "spec": {"finalizers": ["kubernetes", "mine"]}});
        assert_eq!(
            messages("", "Namespace", &ns, None),
            ["spec.finalizers: Invalid value: \"mine\": name is neither a standard finalizer name nor is it fully qualified"]
        );
    }

    #[test]
    fn nodes() {
        let node = json!({"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.244.1.0/33"], "taints": [
            {"key": "a", "effect": "NoSchedule"}, {"key": "a", "effect": "NoSchedule"},
            {"key": "b", "effect": "Never"}]}});
        assert_eq!(
            messages("", "Node", &node, None),
            [
                "metadata.taints[1]: Duplicate value: core.Taint{Key:\"a\", Value:\"\", Effect:\"NoSchedule\", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair",
                "metadata.taints[2].effect: Unsupported value: \"Never\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "spec.podCIDRs[0]: Invalid value: \"10.244.1.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ]
        );
        let old = json!({"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.244.1.0/24"]}});
        let new = json!({"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.244.2.0/24"]}});
        assert_eq!(
            messages("", "Node", &new, Some(&old)),
            ["spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid"]
        );
    }

    #[test]
    fn leases() {
        let lease = json!({"metadata": {"name": "n1", "namespace": "kube-node-lease"},
            "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}});
        assert_eq!(
            messages("coordination.k8s.io", "Lease", &lease, None),
            [
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
            ]
        );
    }
}
