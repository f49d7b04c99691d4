//! Model-based safety tests of the MVCC state machine against a model of etcd's semantics.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use redb::{Database, Durability, WriteTransaction};
use rkube_store::db::{self, KV, META};
use rkube_store::mvcc::{self, MvccStore, MvccWriter};
use rkube_store::proto::etcd::{
    compare, range_request, request_op, response_op, Compare, DeleteRangeRequest,
    DeleteRangeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp,
    ResponseOp, TxnRequest, TxnResponse,
};
use rkube_store::proto::mvcc::{event::EventType, Event, KeyValue};
use tempfile::TempDir;

/// Keys the generated writes touch: few and short, so ranges overlap and keys are rewritten,
/// deleted and created again.
const KEYS: [&[u8]; 6] = [b"a", b"ab", b"b", b"bc", b"c", b"d"];
/// Range and compare starts: the keys, the smallest key, and keys between the stored ones.
const STARTS: [&[u8]; 9] = [b"a", b"ab", b"b", b"bc", b"c", b"d", b"\0", b"aa", b"bz"];
/// Range ends: empty (the single key), `\0` (every key from the start on), and bounds.
const ENDS: [&[u8]; 8] = [b"", b"\0", b"ab", b"b", b"bc", b"c", b"d", b"e"];
const VALUES: [&[u8]; 4] = [b"", b"v", b"w", b"vw"];
/// The one granted lease; lease 2 never exists.
const LIVE_LEASE: i64 = 1;
const LEASES: [i64; 4] = [0, 0, LIVE_LEASE, 2];

fn lease_exists(id: i64) -> bool {
    id == LIVE_LEASE
}

// The reference model. -----------------------------------------------------------------------

/// One change of one key: a put (`value` is `Some`) or a deletion.
#[derive(Debug, Clone)]
struct Record {
    rev: i64,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
    create: i64,
    version: i64,
    lease: i64,
}

impl Record {
    fn kv(&self) -> Option<KeyValue> {
        Some(KeyValue {
            key: self.key.clone(),
            create_revision: self.create,
            mod_revision: self.rev,
            version: self.version,
            value: self.value.clone()?,
            lease: self.lease,
        })
    }

    fn event(&self) -> Event {
        let (r#type, kv) = match self.kv() {
            Some(kv) => (EventType::Put, kv),
            None => (
                EventType::Delete,
                KeyValue {
                    key: self.key.clone(),
                    mod_revision: self.rev,
                    ..Default::default()
                },
            ),
        };
        Event {
            r#type: r#type as i32,
            kv: Some(kv),
            prev_kv: None,
        }
    }
}

/// Why a request failed, as both the store and the model report it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    Compacted(i64),
    Future,
    KeyNotFound,
    LeaseNotFound,
}

fn failure(e: mvcc::Error) -> Failure {
    match e {
        mvcc::Error::Compacted { compact_revision } => Failure::Compacted(compact_revision),
        mvcc::Error::FutureRevision => Failure::Future,
        mvcc::Error::KeyNotFound => Failure::KeyNotFound,
        mvcc::Error::LeaseNotFound => Failure::LeaseNotFound,
        other => panic!("the store failed: {other}"),
    }
}

/// etcd's key space as a flat list of every change ever made, written to be obviously right
/// rather than fast. Compaction forgets nothing here, it only moves the mark below which reads
/// fail: every read still allowed must return what it returned before the compaction.
#[derive(Debug)]
struct Model {
    /// Every change, in revision order.
    history: Vec<Record>,
    /// The newest revision; 1 for an empty store.
    rev: i64,
    compact_rev: i64,
    /// The request being applied changed something; its changes carry revision `rev + 1`.
    dirty: bool,
}

fn in_range(key: &[u8], end: &[u8], k: &[u8]) -> bool {
    match end {
        [] => k == key,
        [0] => k >= key,
        _ => k >= key && k < end,
    }
}

impl Model {
    fn new() -> Self {
        Self {
            history: Vec::new(),
            rev: 1,
            compact_rev: 0,
            dirty: false,
        }
    }

    /// The revision reads inside the current request see: its own earlier writes included.
    fn read_rev(&self) -> i64 {
        self.rev + i64::from(self.dirty)
    }

    fn visible(&self, key: &[u8], at: i64) -> Option<KeyValue> {
        let mut newest_first = self.history.iter().rev();
        newest_first.find(|r| r.key == key && r.rev <= at)?.kv()
    }

    /// The keys of the range alive at `at`, in key order.
    fn live(&self, key: &[u8], end: &[u8], at: i64) -> Vec<KeyValue> {
        let keys: BTreeSet<&[u8]> = self.history.iter().map(|r| r.key.as_slice()).collect();
        keys.into_iter()
            .filter(|k| in_range(key, end, k))
            .filter_map(|k| self.visible(k, at))
            .collect()
    }

