//! Workload and configuration kinds as kubectl's generators send them.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use super::*;

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
            "metadata": {"name": "x", "creationTimestamp": null},
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
            "metadata": {"name": "s", "creationTimestamp": null},
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
        "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
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
            // Go value fields with omitempty: zero means unset and is not rendered.
            min_ready_seconds: Some(0),
            // Go pointers: zero is a choice and is rendered.
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
                    },
                },
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"},
                },
                "revisionHistoryLimit": 0,
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
            "metadata": {"name": "s", "creationTimestamp": null},
            "spec": {
                "ports": [
                    {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https"},
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
            "metadata": {"name": "j", "creationTimestamp": null},
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
