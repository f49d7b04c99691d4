//! The state machine: applies committed raft entries to the key space, the leases and the
//! membership, and builds and installs snapshots of all three.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use prost::Message as _;
use raft::eraftpb::{ConfChange, ConfChangeType, ConfState, Entry, EntryType, Snapshot};
use redb::{Database, ReadableDatabase, ReadableTable, WriteTransaction};

use crate::db::{self, KV, LEASES, MEMBERS, META};
use crate::lease::{self, Lessor};
use crate::membership;
use crate::mvcc::{self, MvccStore, MvccWriter, Revision};
use crate::proto::etcd::{DeleteRangeResponse, PutResponse, TxnResponse};
use crate::proto::internal::{
    command::Op, Command, ConfChangeContext, LeaseRecord, MemberAttributes, RevisionRecord,
    SnapshotData,
};
use crate::proto::mvcc::Event;
use crate::raft::storage::RaftStorage;
use crate::watch::WatchHub;

/// Why a command changed nothing; deterministic, so every member reaches the same verdict.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    Mvcc(String),
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision,
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    #[error("etcdserver: key not found")]
    KeyNotFound,
    #[error("etcdserver: member not found")]
    MemberNotFound,
    #[error("etcdserver: member ID already exist")]
    MemberExists,
}

/// The successful outcome of one command.
#[derive(Debug, Clone)]
pub enum Applied {
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
    Compaction,
    LeaseGrant { id: i64, ttl: i64 },
    LeaseRevoke,
    Members(Vec<MemberAttributes>),
}

/// What the proposing member tells its client.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: Result<Applied, Rejection>,
    /// The store revision after the command.
    pub revision: i64,
}

/// A membership change that was applied; the raft loop updates the transport.
#[derive(Debug, Clone)]
pub struct MembershipChange {
    pub kind: ConfChangeType,
    pub member: MemberAttributes,
}

/// Everything one apply pass produced.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// Outcomes of this member's own proposals, by proposal sequence number.
    pub replies: Vec<(u64, Outcome)>,
    pub membership: Vec<MembershipChange>,
    /// Some member's attributes changed (URLs included): peers need refreshing.
    pub members_changed: bool,
    pub events: Vec<Event>,
    /// Index and term of the last entry applied in this round; 0 if none.
    pub last_index: u64,
    pub last_term: u64,
}

