//! The server side of a SPDY connection: streams the client opens are accepted, replied to and
//! handed out with a reader of their data and a writer back.
//!
//! One task reads frames (answering pings, routing data, acknowledging what it received with
//! window updates so a flow-controlled sender never stalls); one task owns the write half and
//! the header compressor, so frames from every stream go out whole and in order.

use std::collections::HashMap;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::frame::{encode_frame, read_frame, Frame, HeaderCodec, Headers, FLAG_FIN};

/// A stream the client opened.
#[derive(Debug)]
pub struct IncomingStream {
    pub id: u32,
    pub headers: Headers,
    /// The client's data; ends (`None`) at the client's FIN or reset.
    pub data: mpsc::Receiver<Bytes>,
    pub writer: StreamWriter,
}

impl IncomingStream {
    /// The value of a header (names are lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Writes data on one stream.
#[derive(Debug, Clone)]
pub struct StreamWriter {
    id: u32,
    frames: mpsc::Sender<Frame>,
}

impl StreamWriter {
    /// Sends data; false once the connection is gone.
    pub async fn send(&self, data: Bytes) -> bool {
        self.frames
            .send(Frame::Data {
                stream_id: self.id,
                flags: 0,
                data,
            })
            .await
            .is_ok()
    }

    /// Ends this side of the stream (an empty data frame with FIN).
    pub async fn close(&self) {
        let _ = self
            .frames
            .send(Frame::Data {
                stream_id: self.id,
                flags: FLAG_FIN,
                data: Bytes::new(),
            })
            .await;
    }

    /// Aborts the stream (RST_STREAM, CANCEL).
    pub async fn reset(&self) {
        let _ = self
            .frames
            .send(Frame::RstStream {
                stream_id: self.id,
                status: 5,
            })
            .await;
    }
}

/// Serves a SPDY connection over `io`; the client's streams arrive on the returned channel,
/// which closes when the connection ends.
pub fn serve<IO>(io: IO) -> mpsc::Receiver<IncomingStream>
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(io);
    let (frames_tx, mut frames_rx) = mpsc::channel::<Frame>(64);
    let (accept_tx, accept_rx) = mpsc::channel(16);

    tokio::spawn(async move {
        let mut codec = HeaderCodec::new();
        while let Some(frame) = frames_rx.recv().await {
            let bytes = encode_frame(&frame, &mut codec);
            if writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });

    tokio::spawn(async move {
        let mut codec = HeaderCodec::new();
        let mut streams: HashMap<u32, mpsc::Sender<Bytes>> = HashMap::new();
        loop {
            let frame = match read_frame(&mut reader, &mut codec).await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "stream connection ended");
                    break;
                }
            };
            match frame {
                Frame::SynStream {
                    stream_id,
                    flags,
                    headers,
                } => {
                    let (data_tx, data_rx) = mpsc::channel(64);
                    if flags & FLAG_FIN == 0 {
                        streams.insert(stream_id, data_tx);
                    }
                    let reply = Frame::SynReply {
                        stream_id,
                        flags: 0,
                        headers: Vec::new(),
                    };
                    if frames_tx.send(reply).await.is_err() {
                        break;
                    }
                    let stream = IncomingStream {
                        id: stream_id,
                        headers,
                        data: data_rx,
                        writer: StreamWriter {
                            id: stream_id,
                            frames: frames_tx.clone(),
                        },
                    };
                    if accept_tx.send(stream).await.is_err() {
                        break;
                    }
                }
                Frame::Data {
                    stream_id,
                    flags,
                    data,
                } => {
                    let len = data.len() as u32;
                    if let Some(tx) = streams.get(&stream_id) {
                        if !data.is_empty() && tx.send(data).await.is_err() {
                            streams.remove(&stream_id);
                        }
                    }
                    if flags & FLAG_FIN != 0 {
                        streams.remove(&stream_id);
                    } else if len > 0 {
                        let _ = frames_tx
                            .send(Frame::WindowUpdate {
                                stream_id,
                                delta: len,
                            })
                            .await;
                    }
                }
                Frame::RstStream { stream_id, .. } => {
                    streams.remove(&stream_id);
                }
                Frame::Ping { id } => {
                    let _ = frames_tx.send(Frame::Ping { id }).await;
                }
                Frame::GoAway { .. } => break,
                Frame::SynReply { .. } | Frame::WindowUpdate { .. } | Frame::Ignored => {}
            }
        }
    });
    accept_rx
}
