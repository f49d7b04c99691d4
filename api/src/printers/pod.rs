//! The Pod printer: READY, the STATUS kubectl computes from container states, RESTARTS.

use serde_json::Value;

use super::cells::{arr_at, at, condition_status, int_at, name, opt_str, str_at};
use super::{col, time, wide, Column, ColumnType as T, AGE, NAME};

pub(super) const COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        T::String,
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    col(
        "Status",
        T::String,
        "The aggregate status of the containers in this pod.",
    ),
    col(
        "Restarts",
        T::String,
        "How many times the pod's containers restarted, and how long ago the last restart was.",
    ),
    AGE,
    wide("IP", T::String, "The pod's first IP address."),
    wide("Node", T::String, "The node the pod is bound to."),
    wide(
        "Nominated Node",
        T::String,
        "The node a preempting pod is expected to land on.",
    ),
    wide(
        "Readiness Gates",
        T::String,
        "How many of the pod's readiness gates hold.",
    ),
];

/// The reason the node controller sets on pods of an unreachable node.
const NODE_UNREACHABLE_REASON: &str = "NodeLost";

/// A container's `lastState.terminated.finishedAt`, if any.
fn last_termination(status: &Value) -> Option<i64> {
    opt_str(status, &["lastState", "terminated", "finishedAt"]).and_then(time::parse_rfc3339)
}

/// Whether an init container is a sidecar (`restartPolicy: Always`).
fn restartable(init_containers: &[Value], name: &str) -> bool {
    init_containers
        .iter()
        .find(|c| str_at(c, &["name"]) == name)
        .is_some_and(|c| str_at(c, &["restartPolicy"]) == "Always")
}

/// The reason text of a terminated state without a reason: `Signal:N` or `ExitCode:N`.
fn terminated_reason(terminated: &Value, prefix: &str) -> String {
    let reason = str_at(terminated, &["reason"]);
    if !reason.is_empty() {
        return format!("{prefix}{reason}");
    }
    let signal = int_at(terminated, &["signal"]);
    if signal != 0 {
        format!("{prefix}Signal:{signal}")
    } else {
        format!("{prefix}ExitCode:{}", int_at(terminated, &["exitCode"]))
    }
}

