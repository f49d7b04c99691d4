//! SPDY/3.1 frames as Kubernetes clients send them, and the zlib header compression with the
//! protocol's fixed dictionary.
//!
//! A control frame is `1 | version(15) | type(16) | flags(8) | length(24) | payload`; a data frame
//! is `0 | stream-id(31) | flags(8) | length(24) | data`. Name/value header blocks are compressed
//! with one zlib stream per direction for the whole connection, primed with the SPDY/3
//! dictionary and sync-flushed after every block.

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Flag on SYN_STREAM, SYN_REPLY and data frames: the sender's last frame on the stream.
pub const FLAG_FIN: u8 = 0x01;

const VERSION: u16 = 3;
const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;

/// The largest frame accepted (the length field allows 16 MiB).
const MAX_FRAME: usize = 16 << 20;
/// The largest decompressed header block accepted.
const MAX_HEADER_BLOCK: usize = 1 << 20;

/// Headers of a stream, names lowercase.
pub type Headers = Vec<(String, String)>;

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    SynStream {
        stream_id: u32,
        flags: u8,
        headers: Headers,
    },
    SynReply {
        stream_id: u32,
        flags: u8,
        headers: Headers,
    },
    RstStream {
        stream_id: u32,
        status: u32,
    },
    Ping {
        id: u32,
    },
    GoAway {
        last_stream_id: u32,
        status: u32,
    },
    WindowUpdate {
        stream_id: u32,
        delta: u32,
    },
    Data {
        stream_id: u32,
        flags: u8,
        data: Bytes,
    },
    /// SETTINGS, HEADERS and unknown control frames: read and ignored.
    Ignored,
}

/// A connection that cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("reading the stream connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad SPDY frame: {0}")]
    Protocol(&'static str),
}

/// The header compression state of one connection, one zlib stream each way.
pub struct HeaderCodec {
    inflate: Decompress,
    deflate: Compress,
}

impl std::fmt::Debug for HeaderCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderCodec").finish_non_exhaustive()
    }
}

impl Default for HeaderCodec {
    fn default() -> Self {
        HeaderCodec::new()
    }
}

impl HeaderCodec {
    pub fn new() -> Self {
        let mut deflate = Compress::new(Compression::default(), true);
        // Priming the compressor: the only failure is a stream already started, and it is new.
        let _ = deflate.set_dictionary(&dictionary());
        HeaderCodec {
            inflate: Decompress::new(true),
            deflate,
        }
    }

    /// Decompresses one header block and parses its name/value pairs.
    pub fn decode(&mut self, compressed: &[u8]) -> Result<Headers, FrameError> {
        let bad = FrameError::Protocol;
        let mut out = Vec::with_capacity(256);
        let mut input = compressed;
        loop {
            let before_in = self.inflate.total_in();
            if out.capacity() - out.len() < 256 {
                out.reserve(out.capacity().max(256));
            }
            let result = self
                .inflate
                .decompress_vec(input, &mut out, FlushDecompress::Sync);
            let consumed = (self.inflate.total_in() - before_in) as usize;
            input = &input[consumed.min(input.len())..];
            match result {
                Ok(Status::Ok | Status::BufError | Status::StreamEnd) => {
                    if input.is_empty() && out.len() < out.capacity() {
                        break;
                    }
                }
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(&dictionary())
                        .map_err(|_| bad("the header dictionary was refused"))?;
                }
                Err(_) => return Err(bad("the header block does not decompress")),
            }
            if out.len() > MAX_HEADER_BLOCK {
                return Err(bad("the header block is too large"));
            }
        }
        parse_block(&out)
    }

    /// Encodes and compresses a header block.
    pub fn encode(&mut self, headers: &[(String, String)]) -> Vec<u8> {
        let mut raw = Vec::new();
        raw.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (name, value) in headers {
            for s in [name.to_ascii_lowercase().as_str(), value.as_str()] {
                raw.extend_from_slice(&(s.len() as u32).to_be_bytes());
                raw.extend_from_slice(s.as_bytes());
            }
        }
        let mut out = Vec::with_capacity(raw.len() + 64);
        let mut input = raw.as_slice();
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(64));
            }
            let before_in = self.deflate.total_in();
            let _ = self
                .deflate
                .compress_vec(input, &mut out, FlushCompress::Sync);
            let consumed = (self.deflate.total_in() - before_in) as usize;
            input = &input[consumed.min(input.len())..];
            // A sync flush is complete when it left room in the output.
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        out
    }
}

