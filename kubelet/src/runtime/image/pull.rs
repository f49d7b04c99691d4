//! Pulling images from OCI / Docker v2 registries into the [`ImageStore`], with the kubelet's pull
//! policies.
//!
//! oci-client does the HTTP side (plain-HTTP registries through its `HttpsExcept` list, bearer
//! token and basic auth). Manifests are fetched raw so their digests are checked here, and
//! manifest lists / OCI indexes are resolved to the node's platform here; blobs are streamed into
//! the store, which verifies their sha256 before they appear.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use serde::Deserialize;

pub use oci_client::secrets::RegistryAuth;

use super::digest::Digest;
use super::reference::ImageRef;
use super::store::records::now_unix;
use super::store::{BlobWrite, ImageConfig, ImageRecord, ImageStore, LayerRecord, StoreError};
use super::unpack::UnpackOptions;

const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// `imagePullPolicy` of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Always ask the registry (blobs already stored are not downloaded again).
    Always,
    /// Pull only when the image is not in the store.
    IfNotPresent,
    /// Never pull; fail when the image is not in the store.
    Never,
}

impl PullPolicy {
    /// Parses a container's `imagePullPolicy`; `None` for an empty or unknown value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Always" => Some(Self::Always),
            "IfNotPresent" => Some(Self::IfNotPresent),
            "Never" => Some(Self::Never),
            _ => None,
        }
    }

    /// The policy the API server defaults to when none is set, as `image` was written in the pod
    /// spec: Always for a `:latest` or missing tag (without digest), IfNotPresent otherwise.
    pub fn default_for(image: &str) -> Self {
        let last = image.rsplit('/').next().unwrap_or(image);
        if image.contains('@') {
            return Self::IfNotPresent;
        }
        match last.rsplit_once(':') {
            Some((_, "latest")) | None => Self::Always,
            Some(_) => Self::IfNotPresent,
        }
    }
}

/// Why a pull failed. [`PullError::reason`] gives the container status reason the kubelet reports.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// Policy Never and the image is absent.
    #[error("Container image \"{0}\" is not present with pull policy of Never")]
    NeverPull(String),
    /// The registry refused or failed; `message` is the registry's own (e.g. `manifest unknown`).
    #[error("failed to pull image \"{image}\": {message}")]
    Registry {
        /// The image as asked.
        image: String,
        /// The registry's message.
        message: String,
    },
    /// The manifest is not usable (bad digest, no entry for this platform, unknown media type).
    #[error("failed to pull image \"{image}\": {message}")]
    BadManifest {
        /// The image as asked.
        image: String,
        /// What is wrong.
        message: String,
    },
    /// Storing or unpacking failed.
    #[error("failed to pull image \"{image}\": {source}")]
    Store {
        /// The image as asked.
        image: String,
        /// The cause.
        #[source]
        source: StoreError,
    },
}

impl PullError {
    /// The reason in a container's waiting state: `ErrImageNeverPull` or `ErrImagePull`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NeverPull(_) => "ErrImageNeverPull",
            _ => "ErrImagePull",
        }
    }
}

/// Progress of one pull, for the kubelet's Pulling/Pulled events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullProgress {
    /// Contacting the registry.
    Pulling {
        /// The normalised reference.
        image: String,
    },
    /// One layer is present, either downloaded now (`downloaded` bytes) or already stored.
    Layer {
        /// The layer blob digest.
        digest: Digest,
        /// Bytes downloaded for it (0 when it was already in the store).
        downloaded: u64,
    },
    /// The image is ready.
    Pulled {
        /// The normalised reference.
        image: String,
        /// The image size (manifest, config and layer blobs).
        size: u64,
        /// Bytes actually downloaded.
        downloaded: u64,
        /// Time the pull took.
        duration: Duration,
    },
}

/// Options of a [`Puller`].
#[derive(Debug, Clone)]
pub struct PullerConfig {
    /// Registries (`host[:port]`) reached over plain HTTP, from the agent's config.
    pub insecure_registries: Vec<String>,
    /// Operating system images are resolved for.
    pub os: String,
    /// Architecture images are resolved for (`amd64`, `arm64`).
    pub architecture: String,
    /// How layers are unpacked.
    pub unpack: UnpackOptions,
}

