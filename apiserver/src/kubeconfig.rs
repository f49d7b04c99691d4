//! The admin kubeconfig: the cluster's address and CA, and the admin client certificate.

use std::path::Path;

use base64::Engine;

use crate::tls::ClusterCa;

/// The kubeconfig text for the admin user of the cluster at `server` (`https://host:port`).
pub fn admin(ca: &ClusterCa, server: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: {ca}
    server: {server}
  name: rkube
contexts:
- context:
    cluster: rkube
    user: admin
  name: rkube
current-context: rkube
preferences: {{}}
users:
- name: admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
",
        ca = b64(&ca.ca_cert_pem),
        cert = b64(&ca.admin_cert_pem),
        key = b64(&ca.admin_key_pem),
    )
}

/// Writes a kubeconfig readable by its owner only.
pub fn write(path: &Path, text: &str) -> Result<(), crate::tls::TlsError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| crate::tls::TlsError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    crate::tls::write_private(path, text)
}
