//! Printers for workload kinds: apps, batch, autoscaling, policy, and ReplicationController.

use serde_json::Value;

use super::cells::{
    age, arr_at, at, bool_ptr, condition_status, container_cells, deleting, format_label_selector,
    format_labels, int_at, name, opt_int, opt_str, quantity, selector_string, str_at, string_map,
};
use super::{
    col, time, wide, Column, ColumnType as T, AGE, CONTAINERS_DESCRIPTION, IMAGES_DESCRIPTION, NAME,
};

const CONTAINERS: Column = wide("Containers", T::String, CONTAINERS_DESCRIPTION);
const IMAGES: Column = wide("Images", T::String, IMAGES_DESCRIPTION);
const SELECTOR: Column = wide(
    "Selector",
    T::String,
    "The label selector of the pods this object manages.",
);

/// `spec.replicas`; the API server defaults it to 1.
fn replicas(obj: &Value) -> i64 {
    opt_int(obj, &["spec", "replicas"]).unwrap_or(1)
}

/// The pod spec of `spec.template`.
fn template_spec(obj: &Value) -> Option<&Value> {
    at(obj, &["spec", "template", "spec"])
}

pub(super) const REPLICATION_CONTROLLER_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", T::Integer, "The number of pods wanted."),
    col("Current", T::Integer, "The number of pods that exist."),
    col("Ready", T::Integer, "The number of ready pods."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn replication_controller_row(rc: &Value, now: i64) -> Vec<Value> {
    let (names, images) = container_cells(template_spec(rc));
    vec![
        Value::from(name(rc)),
        Value::from(replicas(rc)),
        Value::from(int_at(rc, &["status", "replicas"])),
        Value::from(int_at(rc, &["status", "readyReplicas"])),
        age(rc, now),
        names,
        images,
        Value::from(format_labels(&string_map(rc, &["spec", "selector"]))),
    ]
}

pub(super) const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", T::String, "Number of the pod with ready state"),
    col(
        "Up-to-date",
        T::String,
        "Pods running the newest pod template.",
    ),
    col(
        "Available",
        T::String,
        "Pods ready for at least minReadySeconds.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn deployment_row(d: &Value, now: i64) -> Vec<Value> {
    let (names, images) = container_cells(template_spec(d));
    vec![
        Value::from(name(d)),
        Value::from(format!(
            "{}/{}",
            int_at(d, &["status", "readyReplicas"]),
            replicas(d)
        )),
        Value::from(int_at(d, &["status", "updatedReplicas"])),
        Value::from(int_at(d, &["status", "availableReplicas"])),
        age(d, now),
        names,
        images,
        Value::from(selector_string(at(d, &["spec", "selector"]))),
    ]
}

pub(super) const REPLICA_SET_COLUMNS: &[Column] = REPLICATION_CONTROLLER_COLUMNS;

pub(super) fn replica_set_row(rs: &Value, now: i64) -> Vec<Value> {
    let (names, images) = container_cells(template_spec(rs));
    vec![
        Value::from(name(rs)),
        Value::from(replicas(rs)),
        Value::from(int_at(rs, &["status", "replicas"])),
        Value::from(int_at(rs, &["status", "readyReplicas"])),
        age(rs, now),
        names,
        images,
        Value::from(format_label_selector(at(rs, &["spec", "selector"]))),
    ]
}

pub(super) const STATEFUL_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", T::String, "Number of the pod with ready state"),
    AGE,
    CONTAINERS,
    IMAGES,
];

pub(super) fn stateful_set_row(ss: &Value, now: i64) -> Vec<Value> {
    let (names, images) = container_cells(template_spec(ss));
    vec![
        Value::from(name(ss)),
        Value::from(format!(
            "{}/{}",
            int_at(ss, &["status", "readyReplicas"]),
            replicas(ss)
        )),
        age(ss, now),
        names,
        images,
    ]
}

pub(super) const DAEMON_SET_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Desired",
        T::Integer,
        "Nodes that should run the daemon pod.",
    ),
    col(
        "Current",
        T::Integer,
        "Nodes running at least one daemon pod.",
    ),
    col("Ready", T::Integer, "Nodes whose daemon pod is ready."),
    col(
        "Up-to-date",
        T::Integer,
        "Nodes running the newest daemon pod.",
    ),
    col(
        "Available",
        T::Integer,
        "Nodes whose daemon pod is available.",
    ),
    col(
        "Node Selector",
        T::String,
        "The node labels the daemon pods are restricted to.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn daemon_set_row(ds: &Value, now: i64) -> Vec<Value> {
    let (names, images) = container_cells(template_spec(ds));
    let status = |field: &str| Value::from(int_at(ds, &["status", field]));
    vec![
        Value::from(name(ds)),
        status("desiredNumberScheduled"),
        status("currentNumberScheduled"),
        status("numberReady"),
        status("updatedNumberScheduled"),
        status("numberAvailable"),
        Value::from(format_labels(&string_map(
            ds,
            &["spec", "template", "spec", "nodeSelector"],
        ))),
        age(ds, now),
        names,
        images,
        Value::from(format_label_selector(at(ds, &["spec", "selector"]))),
    ]
}