fn parse_block(block: &[u8]) -> Result<Headers, FrameError> {
    let bad = FrameError::Protocol;
    let mut rest = block;
    let take_u32 = |rest: &mut &[u8]| -> Result<usize, FrameError> {
        let (head, tail) = rest
            .split_first_chunk::<4>()
            .ok_or(bad("truncated header block"))?;
        *rest = tail;
        Ok(u32::from_be_bytes(*head) as usize)
    };
    let count = take_u32(&mut rest)?;
    if count > 1000 {
        return Err(bad("too many headers"));
    }
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        let mut pair = [String::new(), String::new()];
        for slot in &mut pair {
            let len = take_u32(&mut rest)?;
            if len > rest.len() {
                return Err(bad("truncated header block"));
            }
            let (s, tail) = rest.split_at(len);
            *slot = String::from_utf8_lossy(s).into_owned();
            rest = tail;
        }
        let [name, value] = pair;
        headers.push((name, value));
    }
    Ok(headers)
}

/// Reads the next frame; `None` when the connection ended cleanly between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    codec: &mut HeaderCodec,
) -> Result<Option<Frame>, FrameError> {
    let bad = FrameError::Protocol;
    let mut head = [0u8; 8];
    match reader.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let first = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let flags = head[4];
    let length = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
    if length > MAX_FRAME {
        return Err(bad("frame too large"));
    }
    let mut payload = vec![0u8; length];
    reader.read_exact(&mut payload).await?;
    if first & 0x8000_0000 == 0 {
        let stream_id = first & 0x7fff_ffff;
        if stream_id == 0 {
            return Err(bad("data frame on stream 0"));
        }
        return Ok(Some(Frame::Data {
            stream_id,
            flags,
            data: payload.into(),
        }));
    }
    let version = ((first >> 16) & 0x7fff) as u16;
    if version != VERSION {
        return Err(bad("not SPDY version 3"));
    }
    let u32_at = |at: usize| -> Result<u32, FrameError> {
        payload
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or(bad("truncated control frame"))
    };
    let frame = match (first & 0xffff) as u16 {
        TYPE_SYN_STREAM => {
            if payload.len() < 10 {
                return Err(bad("truncated SYN_STREAM"));
            }
            Frame::SynStream {
                stream_id: u32_at(0)? & 0x7fff_ffff,
                flags,
                headers: codec.decode(&payload[10..])?,
            }
        }
        TYPE_SYN_REPLY => Frame::SynReply {
            stream_id: u32_at(0)? & 0x7fff_ffff,
            flags,
            headers: codec.decode(payload.get(4..).unwrap_or_default())?,
        },
        TYPE_RST_STREAM => Frame::RstStream {
            stream_id: u32_at(0)? & 0x7fff_ffff,
            status: u32_at(4)?,
        },
        TYPE_PING => Frame::Ping { id: u32_at(0)? },
        TYPE_GOAWAY => Frame::GoAway {
            last_stream_id: u32_at(0)? & 0x7fff_ffff,
            status: u32_at(4).unwrap_or(0),
        },
        TYPE_WINDOW_UPDATE => Frame::WindowUpdate {
            stream_id: u32_at(0)? & 0x7fff_ffff,
            delta: u32_at(4)? & 0x7fff_ffff,
        },
        TYPE_HEADERS => {
            // Keep the decompressor in step even though the headers are not used.
            codec.decode(payload.get(4..).unwrap_or_default())?;
            Frame::Ignored
        }
        TYPE_SETTINGS => Frame::Ignored,
        _ => Frame::Ignored,
    };
    Ok(Some(frame))
}

