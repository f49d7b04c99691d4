//! The reference model: etcd's key space as a flat list of every change ever made.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use rkube_store::mvcc;
use rkube_store::proto::etcd::{
    compare, range_request, request_op, response_op, Compare, DeleteRangeRequest,
    DeleteRangeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp,
    ResponseOp, TxnRequest, TxnResponse,
};
use rkube_store::proto::mvcc::{event::EventType, Event, KeyValue};

/// The one granted lease; lease 2 never exists.
pub const LIVE_LEASE: i64 = 1;

pub fn lease_exists(id: i64) -> bool {
    id == LIVE_LEASE
}

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
pub enum Failure {
    Compacted(i64),
    Future,
    KeyNotFound,
    LeaseNotFound,
}

pub fn failure(e: mvcc::Error) -> Failure {
    match e {
        mvcc::Error::Compacted { compact_revision } => Failure::Compacted(compact_revision),
        mvcc::Error::FutureRevision => Failure::Future,
        mvcc::Error::KeyNotFound => Failure::KeyNotFound,
        mvcc::Error::LeaseNotFound => Failure::LeaseNotFound,
        other => panic!("the store failed: {other}"),
    }
}

/// etcd's key space, written to be obviously right rather than fast. Compaction forgets
/// nothing here, it only moves the mark below which reads fail: every read still allowed
/// must return what it returned before the compaction.
#[derive(Debug, Clone)]
pub struct Model {
    /// Every change, in revision order.
    history: Vec<Record>,
    /// The newest revision; 1 for an empty store.
    pub rev: i64,
    pub compact_rev: i64,
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

fn branch(t: &TxnRequest, succeeded: bool) -> &[RequestOp] {
    if succeeded {
        &t.success
    } else {
        &t.failure
    }
}

impl Model {
    pub fn new() -> Self {
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

    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse, Failure> {
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
    pub fn request<T>(
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

    pub fn put(&mut self, p: &PutRequest) -> Result<PutResponse, Failure> {
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

    pub fn delete_range(&mut self, d: &DeleteRangeRequest) -> DeleteRangeResponse {
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

    /// Which branch `t` takes. Every compare, nested ones too, sees the state at `before`,
    /// the revision before the outermost txn: history up to it never changes, so evaluating
    /// a nested compare after the ops before it is the same as evaluating it first.
    fn takes_success(&self, t: &TxnRequest, before: i64) -> bool {
        t.compare.iter().all(|c| self.compare(c, before))
    }

    /// etcd's checkTxn: what every op on the path `t` takes depends on, in op order and
    /// depth first, against the state at `before`. Branches not taken are not checked.
    fn check_txn(&self, t: &TxnRequest, before: i64) -> Result<(), Failure> {
        use request_op::Request as Q;
        for op in branch(t, self.takes_success(t, before)) {
            match &op.request {
                Some(Q::RequestPut(p)) => self.check_put(p)?,
                Some(Q::RequestRange(r)) => self.read_at(r.revision, before).map(drop)?,
                Some(Q::RequestTxn(nested)) => self.check_txn(nested, before)?,
                Some(Q::RequestDeleteRange(_)) | None => {}
            }
        }
        Ok(())
    }

    /// A txn, nested ones included: checked as a whole against the state before it, so a
    /// rejected txn writes nothing; then its ops run in order in one revision, each seeing
    /// the ones before it.
    pub fn txn(&mut self, t: &TxnRequest) -> Result<TxnResponse, Failure> {
        let before = self.rev;
        self.check_txn(t, before)?;
        Ok(self.run_txn(t, before))
    }

    fn run_txn(&mut self, t: &TxnRequest, before: i64) -> TxnResponse {
        use request_op::Request as Q;
        use response_op::Response as A;
        let succeeded = self.takes_success(t, before);
        let mut responses = Vec::new();
        for op in branch(t, succeeded) {
            let response = match &op.request {
                Some(Q::RequestPut(p)) => A::ResponsePut(self.put_unchecked(p)),
                Some(Q::RequestRange(r)) => A::ResponseRange(self.range(r).expect("checked")),
                Some(Q::RequestDeleteRange(d)) => A::ResponseDeleteRange(self.delete_range(d)),
                Some(Q::RequestTxn(nested)) => A::ResponseTxn(self.run_txn(nested, before)),
                None => continue,
            };
            responses.push(ResponseOp {
                response: Some(response),
            });
        }
        TxnResponse {
            header: None,
            succeeded,
            responses,
        }
    }

    pub fn compact(&mut self, at: i64) -> Result<(), Failure> {
        if at <= self.compact_rev {
            return Err(Failure::Compacted(self.compact_rev));
        }
        if at > self.rev {
            return Err(Failure::Future);
        }
        self.compact_rev = at;
        Ok(())
    }

    /// Every change from `from` to `to`, all those at the compaction revision included, also
    /// when a txn changed a key more than once there (the API rejects such txns, the MVCC
    /// writer does not).
    pub fn events_between(&self, from: i64, to: i64) -> Result<(Vec<Event>, i64), Failure> {
        if from < self.compact_rev {
            return Err(Failure::Compacted(self.compact_rev));
        }
        let to = to.min(self.rev);
        let changes = self.history.iter().filter(|r| from <= r.rev && r.rev <= to);
        Ok((changes.map(Record::event).collect(), to))
    }
}

/// etcd's compareKV: the target picks the field, and an operand of another kind (or none)
/// counts as zero or as the empty value.
fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    use compare::{CompareResult as R, CompareTarget as T, TargetUnion as U};
    let ord: Ordering = match (T::try_from(c.target), c.target_union.as_ref()) {
        (Ok(T::Version), Some(U::Version(v))) => kv.version.cmp(v),
        (Ok(T::Create), Some(U::CreateRevision(v))) => kv.create_revision.cmp(v),
        (Ok(T::Mod), Some(U::ModRevision(v))) => kv.mod_revision.cmp(v),
        (Ok(T::Value), Some(U::Value(v))) => kv.value.cmp(v),
        (Ok(T::Lease), Some(U::Lease(v))) => kv.lease.cmp(v),
        (Ok(T::Version), _) => kv.version.cmp(&0),
        (Ok(T::Create), _) => kv.create_revision.cmp(&0),
        (Ok(T::Mod), _) => kv.mod_revision.cmp(&0),
        (Ok(T::Value), _) => kv.value.as_slice().cmp(b""),
        (Ok(T::Lease), _) => kv.lease.cmp(&0),
        (Err(e), _) => unreachable!("compare targets are valid: {e}"),
    };
    match R::try_from(c.result) {
        Ok(R::Equal) => ord.is_eq(),
        Ok(R::Greater) => ord.is_gt(),
        Ok(R::Less) => ord.is_lt(),
        Ok(R::NotEqual) => ord.is_ne(),
        Err(e) => unreachable!("compare results are valid: {e}"),
    }
}
