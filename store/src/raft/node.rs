//! The raft loop of one member: a dedicated thread that owns the raft state machine,
//! batches client proposals and peer messages, persists each `Ready` with one durable
//! commit (group commit), applies committed entries, and answers waiting clients.
//!
//! It runs on its own OS thread because every step that touches the disk blocks, and
//! because raft-rs wants one owner; everything else reaches it through the `Input` channel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message as _;
use raft::eraftpb::{ConfChange, Entry, Message};
use raft::{RawNode, SnapshotStatus, StateRole};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::storage::{RaftStorage, SharedStorage};
use super::transport::Transport;
use crate::apply::{self, ApplyReport, Outcome, StateMachine};
use crate::proto::etcd::LeaseRevokeRequest;
use crate::proto::internal::{command::Op, Command, ConfChangeContext, MemberAttributes};

/// Most inputs handled before the loop checks its clock and its `Ready`.
const MAX_INPUTS_PER_ROUND: usize = 8192;
/// Most proposal bytes taken into one round (one durable commit), so a burst of large
/// writes cannot outgrow the free-space margin writes are admitted with.
const MAX_BYTES_PER_ROUND: usize = 16 << 20;
/// How often an expired lease's revocation is proposed again if it did not land.
const LEASE_REVOKE_RETRY: Duration = Duration::from_secs(3);
/// How often the member re-proposes its own attributes until they are applied.
const PUBLISH_RETRY: Duration = Duration::from_secs(2);
/// Entries kept behind the applied index when the log is truncated (at most
/// `--snapshot-count`), so slow followers can catch up from the log rather than a snapshot.
const CATCH_UP_ENTRIES: u64 = 5000;

/// Why a request could not be put through raft.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProposeError {
    #[error("etcdserver: no leader")]
    NoLeader,
    #[error("etcdserver: server stopped")]
    Stopped,
    /// The outcome of the request is unknown: it may still be committed by the new leader.
    #[error("etcdserver: leader changed")]
    LeaderChanged,
}

pub type ProposeReply = oneshot::Sender<Result<Outcome, ProposeError>>;

/// What the raft loop is asked to do.
#[derive(Debug)]
pub enum Input {
    /// Replicate a command and report its outcome once applied here.
    Propose {
        op: Op,
        reply: ProposeReply,
    },
    /// Replicate a membership change.
    ConfChange {
        cc: ConfChange,
        member: MemberAttributes,
        reply: ProposeReply,
    },
    /// Confirm leadership and report the index a linearizable read must wait for.
    ReadIndex {
        reply: oneshot::Sender<Result<u64, ProposeError>>,
    },
    /// A message from a peer.
    Raft(Message),
    Unreachable(u64),
    SnapshotStatus(u64, SnapshotStatus),
    TransferLeader(u64),
    /// A peer refused this member's messages: the cluster removed it.
    Removed,
}

/// What other threads can see of the raft state.
#[derive(Debug, Default)]
pub struct NodeStatus {
    pub leader: AtomicU64,
    pub term: AtomicU64,
    pub commit: AtomicU64,
    pub is_leader: AtomicBool,
    pub stopped: AtomicBool,
    /// Set when this member was removed from the cluster.
    pub removed: AtomicBool,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("raft failed: {0}")]
    Raft(#[from] raft::Error),
    #[error(transparent)]
    Apply(#[from] apply::Error),
    #[error("failed to persist the raft log (is the data dir's disk full or failing?): {0}")]
    Storage(#[from] redb::Error),
}

impl From<redb::TransactionError> for Error {
    fn from(e: redb::TransactionError) -> Self {
        Self::Storage(e.into())
    }
}
impl From<redb::SetDurabilityError> for Error {
    fn from(e: redb::SetDurabilityError) -> Self {
        Self::Storage(e.into())
    }
}
impl From<redb::CommitError> for Error {
    fn from(e: redb::CommitError) -> Self {
        Self::Storage(e.into())
    }
}

/// Static settings of the loop.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    pub tick: Duration,
    pub snapshot_count: u64,
    /// This member's attributes, published to the cluster once a leader exists.
    pub attributes: MemberAttributes,
}

/// The loop's state; `run` consumes it on the raft thread.
pub struct RaftLoop {
    raw: RawNode<SharedStorage>,
    storage: Arc<RaftStorage>,
    sm: Arc<StateMachine>,
    transport: Arc<Transport>,
    inbox: std_mpsc::Receiver<Input>,
    status: Arc<NodeStatus>,
    config: LoopConfig,
    shutdown: CancellationToken,
    next_seq: u64,
    pending: HashMap<u64, ProposeReply>,
    read_batch: Vec<oneshot::Sender<Result<u64, ProposeError>>>,
    next_read_ctx: u64,
    reads_inflight: HashMap<u64, Vec<oneshot::Sender<Result<u64, ProposeError>>>>,
    reads_waiting: Vec<(u64, oneshot::Sender<Result<u64, ProposeError>>)>,
    last_publish: Option<Instant>,
    /// The apply report, reused round after round for its buffers.
    report: ApplyReport,
}

impl std::fmt::Debug for RaftLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftLoop").field("id", &self.sm.id).finish()
    }
}

