//! Port forwarding (`portforward.k8s.io`): for every local connection, the client opens a pair
//! of streams sharing a `requestid`, an `error` stream and a `data` stream naming the pod
//! `port`. The kubelet connects to that port in the pod's network namespace and copies bytes
//! both ways; what goes wrong is written on the error stream, which kubectl prints.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

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
