//! Tests for the authority rewriter: odd splits, HPACK table consistency, and broken input.

use super::*;
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Headers = Vec<(Vec<u8>, Vec<u8>)>;

fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

fn encode(encoder: &mut Encoder<'_>, h: &Headers) -> Vec<u8> {
    encoder.encode(h.iter().map(|(n, v)| (n.as_slice(), v.as_slice())))
}

fn frame(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let len = (payload.len() as u32).to_be_bytes();
    out.extend_from_slice(&len[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream_id.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn request(authority: &str, path: &str) -> Headers {
    headers(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", authority),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        ("user-agent", "grpc-go/1.26.0"),
    ])
}

/// A frame as read back from the rewriter's output.
#[derive(Debug, PartialEq)]
struct Frame {
    kind: u8,
    flags: u8,
    stream_id: u32,
    payload: Vec<u8>,
}

/// Splits the output after the preface into frames, checking the preface is intact.
fn frames(out: &[u8]) -> Vec<Frame> {
    assert_eq!(&out[..PREFACE.len()], PREFACE);
    let mut rest = &out[PREFACE.len()..];
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let header = FrameHeader::parse(rest[..FRAME_HEADER_LEN].try_into().expect("frame header"));
        let end = FRAME_HEADER_LEN + header.len;
        frames.push(Frame {
            kind: header.kind,
            flags: header.flags,
            stream_id: header.stream_id,
            payload: rest[FRAME_HEADER_LEN..end].to_vec(),
        });
        rest = &rest[end..];
    }
    frames
}

/// Decodes each header block in `frames` with one decoder, as h2 would, checking that no
/// frame exceeds the default maximum size.
fn decode_blocks(frames: &[Frame]) -> Vec<(u32, u8, Headers)> {
    let mut decoder = Decoder::new();
    let mut blocks = Vec::new();
    let mut current: Option<(u32, u8, Vec<u8>)> = None;
    for f in frames {
        assert!(f.payload.len() <= MAX_FRAME_PAYLOAD);
        match f.kind {
            HEADERS => {
                assert!(current.is_none(), "HEADERS inside a block");
                let skip = if f.flags & PRIORITY != 0 { 5 } else { 0 };
                assert_eq!(f.flags & PADDED, 0);
                current = Some((f.stream_id, f.flags, f.payload[skip..].to_vec()));
            }
            CONTINUATION => {
                let block = current.as_mut().expect("CONTINUATION outside a block");
                assert_eq!(block.0, f.stream_id);
                block.2.extend_from_slice(&f.payload);
            }
            _ => {
                assert!(current.is_none(), "frame inside a block");
                continue;
            }
        }
        if f.flags & END_HEADERS != 0 {
            let (id, flags, fragment) = current.take().expect("block");
            blocks.push((
                id,
                flags,
                decoder.decode(&fragment).expect("decodable block"),
            ));
        }
    }
    assert!(current.is_none(), "unterminated block");
    blocks
}

fn rewrite_in_chunks(input: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut rewriter = AuthorityRewriter::new();
    let mut out = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        rewriter.feed(&rest[..n], &mut out);
        rest = &rest[n..];
        i += 1;
    }
    rewriter.finish(&mut out);
    out
}

fn settings() -> Vec<u8> {
    // SETTINGS_HEADER_TABLE_SIZE = 0 and SETTINGS_INITIAL_WINDOW_SIZE: the table size is
    // the client's, for the server's encoder, and must not change the rewriting.
    let payload = [0, 1, 0, 0, 0, 0, 0, 4, 0, 0x40, 0, 0];
    frame(0x4, 0, 0, &payload)
}

