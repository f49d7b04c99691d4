//! Objects encoded with k8s-pb's prost types, wrapped as kubectl wraps them, decoded to JSON.
//!
//! prost writes `Some("")` and `Some(0)`, which mimics Kubernetes' encoder writing every
//! non-pointer field; `None` is a field kubectl leaves unset.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::collections::BTreeMap;

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::authentication::v1 as authn;
use k8s_pb::api::batch::v1 as batch;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::policy::v1 as policy;
use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message as _;
use serde_json::{json, Value};

use super::{decode, ProtobufError};

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// `k8s\0` + a `runtime.Unknown` holding `object`, as Kubernetes' serializer writes it.
fn envelope(api_version: &str, kind: &str, object: &impl prost::Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s(api_version),
            kind: s(kind),
        }),
        raw: Some(object.encode_to_vec()),
        content_encoding: s(""),
        content_type: s(""),
    };
    let mut out = b"k8s\0".to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

fn roundtrip(api_version: &str, kind: &str, object: &impl prost::Message) -> Value {
    decode(&envelope(api_version, kind, object)).unwrap()
}

/// Metadata as kubectl's generators fill it: every non-pointer field written.
fn kubectl_meta(name: &str, namespace: &str) -> meta::ObjectMeta {
    meta::ObjectMeta {
        name: s(name),
        generate_name: s(""),
        namespace: s(namespace),
        self_link: s(""),
        uid: s(""),
        resource_version: s(""),
        generation: Some(0),
        creation_timestamp: Some(meta::Time::default()),
        ..Default::default()
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn quantity(v: &str) -> Quantity {
    Quantity { string: s(v) }
}

fn int_port(port: i32) -> IntOrString {
    IntOrString {
        r#type: Some(0),
        int_val: Some(port),
        str_val: s(""),
    }
}

fn named_port(port: &str) -> IntOrString {
    IntOrString {
        r#type: Some(1),
        int_val: Some(0),
        str_val: s(port),
    }
}

#[test]
fn namespace_as_kubectl_create_sends_it() {
    let ns = core::Namespace {
        metadata: Some(kubectl_meta("x", "")),
        spec: Some(core::NamespaceSpec::default()),
        status: Some(core::NamespaceStatus {
            phase: s(""),
            ..Default::default()
        }),
    };
    assert_eq!(
        roundtrip("v1", "Namespace", &ns),
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "x", "generation": 0, "creationTimestamp": null},
            "spec": {},
            "status": {},
        })
    );
}

#[test]
fn configmap_data_and_binary_data() {
    let cm = core::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            name: s("c"),
            namespace: s("default"),
            labels: labels(&[("app", "web")]),
            annotations: labels(&[("note", "")]),
            ..Default::default()
        }),
        immutable: Some(false),
        data: labels(&[("a", "b"), ("empty", "")]),
        binary_data: [("bin".to_owned(), vec![0u8, 1, 2, 255])].into(),
    };
    assert_eq!(
        roundtrip("v1", "ConfigMap", &cm),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "c",
                "namespace": "default",
                "labels": {"app": "web"},
                "annotations": {"note": ""},
            },
            "immutable": false,
            "data": {"a": "b", "empty": ""},
            "binaryData": {"bin": "AAEC/w=="},
        })
    );
}

#[test]
fn secret_data_is_base64() {
    let secret = core::Secret {
        metadata: Some(kubectl_meta("s", "")),
        immutable: None,
        data: [
            ("k".to_owned(), b"v".to_vec()),
            ("empty".to_owned(), Vec::new()),
        ]
        .into(),
        string_data: BTreeMap::new(),
        r#type: s("Opaque"),
    };
    assert_eq!(
        roundtrip("v1", "Secret", &secret),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "generation": 0, "creationTimestamp": null},
            "data": {"k": "dg==", "empty": ""},
            "type": "Opaque",
        })
    );
}

