//! Decoding Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) to the
//! JSON form the server keeps.
//!
//! A body is the four bytes `k8s\0` followed by a `runtime.Unknown` envelope: the object's
//! `apiVersion` and `kind`, and `raw`, the protobuf encoding of the typed object. [`decode`]
//! returns the object's JSON exactly as Kubernetes' JSON encoding would spell it, with
//! Kubernetes' special forms (`IntOrString`, `Quantity`, `Time`, `MicroTime`, `Duration`,
//! `RawExtension`, `FieldsV1`, base64 `bytes`).
//!
//! # Why a generated table
//!
//! Decoding is driven by `table.rs`, one static per message with each field's tag, protobuf
//! type, JSON name and presence rule. Tags and types come from the `k8s-pb` crate (prost code
//! generated from Kubernetes' `.proto` files), JSON names from rkube-api's OpenAPI schemas, and
//! which fields are Go pointers or `omitempty` values from Kubernetes' Go struct tags (a data
//! file committed beside the generator). The generator is the test
//! `apiserver/tests/protobuf_table.rs`, which also fails when the committed table is stale. A
//! table rather than k8s-pb's typed structs at run time: the structs carry no JSON names,
//! serde impls or presence rules, so converting them would take hand-written code per type,
//! while a table keeps one generic decoder, no run-time dependency on k8s-pb, and a
//! reviewable diff when Kubernetes adds fields.
//!
//! # Presence
//!
//! Fields absent from the wire are omitted. Kubernetes' encoder writes every non-pointer field
//! even when unset, so a zero scalar on the wire is omitted when the Go field is an
//! `omitempty` value (`minReadySeconds: 0`) and kept when it is a pointer (`replicas: 0`) or
//! has no `omitempty`, exactly as Go's JSON encoder renders the decoded object (see
//! `types::Label`). Messages are always rendered (`"status": {}`), an empty `Time` as `null`.

mod format;
mod message;
#[rustfmt::skip]
mod table;
#[cfg(test)]
mod tests;
mod types;
mod wire;

use rkube_api::schema::{Gvk, Schemas};
use serde_json::{Map, Value};

use types::{Field, Message, Type};
use wire::{Reader, WireValue};

/// The prefix of every Kubernetes protobuf body.
pub const MAGIC: &[u8] = b"k8s\0";

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The envelope's definition name in the table.
const UNKNOWN: &str = "io.k8s.apimachinery.pkg.runtime.Unknown";

/// Why a protobuf body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The body lacks the `k8s\0` prefix.
    #[error("the body does not start with the Kubernetes protobuf prefix \"k8s\\x00\"")]
    MissingMagic,
    /// The bytes are not valid protobuf.
    #[error("malformed protobuf: {0}")]
    Malformed(String),
    /// The envelope names no kind.
    #[error("the protobuf envelope does not name the object's apiVersion and kind")]
    MissingTypeMeta,
    /// The kind is not one the server knows a protobuf schema for.
    #[error("no protobuf schema for kind {kind:?} in {api_version:?}")]
    UnknownKind { api_version: String, kind: String },
    /// The envelope says the object is compressed or in another format.
    #[error("unsupported protobuf envelope content {0}")]
    UnsupportedContent(String),
    /// A field arrived with a wire type its declaration does not allow.
    #[error("field {field}: expected a {expected} value, found a {found} value")]
    WrongWireType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    /// A string field holds bytes that are not UTF-8.
    #[error("field {0} is not valid UTF-8")]
    InvalidUtf8(String),
    /// A raw field does not hold JSON.
    #[error("field {field} does not hold JSON: {source}")]
    InvalidJson {
        field: String,
        #[source]
        source: serde_json::Error,
    },
    /// A timestamp outside the years 0 to 9999.
    #[error("{0} holds a time out of range")]
    InvalidTime(String),
    /// A `double` that JSON cannot carry (NaN or infinite).
    #[error("field {0} is not a finite number")]
    NotFinite(String),
    /// Messages nested beyond the limit.
    #[error("the object nests more than {0} messages deep")]
    TooDeep(usize),
}

/// The JSON form of a Kubernetes protobuf body (`k8s\0` + `runtime.Unknown`), with the
/// `apiVersion` and `kind` of its envelope.
///
/// # Errors
/// See [`ProtobufError`]: a missing prefix, malformed bytes, a kind without a protobuf schema,
/// compressed content, or a field whose value cannot be rendered as JSON.
pub fn decode(bytes: &[u8]) -> Result<Value, ProtobufError> {
    decode_nested(bytes, 0)
}

