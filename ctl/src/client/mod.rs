//! The HTTP client: one kept-alive connection (HTTP/2 when the server offers it, else HTTP/1.1)
//! over rustls, bearer tokens or client certificates, and Kubernetes `Status` errors.

mod tls;
mod upgrade;

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::kubeconfig::Connection;

/// An error status from the API server, as kubectl prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    /// The whole `Status` object (or `null` when the body was not one).
    pub status: Value,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.reason.is_empty() {
            write!(f, "Error from server: {}", self.message)
        } else {
            write!(f, "Error from server ({}): {}", self.reason, self.message)
        }
    }
}

impl ApiError {
    /// Reads a failed response's body (a `Status`, or anything else).
    pub fn from_response(code: StatusCode, body: &[u8]) -> ApiError {
        let status: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let is_status = status.get("kind").and_then(Value::as_str) == Some("Status");
        let text = |k: &str| {
            status
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (reason, message) = if is_status {
            (text("reason"), text("message"))
        } else {
            let fallback = match code {
                StatusCode::NOT_FOUND => (
                    "NotFound",
                    "the server could not find the requested resource",
                ),
                StatusCode::FORBIDDEN => ("Forbidden", "forbidden"),
                StatusCode::UNAUTHORIZED => (
                    "Unauthorized",
                    "the server has asked for the client to provide credentials",
                ),
                StatusCode::METHOD_NOT_ALLOWED => (
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                ),
                _ => ("", ""),
            };
            let body_text = String::from_utf8_lossy(body).trim().to_owned();
            let message = if fallback.1.is_empty() {
                if body_text.is_empty() {
                    "an error on the server (\"unknown\") has prevented the request from succeeding"
                        .to_owned()
                } else {
                    body_text
                }
            } else {
                fallback.1.to_owned()
            };
            (fallback.0.to_owned(), message)
        };
        ApiError {
            code: code.as_u16(),
            reason,
            message,
            status,
        }
    }
}

/// What can go wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "The connection to the server {0} was refused - did you specify the right host or port?"
    )]
    Refused(String),
    #[error("Unable to connect to the server: {0}")]
    Connect(String),
    #[error("{0}")]
    Api(ApiError),
    #[error("the server's answer could not be read: {0}")]
    Decode(String),
    #[error(transparent)]
    Tls(#[from] tls::Error),
    #[error("invalid server URL {0:?}")]
    BadServer(String),
}

/// A result with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sender::H1(_) => "Sender::H1",
            Sender::H2(_) => "Sender::H2",
        })
    }
}

