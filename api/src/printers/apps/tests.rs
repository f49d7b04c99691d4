//! Tests of the apps printers: realistic objects and the exact cells Kubernetes shows.

use super::*;
use serde_json::json;

/// 2024-01-10T00:00:00Z.
const NOW: i64 = 1_704_844_800;

fn template() -> Value {
    json!({"spec": {"containers": [{"name": "app", "image": "nginx:1.25"},
                                   {"name": "log", "image": "busybox"}]}})
}

#[test]
fn deployment() {
    let d = json!({
        "metadata": {"name": "web", "creationTimestamp": "2024-01-09T23:54:58Z"},
        "spec": {"replicas": 3, "template": template(),
                 "selector": {"matchLabels": {"app": "web"}}},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    });
    assert_eq!(
        deployment_row(&d, NOW),
        [
            json!("web"),
            json!("2/3"),
            json!(3),
            json!(2),
            json!("5m2s"),
            json!("app,log"),
            json!("nginx:1.25,busybox"),
            json!("app=web"),
        ]
    );
    let fresh = json!({"metadata": {"name": "x"}, "spec": {}});
    let cells = deployment_row(&fresh, NOW);
    assert_eq!(&cells[1..4], [json!("0/1"), json!(0), json!(0)]);
    assert_eq!(cells[7], json!(""));
}

#[test]
fn replica_set_and_replication_controller() {
    let rs = json!({
        "metadata": {"name": "web-5d8f"},
        "spec": {"replicas": 2, "template": template(),
                 "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d8f"}}},
        "status": {"replicas": 2, "readyReplicas": 1}
    });
    assert_eq!(
        replica_set_row(&rs, NOW),
        [
            json!("web-5d8f"),
            json!(2),
            json!(2),
            json!(1),
            json!("<unknown>"),
            json!("app,log"),
            json!("nginx:1.25,busybox"),
            json!("app=web,pod-template-hash=5d8f"),
        ]
    );
    let rc =
        json!({"metadata": {"name": "old"}, "spec": {"replicas": 0, "selector": {"app": "old"}}});
    assert_eq!(
        replication_controller_row(&rc, NOW),
        [
            json!("old"),
            json!(0),
            json!(0),
            json!(0),
            json!("<unknown>"),
            json!(""),
            json!(""),
            json!("app=old"),
        ]
    );
}

