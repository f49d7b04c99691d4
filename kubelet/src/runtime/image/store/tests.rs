//! Unit tests of the store: verified and deduplicated blob writes, records, prune and image GC.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use super::*;
use crate::runtime::image::reference::ImageRef;

fn stream_of(
    data: &'static [u8],
) -> futures::stream::Iter<std::vec::IntoIter<Result<Bytes, String>>> {
    futures::stream::iter(vec![
        Ok(Bytes::from_static(&data[..data.len() / 2])),
        Ok(Bytes::from_static(&data[data.len() / 2..])),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_of_one_blob_fetch_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(ImageStore::open(dir.path()).unwrap());
    const DATA: &[u8] = b"one layer shared by many pulls";
    let digest = Digest::of(DATA);
    let fetches = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, fetches, digest) = (store.clone(), fetches.clone(), digest.clone());
            tokio::spawn(async move {
                store
                    .ensure_blob(&digest, || async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        Ok::<_, String>(stream_of(DATA))
                    })
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut written = 0;
    for t in tasks {
        if let BlobWrite::Written(n) = t.await.unwrap() {
            assert_eq!(n, DATA.len() as u64);
            written += 1;
        }
    }
    assert_eq!((written, fetches.load(Ordering::SeqCst)), (1, 1));
    assert_eq!(store.read_blob(&digest).unwrap(), DATA);
}

#[tokio::test]
async fn a_blob_with_the_wrong_content_never_appears() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let digest = Digest::of(b"expected");
    let err = store
        .ensure_blob(&digest, || async {
            Ok::<_, String>(stream_of(b"something else"))
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
    assert!(!store.has_blob(&digest));
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
    let err = store.write_blob(Some(&digest), b"other").await.unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
}

fn layer(content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_path("f").unwrap();
    h.set_mode(0o644);
    h.set_size(content.len() as u64);
    h.set_cksum();
    b.append(&h, content).unwrap();
    b.into_inner().unwrap()
}

/// Stores an image with one layer of `content`, last used at `used`.
async fn add_image(store: &ImageStore, name: &str, content: &[u8], used: u64) -> ImageRecord {
    let l = layer(content);
    let ld = store.write_blob(None, &l).await.unwrap();
    store
        .ensure_layer(&ld, Some(&Digest::of(&l)), UnpackOptions { as_root: false })
        .await
        .unwrap();
    let cd = store.write_blob(None, name.as_bytes()).await.unwrap();
    let md = store
        .write_blob(None, format!("manifest of {name}").as_bytes())
        .await
        .unwrap();
    let rec = ImageRecord {
        reference: ImageRef::parse(name).unwrap().to_string(),
        manifest_digest: md,
        config_digest: cd,
        layers: vec![LayerRecord {
            digest: ld,
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            size: l.len() as u64,
            diff_id: None,
        }],
        size: 4000,
        created_unix: used,
        last_used_unix: used,
    };
    store.put_image(&rec).await.unwrap();
    rec
}

#[tokio::test]
async fn layers_shared_by_images_survive_until_the_last_goes() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let a = add_image(&store, "a:v1", b"shared", 1).await;
    let b = add_image(&store, "b:v1", b"shared", 2).await;
    assert_eq!(store.layer_dirs(&a), store.layer_dirs(&b));
    assert!(store
        .remove_image(&ImageRef::parse("a:v1").unwrap())
        .unwrap());
    let report = store.prune().await.unwrap();
    assert_eq!((report.removed_blobs, report.removed_layers), (2, 0));
    assert!(store.layer_dirs(&b)[0].join("f").exists());
    store
        .remove_image(&ImageRef::parse("b:v1").unwrap())
        .unwrap();
    let report = store.prune().await.unwrap();
    assert_eq!((report.removed_blobs, report.removed_layers), (3, 1));
    assert!(!store.layer_dirs(&b)[0].exists());
}

#[tokio::test]
async fn image_gc_removes_least_recently_used_unused_images_above_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let old = add_image(&store, "old:v1", b"1", 10).await;
    let running = add_image(&store, "running:v1", b"2", 5).await;
    add_image(&store, "mid:v1", b"3", 20).await;
    add_image(&store, "new:v1", b"4", 30).await;
    let in_use: HashSet<Digest> = [running.manifest_digest.clone()].into();
    let policy = GcPolicy::default();

    // Under the high threshold: nothing happens.
    let calm = DiskUsage {
        capacity: 100_000,
        used: 84_000,
    };
    let report = store.collect_images(policy, calm, &in_use).await.unwrap();
    assert!(report.removed_images.is_empty());
    assert_eq!(store.list_images().unwrap().len(), 4);

    // 86% used: 6_000 bytes to free to get down to 80%; each image counts 4_000 bytes, so the
    // two least recently used images not in use go.
    let full = DiskUsage {
        capacity: 100_000,
        used: 86_000,
    };
    let report = store.collect_images(policy, full, &in_use).await.unwrap();
    assert_eq!(
        report.removed_images,
        vec![
            old.reference.clone(),
            "docker.io/library/mid:v1".to_string()
        ]
    );
    let left: Vec<String> = store
        .list_images()
        .unwrap()
        .into_iter()
        .map(|r| r.reference)
        .collect();
    assert_eq!(
        left,
        vec!["docker.io/library/new:v1", "docker.io/library/running:v1"]
    );
    assert!(!store.has_layer(&old.layers[0].digest));
    assert!(store.has_layer(&running.layers[0].digest));
}
