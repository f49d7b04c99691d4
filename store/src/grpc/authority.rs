//! Rewrites a client's HTTP/2 `:authority` from `scheme://host:port` to `host:port` for h2.
//!
//! etcdctl 3.4 dials `endpoint status`, `endpoint hashkv`, `defrag` and `move-leader` through
//! the target `passthrough:///http://host:port`, so grpc-go sends the whole URL as
//! `:authority`. grpc-go servers (real etcd) accept that; h2 refuses it as a malformed
//! authority and resets the stream with PROTOCOL_ERROR, and offers no way to relax the check.
//! So the client listener wraps each connection in a [`RewritingStream`], which rewrites the
//! client's header blocks on their way in.
//!
//! Every header block is decoded and re-encoded, not only the ones that change: HPACK blocks
//! refer to a dynamic table built from earlier blocks, so once one block differs from what the
//! client sent, the server's table follows this module's encoder, not the client's. All other
//! frames pass through byte for byte, and nothing the server sends is touched.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use loona_hpack::{Decoder, Encoder};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::Connected;

/// What an HTTP/2 client sends first when it knows the server speaks HTTP/2 (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER_LEN: usize = 9;

const HEADERS: u8 = 0x1;
const PUSH_PROMISE: u8 = 0x5;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
const PRIORITY_LEN: usize = 5;

/// Largest payload of a frame this module writes: the initial SETTINGS_MAX_FRAME_SIZE, which
/// every endpoint accepts whatever it advertises.
const MAX_FRAME_PAYLOAD: usize = 16_384;

/// The limit on the client's HPACK table. The server's SETTINGS_HEADER_TABLE_SIZE bounds the
/// client's encoder, and tonic leaves it at the protocol default, so a client asking for more
/// is broken (h2 would refuse it too). The encoder starts at the same default and never
/// resizes, so it always fits the server's decoder. The client's own
/// SETTINGS_HEADER_TABLE_SIZE bounds the server's encoder, which this module does not touch,
/// so that setting passes through unread.
const SERVER_HEADER_TABLE_SIZE: usize = 4_096;

/// Most header-block bytes held back per connection: far above any gRPC request (hyper refuses
/// decoded header lists over 16 KiB), low enough that a client cannot make the server buffer
/// megabytes here.
const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// Accepts clients from `listener`, each wrapped in a [`RewritingStream`], for
/// `Server::serve_with_incoming_shutdown`.
pub(crate) fn incoming(
    listener: TcpListener,
) -> impl Stream<Item = io::Result<RewritingStream<TcpStream>>> {
    TcpListenerStream::new(listener).map(|accepted| {
        let stream = accepted?;
        // tonic applies `Server::tcp_nodelay` only to listeners it binds itself; without it
        // small gRPC responses wait on Nagle's algorithm.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "failed to set TCP_NODELAY on a client connection");
        }
        Ok(RewritingStream::new(stream))
    })
}

/// A server-side connection whose client-to-server bytes go through an [`AuthorityRewriter`];
/// writes go to the client unchanged.
pub(crate) struct RewritingStream<S> {
    inner: S,
    rewriter: AuthorityRewriter,
    /// Bytes read from the client that still need rewriting.
    scratch: Box<[u8]>,
    /// Rewritten bytes not yet handed to the server, from `out_pos` on.
    out: Vec<u8>,
    out_pos: usize,
    eof: bool,
}

impl<S> RewritingStream<S> {
    pub(crate) fn new(inner: S) -> Self {
        RewritingStream {
            inner,
            rewriter: AuthorityRewriter::new(),
            scratch: vec![0; MAX_FRAME_PAYLOAD].into_boxed_slice(),
            out: Vec::new(),
            out_pos: 0,
            eof: false,
        }
    }
}

