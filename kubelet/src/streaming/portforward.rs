//! Port forwarding, in its two protocols:
//!
//! - over SPDY (`portforward.k8s.io`, what kubectl speaks): for every local connection, the
//!   client opens a pair of streams sharing a `requestid`, an `error` stream and a `data`
//!   stream naming the pod `port`;
//! - over WebSocket (`v4.channel.k8s.io`, what the Python client speaks): the request's `ports`
//!   query names the ports, and port number `i` gets channel `2i` for data and `2i+1` for
//!   errors, each opened by the server with the port as two little-endian bytes.
//!
//! Either way the kubelet connects to the port in the pod's network namespace and copies bytes
//! both ways; what goes wrong is written on the error stream or channel, which clients print.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use tokio_tungstenite::tungstenite::Message;

use super::spdy::IncomingStream;

/// The subprotocol of port forwarding.
pub const PROTOCOL: &str = "portforward.k8s.io";

/// How long the second stream of a pair may take to arrive.
const PAIR_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects to a port of the pod (in its network namespace).
pub type Dial = Arc<
    dyn Fn(u16) -> Pin<Box<dyn Future<Output = std::io::Result<TcpStream>> + Send>> + Send + Sync,
>;

#[derive(Default)]
struct Pair {
    error: Option<IncomingStream>,
    data: Option<IncomingStream>,
    since: Option<Instant>,
}

/// Serves the streams of one port-forward connection for the pod described as `pod`
/// (`namespace/name`, for messages) with uid `uid`, until the client hangs up.
pub async fn serve(
    mut streams: mpsc::Receiver<IncomingStream>,
    pod: String,
    uid: String,
    dial: Dial,
) {
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    while let Some(stream) = streams.recv().await {
        let request = stream
            .header("requestid")
            .map(str::to_owned)
            .unwrap_or_else(|| stream.id.to_string());
        let kind = stream.header("streamtype").unwrap_or_default().to_owned();
        let now = Instant::now();
        pairs.retain(|_, p| p.since.is_some_and(|t| now - t < PAIR_TIMEOUT));
        let pair = pairs.entry(request.clone()).or_default();
        pair.since.get_or_insert(now);
        match kind.as_str() {
            "error" => pair.error = Some(stream),
            "data" => pair.data = Some(stream),
            other => {
                tracing::debug!(streamtype = other, "unknown port-forward stream");
                stream.writer.reset().await;
                continue;
            }
        }
        if pair.error.is_some() && pair.data.is_some() {
            if let Some(Pair {
                error: Some(error),
                data: Some(data),
                ..
            }) = pairs.remove(&request)
            {
                tokio::spawn(forward(error, data, pod.clone(), uid.clone(), dial.clone()));
            }
        }
    }
}

/// Joins one data stream to a connection to the pod's port.
async fn forward(
    error: IncomingStream,
    mut data: IncomingStream,
    pod: String,
    uid: String,
    dial: Dial,
) {
    let port_header = data.header("port").unwrap_or_default().to_owned();
    let error_writer = error.writer.clone();
    let fail = |message: String| async move {
        let _ = error_writer.send(message.into_bytes().into()).await;
        error_writer.close().await;
    };
    let Ok(port) = port_header.parse::<u16>() else {
        data.writer.close().await;
        fail(format!("invalid port header {port_header:?}")).await;
        return;
    };
    let conn = match dial(port).await {
        Ok(c) => c,
        Err(e) => {
            data.writer.close().await;
            fail(format!(
                "error forwarding port {port} to pod {pod}, uid {uid}: {e}"
            ))
            .await;
            return;
        }
    };
    let _ = conn.set_nodelay(true);
    let (mut from_pod, mut to_pod) = conn.into_split();
    let writer = data.writer.clone();
    let upstream = async move {
        while let Some(chunk) = data.data.recv().await {
            if to_pod.write_all(&chunk).await.is_err() {
                return;
            }
        }
        // The client finished sending: half-close towards the pod.
        let _ = to_pod.shutdown().await;
    };
    let downstream = async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match from_pod.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if !writer.send(buf[..n].to_vec().into()).await {
                        return;
                    }
                }
            }
        }
        writer.close().await;
    };
    tokio::join!(upstream, downstream);
    error.writer.close().await;
}