#[test]
fn rewrites_url_authority_across_odd_splits() {
    let mut encoder = Encoder::new();
    let req = request("http://127.0.0.1:2379", "/etcdserverpb.Maintenance/Status");
    let data = frame(0x0, END_STREAM, 1, &[0, 0, 0, 0, 2, 0x08, 0x01]);
    let mut input = PREFACE.to_vec();
    input.extend(settings());
    input.extend(frame(HEADERS, END_HEADERS, 1, &encode(&mut encoder, &req)));
    input.extend(&data);
    input.extend(frame(0x4, 0x1, 0, &[])); // SETTINGS ack, empty payload

    for sizes in [&[1][..], &[2, 3], &[5, 7, 11], &[13], &[4096], &[9, 1]] {
        let out = rewrite_in_chunks(&input, sizes);
        let frames = frames(&out);
        assert_eq!(frames.len(), 4, "{sizes:?}");
        assert_eq!(frame(0x4, 0, 0, &frames[0].payload), settings());
        let blocks = decode_blocks(&frames);
        let mut want = req.clone();
        want[3].1 = b"127.0.0.1:2379".to_vec();
        assert_eq!(blocks, vec![(1, END_HEADERS, want)], "{sizes:?}");
        let data_out = &frames[2];
        assert_eq!(
            frame(
                data_out.kind,
                data_out.flags,
                data_out.stream_id,
                &data_out.payload
            ),
            data
        );
        assert_eq!((frames[3].kind, frames[3].flags), (0x4, 0x1));
    }
}

#[test]
fn keeps_tables_consistent_across_blocks() {
    let mut encoder = Encoder::new();
    let big = "x".repeat(20_000);
    let blocks_in = [
        request("http://127.0.0.1:2379", "/etcdserverpb.KV/Range"),
        // Same authority: the client now refers to its dynamic table entry.
        request("http://127.0.0.1:2379", "/etcdserverpb.KV/Put"),
        request("127.0.0.1:2379", "/etcdserverpb.KV/Range"),
        // Larger than a frame, so it leaves as HEADERS plus CONTINUATION.
        {
            let mut h = request("https://127.0.0.1:2379/path?q", "/etcdserverpb.KV/Txn");
            h.push((b"x-big".to_vec(), big.as_bytes().to_vec()));
            h
        },
        request("http://127.0.0.1:2379", "/etcdserverpb.Lease/LeaseGrant"),
    ];
    let mut input = PREFACE.to_vec();
    for (i, h) in blocks_in.iter().enumerate() {
        let id = 2 * i as u32 + 1;
        let block = encode(&mut encoder, h);
        match i {
            // PADDED and PRIORITY, and split over HEADERS and two CONTINUATIONs.
            1 => {
                let (a, rest) = block.split_at(3);
                let (b, c) = rest.split_at(4);
                let mut payload = vec![4]; // pad length
                payload.extend_from_slice(&[0, 0, 0, 1, 15]); // depends on stream 1
                payload.extend_from_slice(a);
                payload.extend_from_slice(&[0; 4]);
                input.extend(frame(HEADERS, PADDED | PRIORITY | END_STREAM, id, &payload));
                input.extend(frame(CONTINUATION, 0, id, b));
                input.extend(frame(CONTINUATION, END_HEADERS, id, c));
            }
            _ => input.extend(frame(HEADERS, END_HEADERS, id, &block)),
        }
        input.extend(frame(0x0, END_STREAM, id, b"body"));
    }

    let out = rewrite_in_chunks(&input, &[7, 1, 300]);
    let frames = frames(&out);
    let blocks = decode_blocks(&frames);
    assert_eq!(blocks.len(), blocks_in.len());
    for (i, (id, flags, got)) in blocks.iter().enumerate() {
        let mut want = blocks_in[i].clone();
        want[3].1 = b"127.0.0.1:2379".to_vec();
        assert_eq!(got, &want, "block {i}");
        assert_eq!(*id, 2 * i as u32 + 1);
        if i == 1 {
            assert_eq!(*flags, PRIORITY | END_STREAM | END_HEADERS);
            let headers_frame = frames.iter().find(|f| f.stream_id == 3).expect("stream 3");
            assert_eq!(&headers_frame.payload[..5], &[0, 0, 0, 1, 15]);
        }
    }
    assert!(frames
        .iter()
        .any(|f| f.kind == CONTINUATION && f.stream_id == 7));
    let bodies = frames.iter().filter(|f| f.kind == 0x0).count();
    assert_eq!(bodies, blocks_in.len());
}

#[test]
fn decodes_huffman_coded_blocks() {
    // RFC 7541 C.4.1: GET http://www.example.com/ with Huffman-coded strings.
    let block = [
        0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90,
        0xf4, 0xff,
    ];
    let mut input = PREFACE.to_vec();
    input.extend(frame(HEADERS, END_HEADERS | END_STREAM, 1, &block));
    let out = rewrite_in_chunks(&input, &[3]);
    let blocks = decode_blocks(&frames(&out));
    let want = headers(&[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ]);
    assert_eq!(blocks, vec![(1, END_HEADERS | END_STREAM, want)]);
}

