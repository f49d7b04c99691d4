//! Model-based safety tests of the MVCC state machine against a model of etcd's semantics.
//!
//! Layout: `model` (etcd's key space, kept naively), `fixture` (the store driven as the raft
//! loop drives it), `generate` (requests and steps), `check` (running both and comparing).

mod check;
mod fixture;
mod generate;
mod model;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rkube_store::proto::etcd::{
    compare, request_op, response_op, Compare, DeleteRangeRequest, PutRequest, RangeRequest,
    RequestOp, TxnRequest, TxnResponse,
};
use rkube_store::proto::mvcc::{event::EventType, Event, KeyValue};

use crate::check::{apply_write, run};
use crate::fixture::{all_keys, Fixture};
use crate::generate::{step, write};
use crate::model::{failure, lease_exists, Failure, Model};

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
    /// below it, also once the next writer removed the rows it dropped and once the index is
    /// rebuilt from the backend.
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
        // Reads below `compacted` fail; every other one returns what it returned before.
        let unchanged = |fx: &Fixture, compacted: i64, pass: &str| -> Result<(), TestCaseError> {
            prop_assert_eq!(fx.store.compact_revision(), compacted, "{}", pass);
            for r in 1..=newest {
                let gone = Failure::Compacted(compacted);
                let i = r as usize;
                let (range, events_from) = if r < compacted {
                    (Err(gone.clone()), Err(gone))
                } else {
                    (ranges[i].clone(), events[i].clone())
                };
                prop_assert_eq!(fx.range(&all_keys(r)), range, "range at {} {}", r, pass);
                prop_assert_eq!(fx.events(r, newest), events_from, "events from {} {}", r, pass);
            }
            Ok(())
        };
        // Readers see the published compaction until the new one is published.
        let (compacted, wtx) = fx.apply(|w| w.compact(at));
        compacted.map_err(failure).expect("compaction");
        unchanged(&fx, first, "before the commit")?;
        wtx.commit().expect("commit");
        unchanged(&fx, first, "before publishing")?;
        fx.store.publish();
        unchanged(&fx, at, "after compaction")?;
        // The next writer removes the rows the compaction dropped.
        fx.batch(|_| ());
        unchanged(&fx, at, "after the next writer")?;
        fx.reload();
        unchanged(&fx, at, "after reload")?;
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

fn txn_op(t: TxnRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestTxn(t)),
    }
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
    let nested = txn_op(nested);
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
    let nested = txn_op(nested);
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

/// Compaction keeps every change at its revision: a watcher starting there must see them
/// all, as `deletion_at_the_compaction_revision_is_kept` does for one. A key changes twice in
/// one revision when a txn deletes it in a nested txn and then puts it: etcd's
/// checkIntervals and `member::check_txn` reject such a txn, the MVCC writer does not.
#[test]
fn compaction_keeps_every_change_at_its_revision() {
    let mut fx = Fixture::new();
    run_txn(&fx, put_txn(b"k", b"1")).expect("put");
    let delete = RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(
            DeleteRangeRequest {
                key: b"k".to_vec(),
                ..Default::default()
            },
        )),
    };
    let nested_delete = txn_op(txn(vec![], vec![delete], vec![]));
    let recreate = txn(vec![], vec![nested_delete, put_op(b"k", b"2", 0)], vec![]);
    run_txn(&fx, recreate).expect("delete and put again");
    fx.batch(|w| w.compact(3)).expect("compact");
    let (at_3, _) = fx.events(3, 3).expect("events at 3");
    let types: Vec<i32> = at_3.iter().map(|e| e.r#type).collect();
    assert_eq!(types, [EventType::Delete as i32, EventType::Put as i32]);
    fx.batch(|_| ());
    assert_eq!(
        fx.events(3, 3),
        Ok((at_3.clone(), 3)),
        "after the next writer"
    );
    fx.reload();
    assert_eq!(fx.events(3, 3), Ok((at_3, 3)), "after reload");
}

/// `MvccStore::lock`: readers see the published state until `publish`, the compaction
/// revision included; a compaction applied in the batch must not show before it is
/// published, or a reader is told revisions past the newest it sees were compacted.
#[test]
fn unpublished_compaction_keeps_the_published_compaction_revision() {
    let fx = Fixture::new();
    run_txn(&fx, put_txn(b"a", b"1")).expect("put a");
    run_txn(&fx, put_txn(b"a", b"2")).expect("put a again");
    let ((), wtx) = fx.apply(|w| {
        w.compact(3).expect("compact at the newest revision");
    });
    let published = |when: &str| {
        assert_eq!(fx.store.compact_revision(), 0, "{when}");
        let at_2 = fx.range(&all_keys(2)).map(|(rev, r)| (rev, r.kvs.len()));
        assert_eq!(at_2, Ok((3, 1)), "read at 2 {when}");
        let from_2 = fx.events(2, 3).map(|(events, to)| (events.len(), to));
        assert_eq!(from_2, Ok((2, 3)), "events from 2 {when}");
    };
    published("before the commit");
    wtx.commit().expect("commit");
    published("before publishing");
    fx.store.publish();
    assert_eq!(fx.store.compact_revision(), 3);
    assert_eq!(fx.range(&all_keys(2)), Err(Failure::Compacted(3)));
}

/// etcd's compareKV reads only an operand of the target's own kind; any other, or none,
/// counts as zero (or as the empty value).
#[test]
fn compare_operand_of_another_kind_counts_as_zero() {
    let fx = Fixture::new();
    let version_is_zero = Compare {
        result: compare::CompareResult::Equal as i32,
        target: compare::CompareTarget::Version as i32,
        key: b"a".to_vec(),
        target_union: Some(compare::TargetUnion::CreateRevision(1)),
        ..Default::default()
    };
    let resp = run_txn(&fx, txn(vec![version_is_zero], vec![], vec![])).expect("txn");
    assert!(resp.succeeded, "a missing key has version 0");
}
