//! The kubelet's streaming endpoints, as the API server forwards them:
//!
//! - `GET /containerLogs/{namespace}/{pod}/{container}?follow&tailLines&...`
//! - `GET|POST /exec/{namespace}/{pod}/{container}?command=...&stdin&stdout&stderr&tty`
//! - `GET|POST /attach/{namespace}/{pod}/{container}?stdin&stdout&stderr&tty`
//! - `GET|POST /portForward/{namespace}/{pod}`
//!
//! Exec and attach speak the remote-command protocol over WebSocket; port-forward speaks SPDY,
//! either after `Upgrade: SPDY/3.1` or inside a WebSocket whose subprotocol is
//! `SPDY/3.1+portforward.k8s.io`. What the node knows about its pods comes from a
//! [`StreamBackend`].

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::portforward::{self, Dial};
use super::remotecommand::{self, Process, StreamOptions};
use crate::logs::{self, LogOptions};

/// A response body: streamed, never failing (a broken stream just ends).
pub type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

/// The WebSocket subprotocol of port-forward tunnelled SPDY.
pub const PORT_FORWARD_WEBSOCKET: &str = "SPDY/3.1+portforward.k8s.io";

/// Why a stream cannot be served, with the HTTP status to answer.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StreamError {
    pub status: StatusCode,
    pub message: String,
}

impl StreamError {
    pub fn not_found(message: impl Into<String>) -> Self {
        StreamError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        StreamError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        StreamError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

/// A container's log file, and whether the container still runs (for `follow`).
pub struct LogSource {
    pub path: PathBuf,
    pub running: Box<dyn Fn() -> bool + Send + Sync>,
}

impl std::fmt::Debug for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSource")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A pod's port-forward target: its uid (for messages) and how to reach its ports.
pub struct PodPorts {
    pub uid: String,
    pub dial: Dial,
}

impl std::fmt::Debug for PodPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodPorts")
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

/// What the streaming endpoints need from the node.
#[async_trait::async_trait]
pub trait StreamBackend: Send + Sync {
    /// The log of a container (its previous attempt when `previous`).
    async fn log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<LogSource, StreamError>;

    /// Starts `command` in a running container.
    async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: Vec<String>,
        options: StreamOptions,
    ) -> Result<Process, StreamError>;

    /// Joins the streams of a running container's main process.
    async fn attach(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        options: StreamOptions,
    ) -> Result<Process, StreamError>;

    /// The ports of a running pod.
    async fn ports(&self, namespace: &str, pod: &str) -> Result<PodPorts, StreamError>;
}

/// Whether a path is one of the streaming endpoints.
pub fn is_stream_path(path: &str) -> bool {
    ["/containerLogs/", "/exec/", "/attach/", "/portForward/"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// Serves one streaming request.
pub async fn handle(req: Request<Incoming>, backend: Arc<dyn StreamBackend>) -> Response<Body> {
    match serve(req, backend).await {
        Ok(resp) => resp,
        Err(e) => text(e.status, e.message),
    }
}

async fn serve(
    mut req: Request<Incoming>,
    backend: Arc<dyn StreamBackend>,
) -> Result<Response<Body>, StreamError> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    if method != Method::GET && method != Method::POST {
        return Err(StreamError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: format!("method {method} is not allowed"),
        });
    }
    match segments.as_slice() {
        ["containerLogs", ns, pod, container] => {
            let options = LogOptions::from_query(&query, jiff::Timestamp::now())
                .map_err(|e| StreamError::bad_request(e.to_string()))?;
            let source = backend.log(ns, pod, container, options.previous).await?;
            Ok(log_response(source, options))
        }
        [kind @ ("exec" | "attach"), ns, pod, container] => {
            let (options, command) = StreamOptions::from_query(&query);
            options.check().map_err(StreamError::bad_request)?;
            let protocol = websocket_protocol(req.headers(), remotecommand::negotiate)?;
            let process = if *kind == "exec" {
                if command.is_empty() {
                    return Err(StreamError::bad_request("you must specify a command"));
                }
                backend.exec(ns, pod, container, command, options).await?
            } else {
                backend.attach(ns, pod, container, options).await?
            };
            let (resp, upgrade) = accept_websocket(&mut req, protocol)?;
            tokio::spawn(async move {
                if let Some(io) = upgraded(upgrade).await {
                    let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
                    remotecommand::serve(ws, protocol, options, process).await;
                }
            });
            Ok(resp)
        }
        ["portForward", ns, pod] => {
            let target = backend.ports(ns, pod).await?;
            let description = format!("{ns}/{pod}");
            if is_websocket(req.headers()) {
                let protocol = websocket_protocol(req.headers(), |offered| {
                    [PORT_FORWARD_WEBSOCKET, portforward::WEBSOCKET_PROTOCOL]
                        .into_iter()
                        .find(|want| offered.split(',').map(str::trim).any(|p| p == *want))
                })?;
                let ports = if protocol == portforward::WEBSOCKET_PROTOCOL {
                    portforward::ports_from_query(&query).map_err(StreamError::bad_request)?
                } else {
                    Vec::new()
                };
                let (resp, upgrade) = accept_websocket(&mut req, protocol)?;
                tokio::spawn(async move {
                    if let Some(io) = upgraded(upgrade).await {
                        let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
                        if ports.is_empty() {
                            let streams = super::spdy::serve(websocket_bytes(ws));
                            portforward::serve(streams, description, target.uid, target.dial).await;
                        } else {
                            portforward::serve_websocket(
                                ws,
                                ports,
                                description,
                                target.uid,
                                target.dial,
                            )
                            .await;
                        }
                    }
                });
                return Ok(resp);
            }
            let wants_spdy = header_is(req.headers(), header::UPGRADE, "spdy/3.1");
            if !wants_spdy {
                return Err(StreamError::bad_request(
                    "port-forward needs an upgrade to SPDY/3.1 or a WebSocket",
                ));
            }
            let upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Some(io) = upgraded(upgrade).await {
                    let streams = super::spdy::serve(io);
                    portforward::serve(streams, description, target.uid, target.dial).await;
                }
            });
            let mut resp = Response::new(empty());
            *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let h = resp.headers_mut();
            h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
            h.insert(
                "X-Stream-Protocol-Version",
                HeaderValue::from_static(portforward::PROTOCOL),
            );
            Ok(resp)
        }
        _ => Err(StreamError::not_found("404 page not found")),
    }
}