#[test]
fn passes_other_protocols_through() {
    for input in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"PRI * HTTP/1.1\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ] {
        let mut rewriter = AuthorityRewriter::new();
        let mut out = Vec::new();
        rewriter.feed(&input[..2], &mut out);
        rewriter.feed(&input[2..], &mut out);
        assert_eq!(out, input);
    }
    // A wrong preface is passed on as soon as it is wrong, not held for 24 bytes.
    let mut rewriter = AuthorityRewriter::new();
    let mut out = Vec::new();
    rewriter.feed(b"GET", &mut out);
    assert_eq!(out, b"GET");
}

#[test]
fn broken_sequence_before_any_block_passes_through_unchanged() {
    let mut encoder = Encoder::new();
    let block = encode(&mut encoder, &request("http://a:1", "/p"));
    let mut input = PREFACE.to_vec();
    input.extend(frame(HEADERS, 0, 1, &block[..5]));
    input.extend(frame(0x0, 0, 1, b"not a continuation"));
    input.extend(frame(CONTINUATION, END_HEADERS, 1, &block[5..]));
    assert_eq!(rewrite_in_chunks(&input, &[5]), input);

    // Padding longer than the payload.
    let mut input = PREFACE.to_vec();
    input.extend(frame(HEADERS, PADDED | END_HEADERS, 1, &[200, 0x82]));
    input.extend(frame(0x0, 0, 1, b"x"));
    assert_eq!(rewrite_in_chunks(&input, &[4]), input);
}

#[test]
fn broken_block_after_rewriting_poisons_the_connection() {
    let mut encoder = Encoder::new();
    let first = encode(&mut encoder, &request("http://a:1", "/p"));
    let mut input = PREFACE.to_vec();
    input.extend(frame(HEADERS, END_HEADERS, 1, &first));
    // Index 99 is in neither table.
    input.extend(frame(HEADERS, END_HEADERS, 3, &[0x80 | 99]));
    input.extend(frame(0x0, 0, 3, b"after"));
    let out = rewrite_in_chunks(&input, &[6]);
    let frames = frames(&out);
    assert_eq!(decode_blocks(&frames[..1]).len(), 1);
    assert_eq!(
        frames[1],
        Frame {
            kind: HEADERS,
            flags: END_HEADERS,
            stream_id: 3,
            payload: vec![0x80]
        }
    );
    assert_eq!(frames[2].payload, b"after");
    assert!(Decoder::new().decode(&frames[1].payload).is_err());
}

#[test]
fn truncated_input_is_passed_on_at_close() {
    let mut encoder = Encoder::new();
    let block = encode(&mut encoder, &request("http://a:1", "/p"));
    let mut input = PREFACE.to_vec();
    input.extend(frame(HEADERS, 0, 1, &block));
    input.extend(&frame(CONTINUATION, END_HEADERS, 1, b"abc")[..6]);
    assert_eq!(rewrite_in_chunks(&input, &[10]), input);
}

#[test]
fn oversized_block_is_not_buffered() {
    let mut input = PREFACE.to_vec();
    let mut header = Vec::new();
    FrameHeader {
        len: MAX_HEADER_BLOCK + 1,
        kind: HEADERS,
        flags: END_HEADERS,
        stream_id: 1,
    }
    .write(&mut header);
    input.extend(&header);
    input.extend(vec![0x82; 100]);
    let mut rewriter = AuthorityRewriter::new();
    let mut out = Vec::new();
    rewriter.feed(&input, &mut out);
    assert_eq!(out, input);
    assert_eq!(rewriter.verbatim_len(), usize::MAX);
}

#[test]
fn strips_only_url_authorities() {
    let a = b":authority";
    assert_eq!(
        strip_scheme(a, b"http://127.0.0.1:2379"),
        Some(&b"127.0.0.1:2379"[..])
    );
    assert_eq!(strip_scheme(a, b"https://h:1/x/y?z"), Some(&b"h:1"[..]));
    assert_eq!(strip_scheme(a, b"unix+x://h"), Some(&b"h"[..]));
    assert_eq!(strip_scheme(a, b"127.0.0.1:2379"), None);
    assert_eq!(strip_scheme(a, b"http://"), None);
    assert_eq!(strip_scheme(a, b"://h:1"), None);
    assert_eq!(strip_scheme(a, b"1http://h:1"), None);
    assert_eq!(strip_scheme(b":path", b"http://h:1"), None);
}

