//! The raft log, persisted in the member's database and mirrored in memory.
//!
//! raft-rs reads the log through the [`raft::Storage`] trait; the raft loop writes it with
//! the `persist_*` methods inside its own backend transaction, then updates the mirror once
//! that transaction committed.

use std::sync::Arc;

use parking_lot::RwLock;
use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, StorageError};
use redb::{Database, ReadableDatabase, WriteTransaction};

use crate::db::{META as RAFT_META, RAFT_LOG};

const HARD_STATE: &str = "raft_hard_state";
const CONF_STATE: &str = "raft_conf_state";
/// Index and term of the last entry removed from the front of the log.
const TRUNCATED: &str = "raft_truncated";

/// Builds a snapshot of the state machine at its applied index (installed by the member).
pub type SnapshotBuilder = dyn Fn() -> raft::Result<Snapshot> + Send + Sync;

#[derive(Debug, Default)]
struct Core {
    hard_state: HardState,
    conf_state: ConfState,
    truncated_index: u64,
    truncated_term: u64,
    /// Entries after `truncated_index`, contiguous.
    entries: Vec<Entry>,
}

impl Core {
    fn first_index(&self) -> u64 {
        self.truncated_index + 1
    }

    fn last_index(&self) -> u64 {
        self.entries
            .last()
            .map_or(self.truncated_index, |e| e.index)
    }
}

/// The raft log of one member.
pub struct RaftStorage {
    core: RwLock<Core>,
    snapshot: Arc<RwLock<Option<Box<SnapshotBuilder>>>>,
}

impl std::fmt::Debug for RaftStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self.core.read();
        f.debug_struct("RaftStorage")
            .field("first_index", &c.first_index())
            .field("last_index", &c.last_index())
            .finish()
    }
}

fn storage_err(e: impl std::fmt::Display) -> raft::Error {
    raft::Error::Store(StorageError::Other(e.to_string().into()))
}

fn decode<M: protobuf::Message>(bytes: &[u8]) -> raft::Result<M> {
    M::parse_from_bytes(bytes).map_err(storage_err)
}

fn encode<M: protobuf::Message>(m: &M) -> raft::Result<Vec<u8>> {
    m.write_to_bytes().map_err(storage_err)
}

impl RaftStorage {
    /// Loads the log from the database.
    pub fn load(db: &Database) -> raft::Result<Self> {
        let rtx = db.begin_read().map_err(storage_err)?;
        let meta = rtx.open_table(RAFT_META).map_err(storage_err)?;
        let mut core = Core::default();
        if let Some(v) = meta.get(HARD_STATE).map_err(storage_err)? {
            core.hard_state = decode(v.value())?;
        }
        if let Some(v) = meta.get(CONF_STATE).map_err(storage_err)? {
            core.conf_state = decode(v.value())?;
        }
        if let Some(v) = meta.get(TRUNCATED).map_err(storage_err)? {
            let b = v.value();
            if b.len() == 16 {
                let (i, t) = b.split_at(8);
                core.truncated_index = u64::from_be_bytes(i.try_into().map_err(storage_err)?);
                core.truncated_term = u64::from_be_bytes(t.try_into().map_err(storage_err)?);
            }
        }
        let log = rtx.open_table(RAFT_LOG).map_err(storage_err)?;
        for row in log.range(core.truncated_index + 1..).map_err(storage_err)? {
            let (_, v) = row.map_err(storage_err)?;
            core.entries.push(decode(v.value())?);
        }
        Ok(Self {
            core: RwLock::new(core),
            snapshot: Arc::new(RwLock::new(None)),
        })
    }

    /// Installs the function that snapshots the state machine.
    pub fn set_snapshot_builder(&self, f: Box<SnapshotBuilder>) {
        *self.snapshot.write() = Some(f);
    }

    /// Whether this log was ever initialised (bootstrapped, or given a snapshot).
    pub fn is_initialized(&self) -> bool {
        let c = self.core.read();
        c.truncated_index > 0 || !c.entries.is_empty() || !c.conf_state.voters.is_empty()
    }

    pub fn hard_state(&self) -> HardState {
        self.core.read().hard_state.clone()
    }

