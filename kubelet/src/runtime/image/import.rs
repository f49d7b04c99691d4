//! Importing images without a registry, for air-gapped machines: an OCI image layout (directory
//! or tar archive) or a `docker save` archive (`manifest.json` and layer tars) into the store.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oci_client::manifest::OciImageManifest;
use serde::Deserialize;

use super::digest::Digest;
use super::reference::ImageRef;
use super::store::records::now_unix;
use super::store::{ImageConfig, ImageRecord, ImageStore, LayerRecord, StoreError};
use super::unpack::UnpackOptions;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Annotations naming an image in an OCI layout: containerd's full name first, then the OCI one.
const NAME_ANNOTATIONS: [&str; 2] = [
    "io.containerd.image.name",
    "org.opencontainers.image.ref.name",
];

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The archive or directory could not be read.
    #[error("failed to import {path}: {source}")]
    Io {
        /// The input.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Neither `index.json` nor `manifest.json` was found.
    #[error("failed to import {0}: neither an OCI image layout nor a docker save archive")]
    UnknownFormat(PathBuf),
    /// A file of the archive is not what its format says.
    #[error("failed to import: {0}")]
    Invalid(String),
    /// Storing blobs or unpacking layers failed.
    #[error("failed to import: {0}")]
    Store(#[from] StoreError),
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<IndexEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexEntry {
    digest: Digest,
    #[serde(default)]
    annotations: HashMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifest {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Where the blobs and metadata of the input are, once its files are known.
struct Source {
    /// `index.json` contents.
    index: Option<Vec<u8>>,
    /// `manifest.json` contents.
    docker_manifest: Option<Vec<u8>>,
    /// Paths inside the input of files stored as blobs (tar input), with their digests.
    files: HashMap<String, Digest>,
}

/// Imports the image(s) of `path` (an OCI layout directory, an OCI layout tar or a `docker save`
/// tar, gzip-compressed or not) into `store`; returns the records written.
///
/// # Errors
/// [`ImportError`] for unreadable or malformed input and store failures.
pub async fn import(
    store: Arc<ImageStore>,
    path: &Path,
    platform: (&str, &str),
    unpack: UnpackOptions,
) -> Result<Vec<ImageRecord>, ImportError> {
    let _writing = store.write_guard().await;
    let io = |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (src_store, src_path) = (store.clone(), path.to_path_buf());
    let source = tokio::task::spawn_blocking(move || read_source(&src_store, &src_path))
        .await
        .map_err(|e| io(std::io::Error::other(e.to_string())))??;

    let mut images: Vec<(String, Digest)> = Vec::new();
    if let Some(dm) = &source.docker_manifest {
        let entries: Vec<DockerManifest> = serde_json::from_slice(dm)
            .map_err(|e| ImportError::Invalid(format!("manifest.json: {e}")))?;
        for e in entries {
            let blob = |p: &str| {
                source
                    .files
                    .get(p.trim_start_matches("./"))
                    .cloned()
                    .ok_or_else(|| ImportError::Invalid(format!("manifest.json names missing {p}")))
            };
            let config = blob(&e.config)?;
            let mut layers = Vec::new();
            for l in &e.layers {
                let d = blob(l)?;
                let size = std::fs::metadata(store.blob_path(&d)).map_or(0, |m| m.len());
                layers.push(serde_json::json!({"mediaType": DOCKER_LAYER, "digest": d.to_string(), "size": size}));
            }
            let config_size = std::fs::metadata(store.blob_path(&config)).map_or(0, |m| m.len());
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config.to_string(), "size": config_size},
                "layers": layers,
            });
            let bytes = serde_json::to_vec(&manifest)
                .map_err(|e| ImportError::Invalid(format!("manifest: {e}")))?;
            let digest = store.write_blob(None, &bytes).await?;
            for tag in e.repo_tags.unwrap_or_default() {
                images.push((tag, digest.clone()));
            }
        }
    } else if let Some(index) = &source.index {
        let index: Index = serde_json::from_slice(index)
            .map_err(|e| ImportError::Invalid(format!("index.json: {e}")))?;
        for entry in index.manifests {
            let Some(name) = NAME_ANNOTATIONS
                .iter()
                .find_map(|a| entry.annotations.get(*a))
                .filter(|n| n.contains('/') || n.contains(':'))
            else {
                tracing::warn!(manifest = %entry.digest, "skipping unnamed image in OCI layout");
                continue;
            };
            let digest = resolve_platform(&store, entry.digest, platform)?;
            images.push((name.clone(), digest));
        }
    } else {
        return Err(ImportError::UnknownFormat(path.to_path_buf()));
    }

    let mut records = Vec::new();
    for (name, manifest_digest) in images {
        let image = ImageRef::parse(&name)
            .map_err(|e| ImportError::Invalid(format!("image name {name:?}: {e}")))?;
        let record = record_for(&store, &image, manifest_digest, unpack).await?;
        store.put_image(&record).await?;
        tracing::info!(image = %record.reference, "image imported");
        records.push(record);
    }
    Ok(records)
}

/// Follows an index entry to the manifest for `platform` when it is itself an index.
fn resolve_platform(
    store: &ImageStore,
    mut digest: Digest,
    (os, arch): (&str, &str),
) -> Result<Digest, ImportError> {
    for _ in 0..3 {
        let bytes = store.read_blob(&digest)?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ImportError::Invalid(format!("manifest {digest}: {e}")))?;
        if value.get("manifests").is_none() {
            return Ok(digest);
        }
        let index: Index = serde_json::from_value(value)
            .map_err(|e| ImportError::Invalid(format!("index {digest}: {e}")))?;
        let chosen = index
            .manifests
            .into_iter()
            .find(|m| {
                m.platform
                    .as_ref()
                    .is_some_and(|p| p.os == os && p.architecture == arch)
            })
            .ok_or_else(|| ImportError::Invalid(format!("no image for {os}/{arch} in {digest}")))?;
        digest = chosen.digest;
    }
    Err(ImportError::Invalid("nested image indexes".into()))
}

