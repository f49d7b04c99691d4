//! HorizontalPodAutoscalers (autoscaling/v2): reference, metrics current against target,
//! replica bounds, conditions.

use serde_json::Value;

use super::kinds::{labels_annotations, timestamp};
use super::{s, Writer};

fn current_resource<'a>(status: &'a Value, name: &str) -> Option<&'a Value> {
    status
        .get("currentMetrics")
        .and_then(Value::as_array)?
        .iter()
        .find(|m| s(m, "/type") == "Resource" && s(m, "/resource/name") == name)
        .and_then(|m| m.pointer("/resource/current"))
}

fn metric_line(w: &mut Writer, m: &Value, status: &Value) {
    match s(m, "/type") {
        "Resource" => {
            let name = s(m, "/resource/name");
            let target = m.pointer("/resource/target").unwrap_or(&Value::Null);
            let current = current_resource(status, name);
            if let Some(u) = target.get("averageUtilization").and_then(Value::as_i64) {
                let now = match current {
                    Some(c) => format!(
                        "{}% ({})",
                        c.get("averageUtilization")
                            .and_then(Value::as_i64)
                            .unwrap_or(0),
                        c.get("averageValue")
                            .map(super::pod::quantity)
                            .unwrap_or_else(|| "0".into())
                    ),
                    None => "<unknown>".into(),
                };
                w.line(
                    1,
                    &format!(
                        "resource {name} on pods  (as a percentage of request):\t{now} / {u}%"
                    ),
                );
            } else {
                let want = target
                    .get("averageValue")
                    .map(super::pod::quantity)
                    .unwrap_or_default();
                let now = current
                    .and_then(|c| c.get("averageValue"))
                    .map(super::pod::quantity)
                    .unwrap_or_else(|| "<unknown>".into());
                w.line(1, &format!("resource {name} on pods:\t{now} / {want}"));
            }
        }
        "Pods" => {
            let name = s(m, "/pods/metric/name");
            let want = m
                .pointer("/pods/target/averageValue")
                .map(super::pod::quantity)
                .unwrap_or_default();
            w.line(1, &format!("\"{name}\" on pods:\t<unknown> / {want}"));
        }
        other => w.line(1, &format!("{other} metric:\t<unknown>")),
    }
}

/// A whole autoscaler.
pub fn hpa(w: &mut Writer, obj: &Value) {
    w.field(0, "Name", s(obj, "/metadata/name"));
    w.field(0, "Namespace", s(obj, "/metadata/namespace"));
    labels_annotations(w, obj);
    w.field(
        0,
        "CreationTimestamp",
        &timestamp(s(obj, "/metadata/creationTimestamp")),
    );
    let target_kind = s(obj, "/spec/scaleTargetRef/kind");
    w.field(
        0,
        "Reference",
        &format!("{target_kind}/{}", s(obj, "/spec/scaleTargetRef/name")),
    );
    let status = obj.get("status").unwrap_or(&Value::Null);
    w.field(0, "Metrics", "( current / target )");
    for m in obj
        .pointer("/spec/metrics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        metric_line(w, m, status);
    }
    let min = obj
        .pointer("/spec/minReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    w.field(0, "Min replicas", &min.to_string());
    w.field(
        0,
        "Max replicas",
        &obj.pointer("/spec/maxReplicas")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .to_string(),
    );
    let n = |k: &str| status.get(k).and_then(Value::as_i64).unwrap_or(0);
    w.field(
        0,
        &format!("{target_kind} pods"),
        &format!(
            "{} current / {} desired",
            n("currentReplicas"),
            n("desiredReplicas")
        ),
    );
    if let Some(conditions) = status
        .get("conditions")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
    {
        w.line(0, "Conditions:");
        w.line(1, "Type\tStatus\tReason\tMessage");
        w.line(1, "----\t------\t------\t-------");
        for c in conditions {
            w.line(
                1,
                &format!(
                    "{}\t{}\t{}\t{}",
                    s(c, "/type"),
                    s(c, "/status"),
                    s(c, "/reason"),
                    s(c, "/message")
                ),
            );
        }
    }
}
