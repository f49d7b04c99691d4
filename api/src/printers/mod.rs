//! The columns and cells kube-apiserver returns when a client asks for a `meta.k8s.io/v1`
//! Table (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), as `kubectl get` does.
//!
//! Each built-in kind with a Kubernetes printer has its column definitions ([`columns`]) and a
//! row function ([`row`]) computing the cells from the object's JSON exactly as Kubernetes
//! does: the same names, types, priorities and cell text, so `kubectl get` output is
//! indistinguishable. The server always renders the wide form (priority-1 columns included);
//! kubectl hides priority-1 columns unless `-o wide`.
//!
//! Kinds without a printer (Role, ClusterRole, LimitRange, CustomResourceDefinition, ...)
//! return `None`; the server then uses the default table, [`default_columns`] and
//! [`default_row`]: `Name` and `Created At`, as Kubernetes' default table convertor.
//!
//! [`table`] assembles a whole Table (definitions, rows, row objects per `includeObject`).
//! Custom resources get [`NAME_COLUMN`] followed by their CRD's `additionalPrinterColumns`,
//! whose cells [`custom_column_cell`] computes.
//!
//! Cells are JSON values: strings, integers and booleans, typed as Kubernetes types them.
//! Objects are read as the API server stores them (defaulted); where a defaulted field is
//! missing anyway, the printers assume its default (one replica, `ClusterIP` services, `TCP`
//! ports). Times count whole seconds.

mod apps;
mod cells;
mod cluster;
mod core;
mod custom;
mod networking;
mod pod;
mod storage;
mod table;
mod time;

use serde_json::Value;

pub use custom::custom_column_cell;
pub use table::{table, IncludeObject, TableOptions, UnsupportedIncludeObject};
pub use time::{age, format_rfc3339, human_duration, parse_rfc3339};

/// The type of a table column, as in `columnDefinitions[].type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// `string`.
    String,
    /// `integer`.
    Integer,
    /// `number`.
    Number,
    /// `boolean`.
    Boolean,
    /// `date`.
    Date,
}

impl ColumnType {
    /// The wire name (`string`, `integer`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Integer => "integer",
            ColumnType::Number => "number",
            ColumnType::Boolean => "boolean",
            ColumnType::Date => "date",
        }
    }
}

/// One column definition of a Table (`columnDefinitions[]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Column {
    /// The header, in Kubernetes' casing (`Name`, `Ready`, `Nominated Node`); kubectl
    /// upper-cases it.
    pub name: &'static str,
    /// The cell type.
    pub type_: ColumnType,
    /// `name` for the column holding the object's name, else empty.
    pub format: &'static str,
    /// A human description of the column.
    pub description: &'static str,
    /// 0 for normal columns, 1 for columns kubectl shows only with `-o wide`.
    pub priority: i32,
}

impl Column {
    /// The column definition as Table JSON: `{"name", "type", "format", "description",
    /// "priority"}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "name": self.name,
            "type": self.type_.as_str(),
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// Description of every NAME column.
const NAME_DESCRIPTION: &str = "The unique name of the object within its namespace (or the \
     cluster, for cluster-scoped kinds).";
/// Description of every AGE column.
const AGE_DESCRIPTION: &str =
    "How long ago the server created the object (from metadata.creationTimestamp).";
/// Description shared by CONTAINERS columns.
const CONTAINERS_DESCRIPTION: &str = "Names of each container in the template.";
/// Description shared by IMAGES columns.
const IMAGES_DESCRIPTION: &str = "Images referenced by each container in the template.";

/// A priority-0 column.
const fn col(name: &'static str, type_: ColumnType, description: &'static str) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 0,
    }
}

/// A priority-1 (wide) column.
const fn wide(name: &'static str, type_: ColumnType, description: &'static str) -> Column {
    Column {
        priority: 1,
        ..col(name, type_, description)
    }
}

/// The NAME column.
const NAME: Column = Column {
    format: "name",
    ..col("Name", ColumnType::String, NAME_DESCRIPTION)
};
/// The NAME column every table starts with (custom resource tables included).
pub const NAME_COLUMN: Column = NAME;

/// The AGE column.
const AGE: Column = col("Age", ColumnType::String, AGE_DESCRIPTION);

/// Computes a kind's cells from its object and the current time.
type RowFn = fn(&Value, i64) -> Vec<Value>;

/// A kind's printer: where it lives, its columns, its row function.
struct Printer {
    group: &'static str,
    kind: &'static str,
    columns: &'static [Column],
    row: RowFn,
}

