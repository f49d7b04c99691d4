//! Request bodies (eviction, delete options, token requests, status, scale, binding) and
//! Kubernetes' time and raw-JSON forms.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use super::*;

fn delete_options() -> meta::DeleteOptions {
    meta::DeleteOptions {
        grace_period_seconds: Some(0),
        preconditions: Some(meta::Preconditions {
            uid: s("abc"),
            resource_version: None,
        }),
        orphan_dependents: None,
        propagation_policy: s("Foreground"),
        dry_run: vec!["All".to_owned()],
        ignore_store_read_error_with_cluster_breaking_potential: None,
    }
}

fn delete_options_json() -> Value {
    json!({
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "abc"},
        "propagationPolicy": "Foreground",
        "dryRun": ["All"],
    })
}

#[test]
fn eviction_as_kubectl_drain_sends_it() {
    let eviction = policy::Eviction {
        metadata: Some(kubectl_meta("p", "default")),
        delete_options: Some(delete_options()),
    };
    assert_eq!(
        roundtrip("policy/v1", "Eviction", &eviction),
        json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {
                "name": "p",
                "namespace": "default",
                "creationTimestamp": null,
            },
            "deleteOptions": delete_options_json(),
        })
    );
}

#[test]
fn delete_options_in_any_group_version() {
    let mut expected = delete_options_json();
    expected["kind"] = json!("DeleteOptions");
    for api_version in ["v1", "meta.k8s.io/v1", "apps/v1"] {
        expected["apiVersion"] = json!(api_version);
        assert_eq!(
            roundtrip(api_version, "DeleteOptions", &delete_options()),
            expected
        );
    }
}

#[test]
fn token_request_as_kubectl_create_token_sends_it() {
    let request = authn::TokenRequest {
        metadata: Some(kubectl_meta("default", "default")),
        spec: Some(authn::TokenRequestSpec {
            audiences: vec!["https://kubernetes.default.svc".to_owned()],
            expiration_seconds: Some(3600),
            bound_object_ref: Some(authn::BoundObjectReference {
                kind: s("Pod"),
                api_version: s("v1"),
                name: s("p"),
                u_id: s("abc"),
            }),
        }),
        status: Some(authn::TokenRequestStatus {
            token: s(""),
            expiration_timestamp: Some(meta::Time::default()),
        }),
    };
    assert_eq!(
        roundtrip("authentication.k8s.io/v1", "TokenRequest", &request),
        json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "metadata": {
                "name": "default",
                "namespace": "default",
                "creationTimestamp": null,
            },
            "spec": {
                "audiences": ["https://kubernetes.default.svc"],
                "expirationSeconds": 3600,
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "abc"},
            },
            // `token` is required, so its empty value stays, as Go's JSON writes it.
            "status": {"token": "", "expirationTimestamp": null},
        })
    );
}

#[test]
fn status_and_scale() {
    let status = meta::Status {
        metadata: Some(meta::ListMeta::default()),
        status: s("Failure"),
        message: s("pods \"p\" not found"),
        reason: s("NotFound"),
        details: Some(meta::StatusDetails {
            name: s("p"),
            kind: s("pods"),
            ..Default::default()
        }),
        code: Some(404),
    };
    assert_eq!(
        roundtrip("v1", "Status", &status),
        json!({
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "message": "pods \"p\" not found",
            "reason": "NotFound",
            "details": {"name": "p", "kind": "pods"},
            "code": 404,
        })
    );
    let scale = k8s_pb::api::autoscaling::v1::Scale {
        metadata: Some(kubectl_meta("d", "default")),
        spec: Some(k8s_pb::api::autoscaling::v1::ScaleSpec { replicas: Some(3) }),
        status: None,
    };
    assert_eq!(
        roundtrip("autoscaling/v1", "Scale", &scale)["spec"],
        json!({"replicas": 3})
    );
}

#[test]
fn binding_names_its_target() {
    let binding = core::Binding {
        metadata: Some(kubectl_meta("p", "default")),
        target: Some(core::ObjectReference {
            kind: s("Node"),
            name: s("node-1"),
            ..Default::default()
        }),
    };
    assert_eq!(
        roundtrip("v1", "Binding", &binding)["target"],
        json!({"kind": "Node", "name": "node-1"})
    );
}

#[test]
fn micro_time_has_six_fraction_digits() {
    let event = k8s_pb::api::events::v1::Event {
        metadata: Some(meta::ObjectMeta {
            name: s("e"),
            ..Default::default()
        }),
        event_time: Some(meta::MicroTime {
            seconds: Some(1_714_557_600),
            nanos: Some(123_456_789),
        }),
        reporting_controller: s("rkube"),
        ..Default::default()
    };
    let json = roundtrip("events.k8s.io/v1", "Event", &event);
    assert_eq!(json["eventTime"], json!("2024-05-01T10:00:00.123456Z"));
    assert_eq!(json["reportingController"], json!("rkube"));
}

#[test]
fn raw_extension_embeds_its_json() {
    let revision = apps::ControllerRevision {
        metadata: Some(meta::ObjectMeta {
            name: s("r"),
            ..Default::default()
        }),
        data: Some(RawExtension {
            raw: Some(br#"{"spec":{"template":{"$patch":"replace"}}}"#.to_vec()),
        }),
        revision: Some(2),
    };
    assert_eq!(
        roundtrip("apps/v1", "ControllerRevision", &revision),
        json!({
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {"name": "r"},
            "data": {"spec": {"template": {"$patch": "replace"}}},
            "revision": 2,
        })
    );
}
