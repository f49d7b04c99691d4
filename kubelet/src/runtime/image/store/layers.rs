//! Layers unpacked once per layer blob into `layers/sha256/<hex>/`, shared by every image and
//! container that uses them (overlayfs lowerdirs).

use std::path::PathBuf;

use super::{io_ctx, ImageStore, Result, StoreError};
use crate::runtime::image::digest::Digest;
use crate::runtime::image::unpack::{unpack_layer, UnpackOptions};

impl ImageStore {
    /// True if the layer blob `digest` is already unpacked.
    pub fn has_layer(&self, digest: &Digest) -> bool {
        self.layer_path(digest).is_dir()
    }

    /// Unpacks the layer blob `digest` (which must be in the store) unless already done, and
    /// returns its directory. Concurrent callers for the same layer wait for one unpack. When
    /// `diff_id` is given, the uncompressed content must match it.
    ///
    /// # Errors
    /// [`StoreError::MissingBlob`], [`StoreError::Unpack`], [`StoreError::DiffIdMismatch`],
    /// [`StoreError::Io`].
    pub async fn ensure_layer(
        &self,
        digest: &Digest,
        diff_id: Option<&Digest>,
        opts: UnpackOptions,
    ) -> Result<PathBuf> {
        let _guard = self.locks.lock(format!("layer:{digest}")).await;
        let dest = self.layer_path(digest);
        if dest.is_dir() {
            return Ok(dest);
        }
        let blob = self.blob_path(digest);
        if !blob.is_file() {
            return Err(StoreError::MissingBlob(digest.clone()));
        }
        let tmp = self.tmp_path(&format!("layer-{}", digest.hex()));
        let (tmp2, digest2, diff_id2) = (tmp.clone(), digest.clone(), diff_id.cloned());
        let result = tokio::task::spawn_blocking(move || -> Result<()> {
            std::fs::create_dir(&tmp2).map_err(io_ctx(format!("create {}", tmp2.display())))?;
            let file =
                std::fs::File::open(&blob).map_err(io_ctx(format!("open blob {digest2}")))?;
            let unpacked = unpack_layer(file, &tmp2, opts)?;
            if let Some(expected) = diff_id2 {
                if unpacked.diff_id != expected {
                    return Err(StoreError::DiffIdMismatch {
                        layer: digest2,
                        expected,
                        actual: unpacked.diff_id,
                    });
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Io {
            context: format!("unpack layer {digest}"),
            source: std::io::Error::other(e.to_string()),
        })
        .and_then(|r| r);
        if let Err(e) = result {
            let _ = tokio::fs::remove_dir_all(&tmp).await;
            return Err(e);
        }
        tokio::fs::rename(&tmp, &dest)
            .await
            .map_err(io_ctx(format!("store layer {digest}")))?;
        tracing::debug!(layer = %digest, "layer unpacked");
        Ok(dest)
    }
}