    /// The revision a read of `revision` (0: the newest) sees, when `newest` is the newest.
    fn read_at(&self, revision: i64, newest: i64) -> Result<i64, Failure> {
        if revision <= 0 {
            Ok(newest)
        } else if revision > newest {
            Err(Failure::Future)
        } else if revision < self.compact_rev {
            Err(Failure::Compacted(self.compact_rev))
        } else {
            Ok(revision)
        }
    }

    fn range(&self, req: &RangeRequest) -> Result<RangeResponse, Failure> {
        assert_eq!(req.sort_target, range_request::SortTarget::Key as i32);
        let at = self.read_at(req.revision, self.read_rev())?;
        let mut kvs = self.live(&req.key, &req.range_end, at);
        // etcd counts before the revision filters and the limit.
        let count = kvs.len() as i64;
        if req.count_only {
            return Ok(RangeResponse {
                count,
                ..Default::default()
            });
        }
        let min = |bound: i64, v: i64| bound == 0 || v >= bound;
        let max = |bound: i64, v: i64| bound == 0 || v <= bound;
        kvs.retain(|kv| {
            min(req.min_mod_revision, kv.mod_revision)
                && max(req.max_mod_revision, kv.mod_revision)
                && min(req.min_create_revision, kv.create_revision)
                && max(req.max_create_revision, kv.create_revision)
        });
        if req.sort_order == range_request::SortOrder::Descend as i32 {
            kvs.reverse();
        }
        let limit = usize::try_from(req.limit).unwrap_or(0);
        let more = limit > 0 && kvs.len() > limit;
        if more {
            kvs.truncate(limit);
        }
        if req.keys_only {
            kvs.iter_mut().for_each(|kv| kv.value.clear());
        }
        Ok(RangeResponse {
            header: None,
            kvs,
            more,
            count,
        })
    }

    /// Runs one request, which takes a revision if it changed anything. Returns its outcome
    /// and its changes as watch events.
    fn request<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, Failure>,
    ) -> (Result<T, Failure>, Vec<Event>) {
        let start = self.history.len();
        let out = f(self);
        assert!(
            out.is_ok() || self.history.len() == start,
            "checked before writing"
        );
        if self.dirty {
            self.rev += 1;
            self.dirty = false;
        }
        let events = self.history[start..].iter().map(Record::event).collect();
        (out, events)
    }

    fn record(
        &mut self,
        key: &[u8],
        value: Option<Vec<u8>>,
        create: i64,
        version: i64,
        lease: i64,
    ) {
        self.dirty = true;
        let (rev, key) = (self.rev + 1, key.to_vec());
        self.history.push(Record {
            rev,
            key,
            value,
            create,
            version,
            lease,
        });
    }

    /// What a put depends on, checked against the state before its request.
    fn check_put(&self, p: &PutRequest) -> Result<(), Failure> {
        if (p.ignore_value || p.ignore_lease) && self.visible(&p.key, self.rev).is_none() {
            return Err(Failure::KeyNotFound);
        }
        if p.lease != 0 && !lease_exists(p.lease) {
            return Err(Failure::LeaseNotFound);
        }
        Ok(())
    }

    fn put(&mut self, p: &PutRequest) -> Result<PutResponse, Failure> {
        self.check_put(p)?;
        Ok(self.put_unchecked(p))
    }

    fn put_unchecked(&mut self, p: &PutRequest) -> PutResponse {
        let prev = self.visible(&p.key, self.read_rev());
        let (create, version, value, lease) = match &prev {
            Some(kv) => (
                kv.create_revision,
                kv.version + 1,
                if p.ignore_value { &kv.value } else { &p.value },
                if p.ignore_lease { kv.lease } else { p.lease },
            ),
            None => (self.rev + 1, 1, &p.value, p.lease),
        };
        let value = Some(value.clone());
        self.record(&p.key, value, create, version, lease);
        PutResponse {
            header: None,
            prev_kv: prev.filter(|_| p.prev_kv),
        }
    }

    fn delete_range(&mut self, d: &DeleteRangeRequest) -> DeleteRangeResponse {
        let doomed = self.live(&d.key, &d.range_end, self.read_rev());
        for kv in &doomed {
            self.record(&kv.key, None, 0, 0, 0);
        }
        DeleteRangeResponse {
            header: None,
            deleted: doomed.len() as i64,
            prev_kvs: if d.prev_kv { doomed } else { Vec::new() },
        }
    }

    /// etcd's applyCompare: over no key a compare holds against an empty record, except that
    /// a value compare never does; over keys it must hold for every one.
    fn compare(&self, c: &Compare, at: i64) -> bool {
        let kvs: Vec<KeyValue> = if c.range_end.is_empty() {
            self.visible(&c.key, at).into_iter().collect()
        } else {
            self.live(&c.key, &c.range_end, at)
        };
        if kvs.is_empty() {
            return c.target != compare::CompareTarget::Value as i32
                && compare_kv(c, &KeyValue::default());
        }
        kvs.iter().all(|kv| compare_kv(c, kv))
    }

    /// A txn without nested txns. The compares, and the checks of every op of the branch
    /// taken, run against the state before the txn, so a rejected txn writes nothing; the ops
    /// then run in order in one revision, each seeing the ones before it.
    fn txn(&mut self, t: &TxnRequest) -> Result<TxnResponse, Failure> {
        use request_op::Request as Q;
        use response_op::Response as A;
        let before = self.rev;
        let succeeded = t.compare.iter().all(|c| self.compare(c, before));
        let ops = if succeeded { &t.success } else { &t.failure };
        for op in ops {
            match &op.request {
                Some(Q::RequestPut(p)) => self.check_put(p)?,
                Some(Q::RequestRange(r)) => self.read_at(r.revision, before).map(drop)?,
                Some(Q::RequestDeleteRange(_)) | None => {}
                Some(Q::RequestTxn(_)) => unreachable!("the model has no nested txns"),
            }
        }
        let mut responses = Vec::new();
        for op in ops {
            let response = match &op.request {
                Some(Q::RequestPut(p)) => A::ResponsePut(self.put_unchecked(p)),
                Some(Q::RequestRange(r)) => A::ResponseRange(self.range(r).expect("checked")),
                Some(Q::RequestDeleteRange(d)) => A::ResponseDeleteRange(self.delete_range(d)),
                Some(Q::RequestTxn(_)) | None => continue,
            };
            responses.push(ResponseOp {
                response: Some(response),
            });
        }
        Ok(TxnResponse {
            header: None,
            succeeded,
            responses,
        })
    }

    fn compact(&mut self, at: i64) -> Result<(), Failure> {
        if at <= self.compact_rev {
            return Err(Failure::Compacted(self.compact_rev));
        }
        if at > self.rev {
            return Err(Failure::Future);
        }
        self.compact_rev = at;
        Ok(())
    }

    fn events_between(&self, from: i64, to: i64) -> Result<(Vec<Event>, i64), Failure> {
        if from < self.compact_rev {
            return Err(Failure::Compacted(self.compact_rev));
        }
        let to = to.min(self.rev);
        let changes = self.history.iter().filter(|r| from <= r.rev && r.rev <= to);
        Ok((changes.map(Record::event).collect(), to))
    }
}

fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    use compare::{CompareResult as R, CompareTarget as T, TargetUnion as U};
    let ord: Ordering = match (T::try_from(c.target), &c.target_union) {
        (Ok(T::Version), Some(U::Version(v))) => kv.version.cmp(v),
        (Ok(T::Create), Some(U::CreateRevision(v))) => kv.create_revision.cmp(v),
        (Ok(T::Mod), Some(U::ModRevision(v))) => kv.mod_revision.cmp(v),
        (Ok(T::Value), Some(U::Value(v))) => kv.value.cmp(v),
        (Ok(T::Lease), Some(U::Lease(v))) => kv.lease.cmp(v),
        (t, u) => unreachable!("each target comes with its operand: {t:?} {u:?}"),
    };
    match R::try_from(c.result) {
        Ok(R::Equal) => ord.is_eq(),
        Ok(R::Greater) => ord.is_gt(),
        Ok(R::Less) => ord.is_lt(),
        Ok(R::NotEqual) => ord.is_ne(),
        Err(e) => unreachable!("compare results are valid: {e}"),
    }
}

// The store under test, driven as the raft loop drives it. ---------------------------------

#[derive(Debug)]
struct Fixture {
    dir: TempDir,
    db: Database,
    store: MvccStore,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, fresh) = db::open(dir.path()).expect("open the database");
        assert!(fresh);
        let store = MvccStore::load(&db).expect("load the store");
        Self { dir, db, store }
    }

    /// Runs `f` over one writer in a new backend transaction and records the revision marks
    /// in META, as `StateMachine::apply` does; returns the transaction uncommitted, the store
    /// unlocked. Non-durable for speed: `reopen` makes it durable.
    fn apply<R>(&self, f: impl FnOnce(&mut MvccWriter<'_, '_>) -> R) -> (R, WriteTransaction) {
        let mut wtx = self.db.begin_write().expect("begin write");
        wtx.set_durability(Durability::None)
            .expect("set durability");
        let out = {
            let mut guard = self.store.lock();
            let mut kv = wtx.open_table(KV).expect("open kv");
            let mut writer = MvccWriter::new(&mut guard, &mut kv).expect("start writer");
            let out = f(&mut writer);
            let mut meta = wtx.open_table(META).expect("open meta");
            let (rev, compact_rev) = (writer.revision(), writer.compact_revision());
            db::put_u64(&mut meta, db::meta::REVISION, rev as u64).expect("write revision");
            db::put_u64(&mut meta, db::meta::COMPACT_REVISION, compact_rev as u64)
                .expect("write compact revision");
            out
        };
        (out, wtx)
    }

    /// One round: apply, commit, publish.
    fn batch<R>(&self, f: impl FnOnce(&mut MvccWriter<'_, '_>) -> R) -> R {
        let (out, wtx) = self.apply(f);
        wtx.commit().expect("commit");
        self.store.publish();
        out
    }

    fn range(&self, req: &RangeRequest) -> Result<(i64, RangeResponse), Failure> {
        self.store.range(&self.db, req).map_err(failure)
    }

    fn events(&self, from: i64, to: i64) -> Result<(Vec<Event>, i64), Failure> {
        let events = self.store.events_between(&self.db, from, to);
        events.map_err(failure)
    }

    /// Rebuilds the index from the backend.
    fn reload(&mut self) {
        self.store = MvccStore::load(&self.db).expect("reload the store");
    }

    /// Closes and reopens the database, as a restart does.
    fn reopen(self) -> Self {
        let Self { dir, db, store } = self;
        drop(store);
        // A durable commit makes the non-durable ones before it durable.
        let wtx = db.begin_write().expect("begin write");
        wtx.commit().expect("durable commit");
        drop(db);
        let (db, fresh) = db::open(dir.path()).expect("reopen the database");
        assert!(!fresh);
        let store = MvccStore::load(&db).expect("load the reopened store");
        Self { dir, db, store }
    }
}

