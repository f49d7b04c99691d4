//! The client side of the Kubernetes REST API over HTTPS: the server, CA and client certificate
//! of a kubeconfig, HTTP/2 connections over rustls (ring provider), and requests on them.
//!
//! Like client-go, a connection multiplexes many requests (HTTP/2 streams); callers clone a
//! [`Conn`] freely and every clone shares the same TCP connection.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use base64::Engine;
use bytes::Bytes;
use http::{header, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tracing::debug;

/// What the benchmark needs from a kubeconfig: where the server is and how to trust and be
/// trusted by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kubeconfig {
    /// `https://host:port`.
    pub server: String,
    pub ca_pem: Vec<u8>,
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    clusters: Vec<Named<ClusterEntry>>,
    #[serde(default)]
    users: Vec<Named<UserEntry>>,
    #[serde(default)]
    contexts: Vec<Named<ContextEntry>>,
    #[serde(rename = "current-context", default)]
    current_context: Option<String>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    entry: T,
}

#[derive(Deserialize)]
struct ClusterEntry {
    server: String,
    #[serde(rename = "certificate-authority-data")]
    ca_data: Option<String>,
}

#[derive(Deserialize)]
struct UserEntry {
    #[serde(rename = "client-certificate-data")]
    cert_data: Option<String>,
    #[serde(rename = "client-key-data")]
    key_data: Option<String>,
}

#[derive(Deserialize)]
struct ContextEntry {
    cluster: String,
    user: String,
}

impl Kubeconfig {
    /// Reads the cluster and user of the current context (else the first cluster and user);
    /// only inline (`-data`) credentials are supported.
    pub fn parse(text: &str) -> Result<Self> {
        let file: File = serde_saphyr::from_str(text).context("kubeconfig is not valid YAML")?;
        let (cluster_name, user_name) = match &file.current_context {
            Some(current) => {
                let ctx = file
                    .contexts
                    .iter()
                    .find(|c| &c.name == current)
                    .with_context(|| format!("current context {current:?} is not defined"))?;
                (
                    Some(ctx.entry.cluster.as_str()),
                    Some(ctx.entry.user.as_str()),
                )
            }
            None => (None, None),
        };
        let cluster = match cluster_name {
            Some(name) => file.clusters.iter().find(|c| c.name == name),
            None => file.clusters.first(),
        }
        .context("kubeconfig names no usable cluster")?;
        let user = match user_name {
            Some(name) => file.users.iter().find(|u| u.name == name),
            None => file.users.first(),
        }
        .context("kubeconfig names no usable user")?;
        let decode = |field: &str, value: &Option<String>| -> Result<Vec<u8>> {
            let value = value
                .as_deref()
                .with_context(|| format!("kubeconfig has no {field}"))?;
            base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .with_context(|| format!("kubeconfig {field} is not base64"))
        };
        Ok(Kubeconfig {
            server: cluster.entry.server.clone(),
            ca_pem: decode("certificate-authority-data", &cluster.entry.ca_data)?,
            cert_pem: decode("client-certificate-data", &user.entry.cert_data)?,
            key_pem: decode("client-key-data", &user.entry.key_data)?,
        })
    }
}

/// A server to open connections to.
#[derive(Clone)]
pub struct Api {
    addr: SocketAddr,
    server_name: ServerName<'static>,
    connector: TlsConnector,
    /// `https://host:port`, prefixed to every request path.
    base: Arc<str>,
    timeout: Duration,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("addr", &self.addr)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// Reads the kubeconfig at `path`; `timeout` bounds every connect and request.
    pub async fn from_kubeconfig(path: &Path, timeout: Duration) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        Self::new(&Kubeconfig::parse(&text)?, timeout).await
    }

    pub async fn new(config: &Kubeconfig, timeout: Duration) -> Result<Self> {
        let uri: Uri = config
            .server
            .parse()
            .with_context(|| format!("server {:?} is not a URL", config.server))?;
        ensure!(
            uri.scheme_str() == Some("https"),
            "server {:?} is not https",
            config.server
        );
        let authority = uri.authority().context("server URL has no host")?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(443);
        let addr = tokio::net::lookup_host((host, port))
            .await
            .with_context(|| format!("failed to resolve {host}"))?
            .next()
            .with_context(|| format!("{host} resolves to no address"))?;
        let server_name = ServerName::try_from(host.to_owned())
            .with_context(|| format!("{host} is not a valid server name"))?;

        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&config.ca_pem) {
            roots
                .add(cert.context("CA certificate is not PEM")?)
                .context("CA certificate rejected")?;
        }
        let chain = CertificateDer::pem_slice_iter(&config.cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .context("client certificate is not PEM")?;
        let key =
            PrivateKeyDer::from_pem_slice(&config.key_pem).context("client key is not PEM")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .context("client certificate rejected")?;
        tls.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Api {
            addr,
            server_name,
            connector: TlsConnector::from(Arc::new(tls)),
            base: format!("https://{authority}").into(),
            timeout,
        })
    }

    /// Opens one HTTP/2 connection; its driver runs as a task until every clone is dropped.
    pub async fn connect(&self) -> Result<Conn> {
        let open = async {
            let tcp = TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("failed to connect to {}", self.addr))?;
            tcp.set_nodelay(true)?;
            let tls = self
                .connector
                .connect(self.server_name.clone(), tcp)
                .await
                .context("TLS handshake failed")?;
            ensure!(
                tls.get_ref().1.alpn_protocol() == Some(b"h2"),
                "the server did not agree to HTTP/2"
            );
            let (send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .handshake::<_, Full<Bytes>>(TokioIo::new(tls))
                .await
                .context("HTTP/2 handshake failed")?;
            tokio::spawn(async move {
                if let Err(err) = conn.await {
                    debug!("connection closed: {err}");
                }
            });
            Ok(send)
        };
        let send = tokio::time::timeout(self.timeout, open)
            .await
            .context("connecting timed out")??;
        Ok(Conn {
            send,
            base: self.base.clone(),
            timeout: self.timeout,
        })
    }

    /// Opens `count` connections.
    pub async fn pool(&self, count: usize) -> Result<Vec<Conn>> {
        let mut pool = Vec::with_capacity(count);
        for _ in 0..count {
            pool.push(self.connect().await?);
        }
        Ok(pool)
    }
}

