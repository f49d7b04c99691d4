//! Bearer authentication with service-account tokens: a JWT this server signed, not expired,
//! meant for the API audience, whose service account (and bound pod or secret) still exists
//! with the uid the token names.

use std::collections::HashMap;

use parking_lot::Mutex;
use serde_json::Value;

use super::signer::{service_account_user, Claims, ObjectRef, Signer, VerifyError, API_AUDIENCE};
use crate::auth::Identity;
use crate::object;
use crate::ApiServer;

/// Verified tokens kept to skip the signature check; emptied when it grows past this.
const CACHE_LIMIT: usize = 4096;

/// An object deleted (marked) longer ago than this no longer backs a token, as in Kubernetes.
const DELETION_GRACE_SECS: i64 = 60;

/// Why a well-signed token is refused, or [`VerifyError`] for one that is not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Token(#[from] VerifyError),
    #[error("{kind} {namespace}/{name} no longer exists")]
    Gone {
        kind: &'static str,
        namespace: String,
        name: String,
    },
    #[error("{kind} {namespace}/{name} has uid {actual}, the token names {expected}")]
    UidMismatch {
        kind: &'static str,
        namespace: String,
        name: String,
        expected: String,
        actual: String,
    },
    #[error("looking up {kind} {namespace}/{name}: {message}")]
    Lookup {
        kind: &'static str,
        namespace: String,
        name: String,
        message: String,
    },
}

/// Authenticates service-account tokens and signs new ones.
#[derive(Debug)]
pub struct TokenAuthenticator {
    signer: Signer,
    /// Tokens whose signature has been checked, with their claims.
    verified: Mutex<HashMap<String, Claims>>,
}

/// The identity Kubernetes gives a service account.
pub fn service_account_identity(namespace: &str, name: &str) -> Identity {
    Identity {
        user: service_account_user(namespace, name),
        groups: vec![
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{namespace}"),
            "system:authenticated".to_owned(),
        ],
    }
}

impl TokenAuthenticator {
    pub fn new(signer: Signer) -> Self {
        TokenAuthenticator {
            signer,
            verified: Mutex::new(HashMap::new()),
        }
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The claims of `token` when it is signed by this server and holds at `now` for the API
    /// audience (a cache spares the signature check of a token seen before).
    ///
    /// # Errors
    /// [`VerifyError`] saying why not.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, VerifyError> {
        let cached = self.verified.lock().get(token).cloned();
        let claims = match cached {
            Some(c) => c,
            None => {
                let c = self.signer.verify_signature(token)?;
                let mut cache = self.verified.lock();
                if cache.len() >= CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert(token.to_owned(), c.clone());
                c
            }
        };
        claims.check(API_AUDIENCE, now)?;
        Ok(claims)
    }

    /// The identity of `token`, after checking that the objects it names still exist.
    ///
    /// # Errors
    /// [`Refusal`] saying why the token does not authenticate.
    pub async fn authenticate(&self, server: &ApiServer, token: &str) -> Result<Identity, Refusal> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = self.verify(token, now)?;
        let k = &claims.kubernetes;
        check_alive(
            server,
            "serviceaccounts",
            "ServiceAccount",
            &k.namespace,
            &k.serviceaccount,
            now,
        )
        .await?;
        if let Some(pod) = &k.pod {
            check_alive(server, "pods", "Pod", &k.namespace, pod, now).await?;
        }
        if let Some(secret) = &k.secret {
            check_alive(server, "secrets", "Secret", &k.namespace, secret, now).await?;
        }
        Ok(service_account_identity(
            &k.namespace,
            &k.serviceaccount.name,
        ))
    }
}

/// Fails unless the core object `plural` `namespace/want.name` exists with uid `want.uid` and
/// was not deleted more than [`DELETION_GRACE_SECS`] ago.
async fn check_alive(
    server: &ApiServer,
    plural: &str,
    kind: &'static str,
    namespace: &str,
    want: &ObjectRef,
    now: i64,
) -> Result<(), Refusal> {
    let lookup_error = |message: String| Refusal::Lookup {
        kind,
        namespace: namespace.to_owned(),
        name: want.name.clone(),
        message,
    };
    let gone = || Refusal::Gone {
        kind,
        namespace: namespace.to_owned(),
        name: want.name.clone(),
    };
    let obj = super::get_core(server, plural, namespace, &want.name)
        .await
        .map_err(|e| lookup_error(e.message))?
        .ok_or_else(gone)?;
    let uid = object::meta_str(&obj, "uid").unwrap_or_default();
    if uid != want.uid {
        return Err(Refusal::UidMismatch {
            kind,
            namespace: namespace.to_owned(),
            name: want.name.clone(),
            expected: want.uid.clone(),
            actual: uid.to_owned(),
        });
    }
    if deleted_before(&obj, now - DELETION_GRACE_SECS) {
        return Err(gone());
    }
    Ok(())
}

/// Whether `obj` was marked for deletion before `cutoff` (seconds since the epoch).
fn deleted_before(obj: &Value, cutoff: i64) -> bool {
    object::meta_str(obj, "deletionTimestamp")
        .and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
        .is_some_and(|t| t.unix_timestamp() < cutoff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_names_the_service_account_and_its_groups() {
        let id = service_account_identity("team-a", "bot");
        assert_eq!(id.user, "system:serviceaccount:team-a:bot");
        assert_eq!(
            id.groups,
            vec![
                "system:serviceaccounts",
                "system:serviceaccounts:team-a",
                "system:authenticated"
            ]
        );
    }

    #[test]
    fn deletion_counts_after_a_minute() {
        let t = time::OffsetDateTime::parse(
            "2027-01-01T00:00:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp();
        let obj = json!({"metadata": {"deletionTimestamp": "2027-01-01T00:00:00Z"}});
        assert!(!deleted_before(&obj, t));
        assert!(deleted_before(&obj, t + 1));
        assert!(!deleted_before(&json!({"metadata": {}}), t + 1000));
    }

    #[test]
    fn verify_caches_the_signature_but_not_the_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let auth = TokenAuthenticator::new(Signer::load_or_create(dir.path()).unwrap());
        let sa = ObjectRef {
            name: "bot".into(),
            uid: "u1".into(),
        };
        let claims = Claims::new("default", sa, vec![API_AUDIENCE.into()], 1_000_000, 600);
        let token = auth.signer().sign(&claims).unwrap();
        assert_eq!(auth.verify(&token, 1_000_100).unwrap(), claims);
        assert_eq!(auth.verify(&token, 1_000_100).unwrap(), claims);
        assert_eq!(auth.verify(&token, 1_000_661), Err(VerifyError::Expired));
        assert!(matches!(
            auth.verify("a.b.c", 1_000_100),
            Err(VerifyError::Signature(_))
        ));
    }
}
