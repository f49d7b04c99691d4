//! Compaction of the store's history, as kube-apiserver does it: every interval, compact up to
//! the revision seen one interval earlier, so watches and continue tokens get at least one
//! interval of history. Several servers sharing a store take turns through a conditional write
//! of one key, so each interval compacts once.

use std::sync::Arc;
use std::time::Duration;

use rkube_store::backend::{self, Backend};
use tokio_util::sync::CancellationToken;

/// kube-apiserver's default `--etcd-compaction-interval`.
pub const INTERVAL: Duration = Duration::from_secs(300);

/// The key the servers coordinate on (Kubernetes' name for it).
const KEY: &[u8] = b"compact_rev_key";

/// Compacts every `interval` until `shutdown`.
pub async fn run(backend: Arc<dyn Backend>, interval: Duration, shutdown: CancellationToken) {
    let mut previous: Option<i64> = None;
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match compact_once(backend.as_ref(), previous).await {
            Ok(seen) => previous = Some(seen),
            Err(e) => tracing::warn!(error = %e, "compaction failed; retrying next interval"),
        }
    }
}

/// Claims this interval's compaction and compacts to `target`; returns the current revision,
/// the next interval's target.
async fn compact_once(backend: &dyn Backend, target: Option<i64>) -> Result<i64, backend::Error> {
    let (rec, _) = backend.get(KEY, 0).await?;
    let value = b"compact".to_vec();
    let claimed = match &rec {
        None => backend.create(KEY, value, 0).await,
        Some(r) => backend.update(KEY, value, r.mod_revision, 0).await,
    };
    let written = match claimed {
        Ok(w) => w,
        // Another server wrote the key first: it compacts this interval.
        Err(backend::Error::Conflict { .. } | backend::Error::AlreadyExists { .. }) => {
            return backend.revision().await;
        }
        Err(e) => return Err(e),
    };
    if let Some(target) = target.filter(|t| *t > 0) {
        match backend.compact(target).await {
            Ok(()) => tracing::info!(revision = target, "compacted the store's history"),
            Err(backend::Error::Compacted { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(written.mod_revision)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn compacts_to_the_previous_interval() {
        let (backend, stop, _dir) = crate::testing::embedded_backend().await;
        for i in 0..5 {
            backend
                .create(format!("/k{i}").as_bytes(), b"v".to_vec(), 0)
                .await
                .unwrap();
        }
        let first = compact_once(backend.as_ref(), None).await.unwrap();
        backend.create(b"/later", b"v".to_vec(), 0).await.unwrap();
        compact_once(backend.as_ref(), Some(first)).await.unwrap();
        let err = backend.get(b"/k0", first - 1).await.unwrap_err();
        assert!(matches!(err, backend::Error::Compacted { .. }), "{err:?}");
        stop.cancel();
    }
}
