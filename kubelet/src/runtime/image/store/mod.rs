//! The content-addressed image store on disk: verified blobs, layers unpacked once and shared,
//! image records, and garbage collection.
//!
//! Concurrency: every write goes to `tmp/` and is renamed into place, so readers never see partial
//! content. Writers of the same blob or layer serialise on a per-digest lock, so concurrent pulls of
//! one layer download and unpack it once.

mod blobs;
mod gc;
mod layers;
pub(crate) mod records;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

pub use blobs::BlobWrite;
pub use gc::{plan_image_gc, DiskUsage, GcPolicy, GcReport};
pub use records::{ImageConfig, ImageRecord, LayerRecord, ProcessConfig, RootFs};

use super::digest::Digest;
use super::unpack::UnpackError;
#[cfg(test)]
use super::unpack::UnpackOptions;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("failed to {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Content did not match its digest.
    #[error("failed to verify {expected}: content has digest {actual}")]
    DigestMismatch {
        /// The digest asked for.
        expected: Digest,
        /// The digest of what was received.
        actual: Digest,
    },
    /// A blob needed is not in the store.
    #[error("failed to find blob {0} in the image store")]
    MissingBlob(Digest),
    /// An image record or config is not valid JSON.
    #[error("failed to parse {what}: {source}")]
    Json {
        /// What was parsed.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Unpacking a layer failed.
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    /// A layer's uncompressed digest differs from the diff ID in the image config.
    #[error(
        "failed to verify layer {layer}: diff ID is {actual}, the image config says {expected}"
    )]
    DiffIdMismatch {
        /// The layer blob.
        layer: Digest,
        /// The diff ID in the config.
        expected: Digest,
        /// The diff ID computed.
        actual: Digest,
    },
    /// The fetch callback given to [`ImageStore::ensure_blob`] failed.
    #[error("failed to fetch blob {digest}: {message}")]
    Fetch {
        /// The blob.
        digest: Digest,
        /// The fetcher's message.
        message: String,
    },
}

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub(crate) fn io_ctx(context: impl Into<String>) -> impl FnOnce(io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}

/// The image store rooted at one directory. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct ImageStore {
    root: PathBuf,
    locks: KeyedLocks,
    tmp_seq: AtomicU64,
    /// Held shared by pulls and imports, exclusively by [`ImageStore::prune`], so pruning never
    /// deletes blobs of an image whose record is not written yet.
    writers: tokio::sync::RwLock<()>,
}

impl ImageStore {
    /// Opens (creating if needed) the store at `root`, dropping leftovers of interrupted writes.
    ///
    /// # Errors
    /// [`StoreError::Io`] if the directories cannot be created.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let tmp = root.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io_ctx("clean the store's tmp dir"))?;
        }
        for dir in ["blobs/sha256", "layers/sha256", "images", "tmp"] {
            std::fs::create_dir_all(root.join(dir))
                .map_err(io_ctx(format!("create {}", root.join(dir).display())))?;
        }
        Ok(Self {
            root,
            locks: KeyedLocks::default(),
            tmp_seq: AtomicU64::new(0),
            writers: tokio::sync::RwLock::new(()),
        })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with `digest` lives (whether or not it is present).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// Where the layer blob `digest` is unpacked (whether or not it is present): an overlayfs
    /// lowerdir.
    pub fn layer_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("layers/sha256").join(digest.hex())
    }

    /// Taken by pulls and imports for their whole duration: pruning waits for them.
    pub async fn write_guard(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.writers.read().await
    }

    /// A fresh path in `tmp/` for a partial write.
    fn tmp_path(&self, what: &str) -> PathBuf {
        let n = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        self.root
            .join("tmp")
            .join(format!("{what}.{}.{n}", std::process::id()))
    }
}

/// One async mutex per key, created on demand and dropped when nobody holds it.
#[derive(Debug, Default)]
struct KeyedLocks {
    map: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl KeyedLocks {
    async fn lock(&self, key: String) -> tokio::sync::OwnedMutexGuard<()> {
        let m = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            map.retain(|_, w| w.strong_count() > 0);
            match map.get(&key).and_then(Weak::upgrade) {
                Some(m) => m,
                None => {
                    let m = Arc::new(tokio::sync::Mutex::new(()));
                    map.insert(key, Arc::downgrade(&m));
                    m
                }
            }
        };
        m.lock_owned().await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests;
