//! The HTTPS server: listener, TLS with optional client certificates, authentication, and the
//! routing of every path to discovery, health, OpenAPI or the resources.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use rkube_store::backend::Backend;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::auth::{self, Identity, Tokens};
use crate::body::{self, Body};
use crate::cache::WatchCache;
use crate::request::{self, Query, Target};
use crate::resources::{Catalog, ServedResource};
use crate::satoken::{Signer, TokenAuthenticator};
use crate::status::{ApiError, ApiResult};
use crate::tls::ClusterCa;
use crate::{discovery, kubeconfig, object, openapi, rest};

/// How the server is run.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub bind: SocketAddr,
    /// Extra names and addresses for the serving certificate.
    pub tls_sans: Vec<String>,
    /// Also write the admin kubeconfig here.
    pub write_kubeconfig: Option<PathBuf>,
    /// The address published in the `kubernetes` Service's endpoints; by default the bind
    /// address, or the host's main address when binding to every address.
    pub advertise_address: Option<IpAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    ServiceAccountKey(#[from] crate::satoken::KeyError),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("creating namespace {namespace}: {message}")]
    Bootstrap { namespace: String, message: String },
    #[error("creating the system PriorityClasses: {0}")]
    PriorityClasses(String),
    #[error("publishing the kubernetes Service's endpoints: {0}")]
    Endpoints(String),
}

/// Namespaces that always exist.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Events live this long unless refreshed (kube-apiserver's `--event-ttl`).
const EVENT_TTL_SECS: i64 = 3600;

/// The shared state of a running server.
#[derive(Debug)]
pub struct ApiServer {
    pub backend: Arc<dyn Backend>,
    pub catalog: Catalog,
    pub(crate) caches: Mutex<HashMap<String, Arc<WatchCache>>>,
    pub(crate) tokens: Tokens,
    /// Service-account tokens: signs them and authenticates them.
    service_accounts: TokenAuthenticator,
    server_address: String,
    /// The lease new events are attached to, and when it was granted.
    event_lease: tokio::sync::Mutex<Option<(i64, Instant)>>,
    /// The OpenAPI documents of the current catalog, built on first request.
    pub(crate) openapi: Mutex<Option<Arc<openapi::Documents>>>,
    /// Dials kubelets for pod logs, exec, attach and port-forward.
    pub(crate) kubelet: crate::kubelet::KubeletClient,
}

impl ApiServer {
    /// The signer and authenticator of service-account tokens.
    pub fn service_accounts(&self) -> &TokenAuthenticator {
        &self.service_accounts
    }

    /// The lease keys of `resource` are stored with: events expire, nothing else does.
    pub(crate) async fn lease_for(&self, resource: &ServedResource) -> ApiResult<i64> {
        if resource.kind != "Event" {
            return Ok(0);
        }
        let mut lease = self.event_lease.lock().await;
        if let Some((id, granted)) = *lease {
            if granted.elapsed() < Duration::from_secs(60) {
                return Ok(id);
            }
        }
        let id = self
            .backend
            .grant_lease(EVENT_TTL_SECS)
            .await
            .map_err(|e| ApiError::from_storage(e, &resource.group, &resource.plural, ""))?;
        *lease = Some((id, Instant::now()));
        Ok(id)
    }
}

/// A server ready to serve: its listener bound, certificates and kubeconfig written.
pub struct Prepared {
    state: Arc<ApiServer>,
    listener: TcpListener,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// Serves until `shutdown` is cancelled.
    pub async fn serve(self, shutdown: CancellationToken) {
        let Prepared {
            state,
            listener,
            acceptor,
            ..
        } = self;
        tokio::spawn(crate::alloc::repair(
            state.backend.clone(),
            Duration::from_secs(180),
            shutdown.clone(),
        ));
        tokio::spawn(crate::compaction::run(
            state.backend.clone(),
            crate::compaction::INTERVAL,
            shutdown.clone(),
        ));
        loop {
            let (tcp, peer) = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let state = state.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp))
                    .await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
                let cert_identity = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|certs| certs.first())
                    .and_then(crate::tls::client_identity)
                    .map(|(user, groups)| Identity { user, groups });
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    let identity = cert_identity.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(state, identity, req).await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                tokio::pin!(conn);
                tokio::select! {
                    res = conn.as_mut() => {
                        if let Err(e) = res {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    }
                    _ = shutdown.cancelled() => {}
                }
            });
        }
    }
}