    pub fn conf_state(&self) -> ConfState {
        self.core.read().conf_state.clone()
    }

    pub fn truncated_index(&self) -> u64 {
        self.core.read().truncated_index
    }

    /// Bootstraps a brand-new cluster: the log starts as if an entry at index 1, term 1 had
    /// established `conf_state`, so members added later must start from a snapshot that
    /// carries the full membership.
    pub fn persist_bootstrap(
        &self,
        wtx: &WriteTransaction,
        conf_state: ConfState,
    ) -> raft::Result<()> {
        let hs = HardState {
            term: 1,
            commit: 1,
            ..Default::default()
        };
        let mut meta = wtx.open_table(RAFT_META).map_err(storage_err)?;
        meta.insert(HARD_STATE, encode(&hs)?.as_slice())
            .map_err(storage_err)?;
        meta.insert(CONF_STATE, encode(&conf_state)?.as_slice())
            .map_err(storage_err)?;
        meta.insert(TRUNCATED, truncated_bytes(1, 1).as_slice())
            .map_err(storage_err)?;
        drop(meta);
        let mut c = self.core.write();
        c.hard_state = hs;
        c.conf_state = conf_state;
        c.truncated_index = 1;
        c.truncated_term = 1;
        c.entries.clear();
        Ok(())
    }

    /// Appends entries (replacing any conflicting suffix).
    pub fn persist_entries(&self, wtx: &WriteTransaction, ents: &[Entry]) -> raft::Result<()> {
        let Some(first) = ents.first() else {
            return Ok(());
        };
        let mut c = self.core.write();
        if first.index <= c.truncated_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        let mut log = wtx.open_table(RAFT_LOG).map_err(storage_err)?;
        let last = c.last_index();
        if first.index <= last {
            for i in first.index..=last {
                log.remove(i).map_err(storage_err)?;
            }
        }
        for e in ents {
            log.insert(e.index, encode(e)?.as_slice())
                .map_err(storage_err)?;
        }
        let keep = (first.index - c.first_index()) as usize;
        c.entries.truncate(keep);
        c.entries.extend_from_slice(ents);
        Ok(())
    }

    pub fn persist_hard_state(&self, wtx: &WriteTransaction, hs: &HardState) -> raft::Result<()> {
        let mut meta = wtx.open_table(RAFT_META).map_err(storage_err)?;
        meta.insert(HARD_STATE, encode(hs)?.as_slice())
            .map_err(storage_err)?;
        self.core.write().hard_state = hs.clone();
        Ok(())
    }

    pub fn persist_conf_state(&self, wtx: &WriteTransaction, cs: &ConfState) -> raft::Result<()> {
        let mut meta = wtx.open_table(RAFT_META).map_err(storage_err)?;
        meta.insert(CONF_STATE, encode(cs)?.as_slice())
            .map_err(storage_err)?;
        self.core.write().conf_state = cs.clone();
        Ok(())
    }

    /// Replaces the whole log by a received snapshot's position.
    pub fn persist_snapshot(
        &self,
        wtx: &WriteTransaction,
        meta: &SnapshotMetadata,
    ) -> raft::Result<()> {
        let mut c = self.core.write();
        let mut log = wtx.open_table(RAFT_LOG).map_err(storage_err)?;
        log.retain(|_, _| false).map_err(storage_err)?;
        let mut hs = c.hard_state.clone();
        hs.term = hs.term.max(meta.term);
        hs.commit = meta.index;
        let mut t = wtx.open_table(RAFT_META).map_err(storage_err)?;
        t.insert(HARD_STATE, encode(&hs)?.as_slice())
            .map_err(storage_err)?;
        t.insert(CONF_STATE, encode(meta.get_conf_state())?.as_slice())
            .map_err(storage_err)?;
        t.insert(TRUNCATED, truncated_bytes(meta.index, meta.term).as_slice())
            .map_err(storage_err)?;
        c.hard_state = hs;
        c.conf_state = meta.get_conf_state().clone();
        c.truncated_index = meta.index;
        c.truncated_term = meta.term;
        c.entries.clear();
        Ok(())
    }