/// Every printer, by API group and kind.
static PRINTERS: &[Printer] = &[
    printer_for("", "Pod", pod::COLUMNS, pod::row),
    printer_for(
        "",
        "Namespace",
        core::NAMESPACE_COLUMNS,
        core::namespace_row,
    ),
    printer_for("", "Node", core::NODE_COLUMNS, core::node_row),
    printer_for("", "Service", core::SERVICE_COLUMNS, core::service_row),
    printer_for(
        "",
        "Endpoints",
        core::ENDPOINTS_COLUMNS,
        core::endpoints_row,
    ),
    printer_for(
        "",
        "ConfigMap",
        core::CONFIG_MAP_COLUMNS,
        core::config_map_row,
    ),
    printer_for("", "Secret", core::SECRET_COLUMNS, core::secret_row),
    printer_for(
        "",
        "ServiceAccount",
        core::SERVICE_ACCOUNT_COLUMNS,
        core::service_account_row,
    ),
    printer_for("", "Event", core::EVENT_COLUMNS, core::event_row),
    printer_for("", "PersistentVolume", core::PV_COLUMNS, core::pv_row),
    printer_for(
        "",
        "PersistentVolumeClaim",
        core::PVC_COLUMNS,
        core::pvc_row,
    ),
    printer_for(
        "",
        "ResourceQuota",
        core::RESOURCE_QUOTA_COLUMNS,
        core::resource_quota_row,
    ),
    printer_for(
        "",
        "ReplicationController",
        apps::REPLICATION_CONTROLLER_COLUMNS,
        apps::replication_controller_row,
    ),
    printer_for(
        "apps",
        "Deployment",
        apps::DEPLOYMENT_COLUMNS,
        apps::deployment_row,
    ),
    printer_for(
        "apps",
        "ReplicaSet",
        apps::REPLICA_SET_COLUMNS,
        apps::replica_set_row,
    ),
    printer_for(
        "apps",
        "StatefulSet",
        apps::STATEFUL_SET_COLUMNS,
        apps::stateful_set_row,
    ),
    printer_for(
        "apps",
        "DaemonSet",
        apps::DAEMON_SET_COLUMNS,
        apps::daemon_set_row,
    ),
    printer_for(
        "apps",
        "ControllerRevision",
        apps::CONTROLLER_REVISION_COLUMNS,
        apps::controller_revision_row,
    ),
    printer_for("batch", "Job", apps::JOB_COLUMNS, apps::job_row),
    printer_for(
        "batch",
        "CronJob",
        apps::CRON_JOB_COLUMNS,
        apps::cron_job_row,
    ),
    printer_for(
        "autoscaling",
        "HorizontalPodAutoscaler",
        apps::HPA_COLUMNS,
        apps::hpa_row,
    ),
    printer_for(
        "policy",
        "PodDisruptionBudget",
        apps::PDB_COLUMNS,
        apps::pdb_row,
    ),
    printer_for(
        "discovery.k8s.io",
        "EndpointSlice",
        networking::ENDPOINT_SLICE_COLUMNS,
        networking::endpoint_slice_row,
    ),
    printer_for(
        "networking.k8s.io",
        "Ingress",
        networking::INGRESS_COLUMNS,
        networking::ingress_row,
    ),
    printer_for(
        "networking.k8s.io",
        "IngressClass",
        networking::INGRESS_CLASS_COLUMNS,
        networking::ingress_class_row,
    ),
    printer_for(
        "networking.k8s.io",
        "NetworkPolicy",
        networking::NETWORK_POLICY_COLUMNS,
        networking::network_policy_row,
    ),
    printer_for(
        "coordination.k8s.io",
        "Lease",
        cluster::LEASE_COLUMNS,
        cluster::lease_row,
    ),
    printer_for(
        "storage.k8s.io",
        "StorageClass",
        storage::STORAGE_CLASS_COLUMNS,
        storage::storage_class_row,
    ),
    printer_for(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        cluster::ROLE_BINDING_COLUMNS,
        cluster::role_binding_row,
    ),
    printer_for(
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        cluster::CLUSTER_ROLE_BINDING_COLUMNS,
        cluster::role_binding_row,
    ),
    printer_for(
        "scheduling.k8s.io",
        "PriorityClass",
        cluster::PRIORITY_CLASS_COLUMNS,
        cluster::priority_class_row,
    ),
    printer_for(
        "events.k8s.io",
        "Event",
        core::EVENT_COLUMNS,
        core::events_v1_row,
    ),
    printer_for(
        "",
        "PodTemplate",
        cluster::POD_TEMPLATE_COLUMNS,
        cluster::pod_template_row,
    ),
    printer_for(
        "",
        "ComponentStatus",
        cluster::COMPONENT_STATUS_COLUMNS,
        cluster::component_status_row,
    ),
    printer_for(
        "node.k8s.io",
        "RuntimeClass",
        cluster::RUNTIME_CLASS_COLUMNS,
        cluster::runtime_class_row,
    ),
    printer_for(
        "certificates.k8s.io",
        "CertificateSigningRequest",
        cluster::CSR_COLUMNS,
        cluster::csr_row,
    ),
    printer_for(
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        cluster::WEBHOOK_COLUMNS,
        cluster::webhook_row,
    ),
    printer_for(
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        cluster::WEBHOOK_COLUMNS,
        cluster::webhook_row,
    ),
    printer_for(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicy",
        cluster::ADMISSION_POLICY_COLUMNS,
        cluster::admission_policy_row,
    ),
    printer_for(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        cluster::ADMISSION_POLICY_BINDING_COLUMNS,
        cluster::admission_policy_binding_row,
    ),
    printer_for(
        "flowcontrol.apiserver.k8s.io",
        "FlowSchema",
        cluster::FLOW_SCHEMA_COLUMNS,
        cluster::flow_schema_row,
    ),
    printer_for(
        "flowcontrol.apiserver.k8s.io",
        "PriorityLevelConfiguration",
        cluster::PRIORITY_LEVEL_COLUMNS,
        cluster::priority_level_row,
    ),
    printer_for(
        "storage.k8s.io",
        "CSINode",
        storage::CSI_NODE_COLUMNS,
        storage::csi_node_row,
    ),
    printer_for(
        "storage.k8s.io",
        "CSIDriver",
        storage::CSI_DRIVER_COLUMNS,
        storage::csi_driver_row,
    ),
    printer_for(
        "storage.k8s.io",
        "VolumeAttachment",
        storage::VOLUME_ATTACHMENT_COLUMNS,
        storage::volume_attachment_row,
    ),
    printer_for(
        "networking.k8s.io",
        "ServiceCIDR",
        networking::SERVICE_CIDR_COLUMNS,
        networking::service_cidr_row,
    ),
];