#[tokio::test]
async fn stream_rewrites_reads_and_passes_writes() {
    let mut encoder = Encoder::new();
    let mut input = PREFACE.to_vec();
    input.extend(frame(
        HEADERS,
        END_HEADERS,
        1,
        &encode(&mut encoder, &request("http://127.0.0.1:2379", "/p")),
    ));
    input.extend(frame(0x0, END_STREAM, 1, &[7; 40_000][..]));
    let want = rewrite_in_chunks(&input, &[input.len()]);

    let (mut client, server) = tokio::io::duplex(1024);
    let mut server = RewritingStream::new(server);
    let writer = tokio::spawn(async move {
        for chunk in input.chunks(333) {
            client.write_all(chunk).await.expect("write");
        }
        client.shutdown().await.expect("shutdown");
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).await.expect("read reply");
        reply
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 777];
    loop {
        let n = server.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, want);
    server.write_all(b"server bytes").await.expect("write");
    server.shutdown().await.expect("shutdown");
    drop(server);
    assert_eq!(writer.await.expect("writer"), b"server bytes");
}

#[test]
fn plain_first_request_leaves_the_connection_untouched() {
    let mut encoder = Encoder::new();
    let mut input = PREFACE.to_vec();
    for (i, a) in ["127.0.0.1:2379", "http://127.0.0.1:2379"]
        .iter()
        .enumerate()
    {
        let id = 2 * i as u32 + 1;
        input.extend(frame(
            HEADERS,
            END_HEADERS,
            id,
            &encode(&mut encoder, &request(a, "/p")),
        ));
        input.extend(frame(0x0, END_STREAM, id, b"body"));
    }
    assert_eq!(rewrite_in_chunks(&input, &[7]), input);
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_frames(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        split in 1usize..64,
    ) {
        let mut input = PREFACE.to_vec();
        input.extend(&body);
        let _ = rewrite_in_chunks(&input, &[split]);
    }

    #[test]
    fn never_panics_on_arbitrary_header_blocks(
        frames_in in proptest::collection::vec(
            (
                prop_oneof![Just(HEADERS), Just(CONTINUATION), Just(0x0), Just(PUSH_PROMISE)],
                any::<u8>(),
                0u32..4,
                proptest::collection::vec(any::<u8>(), 0..64),
            ),
            0..12,
        ),
        split in 1usize..32,
    ) {
        // Framing is valid, so the HPACK decoder and the block sequencing see garbage.
        let mut input = PREFACE.to_vec();
        for (kind, flags, id, payload) in &frames_in {
            input.extend(frame(*kind, *flags, *id, payload));
        }
        let out = rewrite_in_chunks(&input, &[split]);
        prop_assert_eq!(&out[..PREFACE.len()], PREFACE);
    }

    #[test]
    fn output_does_not_depend_on_splits(
        hosts in proptest::collection::vec("[a-z0-9.]{1,12}:[0-9]{1,5}", 1..6),
        scheme in prop_oneof![Just(""), Just("http://"), Just("https://")],
        split in 1usize..40,
    ) {
        // A client dials one way for the whole connection, so all its authorities look alike.
        let authorities: Vec<String> = hosts.iter().map(|h| format!("{scheme}{h}")).collect();
        let mut encoder = Encoder::new();
        let mut input = PREFACE.to_vec();
        for (i, a) in authorities.iter().enumerate() {
            let id = 2 * i as u32 + 1;
            input.extend(frame(HEADERS, END_HEADERS, id, &encode(&mut encoder, &request(a, "/p"))));
            input.extend(frame(0x0, END_STREAM, id, a.as_bytes()));
        }
        let whole = rewrite_in_chunks(&input, &[input.len()]);
        prop_assert_eq!(&rewrite_in_chunks(&input, &[split]), &whole);
        let blocks = decode_blocks(&frames(&whole));
        for ((_, _, got), a) in blocks.iter().zip(&authorities) {
            let plain = a.split("://").last().expect("host");
            prop_assert_eq!(&got[3].1, plain.as_bytes());
        }
    }
}
