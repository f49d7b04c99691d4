//! Printers for storage.k8s.io kinds: storage classes, CSI drivers and nodes, attachments.

use serde_json::Value;

use super::cells::{age, arr_at, array_len, at, name, opt_bool, opt_str, str_at};
use super::{col, Column, ColumnType as T, AGE, NAME};

pub(super) const STORAGE_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Provisioner",
        T::String,
        "The volume plugin provisioning volumes.",
    ),
    col(
        "ReclaimPolicy",
        T::String,
        "What happens to provisioned volumes when released.",
    ),
    col(
        "VolumeBindingMode",
        T::String,
        "When volumes are provisioned and bound.",
    ),
    col(
        "AllowVolumeExpansion",
        T::String,
        "Whether claims of this class can grow.",
    ),
    AGE,
];

/// Annotations marking the default storage class.
const DEFAULT_CLASS_ANNOTATIONS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

pub(super) fn storage_class_row(sc: &Value, now: i64) -> Vec<Value> {
    let is_default = DEFAULT_CLASS_ANNOTATIONS
        .iter()
        .any(|a| opt_str(sc, &["metadata", "annotations", a]) == Some("true"));
    let mut shown_name = name(sc).to_owned();
    if is_default {
        shown_name.push_str(" (default)");
    }
    vec![
        Value::from(shown_name),
        Value::from(str_at(sc, &["provisioner"])),
        Value::from(opt_str(sc, &["reclaimPolicy"]).unwrap_or("Delete")),
        Value::from(opt_str(sc, &["volumeBindingMode"]).unwrap_or("Immediate")),
        Value::from(opt_bool(sc, &["allowVolumeExpansion"]).unwrap_or(false)),
        age(sc, now),
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
        array_len(node, &["spec", "drivers"]),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2024-01-10T00:00:00Z.
    const NOW: i64 = 1_704_844_800;

    #[test]
    fn storage_classes() {
        let sc = json!({
            "metadata": {"name": "local-path",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"
        });
        assert_eq!(
            storage_class_row(&sc, NOW),
            [
                json!("local-path (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!(false),
                json!("<unknown>"),
            ]
        );
    }

    #[test]
    fn csi_objects() {
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
    }
}
