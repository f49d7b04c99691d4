//! Reads and writes of keys over the backend's `kv` table, guided by the key index.

use std::cmp::Ordering;

use parking_lot::{RwLock, RwLockWriteGuard};
use prost::Message;
use redb::{Database, ReadableDatabase, ReadableTable, Table};

use super::index::{IndexEntry, KeyIndex, KeyRange};
use super::revision::Revision;
use super::{Error, Result};
use crate::db::{self, KV, META};
use crate::proto::etcd::{
    compare, range_request, request_op, response_op, Compare, DeleteRangeRequest,
    DeleteRangeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp,
    ResponseOp, TxnRequest, TxnResponse,
};
use crate::proto::mvcc::{event::EventType, Event, KeyValue};

const FLAG_PUT: u8 = 0;
const FLAG_TOMBSTONE: u8 = 1;

/// One decoded row of the `kv` table.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredValue {
    pub tombstone: bool,
    pub kv: KeyValue,
}

/// Encodes a row of the `kv` table: a flag byte, then the mvccpb.KeyValue.
pub fn encode_value(tombstone: bool, kv: &KeyValue) -> Vec<u8> {
    let mut buf = Vec::with_capacity(1 + kv.encoded_len());
    buf.push(if tombstone { FLAG_TOMBSTONE } else { FLAG_PUT });
    kv.encode(&mut buf).expect("a Vec grows to fit");
    buf
}

/// Decodes a row of the `kv` table.
pub fn decode_value(rev: Revision, bytes: &[u8]) -> Result<StoredValue> {
    let (flag, rest) = bytes
        .split_first()
        .ok_or_else(|| Error::Corrupt(rev, "empty row".into()))?;
    let kv = KeyValue::decode(rest).map_err(|e| Error::Corrupt(rev, e.to_string()))?;
    Ok(StoredValue {
        tombstone: *flag == FLAG_TOMBSTONE,
        kv,
    })
}

/// What the store's lock guards: the index and the two revision watermarks.
#[derive(Debug, Default)]
pub struct MvccState {
    pub index: KeyIndex,
    /// The newest applied revision; 1 for an empty store, as in etcd. Writers work here.
    pub rev: i64,
    /// The newest revision whose backend transaction has committed: what readers see.
    /// Trails `rev` while a batch of applies waits for its durable commit, so writers can
    /// update the index without holding the lock across the disk flush.
    pub committed_rev: i64,
    /// Revisions below this are gone, as far as writers are concerned.
    pub compact_rev: i64,
    /// The compaction readers see: trails `compact_rev` until the compaction is published.
    pub committed_compact_rev: i64,
    /// A compaction applied but not yet published: the index is pruned when it is, so
    /// readers of the older published revision still find what they need.
    pending_compaction: Option<i64>,
    /// Revisions no index entry refers to any more, whose rows the next writer removes.
    unreferenced: Vec<Revision>,
}

/// The multi-version key space of one member.
#[derive(Debug)]
pub struct MvccStore {
    state: RwLock<MvccState>,
}

fn get_value<T>(kv: &T, entry: &IndexEntry) -> Result<KeyValue>
where
    T: ReadableTable<(u64, u64), &'static [u8]>,
{
    let row = kv
        .get(entry.rev.to_key())?
        .ok_or_else(|| Error::Corrupt(entry.rev, "indexed revision missing from backend".into()))?;
    Ok(decode_value(entry.rev, row.value())?.kv)
}