/// One HTTP/2 connection; clones share it.
#[derive(Clone)]
pub struct Conn {
    send: SendRequest<Full<Bytes>>,
    base: Arc<str>,
    timeout: Duration,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A whole response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    /// The body of a 2xx response; the status and the start of the body otherwise.
    pub fn ok(self) -> Result<Bytes> {
        if self.status.is_success() {
            return Ok(self.body);
        }
        let text = String::from_utf8_lossy(&self.body);
        let end = text.char_indices().nth(300).map_or(text.len(), |(i, _)| i);
        bail!("HTTP {}: {}", self.status, &text[..end])
    }
}

impl Conn {
    /// Sends a request and returns once the response headers arrived (the body streams on).
    pub async fn start(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<hyper::Response<Incoming>> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(header::ACCEPT, "application/json");
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let req = builder
            .body(Full::new(body.unwrap_or_default()))
            .context("invalid request")?;
        let send = async {
            let mut send = self.send.clone();
            send.ready().await.context("connection lost")?;
            send.send_request(req).await.context("request failed")
        };
        tokio::time::timeout(self.timeout, send)
            .await
            .context("request timed out")?
    }

    /// Sends a request and reads the whole response.
    pub async fn call(&self, method: Method, path: &str, body: Option<Bytes>) -> Result<Reply> {
        let whole = async {
            let resp = self.start(method, path, body).await?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .context("reading the response failed")?
                .to_bytes();
            Ok::<_, anyhow::Error>(Reply { status, body })
        };
        tokio::time::timeout(self.timeout, whole)
            .await
            .context("request timed out")?
    }

    /// A request whose response must be 2xx; its body.
    pub async fn expect_ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Bytes> {
        self.call(method, path, body).await?.ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn kubeconfig_follows_the_current_context() {
        let text = format!(
            "apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: {other}
  name: other
- cluster:
    certificate-authority-data: {ca}
    server: https://127.0.0.1:6443
  name: rkube
contexts:
- context:
    cluster: rkube
    user: admin
  name: rkube
current-context: rkube
users:
- name: nobody
  user: {{}}
- name: admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
",
            other = b64("other"),
            ca = b64("CA"),
            cert = b64("CERT"),
            key = b64("KEY"),
        );
        let config = Kubeconfig::parse(&text).unwrap();
        assert_eq!(
            config,
            Kubeconfig {
                server: "https://127.0.0.1:6443".into(),
                ca_pem: b"CA".to_vec(),
                cert_pem: b"CERT".to_vec(),
                key_pem: b"KEY".to_vec(),
            }
        );
    }

    #[test]
    fn kubeconfig_without_credentials_is_rejected() {
        let text = "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\nusers:\n- name: u\n  user: {}\n";
        let err = Kubeconfig::parse(text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "kubeconfig has no certificate-authority-data"
        );
        let err = Kubeconfig::parse("current-context: x\n").unwrap_err();
        assert_eq!(err.to_string(), "current context \"x\" is not defined");
    }

    #[test]
    fn error_replies_show_status_and_body() {
        let reply = Reply {
            status: StatusCode::CONFLICT,
            body: Bytes::from_static(b"{\"reason\":\"AlreadyExists\"}"),
        };
        assert_eq!(
            reply.ok().unwrap_err().to_string(),
            "HTTP 409 Conflict: {\"reason\":\"AlreadyExists\"}"
        );
    }
}
