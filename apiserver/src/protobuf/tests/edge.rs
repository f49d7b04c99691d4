//! Nested schemas, error messages, forward compatibility and table coverage.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use super::*;

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
        .filter(|(_, definition)| super::super::lookup(definition).is_none())
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

#[test]
fn durations_and_unions_outside_the_served_kinds() {
    let message = |name: &str| super::super::lookup(name).unwrap();
    let duration = meta::Duration {
        duration: Some(90_000_000_000),
    };
    assert_eq!(
        super::super::message::decode(
            message("io.k8s.apimachinery.pkg.apis.meta.v1.Duration"),
            &duration.encode_to_vec(),
            0
        )
        .unwrap(),
        json!("1m30s")
    );
    let or_array = apiext::JsonSchemaPropsOrArray {
        schema: None,
        j_son_schemas: vec![
            apiext::JsonSchemaProps {
                r#type: s("string"),
                ..Default::default()
            },
            apiext::JsonSchemaProps {
                r#type: s("integer"),
                ..Default::default()
            },
        ],
    };
    assert_eq!(
        super::super::message::decode(
            message(
                "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray"
            ),
            &or_array.encode_to_vec(),
            0
        )
        .unwrap(),
        json!([{"type": "string"}, {"type": "integer"}])
    );
    let or_strings = apiext::JsonSchemaPropsOrStringArray {
        schema: None,
        property: vec!["a".to_owned(), "b".to_owned()],
    };
    assert_eq!(
        super::super::message::decode(
            message(
                "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray"
            ),
            &or_strings.encode_to_vec(),
            0
        )
        .unwrap(),
        json!(["a", "b"])
    );
}

#[test]
fn raw_extensions_may_hold_a_protobuf_envelope() {
    let inner = envelope(
        "v1",
        "Namespace",
        &core::Namespace {
            metadata: Some(meta::ObjectMeta {
                name: s("x"),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    let revision = apps::ControllerRevision {
        data: Some(RawExtension { raw: Some(inner) }),
        revision: Some(1),
        ..Default::default()
    };
    assert_eq!(
        roundtrip("apps/v1", "ControllerRevision", &revision),
        json!({
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "data": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
            "revision": 1,
        })
    );
}
