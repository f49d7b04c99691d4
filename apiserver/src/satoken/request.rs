//! `POST .../serviceaccounts/{name}/token`: an `authentication.k8s.io/v1` TokenRequest, answered
//! with a signed token for the service account, bound to a pod or secret when asked.

use std::sync::Arc;

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::signer::{Claims, ObjectRef, API_AUDIENCE};
use crate::body::{self, Body};
use crate::object;
use crate::rest::Call;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

/// A token lives this long unless the request says otherwise.
pub const DEFAULT_EXPIRATION_SECS: i64 = 3600;
/// Kubernetes refuses shorter lifetimes.
pub const MIN_EXPIRATION_SECS: i64 = 600;
/// Kubernetes refuses longer lifetimes (2^32 seconds).
pub const MAX_EXPIRATION_SECS: i64 = 1 << 32;

const GROUP: &str = "authentication.k8s.io";
const API_VERSION: &str = "authentication.k8s.io/v1";
const KIND: &str = "TokenRequest";

/// What a TokenRequest asks for, defaults applied and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    pub bound: Option<BoundRef>,
}

/// `spec.boundObjectRef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
}

impl BoundRef {
    fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or_default()
    }

    /// The object's type as Kubernetes prints a GroupVersionKind: `apps/v1, Kind=Deployment`.
    fn type_name(&self) -> String {
        let version = self.api_version.rsplit('/').next().unwrap_or_default();
        format!("{}/{version}, Kind={}", self.group(), self.kind)
    }

    fn to_json(&self) -> Value {
        let mut v = json!({"kind": self.kind, "apiVersion": self.api_version, "name": self.name});
        if !self.uid.is_empty() {
            v["uid"] = json!(self.uid);
        }
        v
    }
}

fn str_field(v: &Value, field: &str) -> String {
    v.get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Reads a TokenRequest body: apiVersion and kind when given must be TokenRequest's;
/// audiences default to the API's, the lifetime to an hour and must lie within
/// [`MIN_EXPIRATION_SECS`]..=[`MAX_EXPIRATION_SECS`].
///
/// # Errors
/// 400 for a body of another type or malformed fields, 422 for a lifetime out of range.
pub fn parse_spec(request: &Value) -> ApiResult<TokenSpec> {
    if !request.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    let api_version = str_field(request, "apiVersion");
    if !api_version.is_empty() && api_version != API_VERSION {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({API_VERSION})"
        )));
    }
    let kind = str_field(request, "kind");
    if !kind.is_empty() && kind != KIND {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({KIND})"
        )));
    }
    let spec = request.get("spec").cloned().unwrap_or(Value::Null);
    let audiences = match spec.get("audiences") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|a| {
                a.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::bad_request("spec.audiences must be a list of strings")
                })
            })
            .collect::<ApiResult<_>>()?,
        Some(_) => {
            return Err(ApiError::bad_request(
                "spec.audiences must be a list of strings",
            ))
        }
    };
    let audiences = if audiences.is_empty() {
        vec![API_AUDIENCE.to_owned()]
    } else {
        audiences
    };
    let expiration_seconds = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION_SECS,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("spec.expirationSeconds must be an integer"))?,
    };
    let too = |why: &str| {
        ApiError::invalid(
            GROUP,
            KIND,
            "",
            vec![(
                "FieldValueInvalid".into(),
                "spec.expirationSeconds".into(),
                format!("Invalid value: {expiration_seconds}: may not specify a duration {why}"),
            )],
        )
    };
    if expiration_seconds < MIN_EXPIRATION_SECS {
        return Err(too("less than 10 minutes"));
    }
    if expiration_seconds > MAX_EXPIRATION_SECS {
        return Err(too("larger than 2^32 seconds"));
    }
    let bound = match spec.get("boundObjectRef") {
        None | Some(Value::Null) => None,
        Some(r) if r.is_object() => Some(BoundRef {
            api_version: str_field(r, "apiVersion"),
            kind: str_field(r, "kind"),
            name: str_field(r, "name"),
            uid: str_field(r, "uid"),
        }),
        Some(_) => {
            return Err(ApiError::bad_request(
                "spec.boundObjectRef must be an object",
            ))
        }
    };
    Ok(TokenSpec {
        audiences,
        expiration_seconds,
        bound,
    })
}

