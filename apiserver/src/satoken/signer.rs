//! The service-account token signer: an ES256 (ECDSA P-256, SHA-256) key pair made at first
//! start under `<data-dir>/tls/` (`sa.key`, PKCS#8; `sa.pub`, SubjectPublicKeyInfo) and loaded
//! afterwards, the claims Kubernetes puts in a bound token, and their verification.
//!
//! Kubernetes signs with RS256 by default but accepts ECDSA keys just as well; ES256 keeps the
//! key generation inside the ring-based crypto the server already uses for TLS.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::SubjectPublicKeyInfoDer;
use serde::{Deserialize, Serialize};

/// The issuer and the API server's own audience (kube-apiserver's usual
/// `--service-account-issuer`, which is also its default `--api-audiences`).
pub const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

/// How far `exp` and `nbf` may be off before a token is refused, as Kubernetes allows.
pub const LEEWAY_SECS: i64 = 60;

/// What went wrong making or loading the key pair, or signing.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("failed to access {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to make the service-account key: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path}: not a usable ECDSA P-256 key: {message}")]
    Key { path: PathBuf, message: String },
    #[error("failed to sign a token: {0}")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the token is not a JWT signed by this server: {0}")]
    Signature(String),
    #[error("the token was issued by {0:?}, not by this server")]
    Issuer(String),
    #[error("the token is not meant for audience {0:?}")]
    Audience(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's subject {0:?} is not a service account")]
    Subject(String),
}

/// An object a token names: its name and uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub name: String,
    pub uid: String,
}

/// The private `kubernetes.io` claim: whose token it is, and what it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    pub namespace: String,
    pub serviceaccount: ObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
}

/// The claims of a bound service-account token, as Kubernetes writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
    pub nbf: i64,
    pub sub: String,
}

/// The service-account user name: `system:serviceaccount:<namespace>:<name>`.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

impl Claims {
    /// The claims of a token for service account `sa` in `namespace`, valid from `now` for
    /// `lifetime_secs`, for `audiences`, bound to nothing yet.
    pub fn new(
        namespace: &str,
        sa: ObjectRef,
        audiences: Vec<String>,
        now: i64,
        lifetime_secs: i64,
    ) -> Self {
        Claims {
            aud: audiences,
            exp: now + lifetime_secs,
            iat: now,
            iss: API_AUDIENCE.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            sub: service_account_user(namespace, &sa.name),
            kubernetes: KubernetesClaims {
                namespace: namespace.to_owned(),
                serviceaccount: sa,
                pod: None,
                secret: None,
            },
            nbf: now,
        }
    }

    /// Checks the claims a signature does not: issuer, audience, validity window (with
    /// [`LEEWAY_SECS`]) and a subject that matches the `kubernetes.io` claim.
    ///
    /// # Errors
    /// The first check that fails.
    pub fn check(&self, audience: &str, now: i64) -> Result<(), VerifyError> {
        if self.iss != API_AUDIENCE {
            return Err(VerifyError::Issuer(self.iss.clone()));
        }
        if !self.aud.iter().any(|a| a == audience) {
            return Err(VerifyError::Audience(audience.to_owned()));
        }
        if now > self.exp + LEEWAY_SECS {
            return Err(VerifyError::Expired);
        }
        if now + LEEWAY_SECS < self.nbf {
            return Err(VerifyError::NotYetValid);
        }
        let k = &self.kubernetes;
        if k.namespace.is_empty()
            || k.serviceaccount.name.is_empty()
            || self.sub != service_account_user(&k.namespace, &k.serviceaccount.name)
        {
            return Err(VerifyError::Subject(self.sub.clone()));
        }
        Ok(())
    }
}

