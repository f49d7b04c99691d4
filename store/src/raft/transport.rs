//! Member-to-member transport: raft messages over a long-lived gRPC stream per peer, and
//! the peer service that receives them.

use std::collections::HashMap;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use protobuf::Message as _;
use raft::eraftpb::{Message, MessageType};
use raft::SnapshotStatus;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status, Streaming};

use super::node::Input;
use crate::proto::internal::peer_client::PeerClient;
use crate::proto::internal::peer_server::Peer;
use crate::proto::internal::{
    LeaseRenewRequest, LeaseRenewResponse, LeaseTtlRequest, LeaseTtlResponse, MemberAttributes,
    MembersRequest, MembersResponse, RaftMessage, SendAck,
};

/// The request header naming the sender's cluster: members of another cluster (a member
/// started with the wrong --initial-cluster, say) must not disturb this one.
const CLUSTER_HEADER: &str = "rkube-cluster-id";

/// Wraps a message stream into a request carrying the cluster ID.
fn with_cluster<T>(cluster_id: u64, body: T) -> Request<T> {
    let mut req = Request::new(body);
    if let Ok(v) = cluster_id.to_string().parse() {
        req.metadata_mut().insert(CLUSTER_HEADER, v);
    }
    req
}

/// What a member answers to raft messages from a member the cluster removed.
const REMOVED: &str = "rkube: the sending member was removed from the cluster";

/// Largest message between members (snapshots travel as one message).
pub const MAX_PEER_MESSAGE: usize = 1 << 30;
/// Messages queued per peer before new ones are dropped (raft resends what it must).
const PEER_QUEUE: usize = 4096;

#[derive(Debug)]
struct PeerLink {
    urls: Vec<String>,
    tx: mpsc::Sender<Message>,
    cancel: CancellationToken,
}

/// Sends raft messages to the other members.
#[derive(Debug)]
pub struct Transport {
    self_id: u64,
    cluster_id: u64,
    peers: Mutex<HashMap<u64, PeerLink>>,
    runtime: tokio::runtime::Handle,
    inbox: std_mpsc::Sender<Input>,
    shutdown: CancellationToken,
}

/// Opens a gRPC channel to the first of a member's peer URLs.
pub fn peer_channel(url: &str) -> Result<Channel, tonic::transport::Error> {
    Ok(Endpoint::from_shared(url.to_string())?
        .connect_timeout(Duration::from_secs(1))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(5))
        .keep_alive_timeout(Duration::from_secs(5))
        .connect_lazy())
}

pub fn peer_client(url: &str) -> Result<PeerClient<Channel>, tonic::transport::Error> {
    Ok(PeerClient::new(peer_channel(url)?)
        .max_decoding_message_size(MAX_PEER_MESSAGE)
        .max_encoding_message_size(MAX_PEER_MESSAGE))
}

impl Transport {
    pub fn new(
        self_id: u64,
        cluster_id: u64,
        runtime: tokio::runtime::Handle,
        inbox: std_mpsc::Sender<Input>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            self_id,
            cluster_id,
            peers: Mutex::new(HashMap::new()),
            runtime,
            inbox,
            shutdown,
        }
    }

    /// Adds a peer, or points an existing one at new URLs.
    pub fn set_peer(&self, id: u64, urls: Vec<String>) {
        if id == self.self_id || urls.is_empty() {
            return;
        }
        let mut peers = self.peers.lock();
        if peers.get(&id).is_some_and(|p| p.urls == urls) {
            return;
        }
        if let Some(old) = peers.remove(&id) {
            old.cancel.cancel();
        }
        let (tx, rx) = mpsc::channel(PEER_QUEUE);
        let cancel = self.shutdown.child_token();
        let link = PeerLink {
            urls: urls.clone(),
            tx,
            cancel: cancel.clone(),
        };
        peers.insert(id, link);
        let inbox = self.inbox.clone();
        let link = Link {
            peer: id,
            cluster_id: self.cluster_id,
            url: urls[0].clone(),
        };
        self.runtime.spawn(run_peer(link, rx, inbox, cancel));
    }

    /// Makes the peer set exactly `members` (this member excluded).
    pub fn set_peers(&self, members: &[MemberAttributes]) {
        for m in members {
            self.set_peer(m.id, m.peer_urls.clone());
        }
        self.peers.lock().retain(|id, link| {
            let keep = members.iter().any(|m| m.id == *id);
            if !keep {
                link.cancel.cancel();
            }
            keep
        });
    }

    /// Queues messages; a full or unknown peer is reported unreachable to raft.
    pub fn send(&self, msgs: Vec<Message>) {
        if msgs.is_empty() {
            return;
        }
        let peers = self.peers.lock();
        for m in msgs {
            let to = m.to;
            let snapshot = m.get_msg_type() == MessageType::MsgSnapshot;
            let sent = peers.get(&to).is_some_and(|p| p.tx.try_send(m).is_ok());
            if !sent {
                let _ = self.inbox.send(Input::Unreachable(to));
                if snapshot {
                    let _ = self
                        .inbox
                        .send(Input::SnapshotStatus(to, SnapshotStatus::Failure));
                }
            }
        }
    }
}

fn encode(m: &Message) -> Option<RaftMessage> {
    match m.write_to_bytes() {
        Ok(data) => Some(RaftMessage { data }),
        Err(e) => {
            tracing::error!(error = %e, "failed to encode raft message");
            None
        }
    }
}

