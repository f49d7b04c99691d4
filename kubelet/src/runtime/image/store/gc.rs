//! Garbage collection: pruning blobs and layers no image references, and image GC above a disk
//! usage threshold, least recently used images first (the kubelet's imageGCHigh/LowThresholdPercent).

use std::collections::HashSet;

use super::records::ImageRecord;
use super::{io_ctx, ImageStore, Result};
use crate::runtime::image::digest::Digest;
use crate::runtime::image::reference::ImageRef;

/// When image garbage collection runs and how much it frees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcPolicy {
    /// Disk usage (percent) above which images are removed (Kubernetes' default: 85).
    pub high_threshold_percent: u8,
    /// Disk usage (percent) image GC brings usage down to (Kubernetes' default: 80).
    pub low_threshold_percent: u8,
}

impl Default for GcPolicy {
    fn default() -> Self {
        Self {
            high_threshold_percent: 85,
            low_threshold_percent: 80,
        }
    }
}

/// What a garbage collection removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// References whose records were removed.
    pub removed_images: Vec<String>,
    /// Blobs deleted.
    pub removed_blobs: usize,
    /// Unpacked layers deleted.
    pub removed_layers: usize,
    /// Bytes of blobs deleted.
    pub freed_bytes: u64,
}

/// Disk capacity and usage of the filesystem holding the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskUsage {
    /// Total bytes.
    pub capacity: u64,
    /// Bytes in use.
    pub used: u64,
}

/// Which images to remove to free `to_free` bytes: least recently used first, never one in
/// `in_use` (manifest digests of images running containers).
pub fn plan_image_gc<'a>(
    images: &'a [ImageRecord],
    in_use: &HashSet<Digest>,
    to_free: u64,
) -> Vec<&'a ImageRecord> {
    let mut candidates: Vec<&ImageRecord> = images
        .iter()
        .filter(|r| !in_use.contains(&r.manifest_digest))
        .collect();
    candidates.sort_by_key(|r| (r.last_used_unix, r.created_unix));
    let mut freed = 0u64;
    let mut out = Vec::new();
    for r in candidates {
        if freed >= to_free {
            break;
        }
        freed = freed.saturating_add(r.size);
        out.push(r);
    }
    out
}

impl ImageStore {
    /// Usage of the filesystem holding the store.
    ///
    /// # Errors
    /// [`super::StoreError::Io`] if statvfs fails.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let st = rustix::fs::statvfs(&self.root)
            .map_err(|e| io_ctx("stat the store's filesystem")(e.into()))?;
        let capacity = st.f_blocks.saturating_mul(st.f_frsize);
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        Ok(DiskUsage {
            capacity,
            used: capacity.saturating_sub(free),
        })
    }

    /// Image GC: when `usage` is above the policy's high threshold, removes least recently used
    /// images not in `in_use` until usage would be under the low threshold, then prunes.
    ///
    /// # Errors
    /// [`super::StoreError::Io`].
    pub async fn collect_images(
        &self,
        policy: GcPolicy,
        usage: DiskUsage,
        in_use: &HashSet<Digest>,
    ) -> Result<GcReport> {
        if usage.capacity == 0
            || usage.used.saturating_mul(100)
                < usage.capacity * u64::from(policy.high_threshold_percent)
        {
            return Ok(GcReport::default());
        }
        let target = usage.capacity / 100 * u64::from(policy.low_threshold_percent);
        let to_free = usage.used.saturating_sub(target);
        let images = self.list_images()?;
        let victims = plan_image_gc(&images, in_use, to_free);
        let mut removed = Vec::new();
        for r in victims {
            match ImageRef::parse(&r.reference) {
                Ok(image) => {
                    self.remove_image(&image)?;
                }
                Err(error) => {
                    tracing::warn!(reference = %r.reference, %error, "image record with a bad reference");
                    continue;
                }
            }
            tracing::info!(image = %r.reference, size = r.size, "image garbage collected");
            removed.push(r.reference.clone());
        }
        let mut report = self.prune().await?;
        report.removed_images = removed;
        Ok(report)
    }

    /// Deletes blobs and unpacked layers that no image record references. Waits for pulls in
    /// progress, which hold [`ImageStore::write_guard`].
    ///
    /// # Errors
    /// [`super::StoreError::Io`].
    pub async fn prune(&self) -> Result<GcReport> {
        let _exclusive = self.writers.write().await;
        let mut keep: HashSet<String> = HashSet::new();
        for r in self.list_images()? {
            keep.insert(r.manifest_digest.hex().to_string());
            keep.insert(r.config_digest.hex().to_string());
            keep.extend(r.layers.iter().map(|l| l.digest.hex().to_string()));
        }
        let mut report = GcReport::default();
        let blobs = self.root.join("blobs/sha256");
        for entry in std::fs::read_dir(&blobs).map_err(io_ctx("list blobs"))? {
            let entry = entry.map_err(io_ctx("list blobs"))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if keep.contains(&name) {
                continue;
            }
            let size = entry.metadata().map_or(0, |m| m.len());
            std::fs::remove_file(entry.path()).map_err(io_ctx(format!("remove blob {name}")))?;
            report.removed_blobs += 1;
            report.freed_bytes += size;
        }
        let layers = self.root.join("layers/sha256");
        for entry in std::fs::read_dir(&layers).map_err(io_ctx("list layers"))? {
            let entry = entry.map_err(io_ctx("list layers"))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if keep.contains(&name) {
                continue;
            }
            std::fs::remove_dir_all(entry.path())
                .map_err(io_ctx(format!("remove layer {name}")))?;
            report.removed_layers += 1;
        }
        Ok(report)
    }
}