/// A table entry.
const fn printer_for(
    group: &'static str,
    kind: &'static str,
    columns: &'static [Column],
    row: RowFn,
) -> Printer {
    Printer {
        group,
        kind,
        columns,
        row,
    }
}

fn printer(group: &str, kind: &str) -> Option<&'static Printer> {
    PRINTERS.iter().find(|p| p.group == group && p.kind == kind)
}

/// The column definitions Kubernetes uses for `kind` in API `group` (`""` for core), or `None`
/// for kinds without a printer (use [`default_columns`] then).
pub fn columns(group: &str, kind: &str) -> Option<&'static [Column]> {
    printer(group, kind).map(|p| p.columns)
}

/// The cells of `obj` (a `group`/`kind` object in its JSON form) at `now_unix_secs`, one per
/// column of [`columns`], wide columns included; `None` for kinds without a printer (use
/// [`default_row`] then). Missing fields print as Kubernetes prints zero values.
pub fn row(group: &str, kind: &str, obj: &Value, now_unix_secs: i64) -> Option<Vec<Value>> {
    printer(group, kind).map(|p| (p.row)(obj, now_unix_secs))
}

/// The `conditions` of a table row: Kubernetes marks the rows of finished pods `Completed`
/// (`{"type": "Completed", "status": "True", "reason": "Succeeded" | "Failed", "message"}`) so
/// clients can show them dimmed; every other row has none.
pub fn row_conditions(group: &str, kind: &str, obj: &Value) -> Vec<Value> {
    if !group.is_empty() || kind != "Pod" {
        return Vec::new();
    }
    let message = match cells::str_at(obj, &["status", "phase"]) {
        "Succeeded" => "The pod has completed successfully.",
        "Failed" => "The pod failed.",
        _ => return Vec::new(),
    };
    vec![serde_json::json!({
        "type": "Completed",
        "status": "True",
        "reason": cells::str_at(obj, &["status", "phase"]),
        "message": message,
    })]
}

/// The default table's columns, for kinds without a printer and custom resources without
/// `additionalPrinterColumns`: `Name` and `Created At` (a date).
pub fn default_columns() -> &'static [Column] {
    const DEFAULT: &[Column] = &[
        NAME,
        col(
            "Created At",
            ColumnType::Date,
            "When the server created the object (metadata.creationTimestamp).",
        ),
    ];
    DEFAULT
}