#[test]
fn stateful_and_daemon_sets() {
    let ss = json!({"metadata": {"name": "db"}, "spec": {"replicas": 3, "template": template()},
                    "status": {"readyReplicas": 3}});
    assert_eq!(
        stateful_set_row(&ss, NOW),
        [
            json!("db"),
            json!("3/3"),
            json!("<unknown>"),
            json!("app,log"),
            json!("nginx:1.25,busybox")
        ]
    );
    let ds = json!({
        "metadata": {"name": "proxy"},
        "spec": {"selector": {"matchLabels": {"k8s-app": "proxy"}},
                 "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                       "containers": [{"name": "proxy", "image": "rkube"}]}}},
        "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                   "updatedNumberScheduled": 3, "numberAvailable": 2}
    });
    assert_eq!(
        daemon_set_row(&ds, NOW),
        [
            json!("proxy"),
            json!(3),
            json!(3),
            json!(2),
            json!(3),
            json!(2),
            json!("kubernetes.io/os=linux"),
            json!("<unknown>"),
            json!("proxy"),
            json!("rkube"),
            json!("k8s-app=proxy"),
        ]
    );
}

#[test]
fn controller_revisions() {
    let cr = json!({
        "metadata": {"name": "db-7b9f", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": true}]},
        "revision": 2
    });
    assert_eq!(
        controller_revision_row(&cr, NOW),
        [
            json!("db-7b9f"),
            json!("statefulset.apps/db"),
            json!(2),
            json!("<unknown>")
        ]
    );
    let orphan = json!({"metadata": {"name": "x"}, "revision": 1});
    assert_eq!(controller_revision_row(&orphan, NOW)[1], json!("<none>"));
}

#[test]
fn jobs() {
    let done = json!({
        "metadata": {"name": "pi", "creationTimestamp": "2024-01-09T23:00:00Z"},
        "spec": {"completions": 1, "parallelism": 1, "template": template(),
                 "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}}},
        "status": {"succeeded": 1, "startTime": "2024-01-09T23:00:00Z",
                   "completionTime": "2024-01-09T23:00:42Z",
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                  {"type": "Complete", "status": "True"}]}
    });
    assert_eq!(
        job_row(&done, NOW),
        [
            json!("pi"),
            json!("Complete"),
            json!("1/1"),
            json!("42s"),
            json!("60m"),
            json!("app,log"),
            json!("nginx:1.25,busybox"),
            json!("batch.kubernetes.io/controller-uid=abc"),
        ]
    );
    let running = json!({"spec": {"parallelism": 3},
                         "status": {"startTime": "2024-01-09T23:57:00Z", "active": 3}});
    let cells = job_row(&running, NOW);
    assert_eq!(
        &cells[1..4],
        [json!("Running"), json!("0/1 of 3"), json!("3m")]
    );
    let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True"}]}});
    assert_eq!(
        &job_row(&failed, NOW)[1..4],
        [json!("Failed"), json!("0/1"), json!("")]
    );
    let suspended = json!({"status": {"conditions": [{"type": "Suspended", "status": "True"}]}});
    assert_eq!(job_row(&suspended, NOW)[1], json!("Suspended"));
    let deleting = json!({"metadata": {"deletionTimestamp": "2024-01-09T23:00:00Z"}});
    assert_eq!(job_row(&deleting, NOW)[1], json!("Terminating"));
}

#[test]
fn cron_jobs() {
    let cj = json!({
        "metadata": {"name": "backup", "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"schedule": "*/5 * * * *", "suspend": false,
                 "jobTemplate": {"spec": {"template": template()}}},
        "status": {"active": [{"name": "backup-1"}], "lastScheduleTime": "2024-01-09T23:55:00Z"}
    });
    assert_eq!(
        cron_job_row(&cj, NOW),
        [
            json!("backup"),
            json!("*/5 * * * *"),
            json!("<none>"),
            json!("False"),
            json!(1),
            json!("5m"),
            json!("9d"),
            json!("app,log"),
            json!("nginx:1.25,busybox"),
            json!("<none>"),
        ]
    );
    let never = json!({"spec": {"schedule": "@daily", "timeZone": "Europe/Paris"}});
    let cells = cron_job_row(&never, NOW);
    assert_eq!(
        &cells[2..6],
        [
            json!("Europe/Paris"),
            json!("<unset>"),
            json!(0),
            json!("<none>")
        ]
    );
}

#[test]
fn horizontal_pod_autoscalers_v2() {
    let hpa = json!({
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
                 "minReplicas": 1, "maxReplicas": 10,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                              "target": {"type": "Utilization", "averageUtilization": 50}}}]},
        "status": {"currentReplicas": 2,
                   "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                                       "current": {"averageUtilization": 12, "averageValue": "60m"}}}]}
    });
    assert_eq!(
        hpa_row(&hpa, NOW),
        [
            json!("web"),
            json!("Deployment/web"),
            json!("cpu: 12%/50%"),
            json!("1"),
            json!(10),
            json!(2),
            json!("<unknown>"),
        ]
    );
    let fresh = json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
    "maxReplicas": 5,
    "metrics": [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"averageUtilization": 50}}},
        {"type": "Resource", "resource": {"name": "memory", "target": {"averageValue": "512Mi"}}},
        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"averageValue": "1k"}}}
    ]}});
    let cells = hpa_row(&fresh, NOW);
    assert_eq!(
        cells[2],
        json!("cpu: <unknown>/50%, memory: <unknown>/512Mi + 1 more...")
    );
    assert_eq!(cells[3], json!("<unset>"));
    let external = json!({"spec": {"metrics": [
        {"type": "External", "external": {"target": {"value": "100"}}},
        {"type": "Object", "object": {"target": {"averageValue": "2"}}}
    ]}, "status": {"currentMetrics": [
        {"type": "External", "external": {"current": {"value": "30"}}},
        {"type": "Object", "object": {"current": {"averageValue": "1500m"}}}
    ]}});
    assert_eq!(hpa_row(&external, NOW)[2], json!("30/100, 1500m/2 (avg)"));
    assert_eq!(hpa_row(&json!({}), NOW)[2], json!("<none>"));
}

#[test]
fn horizontal_pod_autoscalers_v1() {
    let hpa = json!({
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "php"},
                 "minReplicas": 1, "maxReplicas": 10, "targetCPUUtilizationPercentage": 50},
        "status": {"currentReplicas": 1, "currentCPUUtilizationPercentage": 250}
    });
    assert_eq!(hpa_row(&hpa, NOW)[2], json!("cpu: 250%/50%"));
    let fresh = json!({"spec": {"targetCPUUtilizationPercentage": 80}});
    assert_eq!(hpa_row(&fresh, NOW)[2], json!("cpu: <unknown>/80%"));
}

#[test]
fn pod_disruption_budgets() {
    let pdb = json!({"metadata": {"name": "zk"}, "spec": {"minAvailable": 2},
                     "status": {"disruptionsAllowed": 1}});
    assert_eq!(
        pdb_row(&pdb, NOW),
        [
            json!("zk"),
            json!("2"),
            json!("N/A"),
            json!(1),
            json!("<unknown>")
        ]
    );
    let pct = json!({"spec": {"maxUnavailable": "25%"}});
    assert_eq!(&pdb_row(&pct, NOW)[1..3], [json!("N/A"), json!("25%")]);
}
