//! Decoding one message to its JSON form, driven by the field table.

use base64::Engine;
use serde_json::{Map, Number, Value};

use super::format::{go_duration, rfc3339};
use super::types::{Field, Label, Message, Shape, Type};
use super::wire::{Reader, WireValue};
use super::ProtobufError;

/// How deeply messages may nest (`JSONSchemaProps` is recursive); deeper input is refused
/// rather than risking the stack.
pub(crate) const MAX_DEPTH: usize = 100;

/// The JSON form of `bytes`, an encoding of `message`.
///
/// # Errors
/// Malformed wire data, a value of the wrong wire type for its field, invalid UTF-8 in a
/// string, invalid JSON in a raw field, a time out of range, or nesting beyond [`MAX_DEPTH`].
pub(crate) fn decode(
    message: &'static Message,
    bytes: &[u8],
    depth: usize,
) -> Result<Value, ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep(MAX_DEPTH));
    }
    match message.shape {
        Shape::Object => Ok(Value::Object(object(message, bytes, depth)?)),
        Shape::RawJson => raw_json(message, bytes, depth),
        Shape::IntOrString => {
            let o = object(message, bytes, depth)?;
            Ok(if o.get("type").and_then(Value::as_i64) == Some(1) {
                o.get("strVal").cloned().unwrap_or_else(|| Value::from(""))
            } else {
                o.get("intVal").cloned().unwrap_or_else(|| Value::from(0))
            })
        }
        Shape::Quantity => {
            let o = object(message, bytes, depth)?;
            Ok(o.get("string").cloned().unwrap_or_else(|| Value::from("0")))
        }
        Shape::Time | Shape::MicroTime => {
            // Kubernetes encodes the zero time as an empty message; its JSON is null.
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            let o = object(message, bytes, depth)?;
            let seconds = o.get("seconds").and_then(Value::as_i64).unwrap_or(0);
            let nanos = o.get("nanos").and_then(Value::as_i64).unwrap_or(0);
            rfc3339(seconds, nanos, message.shape == Shape::MicroTime)
                .map(Value::from)
                .ok_or_else(|| ProtobufError::InvalidTime(message.name.to_owned()))
        }
        Shape::Duration => {
            let o = object(message, bytes, depth)?;
            Ok(Value::from(go_duration(
                o.get("duration").and_then(Value::as_i64).unwrap_or(0),
            )))
        }
        Shape::Union => {
            let mut o = object(message, bytes, depth)?;
            Ok(match o.remove("schema") {
                Some(schema) => schema,
                None => o.into_iter().next().map_or(Value::Null, |(_, v)| v),
            })
        }
    }
}

/// The fields on the wire, by JSON name; later occurrences of a single field win.
fn object(
    message: &'static Message,
    bytes: &[u8],
    depth: usize,
) -> Result<Map<String, Value>, ProtobufError> {
    let mut out = Map::new();
    let mut reader = Reader::new(bytes);
    while let Some((tag, wire)) = reader.next_record()? {
        // Unknown fields are skipped, as protobuf readers must.
        let Some(field) = message.field(tag) else {
            continue;
        };
        let at = Location { message, field };
        match (field.label, field.ty) {
            (_, Type::Map(value_type)) => {
                let (key, value) = map_entry(at, value_type, wire, depth)?;
                let map = out
                    .entry(field.json)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = map {
                    map.insert(key, value);
                }
            }
            (Label::Inline, ty) => {
                if let Value::Object(fields) = single(at, ty, wire, depth)? {
                    out.extend(fields);
                }
            }
            (Label::Repeated, ty) => {
                let list = out
                    .entry(field.json)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = list {
                    repeated(at, ty, wire, depth, list)?;
                }
            }
            (label, ty) => {
                let value = single(at, ty, wire, depth)?;
                if label == Label::Omitempty && is_zero_scalar(ty, &value) {
                    out.remove(field.json);
                } else {
                    out.insert(field.json.to_owned(), value);
                }
            }
        }
    }
    Ok(out)
}

/// Whether `value` is the zero value of a scalar type (messages are never zero: Go renders a
/// struct even when empty).
fn is_zero_scalar(ty: Type, value: &Value) -> bool {
    match ty {
        Type::String | Type::Bytes => value.as_str() == Some(""),
        Type::Bool => value.as_bool() == Some(false),
        Type::Int32 | Type::Int64 => value.as_i64() == Some(0),
        Type::Double => value.as_f64() == Some(0.0),
        Type::Message(_) | Type::Map(_) => false,
    }
}

/// A field being decoded, for error messages.
#[derive(Debug, Clone, Copy)]
struct Location {
    message: &'static Message,
    field: &'static Field,
}

impl Location {
    fn path(&self) -> String {
        format!("{}.{}", self.message.name, self.field.json)
    }