/// Makes the CA and certificates, writes the kubeconfig, creates the system namespaces and
/// binds the listener.
pub async fn prepare(config: Config, backend: Arc<dyn Backend>) -> Result<Prepared, ServerError> {
    let tls_dir = config.data_dir.join("tls");
    let ca = ClusterCa::load_or_create(&tls_dir)?;
    let signer = Signer::load_or_create(&tls_dir)?;
    let mut dns = vec![
        "localhost".to_owned(),
        "kubernetes".to_owned(),
        "kubernetes.default".to_owned(),
        "kubernetes.default.svc".to_owned(),
        "kubernetes.default.svc.cluster.local".to_owned(),
    ];
    let mut ips: Vec<IpAddr> = vec![
        IpAddr::from([127, 0, 0, 1]),
        IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
        IpAddr::from([10, 96, 0, 1]),
    ];
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let host = host.trim();
        if !host.is_empty() {
            dns.push(host.to_owned());
        }
    }
    if !config.bind.ip().is_unspecified() {
        ips.push(config.bind.ip());
    }
    for san in &config.tls_sans {
        match san.parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) => dns.push(san.clone()),
        }
    }
    let (cert, key) = ca.issue_server(&dns, &ips)?;
    let acceptor = TlsAcceptor::from(ca.server_config(&cert, &key)?);
    let listener = TcpListener::bind(config.bind)
        .await
        .map_err(|source| ServerError::Listen {
            addr: config.bind,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServerError::Listen {
            addr: config.bind,
            source,
        })?;
    let host = if addr.ip().is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    let url = format!("https://{}", SocketAddr::new(host, addr.port()));
    let text = kubeconfig::admin(&ca, &url);
    kubeconfig::write(&config.data_dir.join("admin.kubeconfig"), &text)?;
    if let Some(path) = &config.write_kubeconfig {
        kubeconfig::write(path, &text)?;
    }
    let tokens_path = config.data_dir.join("tokens.csv");
    let tokens = Tokens::load(&tokens_path).map_err(|source| ServerError::Io {
        path: tokens_path,
        source,
    })?;
    let kubelet = crate::kubelet::KubeletClient::new(&ca)?;
    let state = Arc::new(ApiServer {
        backend,
        catalog: Catalog::builtin(),
        caches: Mutex::new(HashMap::new()),
        tokens,
        service_accounts: TokenAuthenticator::new(signer),
        server_address: SocketAddr::new(host, addr.port()).to_string(),
        event_lease: tokio::sync::Mutex::new(None),
        openapi: Mutex::new(None),
        kubelet,
    });
    ensure_namespaces(&state).await?;
    crate::priority::ensure_system_classes(&state)
        .await
        .map_err(|e| ServerError::PriorityClasses(e.message))?;
    ensure_kubernetes_service(&state, addr.port()).await?;
    let advertise = config
        .advertise_address
        .or_else(|| (!addr.ip().is_unspecified()).then(|| addr.ip()))
        .or_else(crate::endpoints::host_address)
        .unwrap_or(host);
    crate::endpoints::ensure(&state, advertise, addr.port())
        .await
        .map_err(|e| ServerError::Endpoints(e.message))?;
    // Every built-in resource's watch cache starts now, as Kubernetes' do, so no client waits
    // for a cache to fill on its first list or watch.
    for resource in state.catalog.all() {
        crate::rest::cache_of(&state, &resource);
    }
    crate::crd::start(state.clone());
    tracing::info!(%addr, "API server listening");
    Ok(Prepared {
        state,
        listener,
        acceptor,
    })
}

