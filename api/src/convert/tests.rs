//! Tests of the conversion entry points: dispatch, errors, and whole autoscalers both ways.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use serde_json::{json, Value};

use super::*;

/// An `autoscaling/v2` autoscaler as stored: defaulted, with a status from the controller.
fn hpa_v2() -> Value {
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop", "uid": "8d1f5c2a-0000-4000-8000-00000000000a",
            "resourceVersion": "9151", "generation": 3,
            "creationTimestamp": "2026-11-23T08:00:00Z",
            "labels": {"app": "web"}, "annotations": {"team": "payments"}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {"type": "Resource", "resource": {"name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "512Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "packets-per-second"},
                    "target": {"type": "AverageValue", "averageValue": "1k"}}},
                {"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 65}}}
            ],
            "behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
            }
        },
        "status": {
            "observedGeneration": 3,
            "lastScaleTime": "2026-11-23T09:30:00Z",
            "currentReplicas": 4,
            "desiredReplicas": 5,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "memory",
                    "current": {"averageValue": "420Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "packets-per-second"},
                    "current": {"averageValue": "870"}}},
                {"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": 71, "averageValue": "355m"}}}
            ],
            "conditions": [
                {"type": "AbleToScale", "status": "True",
                    "lastTransitionTime": "2026-11-23T08:00:30Z", "reason": "ReadyForNewScale",
                    "message": "recommended size matches current size"},
                {"type": "ScalingActive", "status": "True",
                    "lastTransitionTime": "2026-11-23T08:00:30Z", "reason": "ValidMetricFound",
                    "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
                {"type": "ScalingLimited", "status": "False",
                    "lastTransitionTime": "2026-11-23T08:00:30Z", "reason": "DesiredWithinRange",
                    "message": "the desired count is within the acceptable range"}
            ]
        }
    })
}

/// [`hpa_v2`] as `autoscaling/v1` serves it, annotations parsed (see [`parse_annotations`]).
fn hpa_v1_parsed() -> Value {
    let v2 = hpa_v2();
    json!({
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop", "uid": "8d1f5c2a-0000-4000-8000-00000000000a",
            "resourceVersion": "9151", "generation": 3,
            "creationTimestamp": "2026-11-23T08:00:00Z",
            "labels": {"app": "web"}, "annotations": {
                "team": "payments",
                METRICS_ANNOTATION: [
                    {"type": "Resource", "resource": {"name": "memory",
                        "targetAverageValue": "512Mi"}},
                    {"type": "Pods", "pods": {"metricName": "packets-per-second",
                        "targetAverageValue": "1k"}}
                ],
                BEHAVIOR_ANNOTATION: {
                    "ScaleUp": {"StabilizationWindowSeconds": 0, "SelectPolicy": "Max",
                        "Tolerance": null, "Policies": [
                        {"Type": "Pods", "Value": 4, "PeriodSeconds": 15},
                        {"Type": "Percent", "Value": 100, "PeriodSeconds": 15}]},
                    "ScaleDown": {"StabilizationWindowSeconds": 300, "SelectPolicy": "Max",
                        "Tolerance": null,
                        "Policies": [{"Type": "Percent", "Value": 100, "PeriodSeconds": 15}]}
                },
                CURRENT_METRICS_ANNOTATION: [
                    {"type": "Resource", "resource": {"name": "memory",
                        "currentAverageValue": "420Mi"}},
                    {"type": "Pods", "pods": {"metricName": "packets-per-second",
                        "currentAverageValue": "870"}},
                    {"type": "Resource", "resource": {"name": "cpu",
                        "currentAverageUtilization": 71, "currentAverageValue": "355m"}}
                ],
                CONDITIONS_ANNOTATION: v2["status"]["conditions"]
            }},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
            "targetCPUUtilizationPercentage": 65
        },
        "status": {
            "observedGeneration": 3,
            "lastScaleTime": "2026-11-23T09:30:00Z",
            "currentReplicas": 4,
            "desiredReplicas": 5,
            "currentCPUUtilizationPercentage": 71
        }
    })
}

