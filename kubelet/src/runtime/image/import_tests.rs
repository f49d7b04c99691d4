//! Import tests with OCI layouts and docker save archives built in the test.

use super::*;

fn layer_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let data = b"imported\n";
    let mut h = tar::Header::new_gnu();
    h.set_path("etc/motd").unwrap();
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_cksum();
    b.append(&h, &data[..]).unwrap();
    b.into_inner().unwrap()
}

fn config(layer: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(layer).to_string()]},
    }))
    .unwrap()
}

fn add(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_path(path).unwrap();
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn opts() -> UnpackOptions {
    UnpackOptions { as_root: false }
}

#[tokio::test]
async fn imports_a_docker_save_archive() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(ImageStore::open(dir.path().join("store")).unwrap());
    let layer = layer_tar();
    let cfg = config(&layer);
    let manifest = serde_json::json!([{
        "Config": "cfg.json", "RepoTags": ["myapp:v1"], "Layers": ["abc/layer.tar"]
    }]);
    let mut b = tar::Builder::new(Vec::new());
    add(&mut b, "cfg.json", &cfg);
    add(&mut b, "abc/layer.tar", &layer);
    add(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    let archive = dir.path().join("save.tar");
    std::fs::write(&archive, b.into_inner().unwrap()).unwrap();

    let records = import(store.clone(), &archive, ("linux", "amd64"), opts())
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.reference, "docker.io/library/myapp:v1");
    assert_eq!(r.config_digest, Digest::of(&cfg));
    assert_eq!(r.layers[0].digest, Digest::of(&layer));
    let got = store
        .get_image(&ImageRef::parse("myapp:v1").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(&got, r);
    let motd = store.layer_path(&r.layers[0].digest).join("etc/motd");
    assert_eq!(std::fs::read(motd).unwrap(), b"imported\n");
}

#[tokio::test]
async fn imports_an_oci_layout_directory_and_tarball() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let put = |data: &[u8]| {
        let d = Digest::of(data);
        std::fs::write(layout.join("blobs/sha256").join(d.hex()), data).unwrap();
        d
    };
    let layer = layer_tar();
    let cfg = config(&layer);
    let (ld, cd) = (put(&layer), put(&cfg));
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cd.to_string(), "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld.to_string(), "size": layer.len()}],
    }))
    .unwrap();
    let md = put(&manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": OCI_MANIFEST, "digest": md.to_string(), "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "127.0.0.1:5000/tools/box:1.0"}
        }]
    });
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();

    let store = Arc::new(ImageStore::open(dir.path().join("s1")).unwrap());
    let records = import(store.clone(), &layout, ("linux", "amd64"), opts())
        .await
        .unwrap();
    assert_eq!(records[0].reference, "127.0.0.1:5000/tools/box:1.0");
    assert_eq!(records[0].manifest_digest, md);
    assert!(store.layer_path(&ld).join("etc/motd").exists());

    // The same layout as a tarball; a corrupted blob is refused.
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", &layout).unwrap();
    let tarball = dir.path().join("layout.tar");
    std::fs::write(&tarball, b.into_inner().unwrap()).unwrap();
    let store2 = Arc::new(ImageStore::open(dir.path().join("s2")).unwrap());
    let records = import(store2.clone(), &tarball, ("linux", "amd64"), opts())
        .await
        .unwrap();
    assert_eq!(records[0].manifest_digest, md);

    std::fs::write(layout.join("blobs/sha256").join(ld.hex()), b"tampered").unwrap();
    let store3 = Arc::new(ImageStore::open(dir.path().join("s3")).unwrap());
    let err = import(store3, &layout, ("linux", "amd64"), opts())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ImportError::Store(StoreError::DigestMismatch { .. })),
        "{err}"
    );
}
