//! Multi-version concurrency control: every write creates a new store revision, every
//! revision of every key is kept until compaction, and reads can look at any retained
//! revision.
//!
//! Layout: `revision` (the clock), `index` (key -> revisions, in memory), `kv` (reads and
//! writes over the backend's `kv` table).
//!
//! Lock order: the store's state lock is taken before a backend read transaction is begun,
//! and writers hold it across their (non-durable, so short) backend commit; readers that
//! begin their backend transaction under the lock therefore never see an index entry whose
//! value is missing.

mod index;
mod kv;
mod revision;

pub use index::{IndexEntry, KeyIndex, KeyRange};
pub use kv::{decode_value, encode_value, MvccState, MvccStore, MvccWriter, StoredValue};
pub use revision::Revision;

/// Errors a client can cause or hit; the messages are etcd's own, because clients match them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted { compact_revision: i64 },
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision,
    #[error("etcdserver: key not found")]
    KeyNotFound,
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    #[error("failed to decode stored value at revision {0:?}: {1}")]
    Corrupt(Revision, String),
    #[error("store database error: {0}")]
    Storage(#[from] redb::Error),
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