/// The answer to a TokenRequest: the request with Kubernetes' metadata, the effective spec
/// and the token.
pub fn response(sa: &Value, spec: &TokenSpec, token: &str, now: i64) -> Value {
    let at = |secs: i64| {
        time::OffsetDateTime::from_unix_timestamp(secs)
            .map(object::rfc3339)
            .unwrap_or_default()
    };
    let mut metadata = json!({
        "name": object::name(sa),
        "namespace": object::namespace(sa).unwrap_or_default(),
        "creationTimestamp": at(now),
    });
    if let Some(uid) = object::meta_str(sa, "uid") {
        metadata["uid"] = json!(uid);
    }
    json!({
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": metadata,
        "spec": {
            "audiences": spec.audiences,
            "expirationSeconds": spec.expiration_seconds,
            "boundObjectRef": spec.bound.as_ref().map(BoundRef::to_json),
        },
        "status": {
            "token": token,
            "expirationTimestamp": at(now + spec.expiration_seconds),
        },
    })
}

/// Serves the TokenRequest on `call` (the service account named by the path).
pub async fn create(
    server: &Arc<ApiServer>,
    call: &Call,
    bytes: &[u8],
) -> ApiResult<Response<Body>> {
    let request = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        body::parse(&call.headers, bytes)?
    };
    let spec = parse_spec(&request)?;
    let namespace = call.namespace.clone().unwrap_or_default();
    let name = call.name();
    let sa = super::get_core(server, "serviceaccounts", &namespace, name)
        .await?
        .ok_or_else(|| ApiError::not_found("", "serviceaccounts", name))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let sa_ref = ObjectRef {
        name: name.to_owned(),
        uid: object::meta_str(&sa, "uid").unwrap_or_default().to_owned(),
    };
    let mut claims = Claims::new(
        &namespace,
        sa_ref,
        spec.audiences.clone(),
        now,
        spec.expiration_seconds,
    );
    if let Some(bound) = &spec.bound {
        bind(server, &namespace, name, bound, &mut claims).await?;
    }
    if call.query.dry_run() {
        return Ok(body::json(
            StatusCode::CREATED,
            &response(&sa, &spec, "", now),
        ));
    }
    let token = server
        .service_accounts()
        .signer()
        .sign(&claims)
        .map_err(ApiError::internal)?;
    Ok(body::json(
        StatusCode::CREATED,
        &response(&sa, &spec, &token, now),
    ))
}