/// The WebSocket subprotocol of channel port-forwarding.
pub const WEBSOCKET_PROTOCOL: &str = "v4.channel.k8s.io";

/// The ports of a WebSocket port-forward request (`ports=8080,9090` or repeated).
pub fn ports_from_query(query: &str) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key != "ports" {
            continue;
        }
        if value.is_empty() {
            return Err("query parameter \"ports\" cannot be empty".into());
        }
        for p in value.split(',') {
            let port: u16 = p
                .trim()
                .parse()
                .map_err(|_| format!("unable to parse \"{p}\" as a port"))?;
            if port == 0 {
                return Err("port \"0\" must be > 0".into());
            }
            ports.push(port);
        }
    }
    if ports.is_empty() {
        return Err("query parameter \"ports\" is required".into());
    }
    Ok(ports)
}

/// Serves WebSocket port-forwarding: one connection to each of `ports` for the life of the
/// WebSocket, multiplexed on channels.
pub async fn serve_websocket<W, E>(ws: W, ports: Vec<u16>, pod: String, uid: String, dial: Dial)
where
    W: futures::Stream<Item = Result<Message, E>>
        + futures::Sink<Message, Error = E>
        + Send
        + Unpin
        + 'static,
    E: std::fmt::Display + Send + 'static,
{
    use futures::{SinkExt, StreamExt};
    let (mut sink, mut source) = ws.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(64);
    let mut to_pods: Vec<Option<mpsc::Sender<Bytes>>> = Vec::new();
    for (i, port) in ports.iter().copied().enumerate() {
        let (data_ch, err_ch) = ((2 * i) as u8, (2 * i + 1) as u8);
        let mut opening = vec![data_ch];
        opening.extend_from_slice(&port.to_le_bytes());
        let _ = out_tx.send(opening).await;
        let mut opening = vec![err_ch];
        opening.extend_from_slice(&port.to_le_bytes());
        let _ = out_tx.send(opening).await;
        let (in_tx, mut in_rx) = mpsc::channel::<Bytes>(64);
        to_pods.push(Some(in_tx));
        let (out, dial, pod, uid) = (out_tx.clone(), dial.clone(), pod.clone(), uid.clone());
        tokio::spawn(async move {
            let conn = match dial(port).await {
                Ok(c) => c,
                Err(e) => {
                    let mut msg = vec![err_ch];
                    msg.extend_from_slice(
                        format!("error forwarding port {port} to pod {pod}, uid {uid}: {e}")
                            .as_bytes(),
                    );
                    let _ = out.send(msg).await;
                    return;
                }
            };
            let _ = conn.set_nodelay(true);
            let (mut from_pod, mut to_pod) = conn.into_split();
            let up = async move {
                while let Some(chunk) = in_rx.recv().await {
                    if to_pod.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
                let _ = to_pod.shutdown().await;
            };
            let down = async move {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match from_pod.read(&mut buf[1..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            buf[0] = data_ch;
                            if out.send(buf[..=n].to_vec()).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            };
            // The pod closing its side ends the port; the client finishing only half-closes.
            tokio::pin!(up, down);
            tokio::select! {
                _ = &mut down => {}
                _ = &mut up => down.await,
            }
        });
    }
    drop(out_tx);
    let client = tokio::spawn(async move {
        while let Some(Ok(message)) = source.next().await {
            let data = match message {
                Message::Binary(b) => b,
                Message::Close(_) => break,
                _ => continue,
            };
            let Some((&channel, payload)) = data.split_first() else {
                continue;
            };
            // Only data channels (even) carry bytes for the pod.
            let index = usize::from(channel / 2);
            if channel % 2 == 0 {
                if let Some(Some(tx)) = to_pods.get(index) {
                    if !payload.is_empty()
                        && tx.send(Bytes::copy_from_slice(payload)).await.is_err()
                    {
                        to_pods[index] = None;
                    }
                }
            }
        }
    });
    while let Some(frame) = out_rx.recv().await {
        if sink.send(Message::Binary(frame.into())).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
    client.abort();
}