fn all_keys(revision: i64) -> RangeRequest {
    RangeRequest {
        key: vec![0],
        range_end: vec![0],
        revision,
        ..Default::default()
    }
}

// Generated requests. Their revisions are drawn as raw numbers and fitted to the history when
// the request is made, so they land around the live history whatever came before. ---------

#[derive(Debug, Clone)]
enum Write {
    Put(PutRequest),
    Delete(DeleteRangeRequest),
    Txn(TxnRequest),
    Compact(u32),
    /// A revoked lease's keys, deleted in one revision.
    Revoke(BTreeSet<usize>),
}

#[derive(Debug, Clone)]
enum Step {
    /// Writes applied through one writer and committed together.
    Batch(Vec<Write>),
    Range(RangeRequest),
    Events(u32, u32),
    /// Rebuild the store from the backend.
    Reload,
    /// Close and reopen the database.
    Reopen,
}

fn key_range() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let end = prop_oneof![3 => Just(0usize), 2 => 1..ENDS.len()];
    (0..STARTS.len(), end).prop_map(|(s, e)| (STARTS[s].to_vec(), ENDS[e].to_vec()))
}

/// Puts as the gRPC layer lets them through: no value or lease beside the flag ignoring it.
fn put_request(may_ignore: bool) -> impl Strategy<Value = PutRequest> {
    let ignore = if may_ignore { 0u8..8 } else { 0u8..1 };
    let fields = (0..KEYS.len(), 0..VALUES.len(), 0..LEASES.len());
    (fields, any::<bool>(), ignore).prop_map(|((k, v, l), prev_kv, ignore)| {
        let (ignore_value, ignore_lease) = (matches!(ignore, 1 | 3), matches!(ignore, 2 | 3));
        PutRequest {
            key: KEYS[k].to_vec(),
            value: if ignore_value { &[] } else { VALUES[v] }.to_vec(),
            lease: if ignore_lease { 0 } else { LEASES[l] },
            prev_kv,
            ignore_value,
            ignore_lease,
        }
    })
}

fn delete_request() -> impl Strategy<Value = DeleteRangeRequest> {
    (key_range(), any::<bool>()).prop_map(|((key, range_end), prev_kv)| DeleteRangeRequest {
        key,
        range_end,
        prev_kv,
    })
}

/// Ranges sorted by key (other sort targets leave ties to the implementation).
fn range_request() -> impl Strategy<Value = RangeRequest> {
    let filter = || prop_oneof![9 => Just(0i64), 1 => 0i64..1000];
    let shape = (key_range(), 0i64..1000, 0i64..4, 0i32..3);
    let flags = (prop::bool::weighted(0.15), any::<bool>());
    let filters = [filter(), filter(), filter(), filter()];
    (shape, flags, filters).prop_map(|(shape, (count_only, keys_only), filters)| {
        let ((key, range_end), revision, limit, sort_order) = shape;
        let [min_mod_revision, max_mod_revision, min_create_revision, max_create_revision] =
            filters;
        RangeRequest {
            key,
            range_end,
            limit,
            revision,
            sort_order,
            keys_only,
            count_only,
            min_mod_revision,
            max_mod_revision,
            min_create_revision,
            max_create_revision,
            ..Default::default()
        }
    })
}

