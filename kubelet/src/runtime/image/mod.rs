//! Images for the embedded runtime: references, the content-addressed store on disk, pulls from
//! registries, safe layer unpacking into overlayfs form, and imports of image archives.
//!
//! # Layout on disk (under the store root, `<data-dir>/agent/images` for the kubelet)
//!
//! - `blobs/sha256/<hex>`: manifests, configs and compressed layers, verified before they appear;
//! - `layers/sha256/<hex>/`: each layer unpacked once (keyed by its blob digest), shared by every
//!   image and container using it, ready to be an overlayfs lowerdir;
//! - `images/<hex of the reference>.json`: one record per reference (manifest digest, config,
//!   layers, last use);
//! - `tmp/`: partial downloads and unpacks, renamed into place when complete.
//!
//! # Modules
//!
//! - [`reference`](mod@reference) and [`digest`]: parsing and normalising what pod specs and manifests name;
//! - [`store`]: the on-disk store, its locking, pruning and image GC;
//! - [`unpack`]: turning a layer tar into an overlayfs lower directory, safely;
//! - [`pull`]: registries, pull policies and progress;
//! - [`import`]: OCI layouts and `docker save` archives for machines without a registry.

pub mod digest;
pub mod import;
pub mod pull;
pub mod reference;
pub mod store;
pub mod unpack;

pub use digest::{Digest, DigestError};
pub use pull::{PullError, PullPolicy, PullProgress, Puller, PullerConfig, RegistryAuth};
pub use reference::{ImageRef, ReferenceError};
pub use store::{ImageRecord, ImageStore, StoreError};
