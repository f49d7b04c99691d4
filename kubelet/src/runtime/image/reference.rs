//! Image references (`nginx`, `nginx:1.25`, `127.0.0.1:5000/app:v1`, `app@sha256:...`), normalised
//! as Kubernetes and containerd do: default registry `docker.io`, `library/` for single-component
//! Docker Hub names, tag `latest` when neither tag nor digest is given.

use std::fmt;
use std::str::FromStr;

use super::digest::{Digest, DigestError};

/// The registry used when a reference names none.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The tag used when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A fully normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why an image reference is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The empty string.
    #[error("invalid reference format: empty image name")]
    Empty,
    /// The repository has upper-case letters (Docker rejects these).
    #[error("invalid reference format {0:?}: repository name must be lowercase")]
    NotLowercase(String),
    /// A path component or the registry host is not well formed.
    #[error("invalid reference format {0:?}")]
    InvalidFormat(String),
    /// The repository name (registry included) is longer than 255 characters.
    #[error(
        "invalid reference format {0:?}: repository name must not be more than 255 characters"
    )]
    NameTooLong(String),
    /// The tag is empty, too long or has characters outside `[A-Za-z0-9_.-]`.
    #[error("invalid reference format {reference:?}: invalid tag {tag:?}")]
    InvalidTag {
        /// The whole reference.
        reference: String,
        /// The offending tag.
        tag: String,
    },
    /// The part after `@` is not a valid digest.
    #[error("invalid reference format {reference:?}: {source}")]
    InvalidDigest {
        /// The whole reference.
        reference: String,
        /// Why the digest is invalid.
        #[source]
        source: DigestError,
    },
}

impl ImageRef {
    /// Parses and normalises `s`.
    ///
    /// # Errors
    /// [`ReferenceError`] for malformed references.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => {
                let digest =
                    d.parse::<Digest>()
                        .map_err(|source| ReferenceError::InvalidDigest {
                            reference: s.to_string(),
                            source,
                        })?;
                (rest, Some(digest))
            }
            None => (s, None),
        };
        // A tag is after the last ':' that comes after the last '/' (a ':' before belongs to a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(&rest[at + 1..]))
            }
            None => (rest, None),
        };
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(ReferenceError::InvalidTag {
                    reference: s.to_string(),
                    tag: tag.to_string(),
                });
            }
        }
        if name.is_empty() {
            return Err(ReferenceError::InvalidFormat(s.to_string()));
        }
        let (registry, path) = split_registry(name);
        if let Some(reg) = registry {
            if !valid_host(reg) {
                return Err(ReferenceError::InvalidFormat(s.to_string()));
            }
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ReferenceError::NotLowercase(s.to_string()));
        }
        if !path.split('/').all(valid_component) {
            return Err(ReferenceError::InvalidFormat(s.to_string()));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(ReferenceError::NameTooLong(s.to_string()));
        }
        let registry = match registry {
            None | Some("index.docker.io") => DEFAULT_REGISTRY.to_string(),
            Some(r) => r.to_string(),
        };
        let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (None, Some(_)) => None,
        };
        Ok(Self {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The registry host (and port), e.g. `docker.io` or `127.0.0.1:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry, e.g. `library/nginx`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if any (`latest` when the reference had neither tag nor digest).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference pins one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`, e.g. `docker.io/library/nginx`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same image pinned to `digest` (tag dropped): what the kubelet reports as imageID.
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(digest),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Splits off the registry: the first component is one when it has a '.' or ':' or is `localhost`,
/// or has upper-case letters (as Docker decides).
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn valid_host(host: &str) -> bool {
    let (h, port) = match host.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = !h.is_empty()
        && h.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    port_ok && host_ok
}

/// A path component: lowercase alphanumerics separated by one '.', one or two '_', or any '-'.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let (Some(first), Some(last)) = (b.first(), b.last()) else {
        return false;
    };
    if !is_alnum(*first) || !is_alnum(*last) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        ImageRef::parse(s).unwrap().to_string()
    }

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(norm("nginx:1.25"), "docker.io/library/nginx:1.25");
        assert_eq!(
            norm("docker.io/library/nginx"),
            "docker.io/library/nginx:latest"
        );
        assert_eq!(
            norm("index.docker.io/nginx"),
            "docker.io/library/nginx:latest"
        );
        assert_eq!(norm("bitnami/redis:7"), "docker.io/bitnami/redis:7");
        assert_eq!(norm("127.0.0.1:5000/app:v1"), "127.0.0.1:5000/app:v1");
        assert_eq!(norm("localhost/app"), "localhost/app:latest");
        assert_eq!(
            norm("registry.k8s.io/pause:3.10"),
            "registry.k8s.io/pause:3.10"
        );
        assert_eq!(
            norm(&format!("app@{D}")),
            format!("docker.io/library/app@{D}")
        );
        assert_eq!(
            norm(&format!("app:v1@{D}")),
            format!("docker.io/library/app:v1@{D}")
        );
        let r = ImageRef::parse("127.0.0.1:5000/team/app:v1").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "team/app");
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.digest(), None);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(ImageRef::parse(""), Err(ReferenceError::Empty));
        assert!(matches!(
            ImageRef::parse("Nginx"),
            Err(ReferenceError::NotLowercase(_))
        ));
        assert!(matches!(
            ImageRef::parse("nginx:"),
            Err(ReferenceError::InvalidTag { .. })
        ));
        assert!(matches!(
            ImageRef::parse("nginx:-x"),
            Err(ReferenceError::InvalidTag { .. })
        ));
        assert!(matches!(
            ImageRef::parse("nginx@sha256:abc"),
            Err(ReferenceError::InvalidDigest { .. })
        ));
        assert!(matches!(
            ImageRef::parse("a//b"),
            Err(ReferenceError::InvalidFormat(_))
        ));
        assert!(matches!(
            ImageRef::parse("-a"),
            Err(ReferenceError::InvalidFormat(_))
        ));
        assert!(matches!(
            ImageRef::parse("a..b"),
            Err(ReferenceError::InvalidFormat(_))
        ));
        assert!(matches!(
            ImageRef::parse("host:x/app"),
            Err(ReferenceError::InvalidFormat(_))
        ));
        let long = "a".repeat(256);
        assert!(matches!(
            ImageRef::parse(&long),
            Err(ReferenceError::NameTooLong(_))
        ));
    }
}