fn compare_request() -> impl Strategy<Value = Compare> {
    use compare::{CompareTarget as T, TargetUnion as U};
    let operand = prop_oneof![
        (0i64..4).prop_map(|v| (T::Version, U::Version(v))),
        (0i64..1000).prop_map(|v| (T::Create, U::CreateRevision(v))),
        (0i64..1000).prop_map(|v| (T::Mod, U::ModRevision(v))),
        prop::sample::select(&VALUES[..]).prop_map(|v| (T::Value, U::Value(v.to_vec()))),
        prop::sample::select(&LEASES[..]).prop_map(|v| (T::Lease, U::Lease(v))),
    ];
    (key_range(), 0i32..4, operand).prop_map(|((key, range_end), result, (target, operand))| {
        Compare {
            result,
            target: target as i32,
            key,
            range_end,
            target_union: Some(operand),
        }
    })
}

fn txn_request() -> impl Strategy<Value = TxnRequest> {
    use request_op::Request as Q;
    let op = prop_oneof![
        3 => put_request(false).prop_map(Q::RequestPut),
        2 => delete_request().prop_map(Q::RequestDeleteRange),
        2 => range_request().prop_map(Q::RequestRange),
    ];
    let ops = || {
        prop::collection::vec(
            op.clone().prop_map(|r| RequestOp { request: Some(r) }),
            0..4,
        )
    };
    let compares = prop::collection::vec(compare_request(), 0..3);
    (compares, ops(), ops()).prop_map(|(compare, success, failure)| TxnRequest {
        compare,
        success,
        failure,
    })
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        5 => put_request(true).prop_map(Write::Put),
        2 => delete_request().prop_map(Write::Delete),
        3 => txn_request().prop_map(Write::Txn),
        1 => any::<u32>().prop_map(Write::Compact),
        1 => prop::collection::btree_set(0..KEYS.len(), 1..4).prop_map(Write::Revoke),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => prop::collection::vec(write(), 1..4).prop_map(Step::Batch),
        3 => range_request().prop_map(Step::Range),
        1 => (any::<u32>(), any::<u32>()).prop_map(|(from, to)| Step::Events(from, to)),
        1 => Just(Step::Reload),
        1 => Just(Step::Reopen),
    ]
}

/// Any revision from 0 (the newest) to two past the newest: compacted, live and future ones.
fn any_rev(m: &Model, raw: i64) -> i64 {
    raw % (m.rev + 3)
}

/// A revision a request may read: 0 (the newest) or one neither compacted nor in the future.
fn readable_rev(m: &Model, raw: i64) -> i64 {
    if raw % 3 == 0 {
        return 0;
    }
    let lo = m.compact_rev.max(1);
    lo + raw % (m.rev - lo + 1)
}

/// A revision for a compare or a range filter: 0 to one past the newest.
fn operand_rev(m: &Model, raw: i64) -> i64 {
    raw % (m.rev + 2)
}

fn fit_range(m: &Model, r: &RangeRequest, revision: i64) -> RangeRequest {
    RangeRequest {
        revision,
        min_mod_revision: operand_rev(m, r.min_mod_revision),
        max_mod_revision: operand_rev(m, r.max_mod_revision),
        min_create_revision: operand_rev(m, r.min_create_revision),
        max_create_revision: operand_rev(m, r.max_create_revision),
        ..r.clone()
    }
}

fn fit_txn(m: &Model, t: &TxnRequest) -> TxnRequest {
    use compare::TargetUnion as U;
    use request_op::Request as Q;
    let compare = |c: &Compare| Compare {
        target_union: match &c.target_union {
            Some(U::CreateRevision(v)) => Some(U::CreateRevision(operand_rev(m, *v))),
            Some(U::ModRevision(v)) => Some(U::ModRevision(operand_rev(m, *v))),
            other => other.clone(),
        },
        ..c.clone()
    };
    let op = |op: &RequestOp| RequestOp {
        request: match &op.request {
            // Only revisions readable before the txn: see `rejected_txn_changes_nothing`.
            Some(Q::RequestRange(r)) => Some(Q::RequestRange(fit_range(
                m,
                r,
                readable_rev(m, r.revision),
            ))),
            other => other.clone(),
        },
    };
    TxnRequest {
        compare: t.compare.iter().map(compare).collect(),
        success: t.success.iter().map(op).collect(),
        failure: t.failure.iter().map(op).collect(),
    }
}