impl Default for PullerConfig {
    fn default() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        Self {
            insecure_registries: Vec::new(),
            os: "linux".into(),
            architecture: architecture.into(),
            unpack: UnpackOptions::default(),
        }
    }
}

/// The result of a pull: the stored record, and whether anything was fetched.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The image's record in the store.
    pub record: ImageRecord,
    /// False when the policy let the stored image be used without contacting the registry.
    pub contacted_registry: bool,
}

/// Pulls images into a store.
pub struct Puller {
    /// One client per (registry, credentials): oci-client remembers the first credentials it is
    /// given for a registry, and pods may pull from one registry with different pull secrets.
    clients: std::sync::Mutex<HashMap<(String, String), Arc<oci_client::Client>>>,
    store: Arc<ImageStore>,
    config: PullerConfig,
}

impl std::fmt::Debug for Puller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Puller")
            .field("store", &self.store.root())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct IndexEntries {
    manifests: Vec<IndexEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexEntry {
    digest: String,
    #[serde(default)]
    platform: Option<IndexPlatform>,
}

#[derive(Deserialize)]
struct IndexPlatform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
}

impl Puller {
    /// A puller into `store`.
    pub fn new(store: Arc<ImageStore>, config: PullerConfig) -> Self {
        // reqwest is built without a bundled crypto provider; use ring, as the rest of rkube does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            clients: std::sync::Mutex::default(),
            store,
            config,
        }
    }

    fn client_for(&self, registry: &str, auth: &RegistryAuth) -> Arc<oci_client::Client> {
        let secret = match auth {
            RegistryAuth::Anonymous => String::new(),
            RegistryAuth::Basic(u, p) => format!("basic:{u}:{p}"),
            RegistryAuth::Bearer(t) => format!("bearer:{t}"),
        };
        // Keyed by a digest so the map holds no credentials of its own.
        let key = (
            registry.to_string(),
            Digest::of(secret.as_bytes()).to_string(),
        );
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(key)
            .or_insert_with(|| {
                Arc::new(oci_client::Client::new(ClientConfig {
                    protocol: ClientProtocol::HttpsExcept(self.config.insecure_registries.clone()),
                    connect_timeout: Some(Duration::from_secs(30)),
                    read_timeout: Some(Duration::from_secs(120)),
                    ..ClientConfig::default()
                }))
            })
            .clone()
    }

    /// The store pulled into.
    pub fn store(&self) -> &Arc<ImageStore> {
        &self.store
    }

    /// Makes `image` present according to `policy`, reporting progress to `progress`.
    ///
    /// # Errors
    /// [`PullError::NeverPull`] for policy Never with the image absent; otherwise the registry's
    /// or the store's error.
    pub async fn pull(
        &self,
        image: &ImageRef,
        auth: &RegistryAuth,
        policy: PullPolicy,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<Pulled, PullError> {
        let name = image.to_string();
        let store_err = |source| PullError::Store {
            image: name.clone(),
            source,
        };
        if policy != PullPolicy::Always {
            let present = self.store.get_image(image).map_err(store_err)?;
            let complete = present
                .as_ref()
                .is_some_and(|r| r.layers.iter().all(|l| self.store.has_layer(&l.digest)));
            match (present, complete) {
                (Some(record), true) => {
                    self.store.touch_image(image).await.map_err(store_err)?;
                    return Ok(Pulled {
                        record,
                        contacted_registry: false,
                    });
                }
                _ if policy == PullPolicy::Never => return Err(PullError::NeverPull(name)),
                _ => {}
            }
        }
        let _writing = self.store.write_guard().await;
        progress(PullProgress::Pulling {
            image: name.clone(),
        });
        let started = Instant::now();
        let (record, downloaded) = self.fetch(image, auth, progress).await?;
        self.store.put_image(&record).await.map_err(store_err)?;
        let duration = started.elapsed();
        tracing::info!(image = %name, size = record.size, downloaded, ?duration, "image pulled");
        progress(PullProgress::Pulled {
            image: name,
            size: record.size,
            downloaded,
            duration,
        });
        Ok(Pulled {
            record,
            contacted_registry: true,
        })
    }

    fn oci_ref(image: &ImageRef, digest: Option<&Digest>) -> oci_client::Reference {
        let (reg, repo) = (image.registry().to_string(), image.repository().to_string());
        match (digest.or(image.digest()), image.tag()) {
            (Some(d), _) => oci_client::Reference::with_digest(reg, repo, d.to_string()),
            (None, tag) => oci_client::Reference::with_tag(
                reg,
                repo,
                tag.unwrap_or(super::reference::DEFAULT_TAG).to_string(),
            ),
        }
    }

    async fn fetch(
        &self,
        image: &ImageRef,
        auth: &RegistryAuth,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<(ImageRecord, u64), PullError> {
        let name = image.to_string();
        let reg_err = |e: OciDistributionError| PullError::Registry {
            image: name.clone(),
            message: registry_message(&e),
        };
        let bad = |message: String| PullError::BadManifest {
            image: name.clone(),
            message,
        };
        let store_err = |source| PullError::Store {
            image: name.clone(),
            source,
        };

        let client = self.client_for(image.registry(), auth);
        // The manifest, resolved through an index to this platform, with its digest checked.
        let mut reference = Self::oci_ref(image, None);
        let mut expected = image.digest().cloned();
        let mut hops = 0;
        let (manifest_bytes, manifest_digest) = loop {
            let (bytes, _) = client
                .pull_manifest_raw(&reference, auth, &MANIFEST_TYPES)
                .await
                .map_err(reg_err)?;
            let digest = Digest::of(&bytes);
            if let Some(want) = &expected {
                if *want != digest {
                    return Err(bad(format!("manifest digest is {digest}, expected {want}")));
                }
            }
            let value: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| bad(format!("manifest is not JSON: {e}")))?;
            if value.get("manifests").is_none() {
                break (bytes, digest);
            }
            hops += 1;
            if hops > 2 {
                return Err(bad("nested image indexes".into()));
            }
            let index: IndexEntries = serde_json::from_value(value)
                .map_err(|e| bad(format!("invalid image index: {e}")))?;
            let chosen = index
                .manifests
                .iter()
                .find(|m| {
                    m.platform.as_ref().is_some_and(|p| {
                        p.os == self.config.os && p.architecture == self.config.architecture
                    })
                })
                .ok_or_else(|| {
                    bad(format!(
                        "no image for platform {}/{}",
                        self.config.os, self.config.architecture
                    ))
                })?;
            let digest: Digest = chosen
                .digest
                .parse()
                .map_err(|e| bad(format!("index entry: {e}")))?;
            reference = Self::oci_ref(image, Some(&digest));
            expected = Some(digest);
        };
        let manifest: OciImageManifest = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| bad(format!("invalid image manifest: {e}")))?;
        self.store
            .write_blob(Some(&manifest_digest), &manifest_bytes)
            .await
            .map_err(store_err)?;
        let mut downloaded = 0u64;

        // The config.
        let config_digest: Digest = manifest
            .config
            .digest
            .parse()
            .map_err(|e| bad(format!("config descriptor: {e}")))?;
        downloaded += self
            .fetch_blob(&client, &reference, &manifest.config, &config_digest)
            .await
            .map_err(store_err)?;
        let config_bytes = self.store.read_blob(&config_digest).map_err(store_err)?;
        let config: ImageConfig = serde_json::from_slice(&config_bytes)
            .map_err(|e| bad(format!("invalid image config: {e}")))?;

        // The layers: fetched concurrently, each once, then unpacked once.
        let mut layers = Vec::new();
        for (i, desc) in manifest.layers.iter().enumerate() {
            if !is_layer_type(&desc.media_type) {
                return Err(bad(format!(
                    "unsupported layer media type {}",
                    desc.media_type
                )));
            }
            let digest: Digest = desc
                .digest
                .parse()
                .map_err(|e| bad(format!("layer descriptor: {e}")))?;
            layers.push(LayerRecord {
                digest,
                media_type: desc.media_type.clone(),
                size: u64::try_from(desc.size).unwrap_or(0),
                diff_id: config.rootfs.diff_ids.get(i).cloned(),
            });
        }
        let fetches = manifest.layers.iter().zip(&layers).map(|(desc, layer)| {
            let (reference, client) = (&reference, &client);
            async move {
                let n = self
                    .fetch_blob(client, reference, desc, &layer.digest)
                    .await?;
                self.store
                    .ensure_layer(&layer.digest, layer.diff_id.as_ref(), self.config.unpack)
                    .await?;
                progress(PullProgress::Layer {
                    digest: layer.digest.clone(),
                    downloaded: n,
                });
                Ok::<u64, StoreError>(n)
            }
        });
        for n in futures::future::try_join_all(fetches)
            .await
            .map_err(store_err)?
        {
            downloaded += n;
        }
        let size = manifest_bytes.len() as u64
            + config_bytes.len() as u64
            + layers.iter().map(|l| l.size).sum::<u64>();
        let now = now_unix();
        let record = ImageRecord {
            reference: image.to_string(),
            manifest_digest,
            config_digest,
            layers,
            size,
            created_unix: now,
            last_used_unix: now,
        };
        Ok((record, downloaded))
    }

    /// Fetches one blob unless stored; returns the bytes downloaded.
    async fn fetch_blob(
        &self,
        client: &oci_client::Client,
        reference: &oci_client::Reference,
        desc: &OciDescriptor,
        digest: &Digest,
    ) -> Result<u64, StoreError> {
        let written = self
            .store
            .ensure_blob(digest, || async {
                client
                    .pull_blob_stream(reference, desc)
                    .await
                    .map(|s| futures::TryStreamExt::map_err(s.stream, BlobFetchError::from))
                    .map_err(|e| BlobFetchError(registry_message(&e)))
            })
            .await?;
        Ok(match written {
            BlobWrite::Present => 0,
            BlobWrite::Written(n) => n,
        })
    }
}