/// [`decode`] at a nesting depth (an envelope may sit in a `RawExtension`).
fn decode_nested(bytes: &[u8], depth: usize) -> Result<Value, ProtobufError> {
    let body = bytes
        .strip_prefix(MAGIC)
        .ok_or(ProtobufError::MissingMagic)?;
    let envelope = Envelope::read(lookup(UNKNOWN).ok_or(ProtobufError::MissingTypeMeta)?, body)?;
    if !envelope.content_encoding.is_empty() {
        return Err(ProtobufError::UnsupportedContent(format!(
            "encoding {:?}",
            envelope.content_encoding
        )));
    }
    let (api_version, kind) = (envelope.api_version, envelope.kind);
    if api_version.is_empty() || kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta);
    }
    let object = match envelope.content_type.as_str() {
        "" | MEDIA_TYPE => {
            let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
            let message = definition_for_kind(group, version, &kind)
                .and_then(lookup)
                .ok_or_else(|| ProtobufError::UnknownKind {
                    api_version: api_version.clone(),
                    kind: kind.clone(),
                })?;
            message::decode(message, envelope.raw, depth)?
        }
        "application/json" => {
            serde_json::from_slice(envelope.raw).map_err(|source| ProtobufError::InvalidJson {
                field: format!("{UNKNOWN}.raw"),
                source,
            })?
        }
        other => return Err(ProtobufError::UnsupportedContent(format!("type {other:?}"))),
    };
    let Value::Object(fields) = object else {
        return Ok(object);
    };
    let mut out = Map::new();
    out.insert("apiVersion".to_owned(), Value::from(api_version));
    out.insert("kind".to_owned(), Value::from(kind));
    out.extend(fields);
    Ok(Value::Object(out))
}

/// The definition of a kind: a top-level kind, or a definition registered in several groups
/// (`DeleteOptions` is accepted in every group version), found by its
/// `x-kubernetes-group-version-kind` list.
fn definition_for_kind(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    let schemas = Schemas::builtin();
    if let Some(name) = schemas.definition_for_kind(group, version, kind) {
        return Some(name);
    }
    let wanted = Gvk::new(group, version, kind).to_json();
    schemas.definitions().iter().find_map(|(name, schema)| {
        schema
            .get("x-kubernetes-group-version-kind")
            .and_then(Value::as_array)
            .is_some_and(|gvks| gvks.contains(&wanted))
            .then_some(name.as_str())
    })
}

/// The table's message for an OpenAPI definition name.
fn lookup(name: &str) -> Option<&'static Message> {
    let messages: &'static [&'static Message] = table::MESSAGES;
    messages
        .binary_search_by(|m| m.name.cmp(name))
        .ok()
        .map(|i| messages[i])
}

/// The fields of a `runtime.Unknown`, read without copying `raw`.
#[derive(Debug, Default)]
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

impl<'a> Envelope<'a> {
    fn read(unknown: &'static Message, bytes: &'a [u8]) -> Result<Envelope<'a>, ProtobufError> {
        let tag = |name: &str| unknown.field_named(name).map(|f| f.tag);
        let mut out = Envelope::default();
        let mut reader = Reader::new(bytes);
        while let Some((t, wire)) = reader.next_record()? {
            let WireValue::Bytes(b) = wire else {
                continue;
            };
            let typed = unknown.field(t);
            if let Some(Field {
                json: "typeMeta",
                ty: Type::Message(meta),
                ..
            }) = typed
            {
                let meta = message::decode(meta, b, 0)?;
                let text = |name: &str| {
                    meta.get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                out.api_version = text("apiVersion");
                out.kind = text("kind");
            } else if Some(t) == tag("raw") {
                out.raw = b;
            } else if Some(t) == tag("contentEncoding") {
                out.content_encoding = utf8(b, "contentEncoding")?;
            } else if Some(t) == tag("contentType") {
                out.content_type = utf8(b, "contentType")?;
            }
        }
        Ok(out)
    }
}

fn utf8(bytes: &[u8], field: &str) -> Result<String, ProtobufError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ProtobufError::InvalidUtf8(format!("{UNKNOWN}.{field}")))
}