fn web_container() -> core::Container {
    core::Container {
        name: s("web"),
        image: s("nginx"),
        command: vec![
            "nginx".to_owned(),
            "-g".to_owned(),
            "daemon off;".to_owned(),
        ],
        working_dir: s(""),
        ports: vec![core::ContainerPort {
            name: s("http"),
            host_port: Some(0),
            container_port: Some(80),
            protocol: s("TCP"),
            host_ip: s(""),
        }],
        env: vec![
            core::EnvVar {
                name: s("MODE"),
                value: s("prod"),
                value_from: None,
            },
            core::EnvVar {
                name: s("TOKEN"),
                value: s(""),
                value_from: Some(core::EnvVarSource {
                    secret_key_ref: Some(core::SecretKeySelector {
                        local_object_reference: Some(core::LocalObjectReference {
                            name: s("creds"),
                        }),
                        key: s("token"),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }),
            },
        ],
        resources: Some(core::ResourceRequirements {
            limits: [
                ("cpu".to_owned(), quantity("500m")),
                ("memory".to_owned(), quantity("128Mi")),
            ]
            .into(),
            requests: [("cpu".to_owned(), quantity("250m"))].into(),
            claims: Vec::new(),
        }),
        volume_mounts: vec![core::VolumeMount {
            name: s("config"),
            read_only: Some(true),
            mount_path: s("/etc/nginx/conf.d"),
            sub_path: s(""),
            ..Default::default()
        }],
        liveness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                http_get: Some(core::HttpGetAction {
                    path: s("/healthz"),
                    port: Some(int_port(8080)),
                    host: s(""),
                    scheme: s("HTTP"),
                    http_headers: Vec::new(),
                }),
                ..Default::default()
            }),
            initial_delay_seconds: Some(5),
            timeout_seconds: Some(1),
            period_seconds: Some(10),
            success_threshold: Some(1),
            failure_threshold: Some(3),
            termination_grace_period_seconds: None,
        }),
        readiness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                tcp_socket: Some(core::TcpSocketAction {
                    port: Some(named_port("http")),
                    host: s(""),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        termination_message_path: s("/dev/termination-log"),
        image_pull_policy: s("IfNotPresent"),
        security_context: Some(core::SecurityContext {
            run_as_user: Some(0),
            allow_privilege_escalation: Some(false),
            capabilities: Some(core::Capabilities {
                add: Vec::new(),
                drop: vec!["ALL".to_owned()],
            }),
            ..Default::default()
        }),
        stdin: Some(false),
        tty: Some(false),
        ..Default::default()
    }
}

fn web_container_json() -> Value {
    json!({
        "name": "web",
        "image": "nginx",
        "command": ["nginx", "-g", "daemon off;"],
        "ports": [{"name": "http", "hostPort": 0, "containerPort": 80, "protocol": "TCP"}],
        "env": [
            {"name": "MODE", "value": "prod"},
            {"name": "TOKEN", "valueFrom": {
                "secretKeyRef": {"name": "creds", "key": "token", "optional": false},
            }},
        ],
        "resources": {
            "limits": {"cpu": "500m", "memory": "128Mi"},
            "requests": {"cpu": "250m"},
        },
        "volumeMounts": [
            {"name": "config", "readOnly": true, "mountPath": "/etc/nginx/conf.d"},
        ],
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
            "initialDelaySeconds": 5,
            "timeoutSeconds": 1,
            "periodSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "readinessProbe": {"tcpSocket": {"port": "http"}},
        "terminationMessagePath": "/dev/termination-log",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {
            "runAsUser": 0,
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
        },
        "stdin": false,
        "tty": false,
    })
}