/// `obj` with its round-trip annotations parsed from their JSON text, to compare them as data.
fn parse_annotations(mut obj: Value) -> Value {
    if let Some(Value::Object(annotations)) = obj.pointer_mut("/metadata/annotations") {
        for key in [
            METRICS_ANNOTATION,
            CURRENT_METRICS_ANNOTATION,
            CONDITIONS_ANNOTATION,
            BEHAVIOR_ANNOTATION,
        ] {
            if let Some(Value::String(text)) = annotations.get(key) {
                let parsed: Value = serde_json::from_str(text).unwrap();
                annotations.insert(key.to_owned(), parsed);
            }
        }
    }
    obj
}

/// `obj` with its parsed round-trip annotations written back as JSON text.
fn serialize_annotations(mut obj: Value) -> Value {
    if let Some(Value::Object(annotations)) = obj.pointer_mut("/metadata/annotations") {
        for value in annotations.values_mut() {
            if !value.is_string() {
                *value = gojson::to_string(value).into();
            }
        }
    }
    obj
}

#[test]
fn storage_versions() {
    assert_eq!(
        storage_version("autoscaling", "HorizontalPodAutoscaler"),
        Some(("autoscaling", "v2"))
    );
    assert_eq!(storage_version("", "Event"), Some(("", "v1")));
    assert_eq!(storage_version("events.k8s.io", "Event"), Some(("", "v1")));
    assert_eq!(storage_version("", "Pod"), None);
    assert_eq!(storage_version("apps", "Deployment"), None);
    assert_eq!(storage_version("autoscaling", "Event"), None);
}

#[test]
fn errors_say_what_failed() {
    let err = convert(&json!([1]), "", "v1").unwrap_err();
    assert_eq!(err, ConvertError::NotAnObject);
    assert_eq!(
        err.to_string(),
        "failed to convert: the object is not a JSON object"
    );

    let err = convert(&json!({"kind": "Event"}), "", "v1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to convert: the object has no apiVersion"
    );
    let err = convert(&json!({"apiVersion": "v1", "kind": ""}), "", "v1").unwrap_err();
    assert_eq!(err.to_string(), "failed to convert: the object has no kind");

    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
    let err = convert(&pod, "apps", "v1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to convert Pod from v1 to apps/v1: no conversion between these versions"
    );
    let err = convert(&hpa_v2(), "autoscaling", "v2beta2").unwrap_err();
    assert_eq!(
        err,
        ConvertError::Unsupported {
            kind: "HorizontalPodAutoscaler".into(),
            from: "autoscaling/v2".into(),
            to: "autoscaling/v2beta2".into()
        }
    );
    let event = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event"});
    let err = convert(&event, "events.k8s.io", "v1beta1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to convert Event from events.k8s.io/v1 to events.k8s.io/v1beta1: \
         no conversion between these versions"
    );
}

#[test]
fn same_version_is_identity() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    assert_eq!(convert(&pod, "", "v1").unwrap(), pod);
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d"}});
    assert_eq!(convert(&deployment, "apps", "v1").unwrap(), deployment);
    assert_eq!(convert(&hpa_v2(), "autoscaling", "v2").unwrap(), hpa_v2());
    let v1 = serialize_annotations(hpa_v1_parsed());
    assert_eq!(convert(&v1, "autoscaling", "v1").unwrap(), v1);
}

#[test]
fn v2_loses_stale_round_trip_annotations() {
    let mut hpa = hpa_v2();
    hpa["metadata"]["annotations"] = json!({METRICS_ANNOTATION: "[]", "team": "payments"});
    assert_eq!(convert(&hpa, "autoscaling", "v2").unwrap(), hpa_v2());
    hpa["metadata"]["annotations"] = json!({BEHAVIOR_ANNOTATION: "{}"});
    let out = convert(&hpa, "autoscaling", "v2").unwrap();
    assert_eq!(out["metadata"].get("annotations"), None);
}