// Running and checking. -------------------------------------------------------------------

/// The outcome of any write, for comparing the store's with the model's.
#[derive(Debug, PartialEq)]
enum Response {
    Put(PutResponse),
    Delete(DeleteRangeResponse),
    Txn(TxnResponse),
    Done,
}

/// Applies one write to the store and to the model and compares the outcomes, the revision
/// marks and the events the writer hands on to watchers.
fn apply_write(
    m: &mut Model,
    w: &mut MvccWriter<'_, '_>,
    write: &Write,
) -> Result<(), TestCaseError> {
    let (request, got, (want, events)) = match write {
        Write::Put(p) => (
            format!("{p:?}"),
            w.put(p, &lease_exists).map(Response::Put),
            m.request(|m| m.put(p).map(Response::Put)),
        ),
        Write::Delete(d) => (
            format!("{d:?}"),
            w.delete_range(d).map(Response::Delete),
            m.request(|m| Ok(Response::Delete(m.delete_range(d)))),
        ),
        Write::Txn(t) => {
            let t = fit_txn(m, t);
            (
                format!("{t:?}"),
                w.txn(&t, &lease_exists).map(Response::Txn),
                m.request(|m| m.txn(&t).map(Response::Txn)),
            )
        }
        Write::Compact(sel) => {
            let at = i64::from(*sel) % (m.rev + 2);
            (
                format!("compact at {at}"),
                w.compact(at).map(|()| Response::Done),
                m.request(|m| m.compact(at).map(|()| Response::Done)),
            )
        }
        Write::Revoke(keys) => {
            let keys: Vec<Vec<u8>> = keys.iter().map(|&k| KEYS[k].to_vec()).collect();
            let delete = |key: &Vec<u8>| DeleteRangeRequest {
                key: key.clone(),
                ..Default::default()
            };
            (
                format!("delete keys {keys:?}"),
                w.delete_keys(&keys).map(|()| Response::Done),
                m.request(|m| {
                    keys.iter().for_each(|k| drop(m.delete_range(&delete(k))));
                    Ok(Response::Done)
                }),
            )
        }
    };
    prop_assert_eq!(got.map_err(failure), want, "response to {}", request);
    prop_assert_eq!(w.revision(), m.rev, "header revision after {}", request);
    prop_assert_eq!(w.compact_revision(), m.compact_rev);
    prop_assert_eq!(w.take_events(), events, "events of {}", request);
    Ok(())
}

fn check_range(fx: &Fixture, m: &Model, req: &RangeRequest) -> Result<(), TestCaseError> {
    let want = m.range(req).map(|r| (m.rev, r));
    prop_assert_eq!(fx.range(req), want, "{:?}", req);
    Ok(())
}

fn check_events(fx: &Fixture, m: &Model, from: i64, to: i64) -> Result<(), TestCaseError> {
    let want = m.events_between(from, to);
    prop_assert_eq!(fx.events(from, to), want, "events from {} to {}", from, to);
    Ok(())
}

/// Reads all keys at every revision, compacted and future ones included, and every retained
/// event.
fn check_history(fx: &Fixture, m: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(fx.store.revision(), m.rev);
    prop_assert_eq!(fx.store.compact_revision(), m.compact_rev);
    for revision in 0..=m.rev + 1 {
        check_range(fx, m, &all_keys(revision))?;
    }
    // Not from the compaction revision itself: see `deletion_at_the_compaction_revision_is_kept`.
    let from = if m.compact_rev > 0 {
        m.compact_rev + 1
    } else {
        0
    };
    check_events(fx, m, from, i64::MAX)?;
    check_events(fx, m, m.compact_rev - 1, m.rev)
}