impl MvccStore {
    /// Rebuilds the index from the backend.
    pub fn load(db: &Database) -> Result<Self> {
        let rtx = db.begin_read()?;
        let meta = rtx.open_table(META)?;
        let rev = db::get_u64(&meta, db::meta::REVISION)?.map_or(1, |v| v as i64);
        let compact_rev = db::get_u64(&meta, db::meta::COMPACT_REVISION)?.map_or(0, |v| v as i64);
        let table = rtx.open_table(KV)?;
        let mut index = KeyIndex::new();
        for row in table.iter()? {
            let (k, v) = row?;
            let r = Revision::from_key(k.value());
            let sv = decode_value(r, v.value())?;
            index.restore(
                &sv.kv.key,
                IndexEntry {
                    rev: r,
                    create: sv.kv.create_revision,
                    version: sv.kv.version,
                    tombstone: sv.tombstone,
                },
            );
        }
        // Rows a compaction made unreachable may still be stored if the member stopped
        // before removing them.
        let unreferenced = index.compact(compact_rev);
        Ok(Self {
            state: RwLock::new(MvccState {
                index,
                rev,
                committed_rev: rev,
                compact_rev,
                committed_compact_rev: compact_rev,
                pending_compaction: None,
                unreferenced,
            }),
        })
    }

    /// The newest committed revision.
    pub fn revision(&self) -> i64 {
        self.state.read().committed_rev
    }

    /// Makes everything applied so far visible to readers; call once the backend
    /// transaction holding it has committed.
    pub fn publish(&self) -> i64 {
        let mut st = self.state.write();
        st.committed_rev = st.rev;
        st.committed_compact_rev = st.compact_rev;
        if let Some(rev) = st.pending_compaction.take() {
            let dropped = st.index.compact(rev);
            st.unreferenced.extend(dropped);
        }
        st.rev
    }

    /// The newest committed compaction revision.
    pub fn compact_revision(&self) -> i64 {
        self.state.read().committed_compact_rev
    }

    /// Replaces the whole state (after a snapshot was installed in the backend).
    pub fn reload(&self, db: &Database) -> Result<()> {
        let fresh = Self::load(db)?;
        *self.state.write() = fresh.state.into_inner();
        Ok(())
    }

    /// Takes the write lock for applying. Readers keep seeing `committed_rev` until
    /// [`MvccStore::publish`], so the guard may be dropped before the backend commit.
    pub fn lock(&self) -> RwLockWriteGuard<'_, MvccState> {
        self.state.write()
    }

    /// Serves a range from the newest committed state.
    pub fn range(&self, db: &Database, req: &RangeRequest) -> Result<(i64, RangeResponse)> {
        let st = self.state.read();
        let rtx = db.begin_read()?;
        let kv = rtx.open_table(KV)?;
        let resp = range_at(&st, &kv, req, st.committed_rev, st.committed_compact_rev)?;
        Ok((st.committed_rev, resp))
    }

    /// The previous value of `key` before the change at `rev`, for watchers asking prev_kv.
    pub fn prev_value(&self, db: &Database, key: &[u8], rev: Revision) -> Result<Option<KeyValue>> {
        let st = self.state.read();
        let Some(entry) = st.index.before(key, rev) else {
            return Ok(None);
        };
        let rtx = db.begin_read()?;
        let kv = rtx.open_table(KV)?;
        get_value(&kv, &entry).map(Some)
    }

    /// Every change with `from <= revision <= to`, in revision order, and the newest
    /// revision at the time of reading. Fails with `Compacted` if `from` was compacted.
    pub fn events_between(&self, db: &Database, from: i64, to: i64) -> Result<(Vec<Event>, i64)> {
        let st = self.state.read();
        if from < st.committed_compact_rev {
            return Err(Error::Compacted {
                compact_revision: st.committed_compact_rev,
            });
        }
        let to = to.min(st.committed_rev);
        let rtx = db.begin_read()?;
        drop(st);
        let kv = rtx.open_table(KV)?;
        let mut events = Vec::new();
        if from > to {
            return Ok((events, to));
        }
        let lo = Revision::new(from, 0).to_key();
        let hi = Revision::new(to, i64::MAX).to_key();
        for row in kv.range(lo..=hi)? {
            let (k, v) = row?;
            let sv = decode_value(Revision::from_key(k.value()), v.value())?;
            events.push(Event {
                r#type: if sv.tombstone {
                    EventType::Delete as i32
                } else {
                    EventType::Put as i32
                },
                kv: Some(sv.kv),
                prev_kv: None,
            });
        }
        Ok((events, to))
    }
}