#[test]
fn hpa_v2_to_v1() {
    let v1 = convert(&hpa_v2(), "autoscaling", "v1").unwrap();
    assert_eq!(parse_annotations(v1.clone()), hpa_v1_parsed());
    // The annotations are JSON text, fields in Go's order.
    assert_eq!(
        v1["metadata"]["annotations"][METRICS_ANNOTATION],
        r#"[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"512Mi"}},{"type":"Pods","pods":{"metricName":"packets-per-second","targetAverageValue":"1k"}}]"#
    );
}

#[test]
fn hpa_v1_to_v2() {
    let v1 = serialize_annotations(hpa_v1_parsed());
    assert_eq!(convert(&v1, "autoscaling", "v2").unwrap(), hpa_v2());
}

#[test]
fn hpa_round_trips_keep_everything() {
    let v2 = hpa_v2();
    let v1 = convert(&v2, "autoscaling", "v1").unwrap();
    assert_eq!(convert(&v1, "autoscaling", "v2").unwrap(), v2);

    let v1 = serialize_annotations(hpa_v1_parsed());
    let v2 = convert(&v1, "autoscaling", "v2").unwrap();
    assert_eq!(convert(&v2, "autoscaling", "v1").unwrap(), v1);
}

#[test]
fn round_trip_of_every_metric_kind() {
    let v2 = json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "worker", "namespace": "jobs"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "worker"},
            "minReplicas": 1, "maxReplicas": 30,
            "metrics": [
                {"type": "ContainerResource", "containerResource": {"name": "cpu",
                    "container": "app", "target": {"type": "Utilization", "averageUtilization": 60}}},
                {"type": "Object", "object": {
                    "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                        "name": "main-route"},
                    "metric": {"name": "requests-per-second",
                        "selector": {"matchLabels": {"verb": "GET"}}},
                    "target": {"type": "AverageValue", "averageValue": "2k"}}},
                {"type": "External", "external": {
                    "metric": {"name": "queue_messages_ready",
                        "selector": {"matchLabels": {"queue": "worker_tasks"}}},
                    "target": {"type": "Value", "value": "30"}}},
                {"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "AverageValue", "averageValue": "500m"}}}
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600, "tolerance": "50m",
                "selectPolicy": "Disabled"}}
        },
        "status": {"currentReplicas": 3, "desiredReplicas": 3, "currentMetrics": [
            {"type": "External", "external": {"metric": {"name": "queue_messages_ready",
                "selector": {"matchLabels": {"queue": "worker_tasks"}}},
                "current": {"value": "12", "averageValue": "4"}}},
            {"type": "Object", "object": {
                "describedObject": {"kind": "Ingress", "name": "main-route"},
                "metric": {"name": "requests-per-second"}, "current": {"value": "5k"}}}
        ]}
    });
    let v1 = convert(&v2, "autoscaling", "v1").unwrap();
    // A CPU target by average value is no CPU utilization: it travels in the annotation.
    assert_eq!(v1["spec"].get("targetCPUUtilizationPercentage"), None);
    assert_eq!(v1["status"].get("currentCPUUtilizationPercentage"), None);
    assert_eq!(
        v1["spec"],
        json!({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "name": "worker"}, "minReplicas": 1, "maxReplicas": 30})
    );
    let annotations = &parse_annotations(v1.clone())["metadata"]["annotations"];
    assert_eq!(annotations[METRICS_ANNOTATION].as_array().unwrap().len(), 4);
    assert_eq!(annotations.get(CONDITIONS_ANNOTATION), None);
    assert_eq!(convert(&v1, "autoscaling", "v2").unwrap(), v2);
}

#[test]
fn cpu_target_goes_last_when_coming_back() {
    // As in Kubernetes, the annotated metrics come first and v1's CPU target after them.
    let mut v2 = hpa_v2();
    let metrics = v2["spec"]["metrics"].as_array_mut().unwrap();
    metrics.rotate_right(1);
    assert_eq!(v2["spec"]["metrics"][0]["resource"]["name"], "cpu");
    let back = convert(
        &convert(&v2, "autoscaling", "v1").unwrap(),
        "autoscaling",
        "v2",
    )
    .unwrap();
    assert_eq!(back, hpa_v2());
}