/// Readers must see the last published state while a batch is applied and committed.
fn check_unpublished(fx: &Fixture, m: &Model, published: i64) -> Result<(), TestCaseError> {
    if m.compact_rev > published {
        // See `unpublished_compaction_hides_nothing_from_readers`.
        return Ok(());
    }
    let want = m.range(&all_keys(published)).map(|r| (published, r));
    prop_assert_eq!(fx.range(&all_keys(0)), want, "read before publishing");
    prop_assert_eq!(fx.store.revision(), published);
    Ok(())
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let mut fx = Fixture::new();
    let mut m = Model::new();
    for step in steps {
        match step {
            Step::Batch(writes) => {
                let published = m.rev;
                let (out, wtx) =
                    fx.apply(|w| writes.iter().try_for_each(|op| apply_write(&mut m, w, op)));
                out?;
                check_unpublished(&fx, &m, published)?;
                wtx.commit().expect("commit");
                check_unpublished(&fx, &m, published)?;
                prop_assert_eq!(fx.store.publish(), m.rev);
                prop_assert_eq!(fx.store.revision(), m.rev);
            }
            Step::Range(r) => check_range(&fx, &m, &fit_range(&m, r, any_rev(&m, r.revision)))?,
            Step::Events(from, to) => {
                let mut from = any_rev(&m, i64::from(*from));
                if from == m.compact_rev && from > 0 {
                    // See `deletion_at_the_compaction_revision_is_kept`.
                    from += 1;
                }
                let to = from - 1 + i64::from(*to) % (m.rev + 3);
                check_events(&fx, &m, from, to)?;
            }
            Step::Reload => {
                fx.reload();
                check_history(&fx, &m)?;
            }
            Step::Reopen => {
                fx = fx.reopen();
                check_history(&fx, &m)?;
            }
        }
    }
    check_history(&fx, &m)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // A failing input is printed, shrunk; the source tree stays clean.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(96))]

    /// Every response, header revision, event and historical read of the store equals the
    /// model's, across batched applies, reloads and reopens.
    #[test]
    fn requests_match_the_model_safety(steps in prop::collection::vec(step(), 1..40)) {
        run(&steps)?;
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// Compaction changes no read at or above the compaction revision and fails every read
    /// below it, also once the index is rebuilt from the backend.
    #[test]
    fn compaction_keeps_later_reads_safety(
        writes in prop::collection::vec(write(), 1..40),
        at in any::<u32>(),
    ) {
        let mut fx = Fixture::new();
        let mut m = Model::new();
        for write in &writes {
            fx.batch(|w| apply_write(&mut m, w, write))?;
        }
        let newest = fx.store.revision();
        let first = fx.store.compact_revision();
        prop_assume!(newest > first);
        let ranges: Vec<_> = (0..=newest).map(|r| fx.range(&all_keys(r))).collect();
        let events: Vec<_> = (0..=newest).map(|r| fx.events(r, newest)).collect();
        let at = first + 1 + i64::from(at) % (newest - first);
        fx.batch(|w| w.compact(at)).map_err(failure).expect("compaction");
        for pass in ["after compaction", "after reload"] {
            for r in 1..=newest {
                let gone = Failure::Compacted(at);
                let i = r as usize;
                let (range, events_from) = if r < at {
                    (Err(gone.clone()), Err(gone.clone()))
                } else {
                    (ranges[i].clone(), events[i].clone())
                };
                prop_assert_eq!(fx.range(&all_keys(r)), range, "range at {} {}", r, pass);
                // Not from `at` itself: see `deletion_at_the_compaction_revision_is_kept`.
                if r != at {
                    let got = fx.events(r, newest);
                    prop_assert_eq!(got, events_from, "events from {} {}", r, pass);
                }
            }
            fx.reload();
        }
    }
}

// Bugs found by the tests above, reduced. --------------------------------------------------

fn put_op(key: &[u8], value: &[u8], lease: i64) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: key.to_vec(),
            value: value.to_vec(),
            lease,
            ..Default::default()
        })),
    }
}

fn txn(compare: Vec<Compare>, success: Vec<RequestOp>, failure: Vec<RequestOp>) -> TxnRequest {
    TxnRequest {
        compare,
        success,
        failure,
    }
}

/// Applies one txn in a round of its own.
fn run_txn(fx: &Fixture, t: TxnRequest) -> Result<TxnResponse, Failure> {
    fx.batch(|w| w.txn(&t, &lease_exists)).map_err(failure)
}

fn put_txn(key: &[u8], value: &[u8]) -> TxnRequest {
    txn(vec![], vec![put_op(key, value, 0)], vec![])
}