#[test]
fn deployment_with_a_full_pod_template() {
    let deployment = apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: s("d"),
            labels: labels(&[("app", "d")]),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(0),
            selector: Some(meta::LabelSelector {
                match_labels: labels(&[("app", "d")]),
                match_expressions: vec![meta::LabelSelectorRequirement {
                    key: s("tier"),
                    operator: s("In"),
                    values: vec!["web".to_owned(), "edge".to_owned()],
                }],
            }),
            template: Some(core::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    labels: labels(&[("app", "d")]),
                    creation_timestamp: Some(meta::Time::default()),
                    ..Default::default()
                }),
                spec: Some(core::PodSpec {
                    volumes: vec![
                        core::Volume {
                            name: s("config"),
                            volume_source: Some(core::VolumeSource {
                                config_map: Some(core::ConfigMapVolumeSource {
                                    local_object_reference: Some(core::LocalObjectReference {
                                        name: s("nginx-conf"),
                                    }),
                                    items: Vec::new(),
                                    default_mode: Some(0o644),
                                    optional: None,
                                }),
                                ..Default::default()
                            }),
                        },
                        core::Volume {
                            name: s("cache"),
                            volume_source: Some(core::VolumeSource {
                                empty_dir: Some(core::EmptyDirVolumeSource {
                                    medium: s(""),
                                    size_limit: Some(quantity("1Gi")),
                                }),
                                ..Default::default()
                            }),
                        },
                    ],
                    containers: vec![web_container()],
                    restart_policy: s("Always"),
                    termination_grace_period_seconds: Some(30),
                    dns_policy: s(""),
                    node_selector: labels(&[("kubernetes.io/os", "linux")]),
                    service_account_name: s(""),
                    host_network: Some(false),
                    ..Default::default()
                }),
            }),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_unavailable: Some(int_port(1)),
                    max_surge: Some(named_port("25%")),
                }),
            }),
            min_ready_seconds: Some(0),
            revision_history_limit: Some(0),
            paused: Some(false),
            progress_deadline_seconds: None,
        }),
        status: Some(apps::DeploymentStatus::default()),
    };
    assert_eq!(
        roundtrip("apps/v1", "Deployment", &deployment),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"app": "d"}},
            "spec": {
                "replicas": 0,
                "selector": {
                    "matchLabels": {"app": "d"},
                    "matchExpressions": [
                        {"key": "tier", "operator": "In", "values": ["web", "edge"]},
                    ],
                },
                "template": {
                    "metadata": {"labels": {"app": "d"}, "creationTimestamp": null},
                    "spec": {
                        "volumes": [
                            {"name": "config", "configMap": {"name": "nginx-conf", "defaultMode": 420}},
                            {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
                        ],
                        "containers": [web_container_json()],
                        "restartPolicy": "Always",
                        "terminationGracePeriodSeconds": 30,
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "hostNetwork": false,
                    },
                },
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"},
                },
                "minReadySeconds": 0,
                "revisionHistoryLimit": 0,
                "paused": false,
            },
            "status": {},
        })
    );
}

#[test]
fn service_ports_with_int_or_string_target_ports() {
    let port = |name: &str, port: i32, target: IntOrString| core::ServicePort {
        name: s(name),
        protocol: s("TCP"),
        app_protocol: None,
        port: Some(port),
        target_port: Some(target),
        node_port: Some(0),
    };
    let service = core::Service {
        metadata: Some(kubectl_meta("s", "")),
        spec: Some(core::ServiceSpec {
            ports: vec![
                port("80-8080", 80, int_port(8080)),
                port("https", 443, named_port("https")),
            ],
            selector: labels(&[("app", "s")]),
            cluster_ip: s(""),
            r#type: s("ClusterIP"),
            session_affinity: s(""),
            ..Default::default()
        }),
        status: Some(core::ServiceStatus::default()),
    };
    assert_eq!(
        roundtrip("v1", "Service", &service),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s", "generation": 0, "creationTimestamp": null},
            "spec": {
                "ports": [
                    {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 0},
                    {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https", "nodePort": 0},
                ],
                "selector": {"app": "s"},
                "type": "ClusterIP",
            },
            "status": {},
        })
    );
}

