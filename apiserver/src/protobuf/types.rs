//! The vocabulary of the generated field table: messages, fields and their types.

/// How a message's JSON form is built from its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A JSON object of the fields, by their JSON names.
    Object,
    /// `intstr.IntOrString`: a number or a string, by its `type` field.
    IntOrString,
    /// `resource.Quantity`: its canonical string.
    Quantity,
    /// `metav1.Time`: RFC 3339 with seconds, in UTC (`null` when empty, the zero time).
    Time,
    /// `metav1.MicroTime`: RFC 3339 with six fraction digits, in UTC.
    MicroTime,
    /// `metav1.Duration`: a Go duration string (`1h0m0s`).
    Duration,
    /// `runtime.RawExtension`, `metav1.FieldsV1`, `apiextensions.JSON`: the JSON in `raw`.
    RawJson,
    /// `JSONSchemaPropsOr...`: the `schema` field when set, else the other field's value.
    Union,
}

/// Whether a field repeats, and how a zero value found on the wire is rendered.
///
/// Kubernetes' protobuf encoder writes every non-pointer field, set or not, so a zero value
/// (`""`, `0`, `false`) on the wire means "unset" exactly when the Go field is a value with
/// `omitempty`; pointer fields are on the wire only when set (`replicas: 0` is meaningful).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    /// A Go value field with `omitempty`: a zero scalar is omitted, as Go's JSON omits it.
    Omitempty,
    /// A pointer, or a value field without `omitempty`: rendered whenever on the wire.
    Present,
    /// A repeated field: a JSON array, omitted when no element is on the wire.
    Repeated,
    /// A message whose fields belong to the enclosing object: Go's embedded structs
    /// (`json:",inline"`, e.g. `Volume.volumeSource`, `Probe.handler`) are nested messages on
    /// the wire.
    Inline,
}

/// A field's protobuf type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Type {
    String,
    /// Rendered base64, as Go's JSON encodes `[]byte`.
    Bytes,
    Bool,
    Int32,
    Int64,
    Double,
    Message(&'static Message),
    /// A `map<string, V>` of this value type.
    Map(&'static Type),
}

/// One field of a message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub tag: u32,
    /// The JSON property name (`podIP`).
    pub json: &'static str,
    pub label: Label,
    pub ty: Type,
}

impl Field {
    pub(crate) const fn new(tag: u32, json: &'static str, label: Label, ty: Type) -> Field {
        Field {
            tag,
            json,
            label,
            ty,
        }
    }
}

/// One protobuf message.
#[derive(Debug)]
pub(crate) struct Message {
    /// The OpenAPI definition name (`io.k8s.api.core.v1.Pod`).
    pub name: &'static str,
    pub shape: Shape,
    /// Sorted by tag.
    pub fields: &'static [Field],
}

impl Message {
    /// The field with this tag; unknown tags are skipped by the decoder, as protobuf requires.
    pub(crate) fn field(&self, tag: u32) -> Option<&'static Field> {
        let fields: &'static [Field] = self.fields;
        fields
            .binary_search_by_key(&tag, |f| f.tag)
            .ok()
            .map(|i| &fields[i])
    }

    /// The field with this JSON name.
    pub(crate) fn field_named(&self, json: &str) -> Option<&'static Field> {
        let fields: &'static [Field] = self.fields;
        fields.iter().find(|f| f.json == json)
    }
}