    fn wrong_type(&self, expected: &'static str, found: WireValue<'_>) -> ProtobufError {
        ProtobufError::WrongWireType {
            field: self.path(),
            expected,
            found: found.kind(),
        }
    }
}

/// One value of a scalar or message type.
fn single(
    at: Location,
    ty: Type,
    wire: WireValue<'_>,
    depth: usize,
) -> Result<Value, ProtobufError> {
    Ok(match (ty, wire) {
        (Type::String, WireValue::Bytes(b)) => {
            Value::from(std::str::from_utf8(b).map_err(|_| ProtobufError::InvalidUtf8(at.path()))?)
        }
        (Type::Bytes, WireValue::Bytes(b)) => {
            Value::from(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (Type::Bool, WireValue::Varint(v)) => Value::from(v != 0),
        // int32 and int64 travel as two's-complement varints; truncation recovers negatives.
        (Type::Int32, WireValue::Varint(v)) => Value::from(v as i32),
        (Type::Int64, WireValue::Varint(v)) => Value::from(v as i64),
        (Type::Double, WireValue::Fixed64(v)) => Number::from_f64(f64::from_bits(v))
            .map(Value::Number)
            .ok_or_else(|| ProtobufError::NotFinite(at.path()))?,
        (Type::Message(m), WireValue::Bytes(b)) => decode(m, b, depth + 1)?,
        (Type::Map(_), _) => return Err(at.wrong_type("map entry", wire)),
        (Type::String | Type::Bytes | Type::Message(_), _) => {
            return Err(at.wrong_type("length-delimited", wire))
        }
        (Type::Bool | Type::Int32 | Type::Int64, _) => return Err(at.wrong_type("varint", wire)),
        (Type::Double, _) => return Err(at.wrong_type("64-bit", wire)),
    })
}

/// One record of a repeated field: one element, or several when numbers are packed.
fn repeated(
    at: Location,
    ty: Type,
    wire: WireValue<'_>,
    depth: usize,
    list: &mut Vec<Value>,
) -> Result<(), ProtobufError> {
    match (ty, wire) {
        (Type::Bool | Type::Int32 | Type::Int64 | Type::Double, WireValue::Bytes(packed)) => {
            let mut reader = Reader::new(packed);
            while !reader.at_end() {
                let element = if matches!(ty, Type::Double) {
                    WireValue::Fixed64(reader.fixed64()?)
                } else {
                    WireValue::Varint(reader.varint()?)
                };
                list.push(single(at, ty, element, depth)?);
            }
        }
        _ => list.push(single(at, ty, wire, depth)?),
    }
    Ok(())
}

/// One `map<string, V>` entry: a message with the key at tag 1 and the value at tag 2.
fn map_entry(
    at: Location,
    value_type: &'static Type,
    wire: WireValue<'_>,
    depth: usize,
) -> Result<(String, Value), ProtobufError> {
    let WireValue::Bytes(entry) = wire else {
        return Err(at.wrong_type("length-delimited", wire));
    };
    let mut key = String::new();
    let mut value = None;
    let mut reader = Reader::new(entry);
    while let Some((tag, wire)) = reader.next_record()? {
        match tag {
            1 => {
                key = single(at, Type::String, wire, depth)?
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
            }
            2 => value = Some(single(at, *value_type, wire, depth)?),
            _ => {}
        }
    }
    let value = match value {
        Some(value) => value,
        // An absent value is its type's zero value.
        None => single(at, *value_type, zero_wire(*value_type), depth)?,
    };
    Ok((key, value))
}

fn zero_wire(ty: Type) -> WireValue<'static> {
    match ty {
        Type::Bool | Type::Int32 | Type::Int64 => WireValue::Varint(0),
        Type::Double => WireValue::Fixed64(0),
        Type::String | Type::Bytes | Type::Message(_) | Type::Map(_) => WireValue::Bytes(&[]),
    }
}

/// The JSON held in the `raw` bytes of a raw extension; `null` when there are none. Raw bytes
/// that are themselves a Kubernetes protobuf envelope are decoded as such.
fn raw_json(message: &'static Message, bytes: &[u8], depth: usize) -> Result<Value, ProtobufError> {
    let Some(field) = message.field_named("raw") else {
        return Ok(Value::Null);
    };
    let mut raw: &[u8] = &[];
    let mut reader = Reader::new(bytes);
    while let Some((tag, wire)) = reader.next_record()? {
        if tag == field.tag {
            match wire {
                WireValue::Bytes(b) => raw = b,
                other => {
                    return Err(Location { message, field }.wrong_type("length-delimited", other))
                }
            }
        }
    }
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if raw.starts_with(super::MAGIC) {
        return super::decode_nested(raw, depth + 1);
    }
    serde_json::from_slice(raw).map_err(|source| ProtobufError::InvalidJson {
        field: format!("{}.raw", message.name),
        source,
    })
}
