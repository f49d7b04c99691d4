//! Blobs by digest: written to `tmp/`, verified, then renamed into `blobs/sha256/<hex>`.

use std::future::Future;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use super::{io_ctx, ImageStore, Result, StoreError};
use crate::runtime::image::digest::{Digest, Hasher};

/// What [`ImageStore::ensure_blob`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobWrite {
    /// The blob was already present; nothing was fetched.
    Present,
    /// The blob was fetched and written; its size in bytes.
    Written(u64),
}

impl ImageStore {
    /// True if the blob is in the store.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Reads a whole blob (manifests and configs; layers are streamed from [`Self::blob_path`]).
    ///
    /// # Errors
    /// [`StoreError::MissingBlob`] when absent, [`StoreError::Io`] on read errors.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        match std::fs::read(self.blob_path(digest)) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StoreError::MissingBlob(digest.clone()))
            }
            Err(e) => Err(io_ctx(format!("read blob {digest}"))(e)),
        }
    }

    /// Writes `data` as a blob, verifying it against `expected` when given; returns its digest.
    ///
    /// # Errors
    /// [`StoreError::DigestMismatch`] or [`StoreError::Io`].
    pub async fn write_blob(&self, expected: Option<&Digest>, data: &[u8]) -> Result<Digest> {
        let actual = Digest::of(data);
        if let Some(expected) = expected {
            if *expected != actual {
                return Err(StoreError::DigestMismatch {
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        let _guard = self.locks.lock(format!("blob:{actual}")).await;
        if self.has_blob(&actual) {
            return Ok(actual);
        }
        let tmp = self.tmp_path(actual.hex());
        tokio::fs::write(&tmp, data)
            .await
            .map_err(io_ctx(format!("write blob {actual}")))?;
        self.commit_blob(&tmp, &actual).await?;
        Ok(actual)
    }

    /// Makes sure blob `digest` is present: if absent (checked under the digest's lock, so
    /// concurrent callers fetch once), calls `fetch` and streams its bytes to disk, verifying the
    /// sha256 before the blob appears.
    ///
    /// # Errors
    /// [`StoreError::Fetch`] when `fetch` or its stream fails, [`StoreError::DigestMismatch`],
    /// [`StoreError::Io`].
    pub async fn ensure_blob<F, Fut, S, E>(&self, digest: &Digest, fetch: F) -> Result<BlobWrite>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<S, E>>,
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let _guard = self.locks.lock(format!("blob:{digest}")).await;
        if self.has_blob(digest) {
            return Ok(BlobWrite::Present);
        }
        let fetch_err = |e: E| StoreError::Fetch {
            digest: digest.clone(),
            message: e.to_string(),
        };
        let mut stream = fetch().await.map_err(fetch_err)?;
        let tmp = self.tmp_path(digest.hex());
        let result = async {
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(io_ctx(format!("create {}", tmp.display())))?;
            let mut hasher = Hasher::default();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(fetch_err)?;
                hasher.update(&chunk);
                file.write_all(&chunk)
                    .await
                    .map_err(io_ctx(format!("write blob {digest}")))?;
            }
            file.sync_all()
                .await
                .map_err(io_ctx(format!("sync blob {digest}")))?;
            let size = hasher.len();
            let actual = hasher.finish();
            if actual != *digest {
                return Err(StoreError::DigestMismatch {
                    expected: digest.clone(),
                    actual,
                });
            }
            self.commit_blob(&tmp, digest).await?;
            Ok(size)
        }
        .await;
        match result {
            Ok(size) => Ok(BlobWrite::Written(size)),
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    async fn commit_blob(&self, tmp: &std::path::Path, digest: &Digest) -> Result<()> {
        tokio::fs::rename(tmp, self.blob_path(digest))
            .await
            .map_err(io_ctx(format!("store blob {digest}")))
    }
}

impl ImageStore {
    /// Copies everything `reader` yields into a blob (blocking I/O: call from a blocking task),
    /// checking it against `expected` when given; returns its digest and size.
    ///
    /// # Errors
    /// [`StoreError::DigestMismatch`] or [`StoreError::Io`].
    pub fn write_blob_from_reader(
        &self,
        expected: Option<&Digest>,
        reader: impl std::io::Read,
    ) -> Result<(Digest, u64)> {
        let tmp = self.tmp_path("import");
        let result = (|| {
            let mut file =
                std::fs::File::create(&tmp).map_err(io_ctx(format!("create {}", tmp.display())))?;
            let mut hashing = crate::runtime::image::digest::HashingReader::new(reader);
            std::io::copy(&mut hashing, &mut file).map_err(io_ctx("copy a blob"))?;
            file.sync_all().map_err(io_ctx("sync a blob"))?;
            let (actual, size) = hashing.finish();
            if let Some(expected) = expected {
                if *expected != actual {
                    return Err(StoreError::DigestMismatch {
                        expected: expected.clone(),
                        actual,
                    });
                }
            }
            // Same digest, same content: replacing a concurrent writer's copy is harmless.
            std::fs::rename(&tmp, self.blob_path(&actual))
                .map_err(io_ctx(format!("store blob {actual}")))?;
            Ok((actual, size))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}