impl<S> fmt::Debug for RewritingStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RewritingStream")
            .field("rewriter", &self.rewriter)
            .field("unread", &(self.out.len() - self.out_pos))
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for RewritingStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        // Loops until it has bytes for the server or the client is done: a read that fills
        // nothing would tell the server the client hung up.
        loop {
            if this.out_pos < this.out.len() {
                let n = buf.remaining().min(this.out.len() - this.out_pos);
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let verbatim = this.rewriter.verbatim_len();
            if verbatim > 0 {
                // Bytes that pass unchanged (request bodies, mostly) go straight into the
                // server's buffer instead of through `scratch` and `out`.
                let dst = buf.initialize_unfilled_to(verbatim.min(buf.remaining()));
                let mut direct = ReadBuf::new(dst);
                ready!(Pin::new(&mut this.inner).poll_read(cx, &mut direct))?;
                let n = direct.filled().len();
                if n == 0 {
                    this.eof = true;
                    this.rewriter.finish(&mut this.out);
                    continue;
                }
                this.rewriter.skip_verbatim(n);
                buf.advance(n);
                return Poll::Ready(Ok(()));
            }
            let mut read = ReadBuf::new(&mut this.scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                this.eof = true;
                this.rewriter.finish(&mut this.out);
            } else {
                this.rewriter.feed(read.filled(), &mut this.out);
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for RewritingStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<S: Connected> Connected for RewritingStream<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

/// Where the rewriter is in the client's byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Preface,
    FrameHeader,
    /// This many bytes of the current frame's payload still pass through unchanged.
    Verbatim(usize),
    /// Collecting the payload of a HEADERS or CONTINUATION frame.
    HeaderPayload(FrameHeader),
    /// Rewriting stopped: everything from here on passes through unchanged.
    Raw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameHeader {
    len: usize,
    kind: u8,
    flags: u8,
    stream_id: u32,
}

impl FrameHeader {
    fn parse(b: &[u8; FRAME_HEADER_LEN]) -> Self {
        FrameHeader {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize,
            kind: b[3],
            flags: b[4],
            stream_id: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    /// Only for frames this module builds, whose payload is at most [`MAX_FRAME_PAYLOAD`].
    fn write(&self, out: &mut Vec<u8>) {
        let len = (self.len as u32).to_be_bytes();
        out.extend_from_slice(&len[1..]);
        out.push(self.kind);
        out.push(self.flags);
        out.extend_from_slice(&(self.stream_id & 0x7fff_ffff).to_be_bytes());
    }
}

/// A header block being collected, from its HEADERS frame to the frame with END_HEADERS.
#[derive(Debug)]
struct HeaderBlock {
    stream_id: u32,
    end_stream: bool,
    priority: Option<[u8; PRIORITY_LEN]>,
    /// The HPACK fragments, without padding or priority fields.
    fragment: Vec<u8>,
    /// The frames as the client sent them, in case the block has to go to h2 unchanged.
    raw: Vec<u8>,
}

/// The client-to-server half of a connection as a byte transformer, without I/O, so tests
/// can feed it any split of a stream.
pub(crate) struct AuthorityRewriter {
    state: State,
    /// The incomplete preface, frame header, or header frame (header and payload) so far.
    unit: Vec<u8>,
    block: Option<HeaderBlock>,
    /// The client's HPACK context: decodes what the client encoded.
    decoder: Decoder<'static>,
    /// The server's HPACK context: h2 decodes what this encoded.
    encoder: Encoder<'static>,
    /// Whether a block has been re-encoded, after which the server's HPACK table no longer
    /// matches the client's and the client's blocks must not reach it unchanged.
    diverged: bool,
}

impl fmt::Debug for AuthorityRewriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorityRewriter")
            .field("state", &self.state)
            .field("diverged", &self.diverged)
            .finish_non_exhaustive()
    }
}

impl AuthorityRewriter {
    pub(crate) fn new() -> Self {
        let mut decoder = Decoder::new();
        decoder.set_max_allowed_table_size(SERVER_HEADER_TABLE_SIZE);
        AuthorityRewriter {
            state: State::Preface,
            unit: Vec::new(),
            block: None,
            decoder,
            encoder: Encoder::new(),
            diverged: false,
        }
    }

    /// Takes the next bytes from the client and appends what the server should read to `out`.
    pub(crate) fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            match self.state {
                State::Raw => {
                    out.extend_from_slice(input);
                    return;
                }
                State::Verbatim(left) => {
                    let n = left.min(input.len());
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    self.skip_verbatim(n);
                }
                State::Preface => {
                    let complete = self.collect(&mut input, PREFACE.len());
                    if !PREFACE.starts_with(&self.unit) {
                        // Not HTTP/2 with prior knowledge: h2 refuses it as soon as it differs,
                        // so it must see the difference as soon as it arrives.
                        let unit = std::mem::take(&mut self.unit);
                        self.give_up(&[&unit], 0, out);
                    } else if complete {
                        out.append(&mut self.unit);
                        self.state = State::FrameHeader;
                    }
                }
                State::FrameHeader => {
                    if self.collect(&mut input, FRAME_HEADER_LEN) {
                        match <&[u8; FRAME_HEADER_LEN]>::try_from(self.unit.as_slice()) {
                            Ok(bytes) => {
                                let header = FrameHeader::parse(bytes);
                                self.on_frame_header(header, out);
                            }
                            Err(_) => {
                                let unit = std::mem::take(&mut self.unit);
                                self.give_up(&[&unit], 0, out);
                            }
                        }
                    }
                }
                State::HeaderPayload(header) => {
                    if self.collect(&mut input, FRAME_HEADER_LEN + header.len) {
                        self.on_header_frame(header, out);
                    }
                }
            }
        }
    }

    /// The client has closed its side: whatever is held back goes to the server unchanged, so
    /// h2 sees the same truncated frame it would have.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if let Some(block) = self.block.take() {
            out.extend_from_slice(&block.raw);
        }
        out.append(&mut self.unit);
        self.state = State::Raw;
    }

    /// How many of the next bytes pass through unchanged, whatever they are.
    pub(crate) fn verbatim_len(&self) -> usize {
        match self.state {
            State::Raw => usize::MAX,
            State::Verbatim(left) => left,
            State::Preface | State::FrameHeader | State::HeaderPayload(_) => 0,
        }
    }

    /// Accounts for `n` bytes, at most [`Self::verbatim_len`], passed on without `feed`.
    pub(crate) fn skip_verbatim(&mut self, n: usize) {
        if let State::Verbatim(left) = self.state {
            self.state = match left.saturating_sub(n) {
                0 => State::FrameHeader,
                left => State::Verbatim(left),
            };
        }
    }

    /// Moves bytes from `input` into `unit` until it holds `want`; true once it does.
    fn collect(&mut self, input: &mut &[u8], want: usize) -> bool {
        let n = want.saturating_sub(self.unit.len()).min(input.len());
        self.unit.extend_from_slice(&input[..n]);
        *input = &input[n..];
        self.unit.len() >= want
    }

    fn on_frame_header(&mut self, header: FrameHeader, out: &mut Vec<u8>) {
        let held = self.block.as_ref().map_or(0, |b| b.fragment.len());
        let starts_block = header.kind == HEADERS && self.block.is_none() && header.stream_id != 0;
        let continues_block = header.kind == CONTINUATION
            && self
                .block
                .as_ref()
                .is_some_and(|b| b.stream_id == header.stream_id);
        if starts_block || continues_block {
            if held + header.len > MAX_HEADER_BLOCK {
                return self.give_up_on_block(header.stream_id, out);
            }
            self.state = State::HeaderPayload(header);
            if header.len == 0 {
                self.on_header_frame(header, out);
            }
        } else if self.block.is_some() || matches!(header.kind, HEADERS | CONTINUATION) {
            // A broken header block sequence, which h2 refuses before decoding anything.
            self.give_up_on_block(header.stream_id, out);
        } else if header.kind == PUSH_PROMISE {
            // Clients may not push; its header block would reach h2's decoder unrewritten.
            self.give_up_on_block(header.stream_id, out);
        } else {
            // SETTINGS included: the only setting that matters to HPACK here is the server's.
            out.append(&mut self.unit);
            self.state = match header.len {
                0 => State::FrameHeader,
                len => State::Verbatim(len),
            };
        }
    }

    /// Adds a complete HEADERS or CONTINUATION frame, held in `unit`, to the current block, and
    /// re-encodes the block once it is complete.
    fn on_header_frame(&mut self, header: FrameHeader, out: &mut Vec<u8>) {
        self.state = State::FrameHeader;
        let unit = std::mem::take(&mut self.unit);
        let payload = unit.get(FRAME_HEADER_LEN..).unwrap_or_default();
        let mut block = match self.block.take() {
            Some(mut block) => {
                block.fragment.extend_from_slice(payload);
                block
            }
            None => {
                let Some((priority, fragment)) = split_headers_payload(header, payload) else {
                    return self.give_up(&[&unit], header.stream_id, out);
                };
                HeaderBlock {
                    stream_id: header.stream_id,
                    end_stream: header.flags & END_STREAM != 0,
                    priority,
                    fragment: fragment.to_vec(),
                    raw: Vec::new(),
                }
            }
        };
        block.raw.extend_from_slice(&unit);
        if header.flags & END_HEADERS == 0 {
            self.block = Some(block);
        } else {
            self.reencode(block, out);
        }
    }

    fn reencode(&mut self, block: HeaderBlock, out: &mut Vec<u8>) {
        let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut rewrote = false;
        let decoded = self.decoder.decode_with_cb(&block.fragment, |name, value| {
            let value = match strip_scheme(&name, &value) {
                Some(authority) => {
                    rewrote = true;
                    authority.to_vec()
                }
                None => value.into_owned(),
            };
            headers.push((name.into_owned(), value));
        });
        if decoded.is_ok() && !rewrote && !self.diverged {
            // A client's first request shows how it dialed: one that sends a plain authority
            // always does, so its connection needs no rewriting and costs nothing more.
            out.extend_from_slice(&block.raw);
            self.block = None;
            self.state = State::Raw;
            return;
        }
        let mut encoded = Vec::with_capacity(block.fragment.len());
        let encoded_ok = decoded.is_ok()
            && self
                .encoder
                .encode_into(
                    headers.iter().map(|(n, v)| (n.as_slice(), v.as_slice())),
                    &mut encoded,
                )
                .is_ok();
        if !encoded_ok {
            // The client's block does not decode; h2 would close the connection over it too.
            return self.give_up(&[&block.raw], block.stream_id, out);
        }
        self.diverged = true;
        write_header_frames(&block, &encoded, out);
    }

    /// Gives up with the current block and frame header held back.
    fn give_up_on_block(&mut self, stream_id: u32, out: &mut Vec<u8>) {
        let raw = self.block.take().map(|b| b.raw).unwrap_or_default();
        let unit = std::mem::take(&mut self.unit);
        self.give_up(&[&raw, &unit], stream_id, out);
    }

    /// Stops rewriting, for a client that breaks the protocol, and leaves the rest to h2.
    ///
    /// While the server's HPACK table is still the client's, the bytes held back go through
    /// unchanged, so h2 refuses them exactly as it would have. Once a block has been
    /// re-encoded, h2 would decode them against the wrong table and could act on misread
    /// headers, so an undecodable block goes instead and h2 closes the connection.
    fn give_up(&mut self, held: &[&[u8]], stream_id: u32, out: &mut Vec<u8>) {
        if self.diverged {
            FrameHeader {
                len: 1,
                kind: HEADERS,
                flags: END_HEADERS,
                stream_id: stream_id.max(1),
            }
            .write(out);
            // An indexed field with index 0, which no table holds (RFC 7541 §6.1).
            out.push(0x80);
        } else {
            for part in held {
                out.extend_from_slice(part);
            }
        }
        self.block = None;
        self.unit.clear();
        self.state = State::Raw;
    }
}

