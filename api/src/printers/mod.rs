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
//! Cells are JSON values: strings, integers and booleans, typed as Kubernetes types them.

mod apps;
mod cells;
mod core;
mod networking;
mod pod;
mod time;

use serde_json::Value;

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
    Printer {
        group: "",
        kind: "Pod",
        columns: pod::COLUMNS,
        row: pod::row,
    },
    Printer {
        group: "",
        kind: "Namespace",
        columns: core::NAMESPACE_COLUMNS,
        row: core::namespace_row,
    },
    Printer {
        group: "",
        kind: "Node",
        columns: core::NODE_COLUMNS,
        row: core::node_row,
    },
    Printer {
        group: "",
        kind: "Service",
        columns: core::SERVICE_COLUMNS,
        row: core::service_row,
    },
    Printer {
        group: "",
        kind: "Endpoints",
        columns: core::ENDPOINTS_COLUMNS,
        row: core::endpoints_row,
    },
    Printer {
        group: "",
        kind: "ConfigMap",
        columns: core::CONFIG_MAP_COLUMNS,
        row: core::config_map_row,
    },
    Printer {
        group: "",
        kind: "Secret",
        columns: core::SECRET_COLUMNS,
        row: core::secret_row,
    },
    Printer {
        group: "",
        kind: "ServiceAccount",
        columns: core::SERVICE_ACCOUNT_COLUMNS,
        row: core::service_account_row,
    },
    Printer {
        group: "",
        kind: "Event",
        columns: core::EVENT_COLUMNS,
        row: core::event_row,
    },
    Printer {
        group: "",
        kind: "PersistentVolume",
        columns: core::PV_COLUMNS,
        row: core::pv_row,
    },
    Printer {
        group: "",
        kind: "PersistentVolumeClaim",
        columns: core::PVC_COLUMNS,
        row: core::pvc_row,
    },
    Printer {
        group: "",
        kind: "ResourceQuota",
        columns: core::RESOURCE_QUOTA_COLUMNS,
        row: core::resource_quota_row,
    },
    Printer {
        group: "",
        kind: "ReplicationController",
        columns: apps::REPLICATION_CONTROLLER_COLUMNS,
        row: apps::replication_controller_row,
    },
    Printer {
        group: "apps",
        kind: "Deployment",
        columns: apps::DEPLOYMENT_COLUMNS,
        row: apps::deployment_row,
    },
    Printer {
        group: "apps",
        kind: "ReplicaSet",
        columns: apps::REPLICA_SET_COLUMNS,
        row: apps::replica_set_row,
    },
    Printer {
        group: "apps",
        kind: "StatefulSet",
        columns: apps::STATEFUL_SET_COLUMNS,
        row: apps::stateful_set_row,
    },
    Printer {
        group: "apps",
        kind: "DaemonSet",
        columns: apps::DAEMON_SET_COLUMNS,
        row: apps::daemon_set_row,
    },
    Printer {
        group: "apps",
        kind: "ControllerRevision",
        columns: apps::CONTROLLER_REVISION_COLUMNS,
        row: apps::controller_revision_row,
    },
    Printer {
        group: "batch",
        kind: "Job",
        columns: apps::JOB_COLUMNS,
        row: apps::job_row,
    },
    Printer {
        group: "batch",
        kind: "CronJob",
        columns: apps::CRON_JOB_COLUMNS,
        row: apps::cron_job_row,
    },
    Printer {
        group: "autoscaling",
        kind: "HorizontalPodAutoscaler",
        columns: apps::HPA_COLUMNS,
        row: apps::hpa_row,
    },
    Printer {
        group: "policy",
        kind: "PodDisruptionBudget",
        columns: apps::PDB_COLUMNS,
        row: apps::pdb_row,
    },
    Printer {
        group: "discovery.k8s.io",
        kind: "EndpointSlice",
        columns: networking::ENDPOINT_SLICE_COLUMNS,
        row: networking::endpoint_slice_row,
    },
    Printer {
        group: "networking.k8s.io",
        kind: "Ingress",
        columns: networking::INGRESS_COLUMNS,
        row: networking::ingress_row,
    },
    Printer {
        group: "networking.k8s.io",
        kind: "IngressClass",
        columns: networking::INGRESS_CLASS_COLUMNS,
        row: networking::ingress_class_row,
    },
    Printer {
        group: "networking.k8s.io",
        kind: "NetworkPolicy",
        columns: networking::NETWORK_POLICY_COLUMNS,
        row: networking::network_policy_row,
    },
    Printer {
        group: "coordination.k8s.io",
        kind: "Lease",
        columns: networking::LEASE_COLUMNS,
        row: networking::lease_row,
    },
    Printer {
        group: "storage.k8s.io",
        kind: "StorageClass",
        columns: networking::STORAGE_CLASS_COLUMNS,
        row: networking::storage_class_row,
    },
    Printer {
        group: "rbac.authorization.k8s.io",
        kind: "RoleBinding",
        columns: networking::ROLE_BINDING_COLUMNS,
        row: networking::role_binding_row,
    },
    Printer {
        group: "rbac.authorization.k8s.io",
        kind: "ClusterRoleBinding",
        columns: networking::CLUSTER_ROLE_BINDING_COLUMNS,
        row: networking::role_binding_row,
    },
    Printer {
        group: "scheduling.k8s.io",
        kind: "PriorityClass",
        columns: networking::PRIORITY_CLASS_COLUMNS,
        row: networking::priority_class_row,
    },
];

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
                p.columns.iter().filter(|c| c.format == "name").count() == 1,
                "{}: one name column",
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
    fn columns_serialize_as_table_json() {
        let c = columns("", "Pod").expect("pod printer");
        assert_eq!(
            c[0].to_json(),
            json!({"name": "Name", "type": "string", "format": "name",
                   "description": NAME_DESCRIPTION, "priority": 0})
        );
        assert_eq!(c[5].to_json()["priority"], json!(1));
    }
}