/// Encodes a frame for the wire (`Ignored` encodes to nothing).
pub fn encode_frame(frame: &Frame, codec: &mut HeaderCodec) -> Vec<u8> {
    fn control(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + payload.len());
        out.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
        out.extend_from_slice(&kind.to_be_bytes());
        out.push(flags);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(payload);
        out
    }
    let words = |a: u32, b: u32| {
        let mut p = a.to_be_bytes().to_vec();
        p.extend_from_slice(&b.to_be_bytes());
        p
    };
    match frame {
        Frame::SynStream {
            stream_id,
            flags,
            headers,
        } => {
            let mut p = words(*stream_id, 0);
            p.extend_from_slice(&[0, 0]);
            p.extend_from_slice(&codec.encode(headers));
            control(TYPE_SYN_STREAM, *flags, &p)
        }
        Frame::SynReply {
            stream_id,
            flags,
            headers,
        } => {
            let mut p = stream_id.to_be_bytes().to_vec();
            p.extend_from_slice(&codec.encode(headers));
            control(TYPE_SYN_REPLY, *flags, &p)
        }
        Frame::RstStream { stream_id, status } => {
            control(TYPE_RST_STREAM, 0, &words(*stream_id, *status))
        }
        Frame::Ping { id } => control(TYPE_PING, 0, &id.to_be_bytes()),
        Frame::GoAway {
            last_stream_id,
            status,
        } => control(TYPE_GOAWAY, 0, &words(*last_stream_id, *status)),
        Frame::WindowUpdate { stream_id, delta } => {
            control(TYPE_WINDOW_UPDATE, 0, &words(*stream_id, *delta))
        }
        Frame::Data {
            stream_id,
            flags,
            data,
        } => {
            let mut out = Vec::with_capacity(8 + data.len());
            out.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
            out.push(*flags);
            out.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
            out.extend_from_slice(data);
            out
        }
        Frame::Ignored => Vec::new(),
    }
}

/// The SPDY/3 header compression dictionary: the common header names, each preceded by its
/// length as four big-endian bytes, then a run of common values.
pub fn dictionary() -> Vec<u8> {
    const WORDS: &[&str] = &[
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
        "200 OK",
        "version",
        "HTTP/1.1",
        "url",
        "public",
        "set-cookie",
        "keep-alive",
        "origin",
    ];
    const TAIL: &str = concat!(
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request",
        "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented",
        "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ",
        "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,",
        "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch",
        "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
    );
    let mut out = Vec::with_capacity(1423);
    for word in WORDS {
        out.extend_from_slice(&(word.len() as u32).to_be_bytes());
        out.extend_from_slice(word.as_bytes());
    }
    out.extend_from_slice(TAIL.as_bytes());
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    fn adler32(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &byte in data {
            a = (a + u32::from(byte)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }

    #[test]
    fn the_dictionary_is_the_protocols() {
        let dict = dictionary();
        assert_eq!(dict.len(), 1423);
        // The dictionary id every SPDY/3 peer puts in its zlib header.
        assert_eq!(adler32(&dict), 0xe3c6_a7c2);
    }

    #[tokio::test]
    async fn frames_round_trip_through_two_codecs() {
        let (mut client, mut server) = (HeaderCodec::new(), HeaderCodec::new());
        let headers = vec![
            ("streamtype".to_owned(), "data".to_owned()),
            ("port".to_owned(), "8080".to_owned()),
            ("requestid".to_owned(), "0".to_owned()),
        ];
        let frames = vec![
            Frame::SynStream {
                stream_id: 1,
                flags: 0,
                headers: headers.clone(),
            },
            Frame::SynStream {
                stream_id: 3,
                flags: 0,
                headers: vec![("streamtype".into(), "error".into())],
            },
            Frame::Data {
                stream_id: 1,
                flags: FLAG_FIN,
                data: Bytes::from_static(b"hello"),
            },
            Frame::Ping { id: 7 },
            Frame::RstStream {
                stream_id: 3,
                status: 5,
            },
            Frame::WindowUpdate {
                stream_id: 1,
                delta: 5,
            },
            Frame::GoAway {
                last_stream_id: 3,
                status: 0,
            },
        ];
        let mut wire = Vec::new();
        for f in &frames {
            wire.extend(encode_frame(f, &mut client));
        }
        let mut reader = wire.as_slice();
        let mut got = Vec::new();
        while let Some(f) = read_frame(&mut reader, &mut server).await.unwrap() {
            got.push(f);
        }
        assert_eq!(got, frames);
    }
}