/// Keeps one stream open to a peer and feeds it; reconnects with backoff.
/// Where one peer task sends.
#[derive(Debug)]
struct Link {
    peer: u64,
    cluster_id: u64,
    url: String,
}

async fn run_peer(
    link: Link,
    mut rx: mpsc::Receiver<Message>,
    inbox: std_mpsc::Sender<Input>,
    cancel: CancellationToken,
) {
    let Link {
        peer: id,
        cluster_id,
        url,
    } = link;
    let mut client = match peer_client(&url) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(peer = id, %url, error = %e, "invalid peer URL");
            return;
        }
    };
    let mut backoff = Duration::from_millis(50);
    'connect: loop {
        let (stx, srx) = mpsc::channel::<RaftMessage>(256);
        let mut c = client.clone();
        let body = with_cluster(cluster_id, ReceiverStream::new(srx));
        let mut call = tokio::spawn(async move { c.send(body).await });
        loop {
            tokio::select! {
                _ = cancel.cancelled() => {
                    call.abort();
                    return;
                }
                res = &mut call => {
                    match res {
                        Ok(Err(status)) if status.message() == REMOVED => {
                            let _ = inbox.send(Input::Removed);
                            return;
                        }
                        Ok(Err(status)) => tracing::debug!(peer = id, error = %status, "peer stream closed"),
                        Ok(Ok(_)) => {}
                        Err(e) => tracing::debug!(peer = id, error = %e, "peer stream task ended"),
                    }
                    let _ = inbox.send(Input::Unreachable(id));
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue 'connect;
                }
                msg = rx.recv() => {
                    let Some(msg) = msg else { return };
                    if msg.get_msg_type() == MessageType::MsgSnapshot {
                        // Snapshots go on their own call so their delivery can be reported.
                        let status = send_snapshot(&mut client, cluster_id, &msg).await;
                        let _ = inbox.send(Input::SnapshotStatus(id, status));
                        continue;
                    }
                    let Some(encoded) = encode(&msg) else { continue };
                    if stx.send(encoded).await.is_err() {
                        let _ = inbox.send(Input::Unreachable(id));
                    } else {
                        backoff = Duration::from_millis(50);
                    }
                }
            }
        }
    }
}

async fn send_snapshot(
    client: &mut PeerClient<Channel>,
    cluster_id: u64,
    msg: &Message,
) -> SnapshotStatus {
    let Some(encoded) = encode(msg) else {
        return SnapshotStatus::Failure;
    };
    let stream = tokio_stream::iter(vec![encoded]);
    match client.send(with_cluster(cluster_id, stream)).await {
        Ok(_) => SnapshotStatus::Finish,
        Err(e) => {
            tracing::warn!(peer = msg.to, error = %e, "failed to send snapshot");
            SnapshotStatus::Failure
        }
    }
}

/// What the peer service needs from the member.
pub trait PeerHandler: Send + Sync + 'static {
    fn deliver(&self, msg: Message);
    /// This member's cluster.
    fn cluster_id(&self) -> u64;
    /// Whether member `id` was removed from the cluster.
    fn was_removed(&self, id: u64) -> bool;
    fn lease_renew(&self, id: i64) -> Result<i64, Status>;
    fn lease_ttl(&self, id: i64) -> Result<LeaseTtlResponse, Status>;
    fn members(&self) -> MembersResponse;
}

/// The gRPC `Peer` service.
#[derive(Debug)]
pub struct PeerService<H> {
    handler: Arc<H>,
}

impl<H> PeerService<H> {
    pub fn new(handler: Arc<H>) -> Self {
        Self { handler }
    }
}

#[tonic::async_trait]
impl<H: PeerHandler> Peer for PeerService<H> {
    async fn send(
        &self,
        req: Request<Streaming<RaftMessage>>,
    ) -> Result<Response<SendAck>, Status> {
        let theirs = req
            .metadata()
            .get(CLUSTER_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let ours = self.handler.cluster_id();
        if theirs != Some(ours) {
            return Err(Status::failed_precondition(format!(
                "rkube: raft messages from cluster {} refused by a member of cluster {ours:x}; \
                 check the sender's --initial-cluster and --initial-cluster-token",
                theirs.map_or_else(|| "(unnamed)".to_string(), |c| format!("{c:x}"))
            )));
        }
        let mut stream = req.into_inner();
        while let Some(m) = stream.message().await? {
            let msg = Message::parse_from_bytes(&m.data)
                .map_err(|e| Status::invalid_argument(format!("malformed raft message: {e}")))?;
            if self.handler.was_removed(msg.from) {
                return Err(Status::failed_precondition(REMOVED));
            }
            self.handler.deliver(msg);
        }
        Ok(Response::new(SendAck {}))
    }

    async fn lease_renew(
        &self,
        req: Request<LeaseRenewRequest>,
    ) -> Result<Response<LeaseRenewResponse>, Status> {
        let ttl = self.handler.lease_renew(req.into_inner().id)?;
        Ok(Response::new(LeaseRenewResponse { ttl }))
    }

    async fn lease_ttl(
        &self,
        req: Request<LeaseTtlRequest>,
    ) -> Result<Response<LeaseTtlResponse>, Status> {
        Ok(Response::new(self.handler.lease_ttl(req.into_inner().id)?))
    }

    async fn members(
        &self,
        _req: Request<MembersRequest>,
    ) -> Result<Response<MembersResponse>, Status> {
        Ok(Response::new(self.handler.members()))
    }
}
