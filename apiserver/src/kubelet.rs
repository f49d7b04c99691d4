//! The API server's client of kubelets: pod `log`, `exec`, `attach` and `portforward` requests are
//! forwarded to the kubelet of the pod's node, as Kubernetes does.
//!
//! The server dials the node's kubelet endpoint (`status.daemonEndpoints.kubeletEndpoint.Port` on
//! the node's InternalIP) over TLS, presenting a client certificate signed by the cluster CA
//! (user `kube-apiserver-kubelet-client`, group `system:masters`) and verifying the kubelet's
//! serving certificate against the same CA. Plain requests (logs, also when followed) stream the
//! kubelet's answer back; upgrade requests (the WebSocket and SPDY protocols kubectl speaks for
//! exec, attach and port-forward) are passed through: the kubelet's `101 Switching Protocols` is
//! relayed to the client and the two upgraded connections are then joined byte for byte, so the
//! stream protocol is negotiated end to end between kubectl and the kubelet.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::Frame;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::body::Body;
use crate::status::{ApiError, ApiResult};
use crate::tls::{ClusterCa, TlsError, ADMIN_GROUP};

/// The user the API server is known as to kubelets.
pub const KUBELET_CLIENT_USER: &str = "kube-apiserver-kubelet-client";

/// The port a node's kubelet serves on when its status does not say.
pub const DEFAULT_KUBELET_PORT: u16 = 10250;

/// How long dialling a kubelet may take before the request fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Request headers that belong to one hop and are not forwarded.
const HOP_HEADERS: &[&str] = &[
    "authorization",
    "host",
    "proxy-authorization",
    "impersonate-user",
    "impersonate-group",
    "impersonate-uid",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
];

/// Dials kubelets with the API server's client identity.
#[derive(Clone)]
pub struct KubeletClient {
    connector: TlsConnector,
}

impl std::fmt::Debug for KubeletClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletClient").finish_non_exhaustive()
    }
}

impl KubeletClient {
    /// A client trusting kubelets whose serving certificates the cluster CA signed, presenting a
    /// freshly issued client certificate.
    pub fn new(ca: &ClusterCa) -> Result<Self, TlsError> {
        let (cert_pem, key_pem) = ca.issue_client(KUBELET_CLIENT_USER, &[ADMIN_GROUP])?;
        let bad = |e: rustls::pki_types::pem::Error| TlsError::Config(e.to_string());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca.ca_cert_pem.as_bytes()) {
            roots
                .add(cert.map_err(bad)?)
                .map_err(|e| TlsError::Config(e.to_string()))?;
        }
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(bad)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        // Upgrades (WebSocket, SPDY) exist only in HTTP/1.1.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(KubeletClient {
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    /// Sends `method path_and_query` to the kubelet at `endpoint` with the client's headers, and
    /// answers the client with the kubelet's response: streamed, or joined after an upgrade.
    pub async fn forward(
        &self,
        endpoint: &Endpoint,
        method: Method,
        path_and_query: &str,
        headers: &HeaderMap,
        client_upgrade: Option<OnUpgrade>,
    ) -> ApiResult<Response<Body>> {
        let url = format!("https://{}{}", endpoint.authority(), path_and_query);
        let failed = |e: &dyn std::fmt::Display| {
            ApiError::internal(format!("{} \"{url}\": {e}", verb_word(&method)))
        };
        let addr = (endpoint.host, endpoint.port);
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| failed(&"dial tcp: i/o timeout"))?
            .map_err(|e| failed(&format!("dial tcp {}: {e}", endpoint.authority())))?;
        let _ = tcp.set_nodelay(true);
        let tls = self
            .connector
            .connect(ServerName::IpAddress(endpoint.host.into()), tcp)
            .await
            .map_err(|e| failed(&format!("tls: {e}")))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| failed(&e))?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "kubelet connection ended with an error");
            }
        });
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path_and_query)
            .header(header::HOST, endpoint.authority());
        for (name, value) in headers {
            if !HOP_HEADERS.contains(&name.as_str()) {
                request = request.header(name, value);
            }
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| ApiError::internal(format!("building the kubelet request: {e}")))?;
        let mut response = sender.send_request(request).await.map_err(|e| failed(&e))?;
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            let Some(client_upgrade) = client_upgrade else {
                return Err(ApiError::internal(
                    "the kubelet upgraded a request that did not ask to",
                ));
            };
            let kubelet_upgrade = hyper::upgrade::on(&mut response);
            tokio::spawn(async move {
                let (client, kubelet) = match tokio::try_join!(client_upgrade, kubelet_upgrade) {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::debug!(error = %e, "upgrade to a stream failed");
                        return;
                    }
                };
                let mut client = TokioIo::new(client);
                let mut kubelet = TokioIo::new(kubelet);
                if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut kubelet).await {
                    tracing::debug!(error = %e, "stream between client and kubelet ended");
                }
            });
        }
        let (parts, incoming) = response.into_parts();
        // The kubelet's body is relayed as it arrives (a followed log never ends); a broken
        // connection ends the relayed body.
        let frames = incoming
            .into_data_stream()
            .take_while(|chunk| std::future::ready(chunk.is_ok()))
            .filter_map(|chunk| std::future::ready(chunk.ok().map(|b| Ok(Frame::data(b)))));
        Ok(Response::from_parts(
            parts,
            BodyExt::boxed(StreamBody::new(frames)),
        ))
    }
}