pub(super) fn row(pod: &Value, now: i64) -> Vec<Value> {
    let spec_init = arr_at(pod, &["spec", "initContainers"]);
    let phase = str_at(pod, &["status", "phase"]);
    let conditions = arr_at(pod, &["status", "conditions"]);
    let mut total = arr_at(pod, &["spec", "containers"]).len();
    total += spec_init
        .iter()
        .filter(|c| str_at(c, &["restartPolicy"]) == "Always")
        .count();
    let mut ready = 0;
    let mut restarts: i64 = 0;
    let mut sidecar_restarts: i64 = 0;
    let mut last_restart: Option<i64> = None;
    let mut last_sidecar_restart: Option<i64> = None;

    let mut reason = match str_at(pod, &["status", "reason"]) {
        "" => phase.to_owned(),
        r => r.to_owned(),
    };
    if conditions.iter().any(|c| {
        str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated"
    }) {
        reason = "SchedulingGated".to_owned();
    }

    let mut initializing = false;
    for (i, status) in arr_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        restarts = restarts.saturating_add(int_at(status, &["restartCount"]));
        let finished = last_termination(status);
        last_restart = last_restart.max(finished);
        let sidecar = restartable(spec_init, str_at(status, &["name"]));
        if sidecar {
            sidecar_restarts = sidecar_restarts.saturating_add(int_at(status, &["restartCount"]));
            last_sidecar_restart = last_sidecar_restart.max(finished);
        }
        let terminated = at(status, &["state", "terminated"]);
        let waiting_reason = str_at(status, &["state", "waiting", "reason"]);
        if terminated.is_some_and(|t| int_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if sidecar && at(status, &["started"]).and_then(Value::as_bool) == Some(true) {
            if at(status, &["ready"]).and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            terminated_reason(t, "Init:")
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", spec_init.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_status(conditions, "Initialized") == Some("True") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        let mut error_reason = String::new();
        for status in arr_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts = restarts.saturating_add(int_at(status, &["restartCount"]));
            last_restart = last_restart.max(last_termination(status));
            let waiting_reason = str_at(status, &["state", "waiting", "reason"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_owned();
            } else if let Some(t) = at(status, &["state", "terminated"]) {
                reason = terminated_reason(t, "");
                if int_at(t, &["exitCode"]) != 0 {
                    error_reason.clone_from(&reason);
                }
            } else if at(status, &["ready"]).and_then(Value::as_bool) == Some(true)
                && at(status, &["state", "running"]).is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        // A pod whose containers completed but one still runs is shown by that one.
        if reason == "Completed" {
            if has_running && condition_status(conditions, "Ready") == Some("True") {
                reason = "Running".to_owned();
            } else if !error_reason.is_empty() {
                reason = error_reason;
            } else if has_running {
                reason = "NotReady".to_owned();
            }
        }
    }

    let deleting = super::cells::deleting(pod);
    if deleting && str_at(pod, &["status", "reason"]) == NODE_UNREACHABLE_REASON {
        reason = "Unknown".to_owned();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_owned();
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => {
            format!(
                "{restarts} ({} ago)",
                time::human_duration(now.saturating_sub(t))
            )
        }
        _ => restarts.to_string(),
    };

    let none_if_empty = |s: &str| {
        if s.is_empty() {
            "<none>".to_owned()
        } else {
            s.to_owned()
        }
    };
    // Objects written without `podIPs` read as if it held `podIP`, as the API server
    // converts them.
    let ip = arr_at(pod, &["status", "podIPs"])
        .first()
        .map_or_else(|| str_at(pod, &["status", "podIP"]), |p| str_at(p, &["ip"]));
    let gates = arr_at(pod, &["spec", "readinessGates"]);
    let gates_cell = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let holding = gates
            .iter()
            .filter(|g| condition_status(conditions, str_at(g, &["conditionType"])) == Some("True"))
            .count();
        format!("{holding}/{}", gates.len())
    };

    vec![
        Value::from(name(pod)),
        Value::from(format!("{ready}/{total}")),
        Value::from(reason),
        Value::from(restarts_cell),
        super::cells::age(pod, now),
        Value::from(none_if_empty(ip)),
        Value::from(none_if_empty(str_at(pod, &["spec", "nodeName"]))),
        Value::from(none_if_empty(str_at(pod, &["status", "nominatedNodeName"]))),
        Value::from(gates_cell),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2024-01-10T00:00:00Z.
    const NOW: i64 = 1_704_844_800;

    fn cells(pod: &Value) -> Vec<String> {
        row(pod, NOW)
            .into_iter()
            .map(|v| v.as_str().expect("string cell").to_owned())
            .collect()
    }

    fn status_of(pod: Value) -> String {
        cells(&pod)[2].clone()
    }

    #[test]
    fn running_pod_with_a_restart() {
        let pod = json!({
            "metadata": {"name": "web-7d9c", "creationTimestamp": "2024-01-09T21:00:00Z"},
            "spec": {"nodeName": "node-1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {
                "phase": "Running",
                "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}],
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                    {"name": "b", "ready": false, "restartCount": 5,
                     "state": {"running": {}},
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-09T23:55:00Z"}}}
                ]
            }
        });
        assert_eq!(
            cells(&pod),
            [
                "web-7d9c",
                "1/2",
                "Running",
                "5 (5m ago)",
                "3h",
                "10.244.1.5",
                "node-1",
                "<none>",
                "<none>"
            ]
        );
    }

    #[test]
    fn pending_pod_without_statuses() {
        let pod = json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending"}
        });
        assert_eq!(
            cells(&pod),
            [
                "p",
                "0/1",
                "Pending",
                "0",
                "<unknown>",
                "<none>",
                "<none>",
                "<none>",
                "<none>"
            ]
        );
    }

    #[test]
    fn waiting_reasons_win() {
        for reason in ["ContainerCreating", "CrashLoopBackOff", "ImagePullBackOff"] {
            let pod = json!({
                "spec": {"containers": [{"name": "a"}]},
                "status": {"phase": "Pending", "containerStatuses": [
                    {"name": "a", "state": {"waiting": {"reason": reason}}}
                ]}
            });
            assert_eq!(status_of(pod), reason);
        }
    }

    #[test]
    fn terminated_containers() {
        let completed = json!({
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Succeeded", "containerStatuses": [
                {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ]}
        });
        assert_eq!(status_of(completed), "Completed");
        let signal = json!({
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Failed", "containerStatuses": [
                {"name": "a", "state": {"terminated": {"exitCode": 137, "signal": 9}}}
            ]}
        });
        assert_eq!(status_of(signal), "Signal:9");
        let exit = json!({
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Failed", "containerStatuses": [
                {"name": "a", "state": {"terminated": {"exitCode": 2}}}
            ]}
        });
        assert_eq!(status_of(exit), "ExitCode:2");
    }

    #[test]
    fn completed_with_a_running_container() {
        let pod = |ready_condition: &str| {
            json!({
                "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
                "status": {"phase": "Running",
                    "conditions": [{"type": "Ready", "status": ready_condition}],
                    "containerStatuses": [
                        {"name": "a", "ready": true, "state": {"running": {}}},
                        {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
                    ]}
            })
        };
        // Statuses are walked from the last, so the first container's running state comes
        // last and "Completed" from the second is what remains to be corrected.
        assert_eq!(status_of(pod("True")), "Running");
        assert_eq!(status_of(pod("False")), "NotReady");
    }

    #[test]
    fn init_containers() {
        let base = |statuses: Value| {
            json!({
                "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}],
                         "containers": [{"name": "a"}]},
                "status": {"phase": "Pending", "initContainerStatuses": statuses,
                           "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "PodInitializing"}}}]}
            })
        };
        let running_second = base(json!([
            {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
            {"name": "i2", "state": {"running": {}}}
        ]));
        assert_eq!(status_of(running_second), "Init:1/2");
        let failed = base(json!([
            {"name": "i1", "restartCount": 3, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
        ]));
        assert_eq!(status_of(failed.clone()), "Init:Error");
        assert_eq!(cells(&failed)[3], "3");
        let backoff = base(json!([
            {"name": "i1", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
        ]));
        assert_eq!(status_of(backoff), "Init:CrashLoopBackOff");
        let initializing = base(json!([
            {"name": "i1", "state": {"waiting": {"reason": "PodInitializing"}}}
        ]));
        assert_eq!(status_of(initializing), "Init:0/2");
        let exit_code = base(json!([
            {"name": "i1", "state": {"terminated": {"exitCode": 3}}}
        ]));
        assert_eq!(status_of(exit_code), "Init:ExitCode:3");
    }

    #[test]
    fn sidecars_count_as_containers() {
        let pod = json!({
            "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
                     "containers": [{"name": "a"}]},
            "status": {"phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}],
                "initContainerStatuses": [
                    {"name": "proxy", "started": true, "ready": true, "restartCount": 2,
                     "state": {"running": {}},
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-09T23:00:00Z"}}}
                ],
                "containerStatuses": [{"name": "a", "ready": true, "state": {"running": {}}}]}
        });
        let c = cells(&pod);
        assert_eq!(&c[1..4], ["2/2", "Running", "2 (60m ago)"]);
    }

    #[test]
    fn deleting_pods() {
        let terminating = json!({
            "metadata": {"deletionTimestamp": "2024-01-09T23:59:00Z"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running"}
        });
        assert_eq!(status_of(terminating), "Terminating");
        let lost = json!({
            "metadata": {"deletionTimestamp": "2024-01-09T23:59:00Z"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "reason": "NodeLost"}
        });
        assert_eq!(status_of(lost), "Unknown");
        let finished = json!({
            "metadata": {"deletionTimestamp": "2024-01-09T23:59:00Z"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Succeeded"}
        });
        assert_eq!(status_of(finished), "Succeeded");
    }

    #[test]
    fn scheduling_gated_and_evicted() {
        let gated = json!({
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}
        });
        assert_eq!(status_of(gated), "SchedulingGated");
        let evicted = json!({
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Failed", "reason": "Evicted"}
        });
        assert_eq!(status_of(evicted), "Evicted");
    }

    #[test]
    fn wide_columns() {
        let pod = json!({
            "spec": {"containers": [{"name": "a"}], "nodeName": "n1",
                     "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "x/y"}]},
            "status": {"phase": "Running", "nominatedNodeName": "n2",
                       "conditions": [{"type": "example.com/lb", "status": "True"}]}
        });
        assert_eq!(&cells(&pod)[5..], ["<none>", "n1", "n2", "1/2"]);
        let old_style = json!({"status": {"podIP": "10.244.0.9"}});
        assert_eq!(cells(&old_style)[5], "10.244.0.9");
    }
}