impl RaftLoop {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        raw: RawNode<SharedStorage>,
        storage: Arc<RaftStorage>,
        sm: Arc<StateMachine>,
        transport: Arc<Transport>,
        inbox: std_mpsc::Receiver<Input>,
        status: Arc<NodeStatus>,
        config: LoopConfig,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            raw,
            storage,
            sm,
            transport,
            inbox,
            status,
            config,
            shutdown,
            next_seq: 1,
            pending: HashMap::new(),
            read_batch: Vec::new(),
            next_read_ctx: 1,
            reads_inflight: HashMap::new(),
            reads_waiting: Vec::new(),
            last_publish: None,
            report: ApplyReport::default(),
        }
    }

    /// Runs until shutdown, removal from the cluster, or a storage failure.
    pub fn run(mut self) -> Result<(), Error> {
        let result = self.run_inner();
        self.status.stopped.store(true, Ordering::Release);
        self.status.is_leader.store(false, Ordering::Release);
        result
    }

    fn run_inner(&mut self) -> Result<(), Error> {
        let mut last_tick = Instant::now();
        let mut last_sweep = Instant::now();
        loop {
            if self.shutdown.is_cancelled() || self.status.removed.load(Ordering::Acquire) {
                return Ok(());
            }
            let wait = self.config.tick.saturating_sub(last_tick.elapsed());
            let mut bytes = match self.inbox.recv_timeout(wait) {
                Ok(input) => self.handle(input),
                Err(std_mpsc::RecvTimeoutError::Timeout) => 0,
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            };
            for _ in 0..MAX_INPUTS_PER_ROUND {
                if bytes >= MAX_BYTES_PER_ROUND {
                    break;
                }
                match self.inbox.try_recv() {
                    Ok(input) => bytes += self.handle(input),
                    Err(_) => break,
                }
            }
            if !self.read_batch.is_empty() {
                let ctx = self.next_read_ctx;
                self.next_read_ctx += 1;
                self.raw.read_index(read_context(self.sm.id, ctx));
                self.reads_inflight
                    .insert(ctx, std::mem::take(&mut self.read_batch));
            }
            if last_tick.elapsed() >= self.config.tick {
                self.raw.tick();
                last_tick = Instant::now();
                self.on_tick();
            }
            if last_sweep.elapsed() >= Duration::from_secs(1) {
                last_sweep = Instant::now();
                self.pending.retain(|_, tx| !tx.is_closed());
                self.reads_inflight.retain(|_, v| {
                    v.retain(|tx| !tx.is_closed());
                    !v.is_empty()
                });
            }
            if self.raw.has_ready() {
                self.on_ready()?;
            }
        }
    }

    fn leader(&self) -> u64 {
        self.raw.raft.leader_id
    }

    /// Handles one input; returns the bytes it proposed.
    fn handle(&mut self, input: Input) -> usize {
        let mut proposed = 0;
        match input {
            Input::Propose { op, reply } => {
                let seq = self.next_seq;
                self.next_seq += 1;
                let cmd = Command {
                    member_id: self.sm.id,
                    seq,
                    op: Some(op),
                };
                let data = cmd.encode_to_vec();
                proposed = data.len();
                match self.raw.propose(vec![], data) {
                    Ok(()) => {
                        self.pending.insert(seq, reply);
                    }
                    Err(_) => {
                        let _ = reply.send(Err(ProposeError::NoLeader));
                    }
                }
            }
            Input::ConfChange {
                mut cc,
                member,
                reply,
            } => {
                let seq = self.next_seq;
                self.next_seq += 1;
                let ctx = ConfChangeContext {
                    member_id: self.sm.id,
                    seq,
                    member: Some(member),
                };
                cc.context = ctx.encode_to_vec().into();
                match self.raw.propose_conf_change(vec![], cc) {
                    Ok(()) => {
                        self.pending.insert(seq, reply);
                    }
                    Err(_) => {
                        let _ = reply.send(Err(ProposeError::NoLeader));
                    }
                }
            }
            Input::ReadIndex { reply } => {
                if self.leader() == raft::INVALID_ID {
                    let _ = reply.send(Err(ProposeError::NoLeader));
                } else {
                    self.read_batch.push(reply);
                }
            }
            Input::Raft(m) => {
                if let Err(e) = self.raw.step(m) {
                    tracing::debug!(error = %e, "dropped raft message");
                }
            }
            Input::Unreachable(id) => self.raw.report_unreachable(id),
            Input::SnapshotStatus(id, s) => self.raw.report_snapshot(id, s),
            Input::TransferLeader(id) => self.raw.transfer_leader(id),
            Input::Removed => {
                tracing::warn!("a peer reports this member was removed from the cluster; stopping");
                self.status.removed.store(true, Ordering::Release);
            }
        }
        proposed
    }

    /// Tells every waiting client that its request's fate is unknown, so it can retry
    /// against the new leader instead of waiting out its timeout.
    fn fail_waiters(&mut self, why: ProposeError) {
        for (_, tx) in self.pending.drain() {
            let _ = tx.send(Err(why.clone()));
        }
        let inflight = self.reads_inflight.drain().flat_map(|(_, v)| v);
        let waiting = self.reads_waiting.drain(..).map(|(_, tx)| tx);
        for tx in inflight.chain(waiting).chain(self.read_batch.drain(..)) {
            let _ = tx.send(Err(why.clone()));
        }
    }

    fn propose_internal(&mut self, op: Op) {
        let cmd = Command {
            member_id: 0,
            seq: 0,
            op: Some(op),
        };
        if let Err(e) = self.raw.propose(vec![], cmd.encode_to_vec()) {
            tracing::debug!(error = %e, "internal proposal dropped");
        }
    }

    fn on_tick(&mut self) {
        if self.raw.raft.state == StateRole::Leader {
            for id in self.sm.lessor.expired(LEASE_REVOKE_RETRY) {
                tracing::info!(lease = id, "lease expired; revoking");
                self.propose_internal(Op::LeaseRevoke(LeaseRevokeRequest { id }));
            }
        }
        self.maybe_publish();
    }

    /// Proposes this member's name and client URLs until the cluster has them.
    fn maybe_publish(&mut self) {
        if self.leader() == raft::INVALID_ID {
            return;
        }
        let want = &self.config.attributes;
        let published = self
            .sm
            .member(self.sm.id)
            .is_some_and(|m| m.name == want.name && m.client_urls == want.client_urls);
        let due = self
            .last_publish
            .is_none_or(|t| t.elapsed() >= PUBLISH_RETRY);
        if published || !due {
            return;
        }
        self.last_publish = Some(Instant::now());
        let attrs = MemberAttributes {
            id: self.sm.id,
            name: want.name.clone(),
            client_urls: want.client_urls.clone(),
            ..Default::default()
        };
        self.propose_internal(Op::Publish(attrs));
    }

    fn on_ready(&mut self) -> Result<(), Error> {
        let started = Instant::now();
        let mut rd = self.raw.ready();
        if let Some(ss) = rd.ss() {
            let previous = self.status.leader.swap(ss.leader_id, Ordering::AcqRel);
            if previous != raft::INVALID_ID && previous != ss.leader_id {
                self.fail_waiters(ProposeError::LeaderChanged);
            }
            let leading = ss.raft_state == StateRole::Leader;
            let was = self.status.is_leader.swap(leading, Ordering::AcqRel);
            if leading && !was {
                tracing::info!(
                    member = format!("{:x}", self.sm.id),
                    term = self.raw.raft.term,
                    "became leader"
                );
                self.sm.lessor.promote();
            } else if !leading && was {
                tracing::info!(member = format!("{:x}", self.sm.id), "lost leadership");
                self.sm.lessor.demote();
            }
        }
        // A leader may send its appends before persisting them (raft thesis 10.2.1).
        self.transport.send(rd.take_messages());
        if !rd.snapshot().is_empty() {
            tracing::info!(
                index = rd.snapshot().get_metadata().index,
                "installing snapshot from leader"
            );
            self.sm.install_snapshot(rd.snapshot(), &self.storage)?;
            self.sync_peers();
        }
        for rs in rd.take_read_states() {
            let Some(ctx) = parse_read_context(self.sm.id, &rs.request_ctx) else {
                continue;
            };
            if let Some(waiters) = self.reads_inflight.remove(&ctx) {
                self.reads_waiting
                    .extend(waiters.into_iter().map(|w| (rs.index, w)));
            }
        }

        // One durable commit per round (group commit): the entries to append, the hard
        // state, and every entry that became committed, applied in the same transaction.
        // Nothing leaves this member that depends on it until the commit returned.
        let mut report = std::mem::take(&mut self.report);
        report.clear();
        let mut wtx = self.sm.db.begin_write()?;
        if !rd.must_sync() {
            // Only applies and a commit-index change: raft needs neither durable (after a
            // crash the commit index is learned again and applies are replayed from the log),
            // so no flush. As etcd does for such rounds.
            wtx.set_durability(redb::Durability::None)?;
        }
        let committed = rd.take_committed_entries();
        self.apply(&wtx, &mut report, &committed)?;
        let entries = rd.entries().len();
        self.storage.persist_entries(&wtx, rd.entries())?;
        if let Some(hs) = rd.hs() {
            self.storage.persist_hard_state(&wtx, hs)?;
            self.status.term.store(hs.term, Ordering::Release);
        }
        let persisted_messages = rd.take_persisted_messages();
        let mut light = self.raw.advance(rd);
        if let Some(c) = light.commit_index() {
            self.status.commit.store(c, Ordering::Release);
        }
        let committed = light.take_committed_entries();
        self.apply(&wtx, &mut report, &committed)?;
        let prepared = started.elapsed();
        wtx.commit()?;
        let flushed = started.elapsed();

        self.sm.publish(&report);
        self.transport.send(persisted_messages);
        self.transport.send(light.take_messages());
        self.finish_apply(&mut report);
        self.report = report;
        self.raw.advance_apply();
        self.answer_reads();
        tracing::trace!(
            entries,
            prepare_us = prepared.as_micros() as u64,
            commit_us = (flushed - prepared).as_micros() as u64,
            total_us = started.elapsed().as_micros() as u64,
            "ready handled"
        );
        self.maybe_truncate()
    }

    fn apply(
        &mut self,
        wtx: &redb::WriteTransaction,
        report: &mut ApplyReport,
        entries: &[Entry],
    ) -> Result<(), Error> {
        if entries.is_empty() {
            return Ok(());
        }
        let Self {
            raw, sm, storage, ..
        } = self;
        sm.apply(wtx, report, entries, storage, &mut |cc| {
            raw.apply_conf_change(cc)
        })?;
        Ok(())
    }

    /// Hands outcomes to waiting clients and follows membership changes, once the round
    /// is durable.
    fn finish_apply(&mut self, report: &mut ApplyReport) {
        for (seq, outcome) in report.replies.drain(..) {
            if let Some(tx) = self.pending.remove(&seq) {
                let _ = tx.send(Ok(outcome));
            }
        }
        for change in &report.membership {
            if change.kind == raft::eraftpb::ConfChangeType::RemoveNode
                && change.member.id == self.sm.id
            {
                tracing::warn!("this member was removed from the cluster; stopping");
                self.status.removed.store(true, Ordering::Release);
            }
        }
        if report.members_changed {
            self.sync_peers();
        }
    }

    fn answer_reads(&mut self) {
        if self.reads_waiting.is_empty() {
            return;
        }
        let applied = self.sm.applied_index();
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.reads_waiting)
            .into_iter()
            .partition(|(index, _)| *index <= applied);
        self.reads_waiting = waiting;
        for (index, tx) in ready {
            let _ = tx.send(Ok(index));
        }
    }

    /// Points the transport at every current member.
    pub fn sync_peers(&self) {
        self.transport.set_peers(&self.sm.members());
    }

    fn maybe_truncate(&mut self) -> Result<(), Error> {
        let applied = self.sm.applied_index();
        let truncated = self.storage.truncated_index();
        let keep = CATCH_UP_ENTRIES.min(self.config.snapshot_count);
        if applied < truncated + self.config.snapshot_count + keep {
            return Ok(());
        }
        let upto = applied - keep;
        let wtx = self.sm.db.begin_write()?;
        self.storage.persist_truncate(&wtx, upto)?;
        wtx.commit()?;
        tracing::info!(upto, applied, "truncated raft log");
        Ok(())
    }
}

/// A ReadIndex context, unique in the cluster: the leader keys pending reads by context, so
/// equal contexts from two members would make it drop one of them.
fn read_context(member: u64, seq: u64) -> Vec<u8> {
    let mut ctx = Vec::with_capacity(16);
    ctx.extend_from_slice(&member.to_be_bytes());
    ctx.extend_from_slice(&seq.to_be_bytes());
    ctx
}

/// The sequence number of one of this member's ReadIndex contexts.
fn parse_read_context(member: u64, ctx: &[u8]) -> Option<u64> {
    let (who, seq) = ctx.split_at_checked(8)?;
    if who != member.to_be_bytes() {
        return None;
    }
    Some(u64::from_be_bytes(seq.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_contexts_are_per_member() {
        let ctx = read_context(7, 42);
        assert_eq!(parse_read_context(7, &ctx), Some(42));
        assert_eq!(parse_read_context(8, &ctx), None);
        assert_eq!(parse_read_context(7, &ctx[..12]), None);
    }
}