pub(super) const CONTROLLER_REVISION_COLUMNS: &[Column] = &[
    NAME,
    col("Controller", T::String, "Controller of the object"),
    col("Revision", T::String, "The revision number of this state."),
    AGE,
];

pub(super) fn controller_revision_row(cr: &Value, now: i64) -> Vec<Value> {
    let controller = arr_at(cr, &["metadata", "ownerReferences"])
        .iter()
        .find(|r| at(r, &["controller"]).and_then(Value::as_bool) == Some(true))
        .map_or_else(
            || "<none>".to_owned(),
            |r| {
                let kind = str_at(r, &["kind"]);
                let group = str_at(r, &["apiVersion"])
                    .rsplit_once('/')
                    .map_or("", |(g, _)| g);
                let group_kind = if group.is_empty() {
                    kind.to_owned()
                } else {
                    format!("{kind}.{group}")
                };
                if group_kind.is_empty() {
                    str_at(r, &["name"]).to_owned()
                } else {
                    format!("{}/{}", group_kind.to_lowercase(), str_at(r, &["name"]))
                }
            },
        );
    vec![
        Value::from(name(cr)),
        Value::from(controller),
        Value::from(int_at(cr, &["revision"])),
        age(cr, now),
    ]
}

pub(super) const JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Status", T::String, "Status of the job."),
    col(
        "Completions",
        T::String,
        "Succeeded pods out of the completions wanted.",
    ),
    col("Duration", T::String, "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

/// The time between two RFC 3339 fields of `status` (or until now), as a human duration.
fn job_duration(job: &Value, now: i64) -> String {
    let parse = |field: &str| opt_str(job, &["status", field]).and_then(time::parse_rfc3339);
    match (parse("startTime"), parse("completionTime")) {
        (None, _) => String::new(),
        (Some(start), None) => time::human_duration(now.saturating_sub(start)),
        (Some(start), Some(done)) => time::human_duration(done.saturating_sub(start)),
    }
}

pub(super) fn job_row(job: &Value, now: i64) -> Vec<Value> {
    let succeeded = int_at(job, &["status", "succeeded"]);
    let completions = match opt_int(job, &["spec", "completions"]) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int_at(job, &["spec", "parallelism"]) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let conditions = arr_at(job, &["status", "conditions"]);
    let holds = |type_: &str| condition_status(conditions, type_) == Some("True");
    let status = if holds("Complete") {
        "Complete"
    } else if holds("Failed") {
        "Failed"
    } else if deleting(job) {
        "Terminating"
    } else if holds("Suspended") {
        "Suspended"
    } else if holds("FailureTarget") {
        "FailureTarget"
    } else if holds("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let (names, images) = container_cells(template_spec(job));
    vec![
        Value::from(name(job)),
        Value::from(status),
        Value::from(completions),
        Value::from(job_duration(job, now)),
        age(job, now),
        names,
        images,
        Value::from(format_label_selector(at(job, &["spec", "selector"]))),
    ]
}

pub(super) const CRON_JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Schedule", T::String, "The cron schedule."),
    col(
        "Timezone",
        T::String,
        "The time zone the schedule is read in.",
    ),
    col("Suspend", T::Boolean, "Whether new runs are suspended."),
    col("Active", T::Integer, "The number of running jobs."),
    col(
        "Last Schedule",
        T::String,
        "How long ago a job was last scheduled.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn cron_job_row(cj: &Value, now: i64) -> Vec<Value> {
    let last_schedule = match opt_str(cj, &["status", "lastScheduleTime"]) {
        Some(t) => time::age(Some(t), now),
        None => "<none>".to_owned(),
    };
    let job_spec = at(cj, &["spec", "jobTemplate", "spec"]);
    let (names, images) = container_cells(job_spec.and_then(|s| at(s, &["template", "spec"])));
    vec![
        Value::from(name(cj)),
        Value::from(str_at(cj, &["spec", "schedule"])),
        Value::from(opt_str(cj, &["spec", "timeZone"]).unwrap_or("<none>")),
        Value::from(bool_ptr(
            at(cj, &["spec", "suspend"]).and_then(Value::as_bool),
        )),
        Value::from(i64::try_from(arr_at(cj, &["status", "active"]).len()).unwrap_or(i64::MAX)),
        Value::from(last_schedule),
        age(cj, now),
        names,
        images,
        Value::from(format_label_selector(
            job_spec.and_then(|s| at(s, &["selector"])),
        )),
    ]
}

pub(super) const HPA_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Reference",
        T::String,
        "The workload the autoscaler scales.",
    ),
    col(
        "Targets",
        T::String,
        "Current and target values of the metrics scaled on.",
    ),
    col("MinPods", T::String, "The fewest replicas scaled down to."),
    col("MaxPods", T::String, "The most replicas scaled up to."),
    col("Replicas", T::String, "The current number of replicas."),
    AGE,
];

/// A quantity field that Kubernetes holds by pointer: `<nil>` when missing.
fn quantity_ptr(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "<nil>".to_owned(),
        some => quantity(some),
    }
}