/// Executes a range; an explicit revision must lie in `[compacted, newest]`.
fn range_at<T>(
    st: &MvccState,
    kv: &T,
    req: &RangeRequest,
    newest: i64,
    compacted: i64,
) -> Result<RangeResponse>
where
    T: ReadableTable<(u64, u64), &'static [u8]>,
{
    let rev = if req.revision > 0 {
        if req.revision < compacted {
            return Err(Error::Compacted {
                compact_revision: compacted,
            });
        }
        if req.revision > newest {
            return Err(Error::FutureRevision);
        }
        req.revision
    } else {
        newest
    };
    let range = KeyRange::new(&req.key, &req.range_end);
    let mut count: i64 = 0;
    let mut hits: Vec<(&[u8], IndexEntry)> = Vec::new();
    for (k, e) in st.index.range(range, rev) {
        count += 1;
        if req.count_only {
            continue;
        }
        let keep = (req.min_mod_revision == 0 || e.rev.main >= req.min_mod_revision)
            && (req.max_mod_revision == 0 || e.rev.main <= req.max_mod_revision)
            && (req.min_create_revision == 0 || e.create >= req.min_create_revision)
            && (req.max_create_revision == 0 || e.create <= req.max_create_revision);
        if keep {
            hits.push((k, e));
        }
    }
    let mut resp = RangeResponse {
        count,
        ..Default::default()
    };
    if req.count_only {
        return Ok(resp);
    }
    let order = range_request::SortOrder::try_from(req.sort_order)
        .unwrap_or(range_request::SortOrder::None);
    let target = range_request::SortTarget::try_from(req.sort_target)
        .unwrap_or(range_request::SortTarget::Key);
    let order = match (order, target) {
        (range_request::SortOrder::None, range_request::SortTarget::Key) => {
            range_request::SortOrder::None
        }
        (range_request::SortOrder::None, _) => range_request::SortOrder::Ascend,
        (o, _) => o,
    };
    let limit = if req.limit > 0 {
        req.limit as usize
    } else {
        usize::MAX
    };
    let mut kvs = Vec::new();
    if order == range_request::SortOrder::None
        || (order == range_request::SortOrder::Ascend && target == range_request::SortTarget::Key)
    {
        resp.more = hits.len() > limit;
        for (_, e) in hits.iter().take(limit) {
            kvs.push(get_value(kv, e)?);
        }
    } else {
        for (_, e) in &hits {
            kvs.push(get_value(kv, e)?);
        }
        let key_of = |a: &KeyValue, b: &KeyValue| -> Ordering {
            match target {
                range_request::SortTarget::Key => a.key.cmp(&b.key),
                range_request::SortTarget::Version => a.version.cmp(&b.version),
                range_request::SortTarget::Create => a.create_revision.cmp(&b.create_revision),
                range_request::SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
                range_request::SortTarget::Value => a.value.cmp(&b.value),
            }
        };
        kvs.sort_by(|a, b| {
            let o = key_of(a, b);
            if order == range_request::SortOrder::Descend {
                o.reverse()
            } else {
                o
            }
        });
        resp.more = kvs.len() > limit;
        kvs.truncate(limit);
    }
    if req.keys_only {
        for kv in &mut kvs {
            kv.value.clear();
        }
    }
    resp.kvs = kvs;
    Ok(resp)
}

/// Applies writes inside one backend write transaction. Each top-level request that
/// changes anything advances the store revision by exactly one.
pub struct MvccWriter<'a, 't> {
    st: &'a mut MvccState,
    kv: &'a mut Table<'t, (u64, u64), &'static [u8]>,
    /// Changes made so far by the current request (the next change's sub revision).
    sub: i64,
    events: Vec<Event>,
}

impl std::fmt::Debug for MvccWriter<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MvccWriter")
            .field("rev", &self.st.rev)
            .field("sub", &self.sub)
            .finish()
    }
}