impl ApplyReport {
    /// Empties the report for the next round, keeping its buffers: under load a round applies
    /// thousands of entries, and fresh buffers each round cost page faults.
    pub fn clear(&mut self) {
        self.replies.clear();
        self.membership.clear();
        self.members_changed = false;
        self.events.clear();
        self.last_index = 0;
        self.last_term = 0;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to apply committed entries: {0}")]
    Storage(#[from] redb::Error),
    #[error("failed to apply committed entries: {0}")]
    Raft(#[from] raft::Error),
    #[error("committed entry {index} cannot be decoded: {reason}")]
    Decode { index: u64, reason: String },
    #[error("failed to apply committed entries: {0}")]
    Mvcc(#[from] mvcc::Error),
    #[error("failed to install snapshot: {0}")]
    Snapshot(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Self::Storage(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The replicated state of one member.
#[derive(Debug)]
pub struct StateMachine {
    pub id: u64,
    pub db: Arc<Database>,
    pub mvcc: Arc<MvccStore>,
    pub lessor: Arc<Lessor>,
    pub hub: Arc<WatchHub>,
    members: RwLock<BTreeMap<u64, MemberAttributes>>,
    /// Members removed while this member ran: their messages are answered with a refusal
    /// that makes them stop, since a removed member may miss the entry removing it.
    removed: RwLock<std::collections::HashSet<u64>>,
    cluster_id: AtomicU64,
    applied_index: AtomicU64,
    applied_term: AtomicU64,
}

fn mvcc_rejection(e: mvcc::Error) -> Result<Rejection> {
    match e {
        mvcc::Error::Compacted { .. } => Ok(Rejection::Compacted),
        mvcc::Error::FutureRevision => Ok(Rejection::FutureRevision),
        mvcc::Error::KeyNotFound => Ok(Rejection::KeyNotFound),
        mvcc::Error::LeaseNotFound => Ok(Rejection::LeaseNotFound),
        other => Err(Error::Mvcc(other)),
    }
}

fn lease_rejection(e: lease::Error) -> Result<Rejection> {
    match e {
        lease::Error::Exists => Ok(Rejection::LeaseExists),
        lease::Error::NotFound => Ok(Rejection::LeaseNotFound),
        lease::Error::TtlTooLarge => Ok(Rejection::LeaseTtlTooLarge),
        lease::Error::Storage(s) => Err(Error::Storage(s.into())),
    }
}

/// Reads the live keys that carry a lease, from the newest revision of every key.
fn attached_keys(db: &Database) -> Result<Vec<(Vec<u8>, i64)>> {
    let rtx = db.begin_read()?;
    let kv = rtx.open_table(KV)?;
    let mut latest: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
    for row in kv.iter()? {
        let (k, v) = row?;
        let sv = mvcc::decode_value(Revision::from_key(k.value()), v.value())?;
        if sv.tombstone || sv.kv.lease == 0 {
            latest.remove(&sv.kv.key);
        } else {
            latest.insert(sv.kv.key, sv.kv.lease);
        }
    }
    Ok(latest.into_iter().collect())
}

fn load_leases(db: &Database) -> Result<Vec<(i64, i64)>> {
    let rtx = db.begin_read()?;
    let t = rtx.open_table(LEASES)?;
    lease::stored_leases(&t).map_err(|e| Error::Snapshot(e.to_string()))
}

fn load_members(db: &Database) -> Result<BTreeMap<u64, MemberAttributes>> {
    let rtx = db.begin_read()?;
    let t = rtx.open_table(MEMBERS)?;
    let mut out = BTreeMap::new();
    for row in t.iter()? {
        let (k, v) = row?;
        let m = MemberAttributes::decode(v.value()).map_err(|e| Error::Decode {
            index: 0,
            reason: format!("member {}: {e}", k.value()),
        })?;
        out.insert(k.value(), m);
    }
    Ok(out)
}

impl StateMachine {
    /// Loads the state of member `id` from its database.
    pub fn load(id: u64, db: Arc<Database>, min_lease_ttl: i64) -> Result<Self> {
        let mvcc = Arc::new(MvccStore::load(&db)?);
        let lessor = Arc::new(Lessor::new(
            min_lease_ttl,
            load_leases(&db)?,
            attached_keys(&db)?,
        ));
        let hub = Arc::new(WatchHub::new(mvcc.clone(), db.clone()));
        let members = load_members(&db)?;
        let meta = |k| db::read_meta(&db, k).map_err(|e| Error::Snapshot(e.to_string()));
        let cluster_id = meta(db::meta::CLUSTER_ID)?.unwrap_or(0);
        let applied_index = meta(db::meta::APPLIED_INDEX)?.unwrap_or(0);
        let applied_term = meta(db::meta::APPLIED_TERM)?.unwrap_or(0);
        Ok(Self {
            id,
            db,
            mvcc,
            lessor,
            hub,
            members: RwLock::new(members),
            removed: RwLock::default(),
            cluster_id: AtomicU64::new(cluster_id),
            applied_index: AtomicU64::new(applied_index),
            applied_term: AtomicU64::new(applied_term),
        })
    }

    pub fn applied_index(&self) -> u64 {
        self.applied_index.load(Ordering::Acquire)
    }

    pub fn cluster_id(&self) -> u64 {
        self.cluster_id.load(Ordering::Acquire)
    }

    pub fn members(&self) -> Vec<MemberAttributes> {
        self.members.read().values().cloned().collect()
    }

    pub fn member(&self, id: u64) -> Option<MemberAttributes> {
        self.members.read().get(&id).cloned()
    }

    /// Whether member `id` was removed from the cluster.
    pub fn was_removed(&self, id: u64) -> bool {
        self.removed.read().contains(&id)
    }

    /// Writes the initial membership of a brand-new cluster (applied index 1).
    pub fn bootstrap(
        &self,
        storage: &RaftStorage,
        cluster_id: u64,
        members: &[MemberAttributes],
    ) -> Result<()> {
        let wtx = self.db.begin_write()?;
        {
            let mut t = wtx.open_table(MEMBERS)?;
            for m in members {
                t.insert(m.id, m.encode_to_vec().as_slice())?;
            }
            let mut meta = wtx.open_table(META)?;
            db::put_u64(&mut meta, db::meta::CLUSTER_ID, cluster_id)?;
            db::put_u64(&mut meta, db::meta::MEMBER_ID, self.id)?;
            db::put_u64(&mut meta, db::meta::APPLIED_INDEX, 1)?;
            db::put_u64(&mut meta, db::meta::APPLIED_TERM, 1)?;
        }
        let ids = |learner: bool| -> Vec<u64> {
            members
                .iter()
                .filter(|m| m.is_learner == learner)
                .map(|m| m.id)
                .collect()
        };
        let cs = ConfState {
            voters: ids(false),
            learners: ids(true),
            ..Default::default()
        };
        storage.persist_bootstrap(&wtx, cs)?;
        wtx.commit()?;
        *self.members.write() = members.iter().map(|m| (m.id, m.clone())).collect();
        self.cluster_id.store(cluster_id, Ordering::Release);
        self.applied_index.store(1, Ordering::Release);
        self.applied_term.store(1, Ordering::Release);
        Ok(())
    }

    /// Records the identity of a member that joined an existing cluster.
    pub fn record_identity(&self, cluster_id: u64) -> Result<()> {
        let wtx = self.db.begin_write()?;
        {
            let mut meta = wtx.open_table(META)?;
            db::put_u64(&mut meta, db::meta::CLUSTER_ID, cluster_id)?;
            db::put_u64(&mut meta, db::meta::MEMBER_ID, self.id)?;
        }
        wtx.commit()?;
        self.cluster_id.store(cluster_id, Ordering::Release);
        Ok(())
    }

    /// Applies committed entries into `wtx`, the raft loop's transaction for this round (so
    /// the log append and the apply share one durable commit). Nothing becomes visible to
    /// readers or watchers until that transaction committed and [`StateMachine::publish`]
    /// ran. `conf` applies a membership change to raft and returns the new configuration.
    pub fn apply(
        &self,
        wtx: &WriteTransaction,
        report: &mut ApplyReport,
        entries: &[Entry],
        storage: &RaftStorage,
        conf: &mut dyn FnMut(&ConfChange) -> raft::Result<ConfState>,
    ) -> Result<()> {
        let applied = self.applied_index().max(report.last_index);
        let entries: Vec<&Entry> = entries.iter().filter(|e| e.index > applied).collect();
        let Some(last) = entries.last() else {
            return Ok(());
        };
        (report.last_index, report.last_term) = (last.index, last.term);
        let mut guard = self.mvcc.lock();
        let mut kv = wtx.open_table(KV)?;
        let mut leases = wtx.open_table(LEASES)?;
        let mut members_t = wtx.open_table(MEMBERS)?;
        let mut writer = MvccWriter::new(&mut guard, &mut kv)?;
        for e in entries {
            match e.get_entry_type() {
                EntryType::EntryNormal if e.data.is_empty() => {}
                EntryType::EntryNormal => {
                    let cmd = Command::decode(e.data.as_ref()).map_err(|err| Error::Decode {
                        index: e.index,
                        reason: err.to_string(),
                    })?;
                    let result =
                        self.apply_command(&cmd, &mut writer, &mut leases, &mut members_t)?;
                    report.members_changed |= matches!(cmd.op, Some(Op::Publish(_)));
                    let events = writer.take_events();
                    self.lessor.observe(&events);
                    report.events.extend(events);
                    if cmd.member_id == self.id {
                        report.replies.push((
                            cmd.seq,
                            Outcome {
                                result,
                                revision: writer.revision(),
                            },
                        ));
                    }
                }
                EntryType::EntryConfChange => {
                    let cc: ConfChange = protobuf::Message::parse_from_bytes(e.data.as_ref())
                        .map_err(|err| Error::Decode {
                            index: e.index,
                            reason: err.to_string(),
                        })?;
                    let ctx = ConfChangeContext::decode(cc.context.as_ref()).unwrap_or_default();
                    let result = match self.apply_conf_change(&cc, &ctx, &mut members_t, report) {
                        Ok(()) => {
                            let cs = conf(&cc)?;
                            storage.persist_conf_state(wtx, &cs)?;
                            Ok(Applied::Members(self.members()))
                        }
                        Err(r) => Err(r),
                    };
                    if ctx.member_id == self.id {
                        report.replies.push((
                            ctx.seq,
                            Outcome {
                                result,
                                revision: writer.revision(),
                            },
                        ));
                    }
                }
                EntryType::EntryConfChangeV2 => {
                    tracing::warn!(index = e.index, "ignoring unsupported ConfChangeV2 entry");
                }
            }
        }
        let mut meta = wtx.open_table(META)?;
        db::put_u64(&mut meta, db::meta::APPLIED_INDEX, report.last_index)?;
        db::put_u64(&mut meta, db::meta::APPLIED_TERM, report.last_term)?;
        db::put_u64(&mut meta, db::meta::REVISION, writer.revision() as u64)?;
        db::put_u64(
            &mut meta,
            db::meta::COMPACT_REVISION,
            writer.compact_revision() as u64,
        )?;
        Ok(())
    }

    /// Makes a committed round of applies visible: readers see its revision, watchers get
    /// its changes, and ReadIndex waiters its index.
    pub fn publish(&self, report: &ApplyReport) {
        if report.last_index == 0 {
            return;
        }
        let rev = self.mvcc.publish();
        self.applied_index
            .store(report.last_index, Ordering::Release);
        self.applied_term.store(report.last_term, Ordering::Release);
        self.hub.publish(&report.events, rev);
    }

    fn apply_command(
        &self,
        cmd: &Command,
        w: &mut MvccWriter<'_, '_>,
        leases: &mut redb::Table<'_, i64, i64>,
        members: &mut redb::Table<'_, u64, &'static [u8]>,
    ) -> Result<Result<Applied, Rejection>> {
        let lease_exists = |id: i64| self.lessor.exists(id);
        let mvcc_result = |r: mvcc::Result<Applied>| -> Result<Result<Applied, Rejection>> {
            match r {
                Ok(a) => Ok(Ok(a)),
                Err(e) => mvcc_rejection(e).map(Err),
            }
        };
        let Some(op) = &cmd.op else {
            return Ok(Err(Rejection::Mvcc("etcdserver: empty command".into())));
        };
        match op {
            Op::Put(p) => mvcc_result(w.put(p, &lease_exists).map(Applied::Put)),
            Op::DeleteRange(d) => mvcc_result(w.delete_range(d).map(Applied::DeleteRange)),
            Op::Txn(t) => mvcc_result(w.txn(t, &lease_exists).map(Applied::Txn)),
            Op::Compaction(c) => mvcc_result(w.compact(c.revision).map(|()| Applied::Compaction)),
            Op::LeaseGrant(g) => match self.lessor.grant(leases, g.id, g.ttl) {
                Ok(ttl) => Ok(Ok(Applied::LeaseGrant { id: g.id, ttl })),
                Err(e) => lease_rejection(e).map(Err),
            },
            Op::LeaseRevoke(r) => match self.lessor.revoke(leases, r.id) {
                Ok(keys) => {
                    w.delete_keys(&keys)?;
                    Ok(Ok(Applied::LeaseRevoke))
                }
                Err(e) => lease_rejection(e).map(Err),
            },
            Op::Publish(attrs) => {
                let mut all = self.members.write();
                let Some(m) = all.get_mut(&attrs.id) else {
                    return Ok(Err(Rejection::MemberNotFound));
                };
                membership::merge(m, attrs);
                members.insert(m.id, m.encode_to_vec().as_slice())?;
                drop(all);
                Ok(Ok(Applied::Members(self.members())))
            }
        }
    }

    fn apply_conf_change(
        &self,
        cc: &ConfChange,
        ctx: &ConfChangeContext,
        members: &mut redb::Table<'_, u64, &'static [u8]>,
        report: &mut ApplyReport,
    ) -> Result<(), Rejection> {
        let mut all = self.members.write();
        let id = cc.node_id;
        let kind = cc.get_change_type();
        let member = match kind {
            ConfChangeType::AddNode | ConfChangeType::AddLearnerNode => {
                let mut m = ctx.member.clone().unwrap_or_default();
                m.id = id;
                m.is_learner = kind == ConfChangeType::AddLearnerNode;
                if let Some(existing) = all.get(&id) {
                    // Promotion of a learner keeps its attributes.
                    if !(existing.is_learner && kind == ConfChangeType::AddNode) {
                        return Err(Rejection::MemberExists);
                    }
                    let mut promoted = existing.clone();
                    promoted.is_learner = false;
                    m = promoted;
                }
                members
                    .insert(id, m.encode_to_vec().as_slice())
                    .map_err(|e| Rejection::Mvcc(e.to_string()))?;
                all.insert(id, m.clone());
                m
            }
            ConfChangeType::RemoveNode => {
                let m = all.remove(&id).ok_or(Rejection::MemberNotFound)?;
                self.removed.write().insert(id);
                members
                    .remove(id)
                    .map_err(|e| Rejection::Mvcc(e.to_string()))?;
                m
            }
        };
        report.membership.push(MembershipChange { kind, member });
        report.members_changed = true;
        Ok(())
    }

    /// Serialises the whole state at the applied index.
    pub fn snapshot(&self, conf_state: ConfState) -> raft::Result<Snapshot> {
        let err = |e: &dyn std::fmt::Display| {
            raft::Error::Store(raft::StorageError::Other(e.to_string().into()))
        };
        let guard = self.mvcc.lock();
        let rtx = self.db.begin_read().map_err(|e| err(&e))?;
        drop(guard);
        let mut data = SnapshotData {
            cluster_id: self.cluster_id(),
            ..Default::default()
        };
        let meta = rtx.open_table(META).map_err(|e| err(&e))?;
        let get = |k: &str| -> raft::Result<u64> {
            Ok(db::get_u64(&meta, k).map_err(|e| err(&e))?.unwrap_or(0))
        };
        let index = get(db::meta::APPLIED_INDEX)?;
        let term = get(db::meta::APPLIED_TERM)?;
        data.revision = get(db::meta::REVISION)? as i64;
        data.compact_revision = get(db::meta::COMPACT_REVISION)? as i64;
        let kv = rtx.open_table(KV).map_err(|e| err(&e))?;
        for row in kv.iter().map_err(|e| err(&e))? {
            let (k, v) = row.map_err(|e| err(&e))?;
            let r = Revision::from_key(k.value());
            let sv = mvcc::decode_value(r, v.value()).map_err(|e| err(&e))?;
            data.records.push(RevisionRecord {
                main: r.main,
                sub: r.sub,
                tombstone: sv.tombstone,
                kv: Some(sv.kv),
            });
        }
        let leases = rtx.open_table(LEASES).map_err(|e| err(&e))?;
        for (id, ttl) in lease::stored_leases(&leases).map_err(|e| err(&e))? {
            data.leases.push(LeaseRecord { id, ttl });
        }
        data.members = self.members();
        let mut snap = Snapshot {
            data: data.encode_to_vec().into(),
            ..Default::default()
        };
        let m = snap.mut_metadata();
        m.index = index;
        m.term = term;
        m.set_conf_state(conf_state);
        Ok(snap)
    }

    /// Replaces the whole state by a received snapshot, durably, together with the log.
    pub fn install_snapshot(&self, snap: &Snapshot, storage: &RaftStorage) -> Result<()> {
        let data =
            SnapshotData::decode(snap.data.as_ref()).map_err(|e| Error::Snapshot(e.to_string()))?;
        let meta = snap.get_metadata();
        let wtx = self.db.begin_write()?;
        {
            let mut kv = wtx.open_table(KV)?;
            kv.retain(|_, _| false)?;
            for r in &data.records {
                let kvv = r.kv.clone().unwrap_or_default();
                kv.insert(
                    Revision::new(r.main, r.sub).to_key(),
                    mvcc::encode_value(r.tombstone, &kvv).as_slice(),
                )?;
            }
            let mut leases = wtx.open_table(LEASES)?;
            leases.retain(|_, _| false)?;
            for l in &data.leases {
                leases.insert(l.id, l.ttl)?;
            }
            let mut members = wtx.open_table(MEMBERS)?;
            members.retain(|_, _| false)?;
            for m in &data.members {
                members.insert(m.id, m.encode_to_vec().as_slice())?;
            }
            let mut t = wtx.open_table(META)?;
            db::put_u64(&mut t, db::meta::APPLIED_INDEX, meta.index)?;
            db::put_u64(&mut t, db::meta::APPLIED_TERM, meta.term)?;
            db::put_u64(&mut t, db::meta::REVISION, data.revision as u64)?;
            db::put_u64(
                &mut t,
                db::meta::COMPACT_REVISION,
                data.compact_revision as u64,
            )?;
            db::put_u64(&mut t, db::meta::CLUSTER_ID, data.cluster_id)?;
        }
        storage.persist_snapshot(&wtx, meta)?;
        wtx.commit()?;
        self.mvcc.reload(&self.db)?;
        self.lessor
            .reset(load_leases(&self.db)?, attached_keys(&self.db)?);
        *self.members.write() = data.members.iter().map(|m| (m.id, m.clone())).collect();
        self.cluster_id.store(data.cluster_id, Ordering::Release);
        self.applied_index.store(meta.index, Ordering::Release);
        self.applied_term.store(meta.term, Ordering::Release);
        self.hub.reset(self.mvcc.revision());
        Ok(())
    }
}