fn contents(fx: &Fixture) -> Vec<(String, String)> {
    let (_, resp) = fx.range(&all_keys(0)).expect("range");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let kvs = resp.kvs.iter();
    kvs.map(|kv| (text(&kv.key), text(&kv.value))).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let owned = items.iter();
    owned.map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// etcd checks every range of the branch a txn takes before the txn writes anything
/// (`checkTxn`), so a range of a future or compacted revision rejects the whole txn.
#[test]
fn rejected_txn_changes_nothing() {
    let fx = Fixture::new();
    run_txn(&fx, put_txn(b"a", b"1")).expect("put a");
    let future_read = RequestOp {
        request: Some(request_op::Request::RequestRange(RangeRequest {
            key: b"a".to_vec(),
            revision: 100,
            ..Default::default()
        })),
    };
    let rejected = txn(vec![], vec![put_op(b"b", b"1", 0), future_read], vec![]);
    let (result, events) = fx.batch(|w| {
        let result = w.txn(&rejected, &lease_exists).map_err(failure);
        (result, w.take_events())
    });
    assert_eq!(result.err(), Some(Failure::Future));
    assert_eq!(fx.store.revision(), 2);
    // The next write, in the next round, must be the only change of revision 3.
    run_txn(&fx, put_txn(b"c", b"1")).expect("put c");
    assert_eq!(fx.store.revision(), 3);
    assert_eq!(contents(&fx), pairs(&[("a", "1"), ("c", "1")]));
    assert!(events.is_empty(), "the rejected txn reported {events:?}");
}

/// etcd keeps a deletion made at exactly the compaction revision (etcd-io/etcd#18089, fixed
/// by #18274), so a watcher starting there still sees it.
#[test]
fn deletion_at_the_compaction_revision_is_kept() {
    let mut fx = Fixture::new();
    let delete = DeleteRangeRequest {
        key: b"k".to_vec(),
        ..Default::default()
    };
    run_txn(&fx, put_txn(b"k", b"1")).expect("put");
    fx.batch(|w| w.delete_range(&delete)).expect("delete");
    fx.batch(|w| w.compact(3)).expect("compact");
    let deleted = Event {
        r#type: EventType::Delete as i32,
        kv: Some(KeyValue {
            key: b"k".to_vec(),
            mod_revision: 3,
            ..Default::default()
        }),
        prev_kv: None,
    };
    for pass in ["after compaction", "after reload"] {
        assert_eq!(fx.events(3, 3), Ok((vec![deleted.clone()], 3)), "{pass}");
        assert_eq!(contents(&fx), pairs(&[]), "{pass}");
        fx.reload();
    }
}

/// etcd evaluates the compares of nested txns, like the outer ones, against the state before
/// the txn (`compareToPath`), not against the writes of the ops before them.
#[test]
fn nested_txn_compares_see_the_state_before_the_txn() {
    let fx = Fixture::new();
    let a_is_1 = Compare {
        result: compare::CompareResult::Equal as i32,
        target: compare::CompareTarget::Value as i32,
        key: b"a".to_vec(),
        target_union: Some(compare::TargetUnion::Value(b"1".to_vec())),
        ..Default::default()
    };
    let nested = txn(
        vec![a_is_1],
        vec![put_op(b"b", b"then", 0)],
        vec![put_op(b"b", b"else", 0)],
    );
    let nested = RequestOp {
        request: Some(request_op::Request::RequestTxn(nested)),
    };
    let resp = run_txn(
        &fx,
        txn(vec![], vec![put_op(b"a", b"1", 0), nested], vec![]),
    );
    let resp = resp.expect("txn");
    let nested_succeeded = match &resp.responses[1].response {
        Some(response_op::Response::ResponseTxn(t)) => t.succeeded,
        other => panic!("expected a txn response, got {other:?}"),
    };
    assert!(!nested_succeeded);
    assert_eq!(contents(&fx), pairs(&[("a", "1"), ("b", "else")]));
}

/// etcd checks only the branches a txn takes (`checkTxn` follows the compare path), so a put
/// in a nested branch not taken cannot reject the txn.
#[test]
fn nested_txn_checks_only_the_branch_it_takes() {
    let fx = Fixture::new();
    let nested = txn(
        vec![],
        vec![put_op(b"a", b"1", 0)],
        vec![put_op(b"b", b"1", 2)],
    );
    let nested = RequestOp {
        request: Some(request_op::Request::RequestTxn(nested)),
    };
    let resp = run_txn(&fx, txn(vec![], vec![nested], vec![]));
    assert!(resp.is_ok(), "{resp:?}");
    assert_eq!(contents(&fx), pairs(&[("a", "1")]));
}

/// `MvccStore::lock`: readers keep seeing the published revision until `publish`, so the
/// writer may unlock before its backend commit. A compaction applied in the same round as the
/// revision it compacts at must not change what those readers see.
#[test]
fn unpublished_compaction_hides_nothing_from_readers() {
    let fx = Fixture::new();
    run_txn(&fx, put_txn(b"a", b"1")).expect("put a");
    let ((), wtx) = fx.apply(|w| {
        w.txn(&put_txn(b"a", b"2"), &lease_exists)
            .expect("put a again");
        w.compact(3).expect("compact at the new revision");
    });
    assert_eq!(fx.range(&all_keys(0)).map(|(rev, _)| rev), Ok(2));
    assert_eq!(contents(&fx), pairs(&[("a", "1")]), "before the commit");
    wtx.commit().expect("commit");
    assert_eq!(contents(&fx), pairs(&[("a", "1")]), "before publishing");
    fx.store.publish();
    assert_eq!(contents(&fx), pairs(&[("a", "2")]), "after publishing");
}