fn verb_word(method: &Method) -> String {
    let s = method.as_str();
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        out.push(if i == 0 { c } else { c.to_ascii_lowercase() });
    }
    out
}

/// Where a node's kubelet listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: IpAddr,
    pub port: u16,
}

impl Endpoint {
    /// `host:port`, with brackets around IPv6 addresses.
    pub fn authority(&self) -> String {
        match self.host {
            IpAddr::V4(ip) => format!("{ip}:{}", self.port),
            IpAddr::V6(ip) => format!("[{ip}]:{}", self.port),
        }
    }

    /// The kubelet endpoint a Node object publishes: its InternalIP (else ExternalIP, else any
    /// address that is an IP) and its kubelet port.
    pub fn of_node(node: &Value) -> ApiResult<Endpoint> {
        let name = node["metadata"]["name"].as_str().unwrap_or_default();
        let addresses = node["status"]["addresses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let pick = |kind: &str| {
            addresses
                .iter()
                .filter(|a| kind.is_empty() || a["type"] == kind)
                .find_map(|a| a["address"].as_str().and_then(|s| s.parse::<IpAddr>().ok()))
        };
        let host = pick("InternalIP")
            .or_else(|| pick("ExternalIP"))
            .or_else(|| pick(""))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "node {name} has no address a kubelet can be reached at"
                ))
            })?;
        let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .unwrap_or(DEFAULT_KUBELET_PORT);
        Ok(Endpoint { host, port })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_endpoint_prefers_internal_ip_and_published_port() {
        let node = json!({
            "metadata": {"name": "n1"},
            "status": {
                "addresses": [
                    {"type": "Hostname", "address": "n1"},
                    {"type": "ExternalIP", "address": "192.0.2.9"},
                    {"type": "InternalIP", "address": "192.0.2.1"}
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 11250}}
            }
        });
        let ep = Endpoint::of_node(&node).unwrap();
        assert_eq!(ep.authority(), "192.0.2.1:11250");
    }

    #[test]
    fn node_endpoint_defaults_and_errors() {
        let node = json!({"metadata": {"name": "n1"}, "status": {"addresses": [
            {"type": "ExternalIP", "address": "2001:db8::1"}
        ]}});
        assert_eq!(
            Endpoint::of_node(&node).unwrap().authority(),
            "[2001:db8::1]:10250"
        );
        let bare = json!({"metadata": {"name": "n2"}, "status": {}});
        let err = Endpoint::of_node(&bare).unwrap_err();
        assert_eq!(
            err.message,
            "node n2 has no address a kubelet can be reached at"
        );
    }

    #[test]
    fn verbs_are_worded_as_go_does() {
        assert_eq!(verb_word(&Method::GET), "Get");
        assert_eq!(verb_word(&Method::POST), "Post");
    }
}