/// Signs and verifies service-account tokens with this server's key pair.
pub struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The key id in every token's header: the unpadded base64url SHA-256 of the public key
    /// (SubjectPublicKeyInfo DER), as Kubernetes derives it.
    key_id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Loads `sa.key` from `dir`, making it first when it is missing. `sa.pub` is derived
    /// from it and (re)written whenever it is missing or differs, so the two always match.
    ///
    /// # Errors
    /// When the files cannot be written or read, or `sa.key` is not a P-256 private key.
    pub fn load_or_create(dir: &Path) -> Result<Self, KeyError> {
        fs::create_dir_all(dir).map_err(|source| KeyError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let key_path = dir.join("sa.key");
        let pub_path = dir.join("sa.pub");
        let unusable = |message: String| KeyError::Key {
            path: key_path.clone(),
            message,
        };
        let key = if key_path.exists() {
            let pem = fs::read_to_string(&key_path).map_err(|source| KeyError::Io {
                path: key_path.clone(),
                source,
            })?;
            rcgen::KeyPair::from_pem(&pem).map_err(|e| unusable(e.to_string()))?
        } else {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            crate::tls::write_private(&key_path, &key.serialize_pem())
                .map_err(|e| unusable(e.to_string()))?;
            key
        };
        if !key.is_compatible(&rcgen::PKCS_ECDSA_P256_SHA256) {
            return Err(unusable("the key is not ECDSA P-256".into()));
        }
        let public_pem = key.public_key_pem();
        if fs::read_to_string(&pub_path).ok().as_deref() != Some(public_pem.as_str()) {
            fs::write(&pub_path, &public_pem).map_err(|source| KeyError::Io {
                path: pub_path.clone(),
                source,
            })?;
        }
        Self::from_pem(&key.serialize_pem(), &public_pem).map_err(unusable)
    }

    /// A signer from a PKCS#8 private key and its SubjectPublicKeyInfo public key, both PEM.
    ///
    /// # Errors
    /// A message saying which half is unusable.
    pub fn from_pem(private_pem: &str, public_pem: &str) -> Result<Self, String> {
        let encoding = EncodingKey::from_ec_pem(private_pem.as_bytes())
            .map_err(|e| format!("private key: {e}"))?;
        let decoding = DecodingKey::from_ec_pem(public_pem.as_bytes())
            .map_err(|e| format!("public key: {e}"))?;
        let spki = SubjectPublicKeyInfoDer::from_pem_slice(public_pem.as_bytes())
            .map_err(|e| format!("public key: {e}"))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, spki.as_ref());
        let key_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
        Ok(Signer {
            encoding,
            decoding,
            key_id,
        })
    }

    /// The key id tokens carry in their header.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs `claims` into a compact JWT.
    ///
    /// # Errors
    /// [`KeyError::Sign`] when signing fails.
    pub fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(KeyError::Sign)
    }

    /// The claims of `token` when this server signed it and the claims hold at `now` (seconds
    /// since the epoch) for `audience`. Whether the objects it names still exist is the
    /// caller's to check.
    ///
    /// # Errors
    /// [`VerifyError`] saying why the token is refused.
    pub fn verify(&self, token: &str, audience: &str, now: i64) -> Result<Claims, VerifyError> {
        let claims = self.verify_signature(token)?;
        claims.check(audience, now)?;
        Ok(claims)
    }

    /// The claims of `token` when this server signed it, without checking them.
    ///
    /// # Errors
    /// [`VerifyError::Signature`] for anything but a well-formed ES256 JWT signed by this key.
    pub fn verify_signature(&self, token: &str) -> Result<Claims, VerifyError> {
        let mut validation = Validation::new(Algorithm::ES256);
        // Time, issuer and audience are checked by `Claims::check`, against an explicit `now`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| VerifyError::Signature(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa() -> ObjectRef {
        ObjectRef {
            name: "bot".into(),
            uid: "0b5a6c1e-0000-4000-8000-000000000001".into(),
        }
    }

    fn signer() -> (tempfile::TempDir, Signer) {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::load_or_create(dir.path()).unwrap();
        (dir, signer)
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn key_pair_is_made_once_and_loaded_later() {
        let (dir, first) = signer();
        let key = fs::read_to_string(dir.path().join("sa.key")).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
        let public = fs::read_to_string(dir.path().join("sa.pub")).unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("sa.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = Signer::load_or_create(dir.path()).unwrap();
        assert_eq!(first.key_id(), again.key_id());
        // A lost or stale public key is derived again from the private one.
        fs::remove_file(dir.path().join("sa.pub")).unwrap();
        assert_eq!(
            Signer::load_or_create(dir.path()).unwrap().key_id(),
            first.key_id()
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("sa.pub")).unwrap(),
            public
        );
        // A token signed before a restart verifies after it.
        let claims = Claims::new("default", sa(), vec![API_AUDIENCE.into()], NOW, 3600);
        let token = first.sign(&claims).unwrap();
        assert_eq!(
            again.verify(&token, API_AUDIENCE, NOW + 10).unwrap(),
            claims
        );
    }

    #[test]
    fn a_key_of_another_kind_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        fs::write(dir.path().join("sa.key"), ed.serialize_pem()).unwrap();
        let e = Signer::load_or_create(dir.path()).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("sa.key: not a usable ECDSA P-256 key: the key is not ECDSA P-256"),
            "{e}"
        );
        fs::write(dir.path().join("sa.key"), "garbage").unwrap();
        assert!(matches!(
            Signer::load_or_create(dir.path()),
            Err(KeyError::Key { .. })
        ));
    }

    #[test]
    fn token_carries_kubernetes_claims_and_header() {
        let (_dir, signer) = signer();
        let mut claims = Claims::new("team-a", sa(), vec![API_AUDIENCE.into()], NOW, 3600);
        claims.kubernetes.pod = Some(ObjectRef {
            name: "web-0".into(),
            uid: "pod-uid".into(),
        });
        let token = signer.sign(&claims).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |s: &str| -> serde_json::Value {
            serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(s)
                    .unwrap(),
            )
            .unwrap()
        };
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], signer.key_id());
        let body = decode(parts[1]);
        assert_eq!(body["iss"], API_AUDIENCE);
        assert_eq!(body["sub"], "system:serviceaccount:team-a:bot");
        assert_eq!(body["aud"], serde_json::json!([API_AUDIENCE]));
        assert_eq!(body["iat"], NOW);
        assert_eq!(body["nbf"], NOW);
        assert_eq!(body["exp"], NOW + 3600);
        assert_eq!(
            body["kubernetes.io"],
            serde_json::json!({
                "namespace": "team-a",
                "serviceaccount": {"name": "bot", "uid": "0b5a6c1e-0000-4000-8000-000000000001"},
                "pod": {"name": "web-0", "uid": "pod-uid"},
            })
        );
    }

    #[test]
    fn expiry_and_not_before_allow_a_minute_of_skew() {
        let (_dir, signer) = signer();
        let claims = Claims::new("default", sa(), vec![API_AUDIENCE.into()], NOW, 600);
        let token = signer.sign(&claims).unwrap();
        assert!(signer.verify(&token, API_AUDIENCE, NOW + 600).is_ok());
        assert!(signer.verify(&token, API_AUDIENCE, NOW + 660).is_ok());
        assert_eq!(
            signer.verify(&token, API_AUDIENCE, NOW + 661),
            Err(VerifyError::Expired)
        );
        assert!(signer.verify(&token, API_AUDIENCE, NOW - 60).is_ok());
        assert_eq!(
            signer.verify(&token, API_AUDIENCE, NOW - 61),
            Err(VerifyError::NotYetValid)
        );
    }

    #[test]
    fn a_token_already_expired_when_signed_is_refused_now() {
        let (_dir, signer) = signer();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims::new("default", sa(), vec![API_AUDIENCE.into()], now - 7200, 3600);
        let token = signer.sign(&claims).unwrap();
        assert_eq!(
            signer.verify(&token, API_AUDIENCE, now),
            Err(VerifyError::Expired)
        );
    }

    #[test]
    fn audience_must_include_the_api() {
        let (_dir, signer) = signer();
        let claims = Claims::new("default", sa(), vec!["vault".into()], NOW, 3600);
        let token = signer.sign(&claims).unwrap();
        assert_eq!(
            signer.verify(&token, API_AUDIENCE, NOW),
            Err(VerifyError::Audience(API_AUDIENCE.into()))
        );
        assert!(signer.verify(&token, "vault", NOW).is_ok());
        let both = Claims::new(
            "default",
            sa(),
            vec!["vault".into(), API_AUDIENCE.into()],
            NOW,
            3600,
        );
        assert!(signer
            .verify(&signer.sign(&both).unwrap(), API_AUDIENCE, NOW)
            .is_ok());
    }

    #[test]
    fn another_key_or_a_tampered_token_is_refused() {
        let (_d1, ours) = signer();
        let (_d2, theirs) = signer();
        let claims = Claims::new("default", sa(), vec![API_AUDIENCE.into()], NOW, 3600);
        let foreign = theirs.sign(&claims).unwrap();
        assert!(matches!(
            ours.verify(&foreign, API_AUDIENCE, NOW),
            Err(VerifyError::Signature(_))
        ));
        // Same signature, claims changed to another service account.
        let token = ours.sign(&claims).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims.clone();
        forged.sub = service_account_user("kube-system", "admin");
        forged.kubernetes.namespace = "kube-system".into();
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("{}.{}.{}", parts[0], body, parts[2]);
        assert!(matches!(
            ours.verify(&tampered, API_AUDIENCE, NOW),
            Err(VerifyError::Signature(_))
        ));
        assert!(matches!(
            ours.verify("not-a-jwt", API_AUDIENCE, NOW),
            Err(VerifyError::Signature(_))
        ));
        // An unsigned token ("alg": "none") is never accepted.
        let none_header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(matches!(
            ours.verify(&unsigned, API_AUDIENCE, NOW),
            Err(VerifyError::Signature(_))
        ));
    }

    #[test]
    fn subject_must_match_the_kubernetes_claim() {
        let (_dir, signer) = signer();
        let mut claims = Claims::new("default", sa(), vec![API_AUDIENCE.into()], NOW, 3600);
        claims.sub = "system:serviceaccount:default:other".into();
        let token = signer.sign(&claims).unwrap();
        assert_eq!(
            signer.verify(&token, API_AUDIENCE, NOW),
            Err(VerifyError::Subject(
                "system:serviceaccount:default:other".into()
            ))
        );
        let mut claims = Claims::new("default", sa(), vec![API_AUDIENCE.into()], NOW, 3600);
        claims.iss = "https://elsewhere".into();
        assert_eq!(
            signer.verify(&signer.sign(&claims).unwrap(), API_AUDIENCE, NOW),
            Err(VerifyError::Issuer("https://elsewhere".into()))
        );
    }
}