/// The default table's cells: the name and the creation time as RFC 3339 in UTC
/// (`2024-05-01T12:00:00Z`); Go's zero time (`0001-01-01T00:00:00Z`) when it is missing.
pub fn default_row(obj: &Value) -> Vec<Value> {
    const GO_ZERO_TIME: i64 = -62_135_596_800;
    let created = cells::opt_str(obj, &["metadata", "creationTimestamp"])
        .and_then(parse_rfc3339)
        .unwrap_or(GO_ZERO_TIME);
    vec![
        Value::from(cells::name(obj)),
        Value::from(format_rfc3339(created)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_printer_has_a_name_column_and_matching_rows() {
        for p in PRINTERS {
            assert!(
                p.columns
                    .iter()
                    .any(|c| c.name == "Name" && c.format == "name"),
                "{}: a name column",
                p.kind
            );
            let cells = (p.row)(&json!({"metadata": {"name": "x"}}), 0);
            assert_eq!(cells.len(), p.columns.len(), "{} cells", p.kind);
        }
    }

    #[test]
    fn unknown_kinds_use_the_default_table() {
        assert!(columns("rbac.authorization.k8s.io", "Role").is_none());
        assert!(row("", "LimitRange", &json!({}), 0).is_none());
        assert!(columns("apiextensions.k8s.io", "CustomResourceDefinition").is_none());
        let names: Vec<_> = default_columns().iter().map(|c| c.name).collect();
        assert_eq!(names, ["Name", "Created At"]);
        assert_eq!(default_columns()[1].type_, ColumnType::Date);
        let obj =
            json!({"metadata": {"name": "reader", "creationTimestamp": "2024-03-01T10:00:00Z"}});
        assert_eq!(
            default_row(&obj),
            [json!("reader"), json!("2024-03-01T10:00:00Z")]
        );
        assert_eq!(
            default_row(&json!({"metadata": {"name": "x"}})),
            [json!("x"), json!("0001-01-01T00:00:00Z")]
        );
    }

    #[test]
    fn finished_pods_rows_are_completed() {
        let done = json!({"status": {"phase": "Succeeded"}});
        assert_eq!(
            row_conditions("", "Pod", &done),
            [
                json!({"type": "Completed", "status": "True", "reason": "Succeeded",
                    "message": "The pod has completed successfully."})
            ]
        );
        let failed = json!({"status": {"phase": "Failed"}});
        assert_eq!(
            row_conditions("", "Pod", &failed)[0]["message"],
            json!("The pod failed.")
        );
        assert!(row_conditions("", "Pod", &json!({"status": {"phase": "Running"}})).is_empty());
        assert!(row_conditions("batch", "Job", &done).is_empty());
    }

    #[test]
    fn columns_serialize_as_table_json() {
        let c = columns("", "Pod").expect("pod printer");
        assert_eq!(
            c[0].to_json(),
            json!({"name": "Name", "type": "string", "format": "name",
                   "description": NAME_DESCRIPTION, "priority": 0})
        );
        assert_eq!(c[5].to_json()["priority"], json!(1));
    }

    mod safety {
        use super::*;
        use proptest::prelude::*;

        /// Keys printers read, so random objects reach deep into their logic.
        const KEYS: &[&str] = &[
            "metadata",
            "name",
            "creationTimestamp",
            "deletionTimestamp",
            "labels",
            "spec",
            "status",
            "containers",
            "initContainers",
            "containerStatuses",
            "state",
            "waiting",
            "terminated",
            "running",
            "reason",
            "exitCode",
            "phase",
            "conditions",
            "type",
            "replicas",
            "selector",
            "matchLabels",
            "matchExpressions",
            "ports",
            "port",
            "metrics",
            "resource",
            "target",
            "current",
            "subsets",
            "addresses",
            "ip",
        ];

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                (-1e9_f64..1e9).prop_map(Value::from),
                prop_oneof![
                    Just("2024-01-09T23:00:00Z".to_owned()),
                    Just("True".to_owned()),
                    Just("Always".to_owned()),
                    "\\PC{0,8}",
                ]
                .prop_map(Value::from),
            ];
            leaf.prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..6).prop_map(
                        |m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                    ),
                ]
            })
        }

        proptest! {
            #[test]
            fn row_safety(obj in json_value(), now in any::<i64>()) {
                for p in PRINTERS {
                    prop_assert_eq!((p.row)(&obj, now).len(), p.columns.len());
                }
                prop_assert_eq!(default_row(&obj).len(), 2);
            }
        }
    }
}
