//! Generated requests. Their revisions are drawn as raw numbers and fitted to the history
//! when the request is made, so they land around the live history whatever came before.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::Union;
use rkube_store::proto::etcd::{
    compare, request_op, Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp,
    TxnRequest,
};

use crate::model::{Model, LIVE_LEASE};

/// Keys the generated writes touch: few and short, so ranges overlap and keys are rewritten,
/// deleted and created again.
pub const KEYS: [&[u8]; 6] = [b"a", b"ab", b"b", b"bc", b"c", b"d"];
/// Range and compare starts: the keys, the smallest key, and keys between the stored ones.
const STARTS: [&[u8]; 9] = [b"a", b"ab", b"b", b"bc", b"c", b"d", b"\0", b"aa", b"bz"];
/// Range ends: empty (the single key), `\0` (every key from the start on), and bounds.
const ENDS: [&[u8]; 8] = [b"", b"\0", b"ab", b"b", b"bc", b"c", b"d", b"e"];
const VALUES: [&[u8]; 4] = [b"", b"v", b"w", b"vw"];
/// Lease 2 never exists.
const LEASES: [i64; 4] = [0, 0, LIVE_LEASE, 2];
/// How deep txns nest inside a txn.
const NESTING: u32 = 2;

#[derive(Debug, Clone)]
pub enum Write {
    Put(PutRequest),
    Delete(DeleteRangeRequest),
    Txn(TxnRequest),
    Compact(u32),
    /// A revoked lease's keys, deleted in one revision.
    Revoke(BTreeSet<usize>),
}

#[derive(Debug, Clone)]
pub enum Step {
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
pub fn range_request() -> impl Strategy<Value = RangeRequest> {
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

/// A target with an operand of its own kind.
fn operand() -> impl Strategy<Value = (compare::CompareTarget, compare::TargetUnion)> {
    use compare::{CompareTarget as T, TargetUnion as U};
    prop_oneof![
        (0i64..4).prop_map(|v| (T::Version, U::Version(v))),
        (0i64..1000).prop_map(|v| (T::Create, U::CreateRevision(v))),
        (0i64..1000).prop_map(|v| (T::Mod, U::ModRevision(v))),
        prop::sample::select(&VALUES[..]).prop_map(|v| (T::Value, U::Value(v.to_vec()))),
        prop::sample::select(&LEASES[..]).prop_map(|v| (T::Lease, U::Lease(v))),
    ]
}

/// Compares, now and then with an operand of another kind than the target or none at all,
/// which counts as zero (or as the empty value).
fn compare_request() -> impl Strategy<Value = Compare> {
    let matched = operand().prop_map(|(target, operand)| (target, Some(operand)));
    let mismatched = (operand(), operand(), any::<bool>())
        .prop_map(|((target, _), (_, operand), some)| (target, some.then_some(operand)));
    let target = prop_oneof![7 => matched, 1 => mismatched];
    (key_range(), 0i32..4, target).prop_map(|((key, range_end), result, (target, operand))| {
        Compare {
            result,
            target: target as i32,
            key,
            range_end,
            target_union: operand,
        }
    })
}

/// Txns with txns nested up to `depth` levels inside.
fn txn_request(depth: u32) -> BoxedStrategy<TxnRequest> {
    use request_op::Request as Q;
    let mut ops = vec![
        (3, put_request(false).prop_map(Q::RequestPut).boxed()),
        (2, delete_request().prop_map(Q::RequestDeleteRange).boxed()),
        (2, range_request().prop_map(Q::RequestRange).boxed()),
    ];
    if depth > 0 {
        ops.push((2, txn_request(depth - 1).prop_map(Q::RequestTxn).boxed()));
    }
    let op = Union::new_weighted(ops).prop_map(|r| RequestOp { request: Some(r) });
    let ops = prop::collection::vec(op, 0..4);
    let compares = prop::collection::vec(compare_request(), 0..3);
    (compares, ops.clone(), ops)
        .prop_map(|(compare, success, failure)| TxnRequest {
            compare,
            success,
            failure,
        })
        .boxed()
}

pub fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        5 => put_request(true).prop_map(Write::Put),
        2 => delete_request().prop_map(Write::Delete),
        3 => txn_request(NESTING).prop_map(Write::Txn),
        1 => any::<u32>().prop_map(Write::Compact),
        1 => prop::collection::btree_set(0..KEYS.len(), 1..4).prop_map(Write::Revoke),
    ]
}

pub fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => prop::collection::vec(write(), 1..4).prop_map(Step::Batch),
        3 => range_request().prop_map(Step::Range),
        1 => (any::<u32>(), any::<u32>()).prop_map(|(from, to)| Step::Events(from, to)),
        1 => Just(Step::Reload),
        1 => Just(Step::Reopen),
    ]
}

/// Any revision from 0 (the newest) to two past the newest: compacted, live and future ones.
pub fn any_rev(m: &Model, raw: i64) -> i64 {
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

/// A revision for a range inside a txn: mostly readable ones, so that most txns run, and
/// otherwise any, so that some are rejected for a compacted or future revision (the txn's
/// own revision included).
fn txn_range_rev(m: &Model, raw: i64) -> i64 {
    if raw % 3 == 0 {
        any_rev(m, raw / 3)
    } else {
        readable_rev(m, raw / 3)
    }
}

/// A revision for a compare or a range filter: 0 to one past the newest.
fn operand_rev(m: &Model, raw: i64) -> i64 {
    raw % (m.rev + 2)
}

pub fn fit_range(m: &Model, r: &RangeRequest, revision: i64) -> RangeRequest {
    RangeRequest {
        revision,
        min_mod_revision: operand_rev(m, r.min_mod_revision),
        max_mod_revision: operand_rev(m, r.max_mod_revision),
        min_create_revision: operand_rev(m, r.min_create_revision),
        max_create_revision: operand_rev(m, r.max_create_revision),
        ..r.clone()
    }
}

pub fn fit_txn(m: &Model, t: &TxnRequest) -> TxnRequest {
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
            Some(Q::RequestRange(r)) => {
                let revision = txn_range_rev(m, r.revision);
                Some(Q::RequestRange(fit_range(m, r, revision)))
            }
            Some(Q::RequestTxn(nested)) => Some(Q::RequestTxn(fit_txn(m, nested))),
            other => other.clone(),
        },
    };
    TxnRequest {
        compare: t.compare.iter().map(compare).collect(),
        success: t.success.iter().map(op).collect(),
        failure: t.failure.iter().map(op).collect(),
    }
}