    /// Drops entries up to and including `index` (which must be applied and durable).
    pub fn persist_truncate(&self, wtx: &WriteTransaction, index: u64) -> raft::Result<()> {
        let mut c = self.core.write();
        if index <= c.truncated_index || index > c.last_index() {
            return Ok(());
        }
        let offset = c.first_index();
        let term = c.entries[(index - offset) as usize].term;
        let mut log = wtx.open_table(RAFT_LOG).map_err(storage_err)?;
        log.retain_in(..=index, |_, _| false).map_err(storage_err)?;
        let mut t = wtx.open_table(RAFT_META).map_err(storage_err)?;
        t.insert(TRUNCATED, truncated_bytes(index, term).as_slice())
            .map_err(storage_err)?;
        c.entries.drain(..(index + 1 - offset) as usize);
        c.truncated_index = index;
        c.truncated_term = term;
        Ok(())
    }
}

fn truncated_bytes(index: u64, term: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&index.to_be_bytes());
    b[8..].copy_from_slice(&term.to_be_bytes());
    b
}

/// raft-rs reads through a shared handle so the raft loop can keep writing via `persist_*`.
#[derive(Debug, Clone)]
pub struct SharedStorage(pub Arc<RaftStorage>);

impl raft::Storage for SharedStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let c = self.0.core.read();
        Ok(RaftState::new(c.hard_state.clone(), c.conf_state.clone()))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let c = self.0.core.read();
        if low < c.first_index() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > c.last_index() + 1 {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let offset = c.first_index();
        let mut ents: Vec<Entry> = Vec::new();
        let max = max_size.into().unwrap_or(u64::MAX);
        let mut size = 0u64;
        for e in &c.entries[(low - offset) as usize..(high - offset) as usize] {
            size += u64::from(e.compute_size());
            if !ents.is_empty() && size > max {
                break;
            }
            ents.push(e.clone());
        }
        Ok(ents)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        let c = self.0.core.read();
        if idx == c.truncated_index {
            return Ok(c.truncated_term);
        }
        if idx < c.first_index() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > c.last_index() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(c.entries[(idx - c.first_index()) as usize].term)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.0.core.read().first_index())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.0.core.read().last_index())
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let guard = self.0.snapshot.read();
        let build = guard.as_ref().ok_or(raft::Error::Store(
            StorageError::SnapshotTemporarilyUnavailable,
        ))?;
        let snap = build()?;
        if snap.get_metadata().index < request_index {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::Storage as _;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Default::default()
        }
    }

    #[test]
    fn append_truncate_and_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, _) = crate::db::open(dir.path()).expect("open");
        let s = SharedStorage(Arc::new(RaftStorage::load(&db).expect("load")));
        let wtx = db.begin_write().expect("begin");
        let cs = ConfState {
            voters: vec![1],
            ..Default::default()
        };
        s.0.persist_bootstrap(&wtx, cs).expect("bootstrap");
        s.0.persist_entries(&wtx, &[entry(2, 1), entry(3, 2), entry(4, 2)])
            .expect("append");
        s.0.persist_entries(&wtx, &[entry(4, 3), entry(5, 3)])
            .expect("overwrite");
        wtx.commit().expect("commit");
        assert_eq!(
            (s.first_index().ok(), s.last_index().ok()),
            (Some(2), Some(5))
        );
        assert_eq!(s.term(4).ok(), Some(3));
        assert_eq!(s.term(1).ok(), Some(1));

        let wtx = db.begin_write().expect("begin");
        s.0.persist_truncate(&wtx, 3).expect("truncate");
        wtx.commit().expect("commit");
        assert!(s
            .entries(2, 4, None, GetEntriesContext::empty(false))
            .is_err());

        let reloaded = SharedStorage(Arc::new(RaftStorage::load(&db).expect("reload")));
        assert_eq!(reloaded.first_index().ok(), Some(4));
        assert_eq!(reloaded.last_index().ok(), Some(5));
        assert_eq!(reloaded.term(3).ok(), Some(2));
        assert_eq!(
            reloaded.initial_state().map(|s| s.conf_state.voters).ok(),
            Some(vec![1])
        );
    }
}
