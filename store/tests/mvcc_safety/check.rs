//! Running generated steps against the store and the model, and comparing what they answer.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rkube_store::mvcc::MvccWriter;
use rkube_store::proto::etcd::{
    DeleteRangeRequest, DeleteRangeResponse, PutResponse, RangeRequest, TxnResponse,
};

use crate::fixture::{all_keys, Fixture};
use crate::generate::{any_rev, fit_range, fit_txn, Step, Write, KEYS};
use crate::model::{failure, lease_exists, Model};

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
pub fn apply_write(
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

pub fn check_range(fx: &Fixture, m: &Model, req: &RangeRequest) -> Result<(), TestCaseError> {
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
/// event, as of `when`.
fn check_history(fx: &Fixture, m: &Model, when: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(fx.store.revision(), m.rev, "revision {}", when);
    let compact_rev = fx.store.compact_revision();
    prop_assert_eq!(compact_rev, m.compact_rev, "compaction {}", when);
    for revision in 0..=m.rev + 1 {
        check_range(fx, m, &all_keys(revision))?;
    }
    check_events(fx, m, m.compact_rev, i64::MAX)?;
    check_events(fx, m, m.compact_rev - 1, m.rev)
}

pub fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let mut fx = Fixture::new();
    let mut m = Model::new();
    for step in steps {
        match step {
            Step::Batch(writes) => {
                let published = m.clone();
                let (out, wtx) =
                    fx.apply(|w| writes.iter().try_for_each(|op| apply_write(&mut m, w, op)));
                out?;
                // Readers see the last published state, its compaction included, while the
                // batch is applied and committed.
                check_history(&fx, &published, "before the commit")?;
                wtx.commit().expect("commit");
                check_history(&fx, &published, "before publishing")?;
                prop_assert_eq!(fx.store.publish(), m.rev);
                prop_assert_eq!(fx.store.revision(), m.rev);
            }
            Step::Range(r) => check_range(&fx, &m, &fit_range(&m, r, any_rev(&m, r.revision)))?,
            Step::Events(from, to) => {
                let from = any_rev(&m, i64::from(*from));
                let to = from - 1 + i64::from(*to) % (m.rev + 3);
                check_events(&fx, &m, from, to)?;
            }
            Step::Reload => {
                fx.reload();
                check_history(&fx, &m, "after reload")?;
            }
            Step::Reopen => {
                fx = fx.reopen();
                check_history(&fx, &m, "after reopen")?;
            }
        }
    }
    check_history(&fx, &m, "at the end")
}