#[test]
fn job_keeps_pointer_zeros() {
    let job = batch::Job {
        metadata: Some(kubectl_meta("j", "")),
        spec: Some(batch::JobSpec {
            backoff_limit: Some(0),
            ttl_seconds_after_finished: Some(0),
            template: Some(core::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    creation_timestamp: Some(meta::Time::default()),
                    ..Default::default()
                }),
                spec: Some(core::PodSpec {
                    containers: vec![core::Container {
                        name: s("j"),
                        image: s("busybox"),
                        resources: Some(core::ResourceRequirements::default()),
                        ..Default::default()
                    }],
                    restart_policy: s("Never"),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
        status: Some(batch::JobStatus::default()),
    };
    assert_eq!(
        roundtrip("batch/v1", "Job", &job),
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j", "generation": 0, "creationTimestamp": null},
            "spec": {
                "backoffLimit": 0,
                "ttlSecondsAfterFinished": 0,
                "template": {
                    "metadata": {"creationTimestamp": null},
                    "spec": {
                        "containers": [{"name": "j", "image": "busybox", "resources": {}}],
                        "restartPolicy": "Never",
                    },
                },
            },
            "status": {},
        })
    );
}

#[test]
fn pod_with_tolerations_and_times() {
    let pod = core::Pod {
        metadata: Some(meta::ObjectMeta {
            name: s("p"),
            namespace: s("default"),
            uid: s("0b2f8f3e-1111-2222-3333-444455556666"),
            creation_timestamp: Some(meta::Time {
                seconds: Some(1_714_557_600),
                nanos: Some(0),
            }),
            deletion_grace_period_seconds: Some(0),
            owner_references: vec![meta::OwnerReference {
                api_version: s("apps/v1"),
                kind: s("ReplicaSet"),
                name: s("rs"),
                uid: s("abc"),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }],
            managed_fields: vec![meta::ManagedFieldsEntry {
                manager: s("kubectl-run"),
                operation: s("Update"),
                api_version: s("v1"),
                time: Some(meta::Time {
                    seconds: Some(1_714_557_600),
                    nanos: Some(0),
                }),
                fields_type: s("FieldsV1"),
                fields_v1: Some(meta::FieldsV1 {
                    raw: Some(br#"{"f:metadata":{"f:labels":{".":{}}}}"#.to_vec()),
                }),
                subresource: s(""),
            }],
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: s("p"),
                image: s("busybox"),
                ..Default::default()
            }],
            tolerations: vec![
                core::Toleration {
                    key: s("node.kubernetes.io/not-ready"),
                    operator: s("Exists"),
                    value: s(""),
                    effect: s("NoExecute"),
                    toleration_seconds: Some(300),
                },
                core::Toleration {
                    key: s("dedicated"),
                    operator: s("Equal"),
                    value: s("gpu"),
                    effect: s("NoSchedule"),
                    toleration_seconds: None,
                },
            ],
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            phase: s("Pending"),
            pod_ip: s("10.0.0.7"),
            start_time: Some(meta::Time {
                seconds: Some(1_714_557_601),
                nanos: Some(500_000_000),
            }),
            ..Default::default()
        }),
    };
    assert_eq!(
        roundtrip("v1", "Pod", &pod),
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "p",
                "namespace": "default",
                "uid": "0b2f8f3e-1111-2222-3333-444455556666",
                "creationTimestamp": "2024-05-01T10:00:00Z",
                "deletionGracePeriodSeconds": 0,
                "ownerReferences": [{
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "rs",
                    "uid": "abc",
                    "controller": true,
                    "blockOwnerDeletion": true,
                }],
                "managedFields": [{
                    "manager": "kubectl-run",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2024-05-01T10:00:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}},
                }],
            },
            "spec": {
                "containers": [{"name": "p", "image": "busybox"}],
                "tolerations": [
                    {
                        "key": "node.kubernetes.io/not-ready",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 300,
                    },
                    {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
                ],
            },
            "status": {
                "phase": "Pending",
                "podIP": "10.0.0.7",
                "startTime": "2024-05-01T10:00:01Z",
            },
        })
    );
}

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
                "generation": 0,
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
                "generation": 0,
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

