//! The cluster's certificate authority and the certificates signed by it.
//!
//! At first start the server makes a CA (`<data-dir>/tls/ca.crt`, `ca.key`) and an admin client
//! certificate (`admin.crt`, `admin.key`, user `system:admin` in group `system:masters`); later
//! starts load them. The serving certificate is signed anew at every start so that it always
//! names the addresses the server is given.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// What went wrong making or loading certificates.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: not a usable PEM certificate or key: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("making a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The CA and the admin identity, as PEM.
#[derive(Debug, Clone)]
pub struct ClusterCa {
    pub ca_cert_pem: String,
    ca_key_pem: String,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
}

/// How long issued certificates are valid: ten years for the CA, one for leaf certificates.
const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
const LEAF_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

/// The admin user's name and group (the group RBAC will treat as cluster-admin).
pub const ADMIN_USER: &str = "system:admin";
pub const ADMIN_GROUP: &str = "system:masters";

impl ClusterCa {
    /// Loads the CA from `dir`, creating it (and the admin certificate) on first start.
    pub fn load_or_create(dir: &Path) -> Result<Self, TlsError> {
        fs::create_dir_all(dir).map_err(|source| TlsError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let ca_cert = dir.join("ca.crt");
        let ca_key = dir.join("ca.key");
        let admin_cert = dir.join("admin.crt");
        let admin_key = dir.join("admin.key");
        if !ca_cert.exists() {
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::default();
            params.distinguished_name = name("rkube-ca", None);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            validity(&mut params, CA_LIFETIME);
            let cert = params.self_signed(&key)?;
            write_private(&ca_key, &key.serialize_pem())?;
            write(&ca_cert, &cert.pem())?;
        }
        let ca_cert_pem = read(&ca_cert)?;
        let ca_key_pem = read(&ca_key)?;
        let mut ca = ClusterCa {
            ca_cert_pem,
            ca_key_pem,
            admin_cert_pem: String::new(),
            admin_key_pem: String::new(),
        };
        if !admin_cert.exists() {
            let (cert, key) = ca.issue_client(ADMIN_USER, &[ADMIN_GROUP])?;
            write_private(&admin_key, &key)?;
            write(&admin_cert, &cert)?;
        }
        ca.admin_cert_pem = read(&admin_cert)?;
        ca.admin_key_pem = read(&admin_key)?;
        Ok(ca)
    }

    fn issuer(&self) -> Result<Issuer<'static, KeyPair>, TlsError> {
        let key = KeyPair::from_pem(&self.ca_key_pem)?;
        Ok(Issuer::from_ca_cert_pem(&self.ca_cert_pem, key)?)
    }

    /// A client certificate for `user` in `groups` (subject CN and O, as Kubernetes reads them);
    /// returns (certificate PEM, key PEM).
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> Result<(String, String), TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(user, Some(groups));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        validity(&mut params, LEAF_LIFETIME);
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// A serving certificate for the given DNS names and addresses; returns (cert PEM, key PEM).
    pub fn issue_server(
        &self,
        dns_names: &[String],
        ips: &[IpAddr],
    ) -> Result<(String, String), TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name("rkube-apiserver", None);
        for dns in dns_names {
            params
                .subject_alt_names
                .push(SanType::DnsName(dns.clone().try_into()?));
        }
        for ip in ips {
            params.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params, LEAF_LIFETIME);
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// The rustls configuration serving `cert_pem`/`key_pem`: client certificates signed by
    /// this CA are verified when offered, and requests without one authenticate otherwise.
    pub fn server_config(
        &self,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.ca_cert_pem.as_bytes()) {
            let cert = cert.map_err(|e| TlsError::Config(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| TlsError::Config(e.to_string()))?;
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The user and groups a client certificate names (subject CN and O).
pub fn client_identity(cert: &CertificateDer<'_>) -> Option<(String, Vec<String>)> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let subject = parsed.subject();
    let user = subject.iter_common_name().next()?.as_str().ok()?.to_owned();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_owned))
        .collect();
    Some((user, groups))
}

fn name(common_name: &str, organizations: Option<&[&str]>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for org in organizations.unwrap_or_default() {
        dn.push(DnType::OrganizationName, *org);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

fn validity(params: &mut CertificateParams, lifetime: Duration) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + lifetime;
}

fn read(path: &Path) -> Result<String, TlsError> {
    let text = fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.to_owned(),
        source,
    })?;
    if !text.contains("-----BEGIN") {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            message: "no PEM block".into(),
        });
    }
    Ok(text)
}

fn write(path: &Path, text: &str) -> Result<(), TlsError> {
    fs::write(path, text).map_err(|source| TlsError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes a file readable by its owner only (keys, kubeconfigs), replacing it atomically.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io_err = |source| TlsError::Io {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err)?;
    file.write_all(text.as_bytes()).map_err(io_err)?;
    file.sync_all().map_err(io_err)?;
    fs::rename(&tmp, path).map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_persists_and_issues_client_identities() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ClusterCa::load_or_create(dir.path()).unwrap();
        let again = ClusterCa::load_or_create(dir.path()).unwrap();
        assert_eq!(ca.ca_cert_pem, again.ca_cert_pem);
        assert_eq!(ca.admin_cert_pem, again.admin_cert_pem);
        let der = CertificateDer::from_pem_slice(ca.admin_cert_pem.as_bytes()).unwrap();
        let (user, groups) = client_identity(&der).unwrap();
        assert_eq!(user, ADMIN_USER);
        assert_eq!(groups, vec![ADMIN_GROUP.to_owned()]);
        let (cert, key) = ca
            .issue_server(&["localhost".into()], &["127.0.0.1".parse().unwrap()])
            .unwrap();
        ca.server_config(&cert, &key).unwrap();
    }
}