impl<'a, 't> MvccWriter<'a, 't> {
    /// Starts applying; first removes the rows earlier compactions left unreferenced.
    pub fn new(
        st: &'a mut MvccState,
        kv: &'a mut Table<'t, (u64, u64), &'static [u8]>,
    ) -> Result<Self> {
        for r in std::mem::take(&mut st.unreferenced) {
            kv.remove(r.to_key())?;
        }
        Ok(Self {
            st,
            kv,
            sub: 0,
            events: Vec::new(),
        })
    }

    /// The newest revision, including requests applied through this writer.
    pub fn revision(&self) -> i64 {
        self.st.rev
    }

    pub fn compact_revision(&self) -> i64 {
        self.st.compact_rev
    }

    /// Changes made through this writer so far, in revision order.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The revision reads inside the current request see: its own earlier writes included.
    fn read_rev(&self) -> i64 {
        if self.sub > 0 {
            self.st.rev + 1
        } else {
            self.st.rev
        }
    }

    fn next_rev(&mut self) -> Revision {
        let r = Revision::new(self.st.rev + 1, self.sub);
        self.sub += 1;
        r
    }

    fn finish_request(&mut self) {
        if self.sub > 0 {
            self.st.rev += 1;
            self.sub = 0;
        }
    }

    fn current_value(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        match self.st.index.latest(key) {
            Some(e) => get_value(&*self.kv, &e).map(Some),
            None => Ok(None),
        }
    }

    pub fn put(
        &mut self,
        req: &PutRequest,
        lease_exists: &dyn Fn(i64) -> bool,
    ) -> Result<PutResponse> {
        check_put(&self.st.index, req, lease_exists)?;
        let resp = self.put_unchecked(req)?;
        self.finish_request();
        Ok(resp)
    }

    fn put_unchecked(&mut self, req: &PutRequest) -> Result<PutResponse> {
        let prev = if req.prev_kv || req.ignore_value || req.ignore_lease {
            self.current_value(&req.key)?
        } else {
            None
        };
        let rev = self.next_rev();
        let entry = self.st.index.put(&req.key, rev);
        let value = match (&prev, req.ignore_value) {
            (Some(p), true) => p.value.clone(),
            _ => req.value.clone(),
        };
        let lease = match (&prev, req.ignore_lease) {
            (Some(p), true) => p.lease,
            _ => req.lease,
        };
        let kv = KeyValue {
            key: req.key.clone(),
            create_revision: entry.create,
            mod_revision: rev.main,
            version: entry.version,
            value,
            lease,
        };
        self.kv
            .insert(rev.to_key(), encode_value(false, &kv).as_slice())?;
        self.events.push(Event {
            r#type: EventType::Put as i32,
            kv: Some(kv),
            prev_kv: None,
        });
        Ok(PutResponse {
            header: None,
            prev_kv: if req.prev_kv { prev } else { None },
        })
    }

    pub fn delete_range(&mut self, req: &DeleteRangeRequest) -> Result<DeleteRangeResponse> {
        let resp = self.delete_unchecked(&req.key, &req.range_end, req.prev_kv)?;
        self.finish_request();
        Ok(resp)
    }

    fn delete_unchecked(
        &mut self,
        key: &[u8],
        end: &[u8],
        want_prev: bool,
    ) -> Result<DeleteRangeResponse> {
        let rev = self.read_rev();
        let doomed: Vec<(Vec<u8>, IndexEntry)> = self
            .st
            .index
            .range(KeyRange::new(key, end), rev)
            .map(|(k, e)| (k.to_vec(), e))
            .collect();
        let mut resp = DeleteRangeResponse {
            deleted: doomed.len() as i64,
            ..Default::default()
        };
        for (k, e) in doomed {
            if want_prev {
                resp.prev_kvs.push(get_value(&*self.kv, &e)?);
            }
            let r = self.next_rev();
            self.st.index.tombstone(&k, r);
            let kv = KeyValue {
                key: k,
                mod_revision: r.main,
                ..Default::default()
            };
            self.kv
                .insert(r.to_key(), encode_value(true, &kv).as_slice())?;
            self.events.push(Event {
                r#type: EventType::Delete as i32,
                kv: Some(kv),
                prev_kv: None,
            });
        }
        Ok(resp)
    }

