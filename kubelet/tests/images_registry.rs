//! The image pull path against a real registry: Debian's `docker-registry` (the distribution
//! registry) started on a loopback port, plain HTTP and with basic auth. The test builds its own
//! image, pushes it with oci-client, pulls it through the store and checks what a kubelet would
//! rely on: files, whiteouts, digests, pull policies, and the registry's error messages.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use rkube_kubelet::runtime::image::{
    Digest, ImageRef, ImageStore, PullError, PullPolicy, PullProgress, Puller, PullerConfig,
    RegistryAuth,
};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
const USER: &str = "puller";
const PASSWORD: &str = "s3cret";

/// A registry process on a free loopback port, killed on drop.
struct Registry {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// Starts a registry; `None` (after printing SKIPPED) when the tools are missing.
    fn start(with_auth: bool) -> Option<Self> {
        if !Path::new(REGISTRY_BIN).exists() {
            println!("SKIPPED: {REGISTRY_BIN} missing (apt-get install docker-registry)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        if with_auth {
            let out = match Command::new("htpasswd")
                .args(["-Bbn", USER, PASSWORD])
                .output()
            {
                Ok(out) if out.status.success() => out,
                _ => {
                    println!("SKIPPED: htpasswd missing (apt-get install apache2-utils)");
                    return None;
                }
            };
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: rkube-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let reg = Self {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(&reg.addr).is_err() {
            assert!(Instant::now() < deadline, "registry did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(reg)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("registry.log")).unwrap()
    }

    /// How many blob GETs the registry logged so far.
    fn blob_gets(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains("http.request.method=GET") && l.contains("/blobs/sha256:"))
            .count()
    }
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn tar_file(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_path(path).unwrap();
    h.set_mode(mode);
    h.set_size(data.len() as u64);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

/// A test image: a gzip layer with a few files and, when `whiteouts`, a plain tar layer deleting
/// one file and making one directory opaque.
struct TestImage {
    layers: Vec<ImageLayer>,
    config: Config,
}

fn build_image(whiteouts: bool) -> TestImage {
    let mut b = tar::Builder::new(Vec::new());
    tar_file(&mut b, "etc/hello", 0o644, b"hello from rkube\n");
    tar_file(&mut b, "bin/tool", 0o755, b"#!/bin/sh\necho tool\n");
    tar_file(&mut b, "dir/gone", 0o644, b"deleted above\n");
    tar_file(&mut b, "opq/old", 0o644, b"hidden above\n");
    let l1 = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &l1).unwrap();
    let mut diff_ids = vec![Digest::of(&l1).to_string()];
    let mut layers = vec![ImageLayer::oci_v1_gzip(gz.finish().unwrap(), None)];
    if whiteouts {
        let mut b = tar::Builder::new(Vec::new());
        tar_file(&mut b, "dir/.wh.gone", 0o644, b"");
        tar_file(&mut b, "opq/.wh..wh..opq", 0o644, b"");
        tar_file(&mut b, "opq/new", 0o644, b"new\n");
        let l2 = b.into_inner().unwrap();
        diff_ids.push(Digest::of(&l2).to_string());
        layers.push(ImageLayer::oci_v1(l2, None));
    }
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/tool"], "Env": ["PATH=/bin"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    TestImage {
        layers,
        config: Config::oci_v1(serde_json::to_vec(&config).unwrap(), None),
    }
}

fn push_client() -> oci_client::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    })
}

async fn push(reg: &Registry, repo_tag: &str, image: &TestImage, auth: &RegistryAuth) {
    let reference: oci_client::Reference = format!("{}/{repo_tag}", reg.addr).parse().unwrap();
    push_client()
        .push(&reference, &image.layers, image.config.clone(), auth, None)
        .await
        .unwrap();
}

fn puller(store: &Path, reg: &Registry) -> Puller {
    let store = Arc::new(ImageStore::open(store).unwrap());
    Puller::new(
        store,
        PullerConfig {
            insecure_registries: vec![reg.addr.clone()],
            ..PullerConfig::default()
        },
    )
}

type Events = Arc<Mutex<Vec<PullProgress>>>;

fn recorder() -> (Events, impl Fn(PullProgress) + Send + Sync) {
    let events: Events = Arc::default();
    let e = events.clone();
    (events, move |p| e.lock().unwrap().push(p))
}

fn downloaded(events: &Events) -> Option<u64> {
    events.lock().unwrap().iter().find_map(|p| match p {
        PullProgress::Pulled { downloaded, .. } => Some(*downloaded),
        _ => None,
    })
}

fn file_stamp(p: &PathBuf) -> (u64, i64, i64) {
    let m = std::fs::metadata(p).unwrap();
    (m.ino(), m.mtime(), m.mtime_nsec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_from_plain_http_registry() {
    let Some(reg) = Registry::start(false) else {
        return;
    };
    let whiteouts = is_root();
    if !whiteouts {
        println!("SKIPPED (partly): whiteout and opaque-dir checks need root");
    }
    let image = build_image(whiteouts);
    push(&reg, "test/app:v1", &image, &RegistryAuth::Anonymous).await;

    let dir = tempfile::tempdir().unwrap();
    let puller = puller(dir.path(), &reg);
    let store = puller.store().clone();
    let app: ImageRef = format!("{}/test/app:v1", reg.addr).parse().unwrap();

    // Never, before the image is here: ErrImageNeverPull.
    let (_, cb) = recorder();
    let err = puller
        .pull(&app, &RegistryAuth::Anonymous, PullPolicy::Never, &cb)
        .await
        .unwrap_err();
    assert!(matches!(err, PullError::NeverPull(_)), "{err}");
    assert_eq!(err.reason(), "ErrImageNeverPull");
    assert!(err
        .to_string()
        .contains("is not present with pull policy of Never"));

    // IfNotPresent, absent: pulled.
    let (events, cb) = recorder();
    let pulled = puller
        .pull(
            &app,
            &RegistryAuth::Anonymous,
            PullPolicy::IfNotPresent,
            &cb,
        )
        .await
        .unwrap();
    assert!(pulled.contacted_registry);
    let record = pulled.record;
    assert_eq!(record.reference, app.to_string());
    assert!(matches!(
        events.lock().unwrap()[0],
        PullProgress::Pulling { .. }
    ));
    assert!(downloaded(&events).unwrap() > 0);

    // Digests: layers as pushed, the manifest as the registry names it, blobs hash to their names.
    for (layer, pushed) in record.layers.iter().zip(&image.layers) {
        assert_eq!(layer.digest, Digest::of(&pushed.data));
    }
    let registry_digest = push_client()
        .fetch_manifest_digest(
            &format!("{}/test/app:v1", reg.addr).parse().unwrap(),
            &RegistryAuth::Anonymous,
        )
        .await
        .unwrap();
    assert_eq!(record.manifest_digest.to_string(), registry_digest);
    for d in [&record.manifest_digest, &record.config_digest]
        .into_iter()
        .chain(record.layers.iter().map(|l| &l.digest))
    {
        assert_eq!(&Digest::of(&std::fs::read(store.blob_path(d)).unwrap()), d);
    }
    let config = store.image_config(&record).unwrap();
    assert_eq!(config.config.cmd, Some(vec!["/bin/tool".to_string()]));

    // Unpacked files, shared layer directories.
    let dirs = store.layer_dirs(&record);
    assert_eq!(
        std::fs::read_to_string(dirs[0].join("etc/hello")).unwrap(),
        "hello from rkube\n"
    );
    assert_eq!(
        std::fs::metadata(dirs[0].join("bin/tool")).unwrap().mode() & 0o7777,
        0o755
    );
    if whiteouts {
        let w = std::fs::symlink_metadata(dirs[1].join("dir/gone")).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_char_device(
            &w.file_type()
        ));
        assert_eq!(w.rdev(), 0);
        let mut buf = [0u8; 2];
        let n = rustix::fs::lgetxattr(dirs[1].join("opq"), "trusted.overlay.opaque", &mut buf[..])
            .unwrap();
        assert_eq!(&buf[..n], b"y");
        assert!(dirs[1].join("opq/new").exists());
    }

    // IfNotPresent, present: the registry is not asked, blob files are untouched.
    let gets = reg.blob_gets();
    assert!(gets > record.layers.len(), "{}", reg.log());
    let stamps: Vec<_> = record
        .layers
        .iter()
        .map(|l| file_stamp(&store.blob_path(&l.digest)))
        .collect();
    let (_, cb) = recorder();
    let again = puller
        .pull(
            &app,
            &RegistryAuth::Anonymous,
            PullPolicy::IfNotPresent,
            &cb,
        )
        .await
        .unwrap();
    assert!(!again.contacted_registry);
    assert_eq!(again.record.manifest_digest, record.manifest_digest);
    // Always: the registry is asked for the manifest, but no blob is downloaded again.
    let (events, cb) = recorder();
    let always = puller
        .pull(&app, &RegistryAuth::Anonymous, PullPolicy::Always, &cb)
        .await
        .unwrap();
    assert!(always.contacted_registry);
    assert_eq!(downloaded(&events), Some(0));
    assert_eq!(reg.blob_gets(), gets);
    let stamps_after: Vec<_> = record
        .layers
        .iter()
        .map(|l| file_stamp(&store.blob_path(&l.digest)))
        .collect();
    assert_eq!(stamps, stamps_after);

    // Missing images carry the registry's message.
    let (_, cb) = recorder();
    let missing: ImageRef = format!("{}/test/app:nope", reg.addr).parse().unwrap();
    let err = puller
        .pull(
            &missing,
            &RegistryAuth::Anonymous,
            PullPolicy::IfNotPresent,
            &cb,
        )
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "ErrImagePull");
    assert!(err.to_string().contains("manifest unknown"), "{err}");
    let unknown: ImageRef = format!("{}/test/nignx:alpine", reg.addr).parse().unwrap();
    let err = puller
        .pull(&unknown, &RegistryAuth::Anonymous, PullPolicy::Always, &cb)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("manifest unknown"), "{err}");