#[test]
fn custom_resource_definition_schemas() {
    let props = |ty: &str| apiext::JsonSchemaProps {
        r#type: s(ty),
        ..Default::default()
    };
    let schema = apiext::JsonSchemaProps {
        r#type: s("object"),
        required: vec!["spec".to_owned()],
        properties: [
            (
                "spec".to_owned(),
                apiext::JsonSchemaProps {
                    r#type: s("object"),
                    x_kubernetes_preserve_unknown_fields: Some(true),
                    ..Default::default()
                },
            ),
            (
                "tags".to_owned(),
                apiext::JsonSchemaProps {
                    r#type: s("array"),
                    items: Some(Box::new(apiext::JsonSchemaPropsOrArray {
                        schema: Some(Box::new(props("string"))),
                        j_son_schemas: Vec::new(),
                    })),
                    ..Default::default()
                },
            ),
            (
                "size".to_owned(),
                apiext::JsonSchemaProps {
                    r#type: s("integer"),
                    minimum: Some(1.0),
                    default: Some(apiext::Json {
                        raw: Some(b"3".to_vec()),
                    }),
                    r#enum: vec![
                        apiext::Json {
                            raw: Some(b"1".to_vec()),
                        },
                        apiext::Json {
                            raw: Some(b"3".to_vec()),
                        },
                    ],
                    ..Default::default()
                },
            ),
        ]
        .into(),
        additional_properties: Some(Box::new(apiext::JsonSchemaPropsOrBool {
            allows: Some(false),
            schema: None,
        })),
        ..Default::default()
    };
    let crd = apiext::CustomResourceDefinition {
        metadata: Some(meta::ObjectMeta {
            name: s("widgets.example.com"),
            ..Default::default()
        }),
        spec: Some(apiext::CustomResourceDefinitionSpec {
            group: s("example.com"),
            names: Some(apiext::CustomResourceDefinitionNames {
                plural: s("widgets"),
                kind: s("Widget"),
                ..Default::default()
            }),
            scope: s("Namespaced"),
            versions: vec![apiext::CustomResourceDefinitionVersion {
                name: s("v1"),
                served: Some(true),
                storage: Some(true),
                schema: Some(apiext::CustomResourceValidation {
                    open_apiv3_schema: Some(schema),
                }),
                subresources: Some(apiext::CustomResourceSubresources {
                    status: Some(apiext::CustomResourceSubresourceStatus {}),
                    scale: None,
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    };
    let json = roundtrip("apiextensions.k8s.io/v1", "CustomResourceDefinition", &crd);
    assert_eq!(
        json["spec"]["versions"][0],
        json!({
            "name": "v1",
            "served": true,
            "storage": true,
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "required": ["spec"],
                "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "size": {"type": "integer", "minimum": 1.0, "default": 3, "enum": [1, 3]},
                },
                "additionalProperties": false,
            }},
            "subresources": {"status": {}},
        })
    );
    assert_eq!(
        json["spec"]["names"],
        json!({"plural": "widgets", "kind": "Widget"})
    );
}

#[test]
fn envelope_errors_are_named() {
    let err = |bytes: &[u8]| decode(bytes).unwrap_err().to_string();
    assert_eq!(
        err(b"{\"kind\":\"Namespace\"}"),
        "the body does not start with the Kubernetes protobuf prefix \"k8s\\x00\""
    );
    assert_eq!(
        err(b"k8s\0\x12\x05ab"),
        "malformed protobuf: truncated field: 5 bytes announced"
    );
    assert_eq!(
        err(b"k8s\0"),
        "the protobuf envelope does not name the object's apiVersion and kind"
    );
    assert_eq!(
        err(&envelope(
            "example.com/v1",
            "Widget",
            &core::Namespace::default()
        )),
        "no protobuf schema for kind \"Widget\" in \"example.com/v1\""
    );
    let mut gzip =
        Unknown::decode(&envelope("v1", "Namespace", &core::Namespace::default())[4..]).unwrap();
    gzip.content_encoding = s("gzip");
    let mut bytes = b"k8s\0".to_vec();
    bytes.extend(gzip.encode_to_vec());
    assert_eq!(
        err(&bytes),
        "unsupported protobuf envelope content encoding \"gzip\""
    );
}

#[test]
fn field_errors_name_the_field() {
    let err = |bytes: Vec<u8>| decode(&bytes).unwrap_err();
    // Namespace.metadata (tag 1) as a varint.
    let wrong = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("Namespace"),
        }),
        raw: Some(vec![0x08, 0x01]),
        ..Default::default()
    };
    let mut bytes = b"k8s\0".to_vec();
    bytes.extend(wrong.encode_to_vec());
    assert_eq!(
        err(bytes).to_string(),
        "field io.k8s.api.core.v1.Namespace.metadata: expected a length-delimited value, \
         found a varint value"
    );
    // ObjectMeta.name (tag 1) with invalid UTF-8.
    let ns = core::Namespace {
        metadata: Some(meta::ObjectMeta::default()),
        ..Default::default()
    };
    let mut raw = ns.encode_to_vec();
    raw.extend([0x0a, 0x04, 0x0a, 0x02, 0xff, 0xfe]);
    let bad = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("Namespace"),
        }),
        raw: Some(raw),
        ..Default::default()
    };
    let mut bytes = b"k8s\0".to_vec();
    bytes.extend(bad.encode_to_vec());
    assert!(
        matches!(err(bytes), ProtobufError::InvalidUtf8(f) if f == "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta.name")
    );
    // FieldsV1 holding something that is not JSON.
    let pod = core::Pod {
        metadata: Some(meta::ObjectMeta {
            managed_fields: vec![meta::ManagedFieldsEntry {
                fields_v1: Some(meta::FieldsV1 {
                    raw: Some(b"{oops".to_vec()),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(err(envelope("v1", "Pod", &pod)).to_string().starts_with(
        "field io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1.raw does not hold JSON: "
    ));
}

#[test]
fn unknown_fields_are_skipped() {
    let mut raw = core::Namespace {
        metadata: Some(meta::ObjectMeta {
            name: s("x"),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec();
    // Field 99, varint 7: from a newer Kubernetes.
    raw.extend([0x98, 0x06, 0x07]);
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("Namespace"),
        }),
        raw: Some(raw),
        ..Default::default()
    };
    let mut bytes = b"k8s\0".to_vec();
    bytes.extend(unknown.encode_to_vec());
    assert_eq!(
        decode(&bytes).unwrap(),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
    );
}

#[test]
fn negative_numbers_and_deep_nesting() {
    let pod = core::Pod {
        spec: Some(core::PodSpec {
            security_context: Some(core::PodSecurityContext {
                run_as_group: Some(-1),
                ..Default::default()
            }),
            priority: Some(-5),
            ..Default::default()
        }),
        ..Default::default()
    };
    let json = roundtrip("v1", "Pod", &pod);
    assert_eq!(json["spec"]["securityContext"]["runAsGroup"], json!(-1));
    assert_eq!(json["spec"]["priority"], json!(-5));

    let mut nested = apiext::JsonSchemaProps::default();
    for _ in 0..150 {
        nested = apiext::JsonSchemaProps {
            not: Some(Box::new(nested)),
            ..Default::default()
        };
    }
    let crd = apiext::CustomResourceDefinition {
        spec: Some(apiext::CustomResourceDefinitionSpec {
            versions: vec![apiext::CustomResourceDefinitionVersion {
                schema: Some(apiext::CustomResourceValidation {
                    open_apiv3_schema: Some(nested),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        decode(&envelope(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            &crd
        ))
        .unwrap_err()
        .to_string(),
        "the object nests more than 100 messages deep"
    );
}

#[test]
fn every_kind_the_schemas_know_is_in_the_table() {
    let missing: Vec<String> = rkube_api::schema::Schemas::builtin()
        .kinds()
        .filter(|(_, definition)| super::lookup(definition).is_none())
        .map(|(gvk, definition)| format!("{gvk:?} {definition}"))
        .collect();
    assert!(
        missing.is_empty(),
        "kinds without a protobuf message: {missing:?}"
    );
}

#[test]
fn served_kinds_decode_from_empty_messages() {
    for (gvk, _) in rkube_api::schema::Schemas::builtin().kinds() {
        let api_version = if gvk.group.is_empty() {
            gvk.version.clone()
        } else {
            format!("{}/{}", gvk.group, gvk.version)
        };
        let json = decode(&envelope(
            &api_version,
            &gvk.kind,
            &core::Namespace::default(),
        ))
        .unwrap();
        assert_eq!(json, json!({"apiVersion": api_version, "kind": gvk.kind}));
    }
}