/// The log, streamed as it is read.
fn log_response(source: LogSource, options: LogOptions) -> Response<Body> {
    let (mut reader, mut writer) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Err(e) = logs::read(&source.path, &options, &mut writer, &source.running).await {
            if !matches!(e, logs::LogError::Write(_)) {
                let _ = writer.write_all(format!("{e}\n").as_bytes()).await;
            }
        }
    });
    let frames = async_stream::stream! {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => yield Ok::<_, std::convert::Infallible>(Frame::data(Bytes::copy_from_slice(&buf[..n]))),
            }
        }
    };
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(frames)));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

fn header_is(headers: &HeaderMap, name: header::HeaderName, want: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case(want)))
}

fn is_websocket(headers: &HeaderMap) -> bool {
    header_is(headers, header::UPGRADE, "websocket")
}

/// The WebSocket subprotocol to answer with, chosen by `pick` from what the client offers.
fn websocket_protocol(
    headers: &HeaderMap,
    pick: impl Fn(&str) -> Option<&'static str>,
) -> Result<&'static str, StreamError> {
    if !is_websocket(headers) {
        return Err(StreamError::bad_request(
            "this endpoint needs a WebSocket upgrade (protocols v5.channel.k8s.io or v4.channel.k8s.io)",
        ));
    }
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    pick(&offered).ok_or_else(|| {
        StreamError::bad_request(format!(
            "none of the offered WebSocket subprotocols is supported: {offered:?}"
        ))
    })
}

/// The `101 Switching Protocols` answer to a WebSocket request.
fn accept_websocket(
    req: &mut Request<Incoming>,
    protocol: &'static str,
) -> Result<(Response<Body>, hyper::upgrade::OnUpgrade), StreamError> {
    let key = req
        .headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or_else(|| StreamError::bad_request("missing Sec-WebSocket-Key"))?;
    let accept = derive_accept_key(key.as_bytes());
    let upgrade = hyper::upgrade::on(req);
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(protocol),
    );
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    Ok((resp, upgrade))
}

async fn upgraded(upgrade: hyper::upgrade::OnUpgrade) -> Option<TokioIo<Upgraded>> {
    match upgrade.await {
        Ok(io) => Some(TokioIo::new(io)),
        Err(e) => {
            tracing::debug!(error = %e, "stream upgrade failed");
            None
        }
    }
}

/// The bytes carried by a WebSocket's binary messages, as one duplex byte stream.
fn websocket_bytes<S>(ws: WebSocketStream<S>) -> tokio::io::DuplexStream
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (ours, theirs) = tokio::io::duplex(256 * 1024);
    let (mut sink, mut source) = ws.split();
    let (mut read_half, mut write_half) = tokio::io::split(theirs);
    tokio::spawn(async move {
        while let Some(Ok(message)) = source.next().await {
            let data = match message {
                Message::Binary(b) => b,
                Message::Close(_) => break,
                _ => continue,
            };
            if write_half.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = write_half.shutdown().await;
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match read_half.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let message = Message::Binary(Bytes::copy_from_slice(&buf[..n]));
                    if sink.send(message).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = sink.close().await;
    });
    ours
}

fn empty() -> Body {
    BodyExt::boxed(Full::new(Bytes::new()))
}

fn text(status: StatusCode, message: String) -> Response<Body> {
    let mut resp = Response::new(BodyExt::boxed(Full::new(Bytes::from(message))));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
