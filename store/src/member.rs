//! One member of the store: starts the raft loop, proposes clients' writes, serves their
//! reads (linearizable through ReadIndex, or serializable from local state), and forwards
//! lease keep-alives to the leader.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use raft::eraftpb::{ConfChange, ConfChangeType};
use raft::RawNode;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::apply::{Applied, Outcome, Rejection, StateMachine};
use crate::config::{ClusterState, StoreConfig};
use crate::lease::LeaseStatus;
use crate::membership;
use crate::proto::etcd::{
    request_op, CompactionRequest, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, RequestOp, ResponseHeader, TxnRequest, TxnResponse,
};
use crate::proto::internal::peer_client::PeerClient;
use crate::proto::internal::{command::Op, MemberAttributes, MembersRequest};
use crate::raft::node::{Input, LoopConfig, NodeStatus, ProposeError, RaftLoop};
use crate::raft::storage::{RaftStorage, SharedStorage};
use crate::raft::transport::{peer_client, Transport};
use crate::{db, mvcc};

/// Errors a client request can end with; `grpc` maps them to etcd's status codes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Propose(#[from] ProposeError),
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Mvcc(#[from] mvcc::Error),
    #[error("etcdserver: request timed out")]
    Timeout,
    #[error("etcdserver: request is too large")]
    TooLarge,
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    #[error("etcdserver: mvcc: database space exceeded (the data dir's file system is nearly full; free space to resume writes)")]
    NoSpace,
    #[error("etcdserver: Peer URLs already exists")]
    PeerUrlsExist,
    #[error("etcdserver: member not found")]
    MemberNotFound,
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    #[error("etcdserver: unexpected response: {0}")]
    Unexpected(&'static str),
    #[error("failed to reach leader: {0}")]
    Forward(String),
    #[error(transparent)]
    Db(#[from] db::Error),
    #[error(transparent)]
    Apply(#[from] crate::apply::Error),
    #[error("failed to start raft: {0}")]
    Raft(#[from] raft::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("failed to join the existing cluster: {0}")]
    Join(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug)]
struct Inner {
    sm: Arc<StateMachine>,
    inbox: std_mpsc::Sender<Input>,
    status: Arc<NodeStatus>,
    config: StoreConfig,
    leader_clients: Mutex<HashMap<String, PeerClient<Channel>>>,
}

/// A running member; cheap to clone.
#[derive(Debug, Clone)]
pub struct Member {
    inner: Arc<Inner>,
}

/// A handle on the raft thread: resolves when it stops.
pub type RaftExit = oneshot::Receiver<Result<(), crate::raft::node::Error>>;

fn initial_attributes(config: &StoreConfig) -> Result<(u64, Vec<MemberAttributes>)> {
    let token = &config.initial_cluster_token;
    let members: Vec<MemberAttributes> = config
        .initial_cluster
        .iter()
        .map(|m| MemberAttributes {
            id: membership::member_id(&m.peer_urls, token, 0),
            name: m.name.clone(),
            peer_urls: m.peer_urls.clone(),
            ..Default::default()
        })
        .collect();
    let me = members
        .iter()
        .find(|m| m.name == config.name)
        .ok_or_else(|| {
            Error::Config(format!(
                "--initial-cluster has no member named {:?}",
                config.name
            ))
        })?;
    let mut mine = me.peer_urls.clone();
    let mut adv = config.advertise_peer_urls.clone();
    mine.sort();
    adv.sort();
    if mine != adv {
        return Err(Error::Config(format!(
            "--initial-cluster lists {:?} for {:?} but --initial-advertise-peer-urls is {:?}",
            me.peer_urls, config.name, config.advertise_peer_urls
        )));
    }
    Ok((me.id, members))
}

/// Asks the running cluster which ID it gave this member's peer URLs; also returns the
/// cluster's members, so this member can answer them before its first snapshot arrives.
async fn discover_identity(config: &StoreConfig) -> Result<(u64, u64, Vec<MemberAttributes>)> {
    let mut mine = config.advertise_peer_urls.clone();
    mine.sort();
    let mut last_err = String::from("no other member listed in --initial-cluster");
    for m in &config.initial_cluster {
        if m.name == config.name {
            continue;
        }
        for url in &m.peer_urls {
            let mut client = match peer_client(url) {
                Ok(c) => c,
                Err(e) => {
                    last_err = e.to_string();
                    continue;
                }
            };
            match client.members(MembersRequest {}).await {
                Ok(resp) => {
                    let resp = resp.into_inner();
                    for member in &resp.members {
                        let mut urls = member.peer_urls.clone();
                        urls.sort();
                        if urls == mine {
                            return Ok((member.id, resp.cluster_id, resp.members.clone()));
                        }
                    }
                    return Err(Error::Join(format!(
                        "the cluster at {url} has no member with peer URLs {mine:?}; add it first with `etcdctl member add`"
                    )));
                }
                Err(e) => last_err = format!("{url}: {}", e.message()),
            }
        }
    }
    Err(Error::Join(last_err))
}

fn raft_config(id: u64, config: &StoreConfig, applied: u64) -> raft::Config {
    raft::Config {
        id,
        election_tick: config.election_ticks(),
        // Randomised timeouts in [1, 1.5) election timeouts: a dead leader is replaced
        // sooner than with raft's default [1, 2) spread, still with few split votes.
        max_election_tick: config.election_ticks() * 3 / 2,
        heartbeat_tick: 1,
        applied,
        max_size_per_msg: 1 << 20,
        max_inflight_msgs: 256,
        check_quorum: true,
        pre_vote: true,
        ..Default::default()
    }
}

impl Member {
    /// Opens (or creates) the member's data dir, joins or bootstraps the cluster, and starts
    /// the raft thread. Must be called inside a tokio runtime.
    pub async fn start(
        config: StoreConfig,
        shutdown: CancellationToken,
    ) -> Result<(Self, RaftExit)> {
        let (db, fresh) = db::open(&config.data_dir)?;
        let db = Arc::new(db);
        let storage = Arc::new(RaftStorage::load(&db)?);
        let min_ttl = config.min_lease_ttl();
        let mut known_peers = Vec::new();
        let sm = if fresh || !storage.is_initialized() {
            match config.initial_cluster_state {
                ClusterState::New => {
                    let (id, members) = initial_attributes(&config)?;
                    let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
                    let sm = StateMachine::load(id, db.clone(), min_ttl)?;
                    sm.bootstrap(&storage, membership::cluster_id(&ids), &members)?;
                    tracing::info!(
                        member = format!("{id:x}"),
                        members = members.len(),
                        "bootstrapped a new cluster"
                    );
                    sm
                }
                ClusterState::Existing => {
                    let (id, cluster, members) = discover_identity(&config).await?;
                    known_peers = members;
                    let sm = StateMachine::load(id, db.clone(), min_ttl)?;
                    sm.record_identity(cluster)?;
                    tracing::info!(member = format!("{id:x}"), "joining an existing cluster");
                    sm
                }
            }
        } else {
            let id = db::read_meta(&db, db::meta::MEMBER_ID)?.ok_or_else(|| {
                Error::Config(format!("{} has no member ID", config.data_dir.display()))
            })?;
            tracing::info!(
                member = format!("{id:x}"),
                "restarting from existing data; --initial-cluster flags are ignored"
            );
            StateMachine::load(id, db.clone(), min_ttl)?
        };
        let sm = Arc::new(sm);
        {
            let sm = sm.clone();
            let storage_ref = storage.clone();
            storage.set_snapshot_builder(Box::new(move || sm.snapshot(storage_ref.conf_state())));
        }
        let id = sm.id;
        let (tx, rx) = std_mpsc::channel();
        let status = Arc::new(NodeStatus::default());
        status
            .term
            .store(storage.hard_state().term, Ordering::Release);
        let transport = Arc::new(Transport::new(
            id,
            sm.cluster_id(),
            tokio::runtime::Handle::current(),
            tx.clone(),
            shutdown.clone(),
        ));
        let members = sm.members();
        transport.set_peers(if members.is_empty() {
            &known_peers
        } else {
            &members
        });
        // Applies are made durable together with later log appends; after a crash the stored
        // commit index may trail the stored applied index, which raft would refuse.
        if storage.hard_state().commit < sm.applied_index() {
            let wtx = db
                .begin_write()
                .map_err(|e| Error::Db(db::Error::from(e)))?;
            let mut hs = storage.hard_state();
            hs.commit = sm.applied_index();
            storage.persist_hard_state(&wtx, &hs)?;
            wtx.commit().map_err(|e| Error::Db(db::Error::from(e)))?;
        }
        let logger = crate::raft::logger();
        let mut raw = RawNode::new(
            &raft_config(id, &config, sm.applied_index()),
            SharedStorage(storage.clone()),
            &logger,
        )?;
        let cs = storage.conf_state();
        if cs.voters == [id] && cs.learners.is_empty() {
            // A cluster of one elects itself at once instead of waiting an election timeout.
            raw.campaign()?;
        }
        let loop_config = LoopConfig {
            tick: config.heartbeat_interval,
            snapshot_count: config.snapshot_count,
            attributes: MemberAttributes {
                id,
                name: config.name.clone(),
                client_urls: config.advertise_client_urls.clone(),
                ..Default::default()
            },
        };
        let raft_loop = RaftLoop::new(
            raw,
            storage,
            sm.clone(),
            transport,
            rx,
            status.clone(),
            loop_config,
            shutdown,
        );
        let (exit_tx, exit_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("raft".into())
            .spawn(move || {
                let r = raft_loop.run();
                if let Err(e) = &r {
                    tracing::error!(error = %e, "raft loop stopped");
                }
                let _ = exit_tx.send(r);
            })
            .map_err(|e| Error::Config(format!("failed to spawn the raft thread: {e}")))?;
        let member = Self {
            inner: Arc::new(Inner {
                sm,
                inbox: tx,
                status,
                config,
                leader_clients: Mutex::new(HashMap::new()),
            }),
        };
        Ok((member, exit_rx))
    }

    pub fn id(&self) -> u64 {
        self.inner.sm.id
    }

    pub fn state(&self) -> &Arc<StateMachine> {
        &self.inner.sm
    }

    pub fn status(&self) -> &NodeStatus {
        &self.inner.status
    }

    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// The response header for a reply at store revision `revision`.
    pub fn header(&self, revision: i64) -> ResponseHeader {
        ResponseHeader {
            cluster_id: self.inner.sm.cluster_id(),
            member_id: self.id(),
            revision,
            raft_term: self.inner.status.term.load(Ordering::Acquire),
        }
    }

    fn send(&self, input: Input) -> Result<()> {
        if self.inner.status.stopped.load(Ordering::Acquire) {
            return Err(ProposeError::Stopped.into());
        }
        self.inner
            .inbox
            .send(input)
            .map_err(|_| ProposeError::Stopped.into())
    }

    async fn wait<T>(&self, rx: oneshot::Receiver<Result<T, ProposeError>>) -> Result<T> {
        match tokio::time::timeout(self.inner.config.request_timeout, rx).await {
            Ok(Ok(r)) => Ok(r?),
            Ok(Err(_)) => Err(ProposeError::Stopped.into()),
            Err(_) => Err(Error::Timeout),
        }
    }

    fn check_space(&self) -> Result<()> {
        if free_bytes(&self.inner.config.data_dir)
            .is_some_and(|f| f < self.inner.config.min_free_bytes)
        {
            return Err(Error::NoSpace);
        }
        Ok(())
    }

    /// Replicates a command and returns its outcome.
    async fn propose(&self, op: Op, size: usize) -> Result<Outcome> {
        if size > self.inner.config.max_request_bytes {
            return Err(Error::TooLarge);
        }
        let (tx, rx) = oneshot::channel();
        self.send(Input::Propose { op, reply: tx })?;
        self.wait(rx).await
    }

    async fn propose_write(&self, op: Op, size: usize) -> Result<(Applied, i64)> {
        self.check_space()?;
        let out = self.propose(op, size).await?;
        Ok((out.result?, out.revision))
    }

    /// Waits until this member has applied everything committed before the call, with
    /// leadership confirmed by a quorum (ReadIndex).
    pub async fn linearizable_barrier(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.send(Input::ReadIndex { reply: tx })?;
        let index = self.wait(rx).await?;
        debug_assert!(self.inner.sm.applied_index() >= index);
        Ok(())
    }

    pub async fn range(&self, req: &RangeRequest) -> Result<RangeResponse> {
        if !req.serializable {
            self.linearizable_barrier().await?;
        }
        let sm = self.inner.sm.clone();
        let req = req.clone();
        let (rev, mut resp) = tokio::task::spawn_blocking(move || sm.mvcc.range(&sm.db, &req))
            .await
            .map_err(|_| Error::Unexpected("range task failed"))??;
        resp.header = Some(self.header(rev));
        Ok(resp)
    }

    pub async fn put(&self, req: PutRequest) -> Result<PutResponse> {
        let size = prost::Message::encoded_len(&req);
        match self.propose_write(Op::Put(req), size).await? {
            (Applied::Put(mut r), rev) => {
                r.header = Some(self.header(rev));
                Ok(r)
            }
            _ => Err(Error::Unexpected("put")),
        }
    }

    pub async fn delete_range(&self, req: DeleteRangeRequest) -> Result<DeleteRangeResponse> {
        let size = prost::Message::encoded_len(&req);
        match self.propose_write(Op::DeleteRange(req), size).await? {
            (Applied::DeleteRange(mut r), rev) => {
                r.header = Some(self.header(rev));
                Ok(r)
            }
            _ => Err(Error::Unexpected("delete")),
        }
    }

    pub async fn txn(&self, req: TxnRequest) -> Result<TxnResponse> {
        check_txn(&req, self.inner.config.max_txn_ops)?;
        let size = prost::Message::encoded_len(&req);
        match self.propose_write(Op::Txn(req), size).await? {
            (Applied::Txn(mut r), rev) => {
                r.header = Some(self.header(rev));
                Ok(r)
            }
            _ => Err(Error::Unexpected("txn")),
        }
    }

    pub async fn compact(&self, req: CompactionRequest) -> Result<i64> {
        let out = self.propose(Op::Compaction(req), 16).await?;
        out.result?;
        Ok(out.revision)
    }

    pub async fn lease_grant(&self, id: i64, ttl: i64) -> Result<(i64, i64, i64)> {
        let id = if id == 0 {
            rand::random::<i64>() & i64::MAX
        } else {
            id
        };
        let op = Op::LeaseGrant(crate::proto::etcd::LeaseGrantRequest { ttl, id });
        match self.propose_write(op, 32).await? {
            (Applied::LeaseGrant { id, ttl }, rev) => Ok((id, ttl, rev)),
            _ => Err(Error::Unexpected("lease grant")),
        }
    }

    pub async fn lease_revoke(&self, id: i64) -> Result<i64> {
        let op = Op::LeaseRevoke(crate::proto::etcd::LeaseRevokeRequest { id });
        let out = self.propose(op, 16).await?;
        out.result?;
        Ok(out.revision)
    }

    fn leader_url(&self) -> Result<String> {
        let leader = self.inner.status.leader.load(Ordering::Acquire);
        if leader == 0 {
            return Err(ProposeError::NoLeader.into());
        }
        self.inner
            .sm
            .member(leader)
            .and_then(|m| m.peer_urls.first().cloned())
            .ok_or_else(|| ProposeError::NoLeader.into())
    }

    fn leader_client(&self) -> Result<PeerClient<Channel>> {
        let url = self.leader_url()?;
        let mut cache = self.inner.leader_clients.lock();
        if let Some(c) = cache.get(&url) {
            return Ok(c.clone());
        }
        let c = peer_client(&url).map_err(|e| Error::Forward(e.to_string()))?;
        cache.insert(url, c.clone());
        Ok(c)
    }

    /// Renews a lease on the leader; returns its TTL.
    pub async fn lease_renew(&self, id: i64) -> Result<i64> {
        if self.inner.status.is_leader.load(Ordering::Acquire) {
            return self.inner.sm.lessor.renew(id).ok_or(Error::LeaseNotFound);
        }
        let mut c = self.leader_client()?;
        let ttl = tokio::time::timeout(
            self.inner.config.request_timeout,
            c.lease_renew(crate::proto::internal::LeaseRenewRequest { id }),
        )
        .await
        .map_err(|_| Error::Timeout)?
        .map_err(|s| Error::Forward(s.message().to_string()))?
        .into_inner()
        .ttl;
        if ttl <= 0 {
            return Err(Error::LeaseNotFound);
        }
        Ok(ttl)
    }

    /// A lease's remaining TTL as the leader sees it.
    pub async fn lease_status(&self, id: i64) -> Result<LeaseStatus> {
        self.linearizable_barrier().await?;
        let mut st = self
            .inner
            .sm
            .lessor
            .status(id)
            .ok_or(Error::LeaseNotFound)?;
        if !self.inner.status.is_leader.load(Ordering::Acquire) {
            let mut c = self.leader_client()?;
            if let Ok(r) = c
                .lease_ttl(crate::proto::internal::LeaseTtlRequest { id })
                .await
            {
                let r = r.into_inner();
                if r.found {
                    st.remaining = r.remaining;
                }
            }
        }
        Ok(st)
    }

    pub fn lease_ids(&self) -> Vec<i64> {
        self.inner.sm.lessor.ids()
    }

    pub fn members(&self) -> Vec<MemberAttributes> {
        self.inner.sm.members()
    }

    async fn conf_change(
        &self,
        kind: ConfChangeType,
        id: u64,
        member: MemberAttributes,
    ) -> Result<Vec<MemberAttributes>> {
        let mut cc = ConfChange::default();
        cc.set_change_type(kind);
        cc.node_id = id;
        let (tx, rx) = oneshot::channel();
        self.send(Input::ConfChange {
            cc,
            member,
            reply: tx,
        })?;
        let out = self.wait(rx).await?;
        match out.result? {
            Applied::Members(m) => Ok(m),
            _ => Err(Error::Unexpected("member change")),
        }
    }

    pub async fn member_add(
        &self,
        peer_urls: Vec<String>,
        learner: bool,
    ) -> Result<(MemberAttributes, Vec<MemberAttributes>)> {
        let mut wanted = peer_urls.clone();
        wanted.sort();
        for m in self.members() {
            let mut urls = m.peer_urls.clone();
            urls.sort();
            if urls.iter().any(|u| wanted.contains(u)) {
                return Err(Error::PeerUrlsExist);
            }
        }
        let salt = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let id = membership::member_id(&peer_urls, &self.inner.config.initial_cluster_token, salt);
        let member = MemberAttributes {
            id,
            peer_urls,
            is_learner: learner,
            ..Default::default()
        };
        let kind = if learner {
            ConfChangeType::AddLearnerNode
        } else {
            ConfChangeType::AddNode
        };
        let members = self.conf_change(kind, id, member.clone()).await?;
        Ok((member, members))
    }

    pub async fn member_remove(&self, id: u64) -> Result<Vec<MemberAttributes>> {
        if self.inner.sm.member(id).is_none() {
            return Err(Error::MemberNotFound);
        }
        self.conf_change(ConfChangeType::RemoveNode, id, MemberAttributes::default())
            .await
    }

    pub async fn member_promote(&self, id: u64) -> Result<Vec<MemberAttributes>> {
        let m = self.inner.sm.member(id).ok_or(Error::MemberNotFound)?;
        self.conf_change(ConfChangeType::AddNode, id, m).await
    }

    pub async fn member_update(
        &self,
        id: u64,
        peer_urls: Vec<String>,
    ) -> Result<Vec<MemberAttributes>> {
        if self.inner.sm.member(id).is_none() {
            return Err(Error::MemberNotFound);
        }
        let attrs = MemberAttributes {
            id,
            peer_urls,
            ..Default::default()
        };
        let out = self.propose(Op::Publish(attrs), 256).await?;
        match out.result? {
            Applied::Members(m) => Ok(m),
            _ => Err(Error::Unexpected("member update")),
        }
    }

    pub fn transfer_leadership(&self, to: u64) -> Result<()> {
        if self.inner.sm.member(to).is_none() {
            return Err(Error::MemberNotFound);
        }
        self.send(Input::TransferLeader(to))
    }

    /// Hands a peer's raft message to the raft loop.
    pub fn deliver(&self, msg: raft::eraftpb::Message) {
        let _ = self.inner.inbox.send(Input::Raft(msg));
    }
}

/// The keys a list of ops writes, with nested transactions' keys carried up.
#[derive(Debug, Default)]
struct Writes {
    puts: Vec<Vec<u8>>,
    dels: Vec<(Vec<u8>, Vec<u8>)>,
}

/// etcd's request checks (its checkIntervals): the operation count, and no key written twice
/// by a transaction — put twice, or put and deleted — counting the keys of nested
/// transactions (both of their branches, which may each put the same key since only one
/// runs).
fn check_txn(req: &TxnRequest, max_ops: usize) -> Result<()> {
    fn branch(ops: &[RequestOp], max_ops: usize) -> Result<Writes> {
        if ops.len() > max_ops {
            return Err(Error::TooManyOps);
        }
        let mut w = Writes::default();
        for op in ops {
            if let Some(request_op::Request::RequestTxn(t)) = &op.request {
                if t.compare.len() > max_ops {
                    return Err(Error::TooManyOps);
                }
                let (s, f) = (branch(&t.success, max_ops)?, branch(&t.failure, max_ops)?);
                let mut nested = s.puts;
                for k in f.puts {
                    if !nested.contains(&k) {
                        nested.push(k);
                    }
                }
                for k in nested {
                    if w.puts.contains(&k) {
                        return Err(Error::DuplicateKey);
                    }
                    w.puts.push(k);
                }
                w.dels.extend(s.dels.into_iter().chain(f.dels));
            }
        }
        for op in ops {
            match &op.request {
                Some(request_op::Request::RequestPut(p)) => {
                    if w.puts.contains(&p.key) {
                        return Err(Error::DuplicateKey);
                    }
                    w.puts.push(p.key.clone());
                }
                Some(request_op::Request::RequestDeleteRange(d)) => {
                    w.dels.push((d.key.clone(), d.range_end.clone()));
                }
                _ => {}
            }
        }
        let overlaps = |k: &Vec<u8>| {
            w.dels
                .iter()
                .any(|(key, end)| mvcc::KeyRange::new(key, end).contains(k))
        };
        if w.puts.iter().any(overlaps) {
            return Err(Error::DuplicateKey);
        }
        Ok(w)
    }
    if req.compare.len() > max_ops {
        return Err(Error::TooManyOps);
    }
    branch(&req.success, max_ops)?;
    branch(&req.failure, max_ops)?;
    Ok(())
}

/// Free bytes on the file system holding `dir`, if it can be asked.
fn free_bytes(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}