async fn record_for(
    store: &ImageStore,
    image: &ImageRef,
    manifest_digest: Digest,
    unpack: UnpackOptions,
) -> Result<ImageRecord, ImportError> {
    let bytes = store.read_blob(&manifest_digest)?;
    let manifest: OciImageManifest = serde_json::from_slice(&bytes)
        .map_err(|e| ImportError::Invalid(format!("manifest {manifest_digest}: {e}")))?;
    let config_digest: Digest = manifest
        .config
        .digest
        .parse()
        .map_err(|e| ImportError::Invalid(format!("config descriptor: {e}")))?;
    let config_bytes = store.read_blob(&config_digest)?;
    let config: ImageConfig = serde_json::from_slice(&config_bytes)
        .map_err(|e| ImportError::Invalid(format!("image config: {e}")))?;
    let mut layers = Vec::new();
    for (i, desc) in manifest.layers.iter().enumerate() {
        let digest: Digest = desc
            .digest
            .parse()
            .map_err(|e| ImportError::Invalid(format!("layer descriptor: {e}")))?;
        let diff_id = config.rootfs.diff_ids.get(i).cloned();
        store
            .ensure_layer(&digest, diff_id.as_ref(), unpack)
            .await?;
        layers.push(LayerRecord {
            digest,
            media_type: desc.media_type.clone(),
            size: u64::try_from(desc.size).unwrap_or(0),
            diff_id,
        });
    }
    let now = now_unix();
    Ok(ImageRecord {
        reference: image.to_string(),
        manifest_digest,
        config_digest,
        size: bytes.len() as u64
            + config_bytes.len() as u64
            + layers.iter().map(|l| l.size).sum::<u64>(),
        layers,
        created_unix: now,
        last_used_unix: now,
    })
}

/// Reads the input's metadata and stores its blobs (blocking).
fn read_source(store: &ImageStore, path: &Path) -> Result<Source, ImportError> {
    let io = |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.is_dir() {
        let read_opt = |name: &str| match std::fs::read(path.join(name)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        };
        let index = read_opt("index.json")?;
        let docker_manifest = read_opt("manifest.json")?;
        let blobs = path.join("blobs/sha256");
        let mut files = HashMap::new();
        if blobs.is_dir() {
            for entry in std::fs::read_dir(&blobs).map_err(io)? {
                let entry = entry.map_err(io)?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let expected: Digest = format!("sha256:{name}")
                    .parse()
                    .map_err(|e| ImportError::Invalid(format!("blob file {name}: {e}")))?;
                let file = std::fs::File::open(entry.path()).map_err(io)?;
                store.write_blob_from_reader(Some(&expected), file)?;
                files.insert(format!("blobs/sha256/{name}"), expected);
            }
        }
        return Ok(Source {
            index,
            docker_manifest,
            files,
        });
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = BufReader::new(file);
    let gz = reader.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    let input: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let mut archive = tar::Archive::new(input);
    let mut source = Source {
        index: None,
        docker_manifest: None,
        files: HashMap::new(),
    };
    for entry in archive.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = entry
            .path()
            .map_err(io)?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        match name.as_str() {
            "index.json" | "manifest.json" => {
                let mut buf = Vec::new();
                entry.read_to_end(&mut buf).map_err(io)?;
                if name == "index.json" {
                    source.index = Some(buf);
                } else {
                    source.docker_manifest = Some(buf);
                }
            }
            _ => {
                let expected = name
                    .strip_prefix("blobs/sha256/")
                    .map(|hex| format!("sha256:{hex}").parse::<Digest>())
                    .transpose()
                    .map_err(|e| ImportError::Invalid(format!("blob file {name}: {e}")))?;
                let (digest, _) = store.write_blob_from_reader(expected.as_ref(), &mut entry)?;
                source.files.insert(name, digest);
            }
        }
    }
    Ok(source)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
#[path = "import_tests.rs"]
mod tests;
