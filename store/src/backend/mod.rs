//! The storage interface the API server uses: versioned records under string keys, with
//! create/update/delete guarded by revisions, prefix lists with pagination, and watches that
//! resume from a revision.
//!
//! Two implementations: [`Embedded`] talks to an in-process member directly; [`Etcd`] talks
//! the etcd v3 API (etcd-client) to any endpoint: a real etcd cluster or `rkube store`.

mod embedded;
mod etcd;

use std::fmt::Debug;

use futures::stream::BoxStream;

pub use embedded::Embedded;
pub use etcd::Etcd;

/// One version of a key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub lease: i64,
}

impl Record {
    /// The first version of a key created at `revision`.
    pub fn created(key: &[u8], value: Vec<u8>, revision: i64, lease: i64) -> Self {
        Self {
            key: key.to_vec(),
            value,
            create_revision: revision,
            mod_revision: revision,
            version: 1,
            lease,
        }
    }

    /// The version a write at `revision` made of a key whose previous version was `prev`.
    pub fn written(
        key: &[u8],
        value: Vec<u8>,
        revision: i64,
        lease: i64,
        prev: Option<&Record>,
    ) -> Self {
        match prev {
            Some(p) => Self {
                create_revision: p.create_revision,
                version: p.version + 1,
                ..Self::created(key, value, revision, lease)
            },
            None => Self::created(key, value, revision, lease),
        }
    }
}

/// A list of the keys under a prefix.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub prefix: Vec<u8>,
    /// Continue from this key (inclusive) instead of the prefix start.
    pub start: Option<Vec<u8>>,
    /// At most this many records; 0 means all.
    pub limit: i64,
    /// Read at this revision; 0 means the newest.
    pub revision: i64,
}

#[derive(Debug, Clone, Default)]
pub struct ListResponse {
    pub records: Vec<Record>,
    /// The revision the list was read at.
    pub revision: i64,
    /// More keys follow the last record.
    pub more: bool,
    /// How many keys from `start` on were not returned.
    pub remaining: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// The new version; for deletes only `key` and `mod_revision` are set.
    pub record: Record,
    /// The version before the change, when it was asked for and is still retained.
    pub prev: Option<Record>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchMessage {
    /// Changes, in revision order.
    Events(Vec<Event>),
    /// Nothing under the watched prefix changed up to this revision.
    Progress(i64),
}

#[derive(Debug, Clone, Default)]
pub struct WatchRequest {
    pub prefix: Vec<u8>,
    /// First revision to report; 0 means changes after now.
    pub start_revision: i64,
    /// Include each change's previous version.
    pub prev: bool,
    /// Ask for progress notifications when nothing changes.
    pub progress: bool,
    /// Each notification asks the store for a progress report now: a `Progress` message with
    /// the store's current revision once the watch has caught up to it. A cache uses this to
    /// know it is as fresh as a linearizable read.
    pub progress_requests: Option<std::sync::Arc<tokio::sync::Notify>>,
}

pub type WatchStream = BoxStream<'static, Result<WatchMessage>>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("key {} already exists", String::from_utf8_lossy(.key))]
    AlreadyExists { key: Vec<u8> },
    /// The key is not at the expected revision; `current` is what is there now.
    #[error("key {} was modified concurrently", String::from_utf8_lossy(.key))]
    Conflict {
        key: Vec<u8>,
        current: Option<Box<Record>>,
    },
    #[error("key {} not found", String::from_utf8_lossy(.key))]
    NotFound { key: Vec<u8> },
    /// The requested revision was compacted; `revision` is the oldest one still available.
    #[error("revision compacted; the oldest available is {revision}")]
    Compacted { revision: i64 },
    #[error("revision is in the future")]
    FutureRevision,
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("request is too large for storage")]
    TooLarge,
    #[error("storage failed: {0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The storage the API server runs on.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + Debug {
    /// Reads one key (at `revision`, or the newest if 0); also returns the revision read.
    async fn get(&self, key: &[u8], revision: i64) -> Result<(Option<Record>, i64)>;
    async fn list(&self, req: ListRequest) -> Result<ListResponse>;
    /// Number of keys under `prefix`.
    async fn count(&self, prefix: &[u8]) -> Result<i64>;
    /// Creates a key that must not exist.
    async fn create(&self, key: &[u8], value: Vec<u8>, lease: i64) -> Result<Record>;
    /// Replaces a key that must be at `expected_revision`.
    async fn update(
        &self,
        key: &[u8],
        value: Vec<u8>,
        expected_revision: i64,
        lease: i64,
    ) -> Result<Record>;
    /// Deletes a key, if given only at `expected_revision`; returns the deleted version and
    /// the revision of the deletion.
    async fn delete(&self, key: &[u8], expected_revision: Option<i64>) -> Result<(Record, i64)>;
    async fn watch(&self, req: WatchRequest) -> Result<WatchStream>;
    async fn compact(&self, revision: i64) -> Result<()>;
    /// The newest revision, read linearizably.
    async fn revision(&self) -> Result<i64>;
    /// A lease that expires after `ttl` seconds without renewal; keys attached to it die
    /// with it.
    async fn grant_lease(&self, ttl: i64) -> Result<i64>;
}

/// The end of the key range covering every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"/a/"), b"/a0".to_vec());
        assert_eq!(prefix_end(&[b'a', 0xff]), b"b".to_vec());
        assert_eq!(prefix_end(&[0xff]), vec![0]);
    }
}
