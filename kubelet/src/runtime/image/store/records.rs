//! Image records: one JSON file per normalised reference in `images/`, naming the manifest, the
//! config and the layers, with the last time the image was used (for LRU garbage collection).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{io_ctx, ImageStore, Result, StoreError};
use crate::runtime::image::digest::Digest;
use crate::runtime::image::reference::ImageRef;

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerRecord {
    /// Digest of the layer blob as stored (compressed or not).
    pub digest: Digest,
    /// Media type from the manifest.
    pub media_type: String,
    /// Size of the blob in bytes.
    pub size: u64,
    /// Digest of the uncompressed tar, from the image config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<Digest>,
}

/// What the store knows of one image reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRecord {
    /// The normalised reference, e.g. `docker.io/library/nginx:1.25`.
    pub reference: String,
    /// Digest of the (platform-specific) image manifest: the image ID the kubelet reports.
    pub manifest_digest: Digest,
    /// Digest of the image config blob.
    pub config_digest: Digest,
    /// The layers, bottom first.
    pub layers: Vec<LayerRecord>,
    /// Manifest, config and layer blob sizes added up.
    pub size: u64,
    /// When the image was stored (seconds since the epoch).
    pub created_unix: u64,
    /// When the image was last pulled or used (seconds since the epoch).
    pub last_used_unix: u64,
}

/// The parts of an OCI image config the runtime uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// `amd64`, `arm64`...
    #[serde(default)]
    pub architecture: String,
    /// `linux`.
    #[serde(default)]
    pub os: String,
    /// The process defaults.
    #[serde(default)]
    pub config: ProcessConfig,
    /// The layers' diff IDs.
    #[serde(default)]
    pub rootfs: RootFs,
}

/// The `config` object of an image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessConfig {
    /// Default entrypoint.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// `NAME=value` pairs.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// Working directory.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// `user[:group]`.
    #[serde(default)]
    pub user: Option<String>,
    /// Signal that stops the container.
    #[serde(default)]
    pub stop_signal: Option<String>,
}

/// The `rootfs` object of an image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Uncompressed layer digests, bottom first.
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl ImageStore {
    fn record_path(&self, reference: &str) -> std::path::PathBuf {
        self.root
            .join("images")
            .join(format!("{}.json", Digest::of(reference.as_bytes()).hex()))
    }

    /// Saves `record` under its reference, replacing any previous one.
    ///
    /// # Errors
    /// [`StoreError::Io`].
    pub async fn put_image(&self, record: &ImageRecord) -> Result<()> {
        let data = serde_json::to_vec_pretty(record).map_err(|source| StoreError::Json {
            what: "image record".into(),
            source,
        })?;
        let tmp = self.tmp_path("record");
        tokio::fs::write(&tmp, data)
            .await
            .map_err(io_ctx("write image record"))?;
        tokio::fs::rename(&tmp, self.record_path(&record.reference))
            .await
            .map_err(io_ctx(format!("store image record {}", record.reference)))
    }

    /// The record for `image`, if present.
    ///
    /// # Errors
    /// [`StoreError::Io`], [`StoreError::Json`] for a corrupt record.
    pub fn get_image(&self, image: &ImageRef) -> Result<Option<ImageRecord>> {
        let path = self.record_path(&image.to_string());
        match std::fs::read(&path) {
            Ok(data) => {
                serde_json::from_slice(&data)
                    .map(Some)
                    .map_err(|source| StoreError::Json {
                        what: path.display().to_string(),
                        source,
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_ctx(format!("read {}", path.display()))(e)),
        }
    }

    /// Every image record (corrupt records are logged and skipped).
    ///
    /// # Errors
    /// [`StoreError::Io`] if the directory cannot be read.
    pub fn list_images(&self) -> Result<Vec<ImageRecord>> {
        let dir = self.root.join("images");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io_ctx("list images"))? {
            let path = entry.map_err(io_ctx("list images"))?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let parsed = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|d| serde_json::from_slice::<ImageRecord>(&d).map_err(|e| e.to_string()));
            match parsed {
                Ok(r) => out.push(r),
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "skipping unreadable image record");
                }
            }
        }
        out.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(out)
    }

    /// Removes the record of `image` (its blobs and layers go at the next [`Self::prune`]).
    /// Returns whether it existed.
    ///
    /// # Errors
    /// [`StoreError::Io`].
    pub fn remove_image(&self, image: &ImageRef) -> Result<bool> {
        match std::fs::remove_file(self.record_path(&image.to_string())) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_ctx(format!("remove image {image}"))(e)),
        }
    }

    /// Marks `image` as used now (for LRU garbage collection).
    ///
    /// # Errors
    /// As [`Self::get_image`] and [`Self::put_image`].
    pub async fn touch_image(&self, image: &ImageRef) -> Result<()> {
        if let Some(mut rec) = self.get_image(image)? {
            rec.last_used_unix = now_unix();
            self.put_image(&rec).await?;
        }
        Ok(())
    }

    /// The parsed config of an image.
    ///
    /// # Errors
    /// [`StoreError::MissingBlob`], [`StoreError::Json`].
    pub fn image_config(&self, record: &ImageRecord) -> Result<ImageConfig> {
        let data = self.read_blob(&record.config_digest)?;
        serde_json::from_slice(&data).map_err(|source| StoreError::Json {
            what: format!("image config {}", record.config_digest),
            source,
        })
    }

    /// The unpacked layer directories of an image, bottom first (overlayfs wants them top first).
    pub fn layer_dirs(&self, record: &ImageRecord) -> Vec<std::path::PathBuf> {
        record
            .layers
            .iter()
            .map(|l| self.layer_path(&l.digest))
            .collect()
    }
}
