//! The member's one redb database: the raft log and the state machine in one file, so a
//! single durable commit covers both and recovery never sees one without the other.
//!
//! Persistence order: raft log appends and hard state are committed with
//! `Durability::Immediate` before messages that depend on them are sent; state-machine
//! applies are committed with `Durability::None`, because the log they come from is already
//! durable and is replayed from the stored applied index after a crash.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

/// Raft log entries by index (raft-rs protobuf encoding).
pub const RAFT_LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// Every retained revision of every key: (main, sub) -> flag byte + mvccpb.KeyValue.
pub const KV: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("kv");
/// Granted leases: id -> TTL in seconds.
pub const LEASES: TableDefinition<i64, i64> = TableDefinition::new("leases");
/// Cluster members: id -> MemberAttributes.
pub const MEMBERS: TableDefinition<u64, &[u8]> = TableDefinition::new("members");
/// Small records of both the raft log (hard state, conf state, truncation point) and the
/// state machine (see the `meta` constants); one table, so a round of raft touches as few
/// B-tree pages as possible. Integers are 8 bytes big-endian.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

pub mod meta {
    pub const FORMAT: &str = "format";
    pub const APPLIED_INDEX: &str = "applied_index";
    pub const APPLIED_TERM: &str = "applied_term";
    pub const REVISION: &str = "revision";
    pub const COMPACT_REVISION: &str = "compact_revision";
    pub const CLUSTER_ID: &str = "cluster_id";
    pub const MEMBER_ID: &str = "member_id";
}

/// Version of the on-disk layout; a database with another version is refused.
pub const FORMAT_VERSION: u64 = 1;

/// The database file inside a member's data dir.
pub const DB_FILE: &str = "store.redb";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to open store database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: redb::DatabaseError,
    },
    #[error(
        "data dir {dir} holds files not written by rkube store ({found}); refusing to start: \
         point --data-dir at an empty or rkube-owned directory"
    )]
    Foreign { dir: PathBuf, found: String },
    #[error(
        "store database {path} has format version {found}, this build reads version {expected}"
    )]
    Format {
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    #[error("failed to prepare data dir {dir}: {source}")]
    Dir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("store database error: {0}")]
    Storage(#[from] redb::Error),
}

impl From<redb::TransactionError> for Error {
    fn from(e: redb::TransactionError) -> Self {
        Self::Storage(e.into())
    }
}
impl From<redb::TableError> for Error {
    fn from(e: redb::TableError) -> Self {
        Self::Storage(e.into())
    }
}
impl From<redb::StorageError> for Error {
    fn from(e: redb::StorageError) -> Self {
        Self::Storage(e.into())
    }
}
impl From<redb::CommitError> for Error {
    fn from(e: redb::CommitError) -> Self {
        Self::Storage(e.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Opens (or creates) the database in `dir`. Refuses directories that hold anything else
/// and databases of another format, so a mistyped --data-dir never silently resets state.
///
/// Returns the database and whether it was freshly created.
pub fn open(dir: &Path) -> Result<(Database, bool)> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Dir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(DB_FILE);
    let foreign: Vec<String> = std::fs::read_dir(dir)
        .map_err(|source| Error::Dir {
            dir: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != DB_FILE && !n.starts_with('.'))
        .collect();
    if !foreign.is_empty() {
        return Err(Error::Foreign {
            dir: dir.to_path_buf(),
            found: foreign.join(", "),
        });
    }
    let fresh = !path.exists();
    let db = Database::builder()
        .set_cache_size(256 << 20)
        .create(&path)
        .map_err(|source| Error::Open {
            path: path.clone(),
            source,
        })?;
    let wtx = db.begin_write()?;
    {
        let mut m = wtx.open_table(META)?;
        let format = get_u64(&m, meta::FORMAT)?;
        match format {
            None if fresh => {
                put_u64(&mut m, meta::FORMAT, FORMAT_VERSION)?;
            }
            None => {
                return Err(Error::Format {
                    path,
                    found: 0,
                    expected: FORMAT_VERSION,
                })
            }
            Some(FORMAT_VERSION) => {}
            Some(found) => {
                return Err(Error::Format {
                    path,
                    found,
                    expected: FORMAT_VERSION,
                })
            }
        }
        for t in [RAFT_LOG, MEMBERS] {
            wtx.open_table(t)?;
        }
        wtx.open_table(KV)?;
        wtx.open_table(LEASES)?;
    }
    wtx.commit()?;
    Ok((db, fresh))
}

/// Reads one META integer.
pub fn read_meta(db: &Database, key: &str) -> Result<Option<u64>> {
    let rtx = db.begin_read()?;
    let t = rtx.open_table(META)?;
    Ok(get_u64(&t, key)?)
}

/// Reads an integer from the META table; a record of the wrong size reads as absent.
pub fn get_u64<T: ReadableTable<&'static str, &'static [u8]>>(
    t: &T,
    key: &str,
) -> Result<Option<u64>, redb::StorageError> {
    Ok(t.get(key)?
        .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
        .map(u64::from_be_bytes))
}

/// Writes an integer into the META table.
pub fn put_u64(
    t: &mut redb::Table<'_, &'static str, &'static [u8]>,
    key: &str,
    value: u64,
) -> Result<(), redb::StorageError> {
    t.insert(key, value.to_be_bytes().as_slice())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_foreign_dirs_and_corrupt_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("member")).expect("mkdir");
        let err = open(dir.path()).expect_err("foreign dir must be refused");
        assert!(err.to_string().contains("member"), "{err}");

        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(DB_FILE), b"not a database at all").expect("write");
        let err = open(dir.path()).expect_err("corrupt file must be refused");
        assert!(err.to_string().contains(DB_FILE), "{err}");

        let dir = tempfile::tempdir().expect("tempdir");
        let (db, fresh) = open(dir.path()).expect("open");
        assert!(fresh);
        drop(db);
        let (_db, fresh) = open(dir.path()).expect("reopen");
        assert!(!fresh);
    }
}
