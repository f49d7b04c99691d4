//! Service-account tokens: the signer and its key pair ([`signer`]), the TokenRequest
//! subresource that issues tokens ([`request`]), and bearer authentication with them
//! ([`authn`]).

pub mod authn;
pub mod request;
pub mod signer;

use serde_json::Value;

use crate::object;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

pub use authn::{service_account_identity, Refusal, TokenAuthenticator};
pub use signer::{Claims, KeyError, ObjectRef, Signer, VerifyError, API_AUDIENCE};

/// The core (`v1`) object `plural` `namespace/name` as stored, or `None` when there is none.
pub(crate) async fn get_core(
    server: &ApiServer,
    plural: &str,
    namespace: &str,
    name: &str,
) -> ApiResult<Option<Value>> {
    let resource = server
        .catalog
        .lookup("", "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))?;
    let key = resource.key(Some(namespace), name);
    let (rec, _) = server
        .backend
        .get(key.as_bytes(), 0)
        .await
        .map_err(|e| ApiError::from_storage(e, "", plural, name))?;
    rec.map(|rec| object::decode(&rec.value, rec.mod_revision))
        .transpose()
}