/// Splits a HEADERS frame's payload into its priority fields and header block fragment; `None`
/// if the padding or priority fields do not fit, or the stream depends on itself, all of which
/// h2 refuses without decoding the block.
fn split_headers_payload(
    header: FrameHeader,
    payload: &[u8],
) -> Option<(Option<[u8; PRIORITY_LEN]>, &[u8])> {
    let (pad, rest) = if header.flags & PADDED != 0 {
        let (&pad, rest) = payload.split_first()?;
        (usize::from(pad), rest)
    } else {
        (0, payload)
    };
    let (priority, rest) = if header.flags & PRIORITY != 0 {
        let (priority, rest) = rest.split_first_chunk::<PRIORITY_LEN>()?;
        let dependency =
            u32::from_be_bytes([priority[0], priority[1], priority[2], priority[3]]) & 0x7fff_ffff;
        if dependency == header.stream_id {
            return None;
        }
        (Some(*priority), rest)
    } else {
        (None, rest)
    };
    let fragment = rest.get(..rest.len().checked_sub(pad)?)?;
    Some((priority, fragment))
}

/// Writes a re-encoded block as one HEADERS frame and as many CONTINUATION frames as it needs.
fn write_header_frames(block: &HeaderBlock, encoded: &[u8], out: &mut Vec<u8>) {
    let priority_len = block.priority.map_or(0, |p| p.len());
    let (first, mut rest) = encoded.split_at(encoded.len().min(MAX_FRAME_PAYLOAD - priority_len));
    let mut flags = 0;
    if block.end_stream {
        flags |= END_STREAM;
    }
    if block.priority.is_some() {
        flags |= PRIORITY;
    }
    if rest.is_empty() {
        flags |= END_HEADERS;
    }
    FrameHeader {
        len: priority_len + first.len(),
        kind: HEADERS,
        flags,
        stream_id: block.stream_id,
    }
    .write(out);
    if let Some(priority) = block.priority {
        out.extend_from_slice(&priority);
    }
    out.extend_from_slice(first);
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rest.len().min(MAX_FRAME_PAYLOAD));
        rest = tail;
        FrameHeader {
            len: chunk.len(),
            kind: CONTINUATION,
            flags: if rest.is_empty() { END_HEADERS } else { 0 },
            stream_id: block.stream_id,
        }
        .write(out);
        out.extend_from_slice(chunk);
    }
}

/// The `host:port` of an `:authority` given as a URL (`scheme://host:port[/...]`); `None` for
/// any other header, and for an authority that is not a URL.
fn strip_scheme<'a>(name: &[u8], value: &'a [u8]) -> Option<&'a [u8]> {
    if name != b":authority" {
        return None;
    }
    let sep = value.windows(3).position(|w| w == b"://")?;
    let (scheme, rest) = (&value[..sep], &value[sep + 3..]);
    // RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    let valid_scheme = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
    if !valid_scheme {
        return None;
    }
    let end = rest
        .iter()
        .position(|c| matches!(c, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    (!authority.is_empty()).then_some(authority)
}

#[cfg(test)]
mod tests;