/// Puts the bound pod or secret into `claims`, checking it exists (with the uid the reference
/// names, if any) and, for a pod, that it runs as the service account.
async fn bind(
    server: &ApiServer,
    namespace: &str,
    sa_name: &str,
    bound: &BoundRef,
    claims: &mut Claims,
) -> ApiResult<()> {
    let plural = match (bound.group(), bound.kind.as_str()) {
        ("", "Pod") => "pods",
        ("", "Secret") => "secrets",
        _ => {
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {}",
                bound.type_name()
            )))
        }
    };
    let obj = super::get_core(server, plural, namespace, &bound.name)
        .await?
        .ok_or_else(|| ApiError::not_found("", plural, &bound.name))?;
    if plural == "pods" {
        let runs_as = obj
            .get("spec")
            .and_then(|s| s.get("serviceAccountName"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("default");
        if runs_as != sa_name {
            return Err(ApiError::bad_request(format!(
                "cannot bind token for serviceaccount {sa_name:?} to pod running with different serviceaccount name."
            )));
        }
    }
    let uid = object::meta_str(&obj, "uid").unwrap_or_default().to_owned();
    if !bound.uid.is_empty() && bound.uid != uid {
        return Err(ApiError::conflict_with(
            bound.group(),
            &bound.kind,
            &bound.name,
            &format!(
                "the UID in the bound object reference ({}) does not match the UID in record. \
                 The object might have been deleted and then recreated",
                bound.uid
            ),
        ));
    }
    let reference = ObjectRef {
        name: bound.name.clone(),
        uid,
    };
    if plural == "pods" {
        claims.kubernetes.pod = Some(reference);
    } else {
        claims.kubernetes.secret = Some(reference);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_an_empty_request() {
        let spec = parse_spec(&json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": {"audiences": null, "expirationSeconds": null, "boundObjectRef": null},
            "status": {"token": "", "expirationTimestamp": null},
        }))
        .unwrap();
        assert_eq!(
            spec,
            TokenSpec {
                audiences: vec!["https://kubernetes.default.svc.cluster.local".into()],
                expiration_seconds: 3600,
                bound: None,
            }
        );
        assert_eq!(parse_spec(&json!({})).unwrap(), spec);
    }

    #[test]
    fn audiences_lifetime_and_binding_are_read() {
        let spec = parse_spec(&json!({"spec": {
            "audiences": ["vault", "api"],
            "expirationSeconds": 600,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web-0", "uid": "u1"},
        }}))
        .unwrap();
        assert_eq!(spec.audiences, vec!["vault", "api"]);
        assert_eq!(spec.expiration_seconds, 600);
        let bound = spec.bound.unwrap();
        assert_eq!(bound.group(), "");
        assert_eq!(bound.type_name(), "/v1, Kind=Pod");
        assert_eq!(
            bound.to_json(),
            json!({"kind": "Pod", "apiVersion": "v1", "name": "web-0", "uid": "u1"})
        );
    }

    #[test]
    fn lifetime_out_of_range_is_invalid_as_kubernetes_says() {
        let e = parse_spec(&json!({"spec": {"expirationSeconds": 10}})).unwrap_err();
        assert_eq!(e.code, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            e.message,
            "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 10: \
             may not specify a duration less than 10 minutes"
        );
        let e = parse_spec(&json!({"spec": {"expirationSeconds": 4_294_967_297_i64}})).unwrap_err();
        assert_eq!(
            e.message,
            "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: \
             4294967297: may not specify a duration larger than 2^32 seconds"
        );
        assert!(parse_spec(&json!({"spec": {"expirationSeconds": 4_294_967_296_i64}})).is_ok());
    }

    #[test]
    fn bodies_of_another_type_are_refused() {
        let e = parse_spec(&json!({"kind": "ConfigMap", "apiVersion": "authentication.k8s.io/v1"}))
            .unwrap_err();
        assert_eq!(e.code, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.message,
            "the kind in the data (ConfigMap) does not match the expected kind (TokenRequest)"
        );
        let e = parse_spec(&json!({"spec": {"audiences": "x"}})).unwrap_err();
        assert_eq!(e.message, "spec.audiences must be a list of strings");
        let e = parse_spec(&json!({"spec": {"expirationSeconds": "1h"}})).unwrap_err();
        assert_eq!(e.message, "spec.expirationSeconds must be an integer");
    }

    #[test]
    fn other_kinds_name_their_type() {
        let r = BoundRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "web".into(),
            uid: String::new(),
        };
        assert_eq!(r.group(), "apps");
        assert_eq!(r.type_name(), "apps/v1, Kind=Deployment");
    }

    #[test]
    fn response_carries_the_token_and_its_expiry() {
        let sa = json!({"metadata": {"name": "bot", "namespace": "default", "uid": "sa-uid"}});
        let spec = parse_spec(&json!({})).unwrap();
        let out = response(&sa, &spec, "tok", 1_800_000_000);
        assert_eq!(
            out,
            json!({
                "kind": "TokenRequest",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {
                    "name": "bot",
                    "namespace": "default",
                    "uid": "sa-uid",
                    "creationTimestamp": "2027-01-15T08:00:00Z",
                },
                "spec": {
                    "audiences": ["https://kubernetes.default.svc.cluster.local"],
                    "expirationSeconds": 3600,
                    "boundObjectRef": null,
                },
                "status": {"token": "tok", "expirationTimestamp": "2027-01-15T09:00:00Z"},
            })
        );
    }
}