/// A blob download error, as text.
#[derive(Debug)]
struct BlobFetchError(String);

impl std::fmt::Display for BlobFetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<std::io::Error> for BlobFetchError {
    fn from(e: std::io::Error) -> Self {
        Self(e.to_string())
    }
}

fn is_layer_type(t: &str) -> bool {
    t.starts_with("application/vnd.oci.image.layer.")
        || t.starts_with("application/vnd.docker.image.rootfs.")
}

/// The registry's own words for an error: the messages of its error envelope when it sent one.
fn registry_message(e: &OciDistributionError) -> String {
    match e {
        OciDistributionError::RegistryError { envelope, .. } => {
            let msgs: Vec<String> = envelope
                .errors
                .iter()
                .map(|e| {
                    if e.message.is_empty() {
                        format!("{:?}", e.code).to_lowercase()
                    } else {
                        e.message.clone()
                    }
                })
                .collect();
            msgs.join("; ")
        }
        OciDistributionError::UnauthorizedError { .. } => {
            "unauthorized: authentication required".into()
        }
        OciDistributionError::AuthenticationFailure(m) => format!("unauthorized: {m}"),
        OciDistributionError::ImageManifestNotFoundError(m) => format!("manifest unknown: {m}"),
        other => other.to_string(),
    }
}

/// Manifest digests of `records` (for [`ImageStore::collect_images`]'s in-use set).
pub fn manifest_digests<'a>(records: impl IntoIterator<Item = &'a ImageRecord>) -> HashSet<Digest> {
    records
        .into_iter()
        .map(|r| r.manifest_digest.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::PullPolicy;

    #[test]
    fn default_policy_follows_the_tag() {
        assert_eq!(PullPolicy::default_for("nginx"), PullPolicy::Always);
        assert_eq!(PullPolicy::default_for("nginx:latest"), PullPolicy::Always);
        assert_eq!(
            PullPolicy::default_for("127.0.0.1:5000/app"),
            PullPolicy::Always
        );
        assert_eq!(
            PullPolicy::default_for("127.0.0.1:5000/app:v1"),
            PullPolicy::IfNotPresent
        );
        assert_eq!(
            PullPolicy::default_for(
                "app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            ),
            PullPolicy::IfNotPresent
        );
        assert_eq!(PullPolicy::parse("Never"), Some(PullPolicy::Never));
        assert_eq!(PullPolicy::parse("never"), None);
    }
}