async fn ensure_namespaces(state: &ApiServer) -> Result<(), ServerError> {
    for ns in SYSTEM_NAMESPACES {
        let key = format!("{}/namespaces/{ns}", rkube_api::registry::STORAGE_ROOT);
        let obj = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": ns,
                "uid": uuid::Uuid::new_v4().to_string(),
                "creationTimestamp": object::now_rfc3339(),
                "labels": {"kubernetes.io/metadata.name": ns},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        let bytes = serde_json::to_vec(&obj).unwrap_or_default();
        match state.backend.create(key.as_bytes(), bytes, 0).await {
            Ok(_) | Err(rkube_store::backend::Error::AlreadyExists { .. }) => {}
            Err(e) => {
                return Err(ServerError::Bootstrap {
                    namespace: (*ns).to_owned(),
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(())
}

/// The `kubernetes` Service in `default`: the API at the first service IP, port 443.
async fn ensure_kubernetes_service(state: &ApiServer, port: u16) -> Result<(), ServerError> {
    let key = format!(
        "{}/services/specs/default/kubernetes",
        rkube_api::registry::STORAGE_ROOT
    );
    let fail = |message: String| ServerError::Bootstrap {
        namespace: "default".into(),
        message,
    };
    let (existing, _) = state
        .backend
        .get(key.as_bytes(), 0)
        .await
        .map_err(|e| fail(e.to_string()))?;
    if existing.is_some() {
        return Ok(());
    }
    let mut svc = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": object::now_rfc3339(),
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.96.0.1",
            "clusterIPs": ["10.96.0.1"],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
        },
        "status": {"loadBalancer": {}},
    });
    crate::alloc::ensure(state.backend.as_ref(), &mut svc)
        .await
        .map_err(|e| fail(e.message))?;
    let bytes = serde_json::to_vec(&svc).unwrap_or_default();
    match state.backend.create(key.as_bytes(), bytes, 0).await {
        Ok(_) | Err(rkube_store::backend::Error::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(fail(e.to_string())),
    }
}

/// Paths anyone may read: probes need them before credentials exist.
fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/livez" | "/readyz")
}

async fn handle(
    state: Arc<ApiServer>,
    cert_identity: Option<Identity>,
    req: Request<Incoming>,
) -> Response<Body> {
    let (parts, incoming) = req.into_parts();
    let path = parts.uri.path().to_owned();
    if is_public(&path)
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
        || path.starts_with("/healthz/")
    {
        return body::text(StatusCode::OK, "ok");
    }
    let identity = match cert_identity {
        Some(identity) => Some(identity),
        None => auth::authenticate_bearer(&state, &parts.headers).await,
    };
    let Some(identity) = identity else {
        return body::error(&ApiError::unauthorized());
    };
    let query = Query::parse(parts.uri.query());
    let started = Instant::now();
    let method = parts.method.clone();
    let resp = match route(&state, &parts, &path, query, incoming).await {
        Ok(r) => r,
        Err(e) => body::error(&e),
    };
    tracing::debug!(
        user = %identity.user,
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "request"
    );
    resp
}

async fn route(
    state: &Arc<ApiServer>,
    parts: &http::request::Parts,
    path: &str,
    query: Query,
    incoming: Incoming,
) -> ApiResult<Response<Body>> {
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let ok = |v: serde_json::Value| Ok(body::json(StatusCode::OK, &v));
    match request::parse_path(path) {
        Target::Resource(resource_path) if rest::is_stream(&resource_path) => {
            let upgrade = parts.extensions.get::<hyper::upgrade::OnUpgrade>().cloned();
            Ok(rest::handle_stream(
                state,
                parts.method.clone(),
                resource_path,
                query,
                parts.headers.clone(),
                parts.uri.query().unwrap_or_default(),
                upgrade,
            )
            .await)
        }
        Target::Resource(resource_path) => {
            let bytes = if matches!(parts.method, Method::GET | Method::HEAD) {
                Bytes::new()
            } else {
                body::read(incoming).await?
            };
            Ok(rest::handle(
                state,
                parts.method.clone(),
                resource_path,
                query,
                parts.headers.clone(),
                bytes,
            )
            .await)
        }
        Target::CoreVersions => match discovery::wants_aggregated(accept) {
            Some(v) => Ok(aggregated(
                discovery::aggregated(&state.catalog, true, &format!("apidiscovery.k8s.io/{v}")),
                v,
            )),
            None => ok(discovery::core_versions(&state.server_address)),
        },
        Target::Groups => match discovery::wants_aggregated(accept) {
            Some(v) => Ok(aggregated(
                discovery::aggregated(&state.catalog, false, &format!("apidiscovery.k8s.io/{v}")),
                v,
            )),
            None => ok(discovery::groups(&state.catalog)),
        },
        Target::Group(g) => {
            discovery::group(&state.catalog, &g).map_or_else(|| Err(ApiError::path_not_found()), ok)
        }
        Target::GroupVersion(g, v) => discovery::resource_list(&state.catalog, &g, &v)
            .map_or_else(|| Err(ApiError::path_not_found()), ok),
        Target::Other(p) => match p.as_str() {
            "/version" | "/version/" => ok(discovery::version()),
            _ if p.starts_with("/openapi/") => openapi::serve(state, &p, &query, &parts.headers),
            _ => Err(ApiError::path_not_found()),
        },
    }
}

fn aggregated(doc: serde_json::Value, version: &'static str) -> Response<Body> {
    let content_type = match version {
        "v2beta1" => "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
        _ => "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
    };
    body::json_bytes(
        StatusCode::OK,
        serde_json::to_vec(&doc).unwrap_or_default(),
        content_type,
    )
}