/// One metric spec with its status (same index) as `current/target`.
fn format_metric(spec: &Value, status: Option<&Value>) -> String {
    let status_of = |key: &str| status.and_then(|s| s.get(key)).filter(|v| !v.is_null());
    let unknown = || "<unknown>".to_owned();
    match str_at(spec, &["type"]) {
        kind @ ("External" | "Object") => {
            let key = if kind == "External" {
                "external"
            } else {
                "object"
            };
            let target = at(spec, &[key, "target"]);
            let current = status_of(key);
            if let Some(avg) = target.and_then(|t| t.get("averageValue")) {
                let cur = current
                    .and_then(|c| at(c, &["current", "averageValue"]))
                    .map_or_else(unknown, |q| quantity(Some(q)));
                format!("{cur}/{} (avg)", quantity(Some(avg)))
            } else {
                let cur =
                    current.map_or_else(unknown, |c| quantity_ptr(at(c, &["current", "value"])));
                format!(
                    "{cur}/{}",
                    quantity_ptr(target.and_then(|t| t.get("value")))
                )
            }
        }
        "Pods" => {
            let cur = status_of("pods").map_or_else(unknown, |c| {
                quantity_ptr(at(c, &["current", "averageValue"]))
            });
            let target = quantity_ptr(at(spec, &["pods", "target", "averageValue"]));
            format!("{cur}/{target}")
        }
        kind @ ("Resource" | "ContainerResource") => {
            let key = if kind == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let resource = str_at(spec, &[key, "name"]);
            let target = at(spec, &[key, "target"]);
            let current = status_of(key);
            if let Some(avg) = target.and_then(|t| t.get("averageValue")) {
                let cur = current.map_or_else(unknown, |c| {
                    quantity_ptr(at(c, &["current", "averageValue"]))
                });
                format!("{resource}: {cur}/{}", quantity(Some(avg)))
            } else {
                let cur = current
                    .and_then(|c| opt_int(c, &["current", "averageUtilization"]))
                    .map_or_else(unknown, |u| format!("{u}%"));
                let target = target
                    .and_then(|t| opt_int(t, &["averageUtilization"]))
                    .map_or_else(|| "<auto>".to_owned(), |u| format!("{u}%"));
                format!("{resource}: {cur}/{target}")
            }
        }
        _ => "<unknown type>".to_owned(),
    }
}

/// The TARGETS cell: the first two metrics, then ` + N more...`. autoscaling/v1 objects
/// (`targetCPUUtilizationPercentage`) read as the one CPU metric they convert to.
fn format_hpa_metrics(hpa: &Value) -> String {
    const MAX: usize = 2;
    let specs = arr_at(hpa, &["spec", "metrics"]);
    if specs.is_empty() {
        return match opt_int(hpa, &["spec", "targetCPUUtilizationPercentage"]) {
            Some(target) => {
                let current = opt_int(hpa, &["status", "currentCPUUtilizationPercentage"])
                    .map_or_else(|| "<unknown>".to_owned(), |c| format!("{c}%"));
                format!("cpu: {current}/{target}%")
            }
            None => "<none>".to_owned(),
        };
    }
    let statuses = arr_at(hpa, &["status", "currentMetrics"]);
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| format_metric(spec, statuses.get(i)))
        .collect();
    let shown = list[..list.len().min(MAX)].join(", ");
    if list.len() > MAX {
        format!("{shown} + {} more...", list.len() - MAX)
    } else {
        shown
    }
}

pub(super) fn hpa_row(hpa: &Value, now: i64) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        str_at(hpa, &["spec", "scaleTargetRef", "kind"]),
        str_at(hpa, &["spec", "scaleTargetRef", "name"])
    );
    let min_pods = opt_int(hpa, &["spec", "minReplicas"])
        .map_or_else(|| "<unset>".to_owned(), |m| m.to_string());
    vec![
        Value::from(name(hpa)),
        Value::from(reference),
        Value::from(format_hpa_metrics(hpa)),
        Value::from(min_pods),
        Value::from(int_at(hpa, &["spec", "maxReplicas"])),
        Value::from(int_at(hpa, &["status", "currentReplicas"])),
        age(hpa, now),
    ]
}

pub(super) const PDB_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Min Available",
        T::String,
        "The minimum number of pods that must be available.",
    ),
    col(
        "Max Unavailable",
        T::String,
        "The maximum number of pods that may be unavailable.",
    ),
    col(
        "Allowed Disruptions",
        T::Integer,
        "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE,
];

/// An int-or-string field as text, `N/A` when missing.
fn int_or_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "N/A".to_owned(),
    }
}

pub(super) fn pdb_row(pdb: &Value, now: i64) -> Vec<Value> {
    vec![
        Value::from(name(pdb)),
        Value::from(int_or_string(at(pdb, &["spec", "minAvailable"]))),
        Value::from(int_or_string(at(pdb, &["spec", "maxUnavailable"]))),
        Value::from(int_at(pdb, &["status", "disruptionsAllowed"])),
        age(pdb, now),
    ]
}

#[cfg(test)]
mod tests;
