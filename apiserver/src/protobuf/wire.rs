//! The protobuf wire format: a reader of (tag, value) records.

use super::ProtobufError;

/// One value as the wire carries it, before its field's type gives it meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

impl WireValue<'_> {
    /// The wire type's name, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            WireValue::Varint(_) => "varint",
            WireValue::Fixed64(_) => "64-bit",
            WireValue::Fixed32(_) => "32-bit",
            WireValue::Bytes(_) => "length-delimited",
        }
    }
}

/// Reads the records of one message, in order.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    /// The next record, `None` at the end of the message.
    ///
    /// # Errors
    /// [`ProtobufError::Malformed`] for a truncated record, an overlong varint, a zero tag or a
    /// group wire type (Kubernetes never uses groups).
    pub(crate) fn next_record(&mut self) -> Result<Option<(u32, WireValue<'a>)>, ProtobufError> {
        if self.pos >= self.bytes.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3)
            .ok()
            .filter(|t| *t != 0)
            .ok_or_else(|| malformed(format!("invalid field number {}", key >> 3)))?;
        let value = match key & 7 {
            0 => WireValue::Varint(self.varint()?),
            1 => WireValue::Fixed64(self.fixed64()?),
            2 => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| malformed("length out of range".to_owned()))?;
                WireValue::Bytes(self.take(len)?)
            }
            5 => WireValue::Fixed32(u32::from_le_bytes(self.array::<4>()?)),
            other => {
                return Err(malformed(format!(
                    "unsupported wire type {other} (field {tag})"
                )))
            }
        };
        Ok(Some((tag, value)))
    }

    /// A base-128 varint of at most ten bytes.
    pub(crate) fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = *self
                .bytes
                .get(self.pos)
                .ok_or_else(|| malformed("truncated varint".to_owned()))?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed("varint longer than ten bytes".to_owned()))
    }

    /// A little-endian 64-bit value (an element of a packed `double` field).
    pub(crate) fn fixed64(&mut self) -> Result<u64, ProtobufError> {
        self.array::<8>().map(u64::from_le_bytes)
    }

    /// Whether every byte has been read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], ProtobufError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| malformed(format!("truncated field: {len} bytes announced")))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtobufError> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }
}

fn malformed(message: String) -> ProtobufError {
    ProtobufError::Malformed(message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

    use super::*;

    #[test]
    fn reads_each_wire_type() {
        // field 1 varint 150, field 2 bytes "hi", field 3 fixed64 1, field 4 fixed32 2
        let bytes = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x19, 1, 0, 0, 0, 0, 0, 0, 0, 0x25, 2, 0, 0,
            0,
        ];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.next_record().unwrap(), Some((1, WireValue::Varint(150))));
        assert_eq!(r.next_record().unwrap(), Some((2, WireValue::Bytes(b"hi"))));
        assert_eq!(r.next_record().unwrap(), Some((3, WireValue::Fixed64(1))));
        assert_eq!(r.next_record().unwrap(), Some((4, WireValue::Fixed32(2))));
        assert_eq!(r.next_record().unwrap(), None);
    }

    #[test]
    fn rejects_truncation_and_groups() {
        let err = |bytes: &[u8]| Reader::new(bytes).next_record().unwrap_err().to_string();
        assert_eq!(
            err(&[0x12, 0x05, b'a']),
            "malformed protobuf: truncated field: 5 bytes announced"
        );
        assert_eq!(err(&[0x08, 0x80]), "malformed protobuf: truncated varint");
        assert_eq!(
            err(&[0x0b]),
            "malformed protobuf: unsupported wire type 3 (field 1)"
        );
        assert_eq!(err(&[0x00]), "malformed protobuf: invalid field number 0");
        assert_eq!(
            err(&[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            "malformed protobuf: varint longer than ten bytes"
        );
    }
}