/// A client for one API server.
pub struct Client {
    host: String,
    port: u16,
    tls: Option<tokio_rustls::TlsConnector>,
    /// The same TLS configuration offering only HTTP/1.1, for upgraded connections.
    tls_upgrade: Option<tokio_rustls::TlsConnector>,
    server_name: String,
    authorization: Option<String>,
    sender: Mutex<Option<Sender>>,
    /// The namespace commands default to.
    pub namespace: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls.is_some())
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// One answer, its body read.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Client {
    /// Prepares a client for `conn` (nothing is dialled yet).
    ///
    /// # Errors
    /// When the server URL or the TLS material is invalid.
    pub fn new(conn: &Connection) -> Result<Client> {
        let uri: http::Uri = conn
            .server
            .parse()
            .map_err(|_| Error::BadServer(conn.server.clone()))?;
        let https = uri.scheme_str() != Some("http");
        let host = uri
            .host()
            .ok_or_else(|| Error::BadServer(conn.server.clone()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let (tls, tls_upgrade) = if https {
            let config = tls::config(conn)?;
            let mut h1 = config.clone();
            h1.alpn_protocols = vec![b"http/1.1".to_vec()];
            (
                Some(tokio_rustls::TlsConnector::from(Arc::new(config))),
                Some(tokio_rustls::TlsConnector::from(Arc::new(h1))),
            )
        } else {
            (None, None)
        };
        let authorization = if let Some(t) = &conn.token {
            Some(format!("Bearer {t}"))
        } else if let (Some(u), Some(p)) = (&conn.username, &conn.password) {
            use base64::Engine as _;
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            ))
        } else {
            None
        };
        Ok(Client {
            server_name: conn.tls_server_name.clone().unwrap_or_else(|| host.clone()),
            host,
            port,
            tls,
            tls_upgrade,
            authorization,
            sender: Mutex::new(None),
            namespace: conn.namespace.clone(),
        })
    }

    fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// A TCP connection to the server, refusals worded as kubectl words them.
    async fn connect(&self) -> Result<TcpStream> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    Error::Refused(self.address())
                } else {
                    Error::Connect(format!("dial tcp {}: {e}", self.address()))
                }
            })?;
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }

    async fn dial(&self) -> Result<Sender> {
        let tcp = self.connect().await?;
        match &self.tls {
            None => {
                let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                    .await
                    .map_err(|e| Error::Connect(e.to_string()))?;
                tokio::spawn(conn);
                Ok(Sender::H1(send))
            }
            Some(connector) => {
                let name = rustls::pki_types::ServerName::try_from(self.server_name.clone())
                    .map_err(|_| Error::BadServer(self.server_name.clone()))?;
                let stream = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| Error::Connect(tls_message(&e)))?;
                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                let io = TokioIo::new(stream);
                if h2 {
                    let (send, conn) =
                        hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                            .await
                            .map_err(|e| Error::Connect(e.to_string()))?;
                    tokio::spawn(conn);
                    Ok(Sender::H2(send))
                } else {
                    let (send, conn) = hyper::client::conn::http1::handshake(io)
                        .await
                        .map_err(|e| Error::Connect(e.to_string()))?;
                    tokio::spawn(conn);
                    Ok(Sender::H1(send))
                }
            }
        }
    }

    fn build(
        &self,
        method: Method,
        path: &str,
        accept: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Request<Full<Bytes>>> {
        let authority = self.address();
        let mut req = Request::builder()
            .method(method)
            .uri(
                http::Uri::builder()
                    .scheme(if self.tls.is_some() { "https" } else { "http" })
                    .authority(authority.as_str())
                    .path_and_query(path)
                    .build()
                    .map_err(|e| Error::Decode(e.to_string()))?,
            )
            .header(http::header::ACCEPT, accept)
            .header(
                http::header::USER_AGENT,
                "rkctl/v1.33.0 (linux/amd64) rkube",
            );
        if let Some(ct) = content_type {
            req = req.header(http::header::CONTENT_TYPE, ct);
        }
        if let Some(auth) = &self.authorization {
            req = req.header(http::header::AUTHORIZATION, auth);
        }
        req.body(Full::new(Bytes::from(body)))
            .map_err(|e| Error::Decode(e.to_string()))
    }

    /// Sends a request and returns the head with the body still streaming (for watches): on a
    /// connection of its own for HTTP/1.1, a new stream for HTTP/2.
    ///
    /// # Errors
    /// Connection failures; an error status becomes [`Error::Api`].
    pub async fn stream(&self, path: &str, accept: &str) -> Result<Incoming> {
        let req = self.build(Method::GET, path, accept, None, Vec::new())?;
        let mut sender = self.dial().await?;
        let resp = match &mut sender {
            Sender::H1(s) => s.send_request(origin_form(req)).await,
            Sender::H2(s) => s.send_request(req).await,
        }
        .map_err(|e| Error::Connect(e.to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| Error::Decode(e.to_string()))?
                .to_bytes();
            return Err(Error::Api(ApiError::from_response(status, &body)));
        }
        Ok(resp.into_body())
    }

    /// Sends one request and reads the whole answer, whatever its status.
    ///
    /// # Errors
    /// Connection failures only.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        accept: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Response> {
        let req = self.build(method, path, accept, content_type, body)?;
        let mut guard = self.sender.lock().await;
        let usable = match guard.as_mut() {
            Some(Sender::H1(s)) => s.ready().await.is_ok(),
            Some(Sender::H2(s)) => s.ready().await.is_ok(),
            None => false,
        };
        if !usable {
            *guard = Some(self.dial().await?);
        }
        let resp = match guard.as_mut() {
            Some(Sender::H1(s)) => s.send_request(origin_form(req)).await,
            Some(Sender::H2(s)) => s.send_request(req).await,
            None => return Err(Error::Connect("no connection".into())),
        }
        .map_err(|e| Error::Connect(e.to_string()))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| Error::Decode(e.to_string()))?
            .to_bytes();
        Ok(Response { status, body })
    }

    /// Sends a JSON request and parses the JSON answer; error statuses become [`Error::Api`].
    ///
    /// # Errors
    /// Connection failures, error statuses, bodies that are not JSON.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value> {
        self.json_accept(method, path, "application/json", content_type, body)
            .await
    }

    /// As [`Client::json`], asking for `accept` (e.g. server-side tables).
    ///
    /// # Errors
    /// As [`Client::json`].
    pub async fn json_accept(
        &self,
        method: Method,
        path: &str,
        accept: &str,
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value> {
        let bytes = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| Error::Decode(e.to_string()))?,
            None => Vec::new(),
        };
        let ct = content_type.or(body.map(|_| "application/json"));
        let resp = self.send(method, path, accept, ct, bytes).await?;
        if !resp.status.is_success() {
            return Err(Error::Api(ApiError::from_response(resp.status, &resp.body)));
        }
        if resp.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&resp.body).map_err(|e| Error::Decode(e.to_string()))
    }

    /// `GET path` as JSON.
    ///
    /// # Errors
    /// As [`Client::json`].
    pub async fn get(&self, path: &str) -> Result<Value> {
        self.json(Method::GET, path, None, None).await
    }
}

/// HTTP/1.1 requests name the path only, with the authority in `Host` (HTTP/2 keeps the
/// absolute URI for its pseudo-headers).
fn origin_form(mut req: Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    if let Some(authority) = req.uri().authority().cloned() {
        if let Ok(host) = http::HeaderValue::from_str(authority.as_str()) {
            req.headers_mut().insert(http::header::HOST, host);
        }
        let path = req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        if let Ok(uri) = path.parse() {
            *req.uri_mut() = uri;
        }
    }
    req
}

fn tls_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    if text.contains("UnknownIssuer") {
        "tls: failed to verify certificate: x509: certificate signed by unknown authority".into()
    } else {
        text
    }
}