#[test]
fn first_cpu_utilization_is_the_v1_target() {
    let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"},
        "spec": {"maxReplicas": 3, "metrics": [
            {"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "AverageValue", "averageValue": "300m"}}},
            {"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70}}}]}});
    let v1 = convert(&v2, "autoscaling", "v1").unwrap();
    assert_eq!(
        parse_annotations(v1),
        json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "annotations": {METRICS_ANNOTATION: [
                {"type": "Resource", "resource": {"name": "cpu", "targetAverageValue": "300m"}}]}},
            "spec": {"maxReplicas": 3, "targetCPUUtilizationPercentage": 70}})
    );
}

#[test]
fn plain_v1_autoscaler_to_v2() {
    // What `kubectl autoscale` used to create, with the controller's status.
    let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 50},
        "status": {"currentReplicas": 2, "desiredReplicas": 2,
            "currentCPUUtilizationPercentage": 31}});
    let v2 = convert(&v1, "autoscaling", "v2").unwrap();
    assert_eq!(
        v2,
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                "name": "web"},
                "minReplicas": 1, "maxReplicas": 5, "metrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 50}}}]},
            "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": 31}}}]}})
    );
    // Back in v1 everything is there; the current metrics are also kept in their annotation,
    // as kube-apiserver serves them.
    let back = convert(&v2, "autoscaling", "v1").unwrap();
    let mut expected = v1.clone();
    expected["metadata"]["annotations"] = json!({CURRENT_METRICS_ANNOTATION:
        r#"[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":31}}]"#});
    assert_eq!(back, expected);
    assert_eq!(convert(&back, "autoscaling", "v2").unwrap(), v2);
}

#[test]
fn v1_without_target_gets_the_default_cpu_metric() {
    let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 4}});
    let v2 = convert(&v1, "autoscaling", "v2").unwrap();
    assert_eq!(
        v2["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}])
    );
    assert_eq!(v2.get("status"), None);
    let back = convert(&v2, "autoscaling", "v1").unwrap();
    assert_eq!(back["spec"]["targetCPUUtilizationPercentage"], 80);
    assert_eq!(back["metadata"].get("annotations"), None);
}

#[test]
fn unreadable_annotations_are_ignored_and_dropped() {
    let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "annotations": {
            METRICS_ANNOTATION: "not json", BEHAVIOR_ANNOTATION: "{\"ScaleUp\": 3}",
            CURRENT_METRICS_ANNOTATION: "{}", CONDITIONS_ANNOTATION: 7, "keep": "me"}},
        "spec": {"maxReplicas": 4, "targetCPUUtilizationPercentage": 40},
        "status": {"currentReplicas": 1, "desiredReplicas": 1,
            "currentCPUUtilizationPercentage": 12}});
    let v2 = convert(&v1, "autoscaling", "v2").unwrap();
    assert_eq!(
        v2,
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "annotations": {"keep": "me"}},
            "spec": {"maxReplicas": 4, "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 40}}}]},
            "status": {"currentReplicas": 1, "desiredReplicas": 1, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": 12}}}]}})
    );
}

#[test]
fn current_metrics_annotation_wins_over_the_cpu_field() {
    let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "annotations": {CURRENT_METRICS_ANNOTATION:
            r#"[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":55,"currentAverageValue":"110m"}}]"#}},
        "spec": {"maxReplicas": 4, "targetCPUUtilizationPercentage": 40},
        "status": {"currentReplicas": 1, "desiredReplicas": 1,
            "currentCPUUtilizationPercentage": 12}});
    let v2 = convert(&v1, "autoscaling", "v2").unwrap();
    assert_eq!(
        v2["status"]["currentMetrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu",
            "current": {"averageUtilization": 55, "averageValue": "110m"}}}])
    );
    assert_eq!(v2["metadata"].get("annotations"), None);
}

#[test]
fn v2_without_status_or_metrics() {
    let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "bare"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "bare"}, "maxReplicas": 2}});
    let v1 = convert(&v2, "autoscaling", "v1").unwrap();
    assert_eq!(
        v1,
        json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "bare"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "bare"}, "maxReplicas": 2}})
    );
}