    // Removal and prune: the image's blobs and layers go.
    assert_eq!(store.list_images().unwrap().len(), 1);
    assert!(store.remove_image(&app).unwrap());
    let report = store.prune().await.unwrap();
    assert_eq!(report.removed_layers, record.layers.len());
    assert_eq!(report.removed_blobs, record.layers.len() + 2);
    assert!(!dirs[0].exists());
    assert!(store.list_images().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pulls_share_layers_and_download_once() {
    let Some(reg) = Registry::start(false) else {
        return;
    };
    let image = build_image(false);
    push(&reg, "test/a:v1", &image, &RegistryAuth::Anonymous).await;
    push(&reg, "test/a:v2", &image, &RegistryAuth::Anonymous).await;
    let dir = tempfile::tempdir().unwrap();
    let puller = puller(dir.path(), &reg);
    let before = reg.blob_gets();
    let v1: ImageRef = format!("{}/test/a:v1", reg.addr).parse().unwrap();
    let v2: ImageRef = format!("{}/test/a:v2", reg.addr).parse().unwrap();
    let (_, cb) = recorder();
    let auth = RegistryAuth::Anonymous;
    let (a, b) = futures::join!(
        puller.pull(&v1, &auth, PullPolicy::Always, &cb),
        puller.pull(&v2, &auth, PullPolicy::Always, &cb),
    );
    let (a, b) = (a.unwrap().record, b.unwrap().record);
    assert_eq!(a.layers, b.layers);
    // One config and one layer blob fetched, whatever the interleaving.
    assert_eq!(reg.blob_gets() - before, 2, "{}", reg.log());
    let store = puller.store();
    assert_eq!(store.layer_dirs(&a), store.layer_dirs(&b));
    assert_eq!(store.list_images().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_from_registry_with_basic_auth() {
    let Some(reg) = Registry::start(true) else {
        return;
    };
    let good = RegistryAuth::Basic(USER.into(), PASSWORD.into());
    let image = build_image(false);
    push(&reg, "private/app:v1", &image, &good).await;
    let dir = tempfile::tempdir().unwrap();
    let puller = puller(dir.path(), &reg);
    let app: ImageRef = format!("{}/private/app:v1", reg.addr).parse().unwrap();
    let (_, cb) = recorder();

    let err = puller
        .pull(&app, &RegistryAuth::Anonymous, PullPolicy::Always, &cb)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "ErrImagePull");
    assert!(err.to_string().contains("authentication required"), "{err}");

    let bad = Puller::new(
        Arc::new(ImageStore::open(dir.path().join("other")).unwrap()),
        PullerConfig {
            insecure_registries: vec![reg.addr.clone()],
            ..PullerConfig::default()
        },
    );
    let err = bad
        .pull(
            &app,
            &RegistryAuth::Basic(USER.into(), "wrong".into()),
            PullPolicy::Always,
            &cb,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("authentication required"), "{err}");

    let pulled = puller
        .pull(&app, &good, PullPolicy::Always, &cb)
        .await
        .unwrap();
    let dirs = puller.store().layer_dirs(&pulled.record);
    assert!(dirs[0].join("etc/hello").exists());
}

async fn push_raw(
    reg: &Registry,
    repo_tag: &str,
    media_type: &str,
    body: &serde_json::Value,
) -> Digest {
    let reference: oci_client::Reference = format!("{}/{repo_tag}", reg.addr).parse().unwrap();
    let bytes = serde_json::to_vec(body).unwrap();
    push_client()
        .push_manifest_raw(
            &reference,
            bytes.clone(),
            http::HeaderValue::from_str(media_type).unwrap(),
        )
        .await
        .unwrap();
    Digest::of(&bytes)
}

fn puller_for(store: &Path, reg: &Registry, architecture: &str) -> Puller {
    Puller::new(
        Arc::new(ImageStore::open(store).unwrap()),
        PullerConfig {
            insecure_registries: vec![reg.addr.clone()],
            architecture: architecture.into(),
            ..PullerConfig::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_resolves_indexes_and_reads_docker_media_types() {
    let Some(reg) = Registry::start(false) else {
        return;
    };
    let image = build_image(false);
    push(&reg, "test/multi:oci", &image, &RegistryAuth::Anonymous).await;
    let oci_digest: Digest = push_client()
        .fetch_manifest_digest(
            &format!("{}/test/multi:oci", reg.addr).parse().unwrap(),
            &RegistryAuth::Anonymous,
        )
        .await
        .unwrap()
        .parse()
        .unwrap();

    // The same blobs under a Docker v2 schema 2 manifest.
    let layer = &image.layers[0];
    let docker = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": Digest::of(&image.config.data).to_string(),
            "size": image.config.data.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "digest": Digest::of(&layer.data).to_string(),
            "size": layer.data.len(),
        }],
    });
    let docker_digest = push_raw(
        &reg,
        "test/multi:docker",
        "application/vnd.docker.distribution.manifest.v2+json",
        &docker,
    )
    .await;

    // An OCI index naming both, for two platforms.
    let entry = |digest: &Digest, mt: &str, arch: &str| {
        serde_json::json!({
            "mediaType": mt, "digest": digest.to_string(), "size": 1,
            "platform": {"os": "linux", "architecture": arch},
        })
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            entry(&docker_digest, "application/vnd.docker.distribution.manifest.v2+json", "arm64"),
            entry(&oci_digest, "application/vnd.oci.image.manifest.v1+json", "amd64"),
        ],
    });
    push_raw(
        &reg,
        "test/multi:list",
        "application/vnd.oci.image.index.v1+json",
        &index,
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let list: ImageRef = format!("{}/test/multi:list", reg.addr).parse().unwrap();
    let (_, cb) = recorder();
    let auth = RegistryAuth::Anonymous;
    let amd = puller_for(&dir.path().join("amd64"), &reg, "amd64")
        .pull(&list, &auth, PullPolicy::Always, &cb)
        .await
        .unwrap();
    assert_eq!(amd.record.manifest_digest, oci_digest);
    let arm_puller = puller_for(&dir.path().join("arm64"), &reg, "arm64");
    let arm = arm_puller
        .pull(&list, &auth, PullPolicy::Always, &cb)
        .await
        .unwrap();
    assert_eq!(arm.record.manifest_digest, docker_digest);
    assert_eq!(
        arm.record.layers[0].media_type,
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    let dirs = arm_puller.store().layer_dirs(&arm.record);
    assert!(dirs[0].join("etc/hello").exists());

    let err = puller_for(&dir.path().join("s390x"), &reg, "s390x")
        .pull(&list, &auth, PullPolicy::Always, &cb)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no image for platform linux/s390x"),
        "{err}"
    );

    // Pinned by digest: the digest is checked against the content.
    let pinned: ImageRef = format!("{}/test/multi@{oci_digest}", reg.addr)
        .parse()
        .unwrap();
    let by_digest = puller_for(&dir.path().join("pinned"), &reg, "amd64")
        .pull(&pinned, &auth, PullPolicy::IfNotPresent, &cb)
        .await
        .unwrap();
    assert_eq!(by_digest.record.manifest_digest, oci_digest);
}
