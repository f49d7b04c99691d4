//! The store under test, driven as the raft loop drives it.

use redb::{Database, Durability, WriteTransaction};
use rkube_store::db::{self, KV, META};
use rkube_store::mvcc::{MvccStore, MvccWriter};
use rkube_store::proto::etcd::{RangeRequest, RangeResponse};
use rkube_store::proto::mvcc::Event;
use tempfile::TempDir;

use crate::model::{failure, Failure};

#[derive(Debug)]
pub struct Fixture {
    dir: TempDir,
    db: Database,
    pub store: MvccStore,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, fresh) = db::open(dir.path()).expect("open the database");
        assert!(fresh);
        let store = MvccStore::load(&db).expect("load the store");
        Self { dir, db, store }
    }

    /// Runs `f` over one writer in a new backend transaction and records the revision marks
    /// in META, as `StateMachine::apply` does; returns the transaction uncommitted, the store
    /// unlocked. Non-durable for speed: `reopen` makes it durable.
    pub fn apply<R>(&self, f: impl FnOnce(&mut MvccWriter<'_, '_>) -> R) -> (R, WriteTransaction) {
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
    pub fn batch<R>(&self, f: impl FnOnce(&mut MvccWriter<'_, '_>) -> R) -> R {
        let (out, wtx) = self.apply(f);
        wtx.commit().expect("commit");
        self.store.publish();
        out
    }

    pub fn range(&self, req: &RangeRequest) -> Result<(i64, RangeResponse), Failure> {
        self.store.range(&self.db, req).map_err(failure)
    }

    pub fn events(&self, from: i64, to: i64) -> Result<(Vec<Event>, i64), Failure> {
        let events = self.store.events_between(&self.db, from, to);
        events.map_err(failure)
    }

    /// Rebuilds the index from the backend.
    pub fn reload(&mut self) {
        self.store = MvccStore::load(&self.db).expect("reload the store");
    }

    /// Closes and reopens the database, as a restart does.
    pub fn reopen(self) -> Self {
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

pub fn all_keys(revision: i64) -> RangeRequest {
    RangeRequest {
        key: vec![0],
        range_end: vec![0],
        revision,
        ..Default::default()
    }
}