    /// Deletes the given keys in one revision (a revoked or expired lease's keys).
    pub fn delete_keys(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        for k in keys {
            self.delete_unchecked(k, &[], false)?;
        }
        self.finish_request();
        Ok(())
    }

    pub fn txn(
        &mut self,
        req: &TxnRequest,
        lease_exists: &dyn Fn(i64) -> bool,
    ) -> Result<TxnResponse> {
        // As etcd does: every compare (nested ones too) is evaluated against the state before
        // the transaction, and everything the chosen path depends on is checked before the
        // first write, so a rejected transaction changes nothing.
        let plan = self.plan(req)?;
        self.check_plan(req, &plan, lease_exists)?;
        let responses = self.run_ops(branch(req, plan.succeeded), &plan.nested)?;
        self.finish_request();
        Ok(TxnResponse {
            header: None,
            succeeded: plan.succeeded,
            responses,
        })
    }

    fn plan(&self, req: &TxnRequest) -> Result<TxnPlan> {
        let succeeded = self.compares_hold(&req.compare)?;
        let mut nested = Vec::new();
        for op in branch(req, succeeded) {
            if let Some(request_op::Request::RequestTxn(t)) = &op.request {
                nested.push(self.plan(t)?);
            }
        }
        Ok(TxnPlan { succeeded, nested })
    }

