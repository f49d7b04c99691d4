//! `run`: one store member serving clients (etcd v3 API) and peers until shutdown.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt as _;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic::Status;

use crate::config::StoreConfig;
use crate::member::{self, Member};
use crate::proto::etcd::cluster_server::ClusterServer;
use crate::proto::etcd::kv_server::KvServer;
use crate::proto::etcd::lease_server::LeaseServer;
use crate::proto::etcd::maintenance_server::MaintenanceServer;
use crate::proto::etcd::watch_server::WatchServer;
use crate::proto::internal::peer_server::PeerServer;
use crate::proto::internal::{LeaseTtlResponse, MembersResponse};
use crate::raft::transport::{PeerHandler, PeerService, MAX_PEER_MESSAGE};

/// Sockets the member serves on, bound by the caller (tests bind port 0).
#[derive(Debug)]
pub struct Listeners {
    pub client: TcpListener,
    pub peer: TcpListener,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to start store member: {0}")]
    Start(#[from] member::Error),
    #[error("failed to serve {what}: {source}")]
    Serve {
        what: &'static str,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("store member stopped: {0}")]
    Raft(#[from] crate::raft::node::Error),
    #[error("store member task failed: {0}")]
    Task(String),
}

/// Headroom over the largest request for gRPC framing, as etcd allows.
const GRPC_OVERHEAD: usize = 512 * 1024;

impl PeerHandler for Member {
    fn deliver(&self, msg: raft::eraftpb::Message) {
        Member::deliver(self, msg);
    }

    fn cluster_id(&self) -> u64 {
        self.state().cluster_id()
    }

    fn was_removed(&self, id: u64) -> bool {
        self.state().was_removed(id)
    }

    fn lease_renew(&self, id: i64) -> Result<i64, Status> {
        if !self.status().is_leader.load(Ordering::Acquire) {
            return Err(Status::unavailable("etcdserver: not leader"));
        }
        Ok(self.state().lessor.renew(id).unwrap_or(0))
    }

    fn lease_ttl(&self, id: i64) -> Result<LeaseTtlResponse, Status> {
        Ok(match self.state().lessor.status(id) {
            Some(s) => LeaseTtlResponse {
                found: true,
                remaining: s.remaining,
                granted: s.granted_ttl,
            },
            None => LeaseTtlResponse::default(),
        })
    }

    fn members(&self) -> MembersResponse {
        MembersResponse {
            cluster_id: self.state().cluster_id(),
            members: Member::members(self),
        }
    }
}

/// A member being served; `done` resolves when it stops.
#[derive(Debug)]
pub struct Running {
    pub member: Member,
    pub done: tokio::task::JoinHandle<Result<(), Error>>,
}

/// Whether the cluster has applied this member's name and client URLs.
fn published(member: &Member, config: &StoreConfig) -> bool {
    member
        .state()
        .member(member.id())
        .is_some_and(|m| m.name == config.name && m.client_urls == config.advertise_client_urls)
}

/// Runs one member until `shutdown` is cancelled or the member is removed from its
/// cluster.
///
/// # Errors
/// Fails if the data dir cannot be used, the cluster cannot be joined, a listener fails, or
/// the raft loop stops on a storage error.
pub async fn run(
    config: StoreConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let running = start(config, listeners, shutdown).await?;
    running
        .done
        .await
        .unwrap_or_else(|e| Err(Error::Task(e.to_string())))
}

/// Starts a member and serves it in the background; returns once it is ready for clients.
/// The in-process API server uses the returned [`Member`] through the embedded backend.
///
/// # Errors
/// As [`run`], for what can fail before the member serves.
pub async fn start(
    config: StoreConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, Error> {
    let stop = shutdown.child_token();
    // The peer port must answer before the member starts: peers may already be talking.
    let (peer_tx, peer_rx) = tokio::sync::oneshot::channel::<Member>();
    let peer_listener = listeners.peer;
    let peer_stop = stop.clone();
    let peer_task = tokio::spawn(async move {
        let Ok(member) = peer_rx.await else {
            return Ok(());
        };
        let svc = PeerServer::new(PeerService::new(Arc::new(member)))
            .max_decoding_message_size(MAX_PEER_MESSAGE)
            .max_encoding_message_size(MAX_PEER_MESSAGE);
        Server::builder()
            .tcp_nodelay(true)
            .add_service(svc)
            .serve_with_incoming_shutdown(
                TcpListenerStream::new(peer_listener).map(|accepted| {
                    let stream = accepted?;
                    // tonic's tcp_nodelay only covers listeners it binds itself; raft's small
                    // messages must not wait on Nagle's algorithm.
                    stream.set_nodelay(true)?;
                    Ok::<_, std::io::Error>(stream)
                }),
                peer_stop.cancelled_owned(),
            )
            .await
    });
    let (member, mut raft_exit) = match Member::start(config.clone(), stop.clone()).await {
        Ok(m) => m,
        Err(e) => {
            stop.cancel();
            return Err(e.into());
        }
    };
    let _ = peer_tx.send(member.clone());
    tokio::spawn(member.state().hub.clone().run_sync(stop.clone()));

    // As etcd does, clients are served only once the cluster knows this member's name and
    // client URLs: `member list` then never shows a serving member as unstarted.
    let mut announced = tokio::time::interval(Duration::from_millis(20));
    while !published(&member, &config) {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            r = &mut raft_exit => {
                stop.cancel();
                return match r {
                    Ok(Err(e)) => Err(e.into()),
                    _ => Err(Error::Task("the raft loop stopped before the member was published".into())),
                };
            }
            _ = announced.tick() => {}
        }
    }

    let max = config.max_request_bytes + GRPC_OVERHEAD;
    let (kv, watch, lease, cluster, maintenance) = crate::grpc::services(&member);
    let client_stop = stop.clone();
    let client_task = tokio::spawn(
        Server::builder()
            .tcp_nodelay(true)
            .add_service(
                KvServer::new(kv)
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(usize::MAX),
            )
            .add_service(
                WatchServer::new(watch)
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(usize::MAX),
            )
            .add_service(LeaseServer::new(lease).max_decoding_message_size(max))
            .add_service(ClusterServer::new(cluster).max_decoding_message_size(max))
            .add_service(MaintenanceServer::new(maintenance).max_decoding_message_size(max))
            .serve_with_incoming_shutdown(
                crate::grpc::authority::incoming(listeners.client),
                client_stop.cancelled_owned(),
            ),
    );
    tracing::info!(
        member = format!("{:x}", member.id()),
        name = %config.name,
        "store member ready to serve clients"
    );
    let done = tokio::spawn(async move {
        let raft_result = tokio::select! {
            _ = shutdown.cancelled() => None,
            r = &mut raft_exit => Some(r),
        };
        stop.cancel();
        let raft_result = match raft_result {
            Some(r) => r,
            None => raft_exit.await,
        };
        let client = client_task.await;
        let peer = peer_task.await;
        if let Ok(Err(e)) = raft_result {
            return Err(e.into());
        }
        if let Ok(Err(source)) = client {
            return Err(Error::Serve {
                what: "clients",
                source,
            });
        }
        if let Ok(Err(source)) = peer {
            return Err(Error::Serve {
                what: "peers",
                source,
            });
        }
        Ok(())
    });
    Ok(Running { member, done })
}