    fn check_plan(
        &self,
        req: &TxnRequest,
        plan: &TxnPlan,
        lease_exists: &dyn Fn(i64) -> bool,
    ) -> Result<()> {
        let mut nested = plan.nested.iter();
        for op in branch(req, plan.succeeded) {
            match &op.request {
                Some(request_op::Request::RequestPut(p)) => {
                    check_put(&self.st.index, p, lease_exists)?
                }
                Some(request_op::Request::RequestRange(r)) if r.revision > 0 => {
                    if r.revision < self.st.compact_rev {
                        return Err(Error::Compacted {
                            compact_revision: self.st.compact_rev,
                        });
                    }
                    if r.revision > self.st.rev {
                        return Err(Error::FutureRevision);
                    }
                }
                Some(request_op::Request::RequestTxn(t)) => {
                    if let Some(p) = nested.next() {
                        self.check_plan(t, p, lease_exists)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn run_ops(&mut self, ops: &[RequestOp], plans: &[TxnPlan]) -> Result<Vec<ResponseOp>> {
        let mut out = Vec::with_capacity(ops.len());
        let mut plans = plans.iter();
        for op in ops {
            let resp = match &op.request {
                Some(request_op::Request::RequestRange(r)) => {
                    let rev = self.read_rev();
                    response_op::Response::ResponseRange(range_at(
                        self.st,
                        &*self.kv,
                        r,
                        rev,
                        self.st.compact_rev,
                    )?)
                }
                Some(request_op::Request::RequestPut(p)) => {
                    response_op::Response::ResponsePut(self.put_unchecked(p)?)
                }
                Some(request_op::Request::RequestDeleteRange(d)) => {
                    response_op::Response::ResponseDeleteRange(self.delete_unchecked(
                        &d.key,
                        &d.range_end,
                        d.prev_kv,
                    )?)
                }
                Some(request_op::Request::RequestTxn(t)) => {
                    let Some(plan) = plans.next() else { continue };
                    let responses = self.run_ops(branch(t, plan.succeeded), &plan.nested)?;
                    response_op::Response::ResponseTxn(TxnResponse {
                        header: None,
                        succeeded: plan.succeeded,
                        responses,
                    })
                }
                None => continue,
            };
            out.push(ResponseOp {
                response: Some(resp),
            });
        }
        Ok(out)
    }

    fn compares_hold(&self, compares: &[Compare]) -> Result<bool> {
        for c in compares {
            if !self.compare_holds(c)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn compare_holds(&self, c: &Compare) -> Result<bool> {
        let rev = self.read_rev();
        let target =
            compare::CompareTarget::try_from(c.target).unwrap_or(compare::CompareTarget::Version);
        let entries: Vec<IndexEntry> = if c.range_end.is_empty() {
            self.st.index.get(&c.key, rev).into_iter().collect()
        } else {
            self.st
                .index
                .range(KeyRange::new(&c.key, &c.range_end), rev)
                .map(|(_, e)| e)
                .collect()
        };
        if entries.is_empty() {
            if target == compare::CompareTarget::Value {
                return Ok(false);
            }
            return Ok(compare_one(c, &KeyValue::default()));
        }
        for e in entries {
            let kv = match target {
                compare::CompareTarget::Value | compare::CompareTarget::Lease => {
                    get_value(&*self.kv, &e)?
                }
                _ => KeyValue {
                    create_revision: e.create,
                    mod_revision: e.rev.main,
                    version: e.version,
                    ..Default::default()
                },
            };
            if !compare_one(c, &kv) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Forgets history before `rev`: reads below it fail from now on; the index is pruned
    /// when the compaction is published and the rows by the next writer.
    pub fn compact(&mut self, rev: i64) -> Result<()> {
        if rev <= self.st.compact_rev {
            return Err(Error::Compacted {
                compact_revision: self.st.compact_rev,
            });
        }
        if rev > self.st.rev {
            return Err(Error::FutureRevision);
        }
        self.st.compact_rev = rev;
        self.st.pending_compaction = Some(rev);
        Ok(())
    }
}

/// The branches a transaction takes, decided before it writes anything.
#[derive(Debug)]
struct TxnPlan {
    succeeded: bool,
    /// Plans of the nested transactions on the taken branch, in order.
    nested: Vec<TxnPlan>,
}

fn branch(req: &TxnRequest, succeeded: bool) -> &[RequestOp] {
    if succeeded {
        &req.success
    } else {
        &req.failure
    }
}

fn compare_one(c: &Compare, kv: &KeyValue) -> bool {
    use compare::{CompareTarget as Target, TargetUnion as T};
    // The target decides what is compared; an operand of another kind counts as zero or
    // empty, as in etcd.
    let ord = match (
        Target::try_from(c.target).unwrap_or(Target::Version),
        &c.target_union,
    ) {
        (Target::Version, Some(T::Version(v))) => kv.version.cmp(v),
        (Target::Version, _) => kv.version.cmp(&0),
        (Target::Create, Some(T::CreateRevision(v))) => kv.create_revision.cmp(v),
        (Target::Create, _) => kv.create_revision.cmp(&0),
        (Target::Mod, Some(T::ModRevision(v))) => kv.mod_revision.cmp(v),
        (Target::Mod, _) => kv.mod_revision.cmp(&0),
        (Target::Lease, Some(T::Lease(v))) => kv.lease.cmp(v),
        (Target::Lease, _) => kv.lease.cmp(&0),
        (Target::Value, Some(T::Value(v))) => kv.value.as_slice().cmp(v.as_slice()),
        (Target::Value, _) => kv.value.as_slice().cmp(&[][..]),
    };
    match compare::CompareResult::try_from(c.result) {
        Ok(compare::CompareResult::Equal) => ord == Ordering::Equal,
        Ok(compare::CompareResult::Greater) => ord == Ordering::Greater,
        Ok(compare::CompareResult::Less) => ord == Ordering::Less,
        Ok(compare::CompareResult::NotEqual) => ord != Ordering::Equal,
        Err(_) => false,
    }
}

/// Checks what a put depends on, against the state before the request.
fn check_put(index: &KeyIndex, req: &PutRequest, lease_exists: &dyn Fn(i64) -> bool) -> Result<()> {
    if (req.ignore_value || req.ignore_lease) && index.latest(&req.key).is_none() {
        return Err(Error::KeyNotFound);
    }
    if req.lease != 0 && !req.ignore_lease && !lease_exists(req.lease) {
        return Err(Error::LeaseNotFound);
    }
    Ok(())
}
