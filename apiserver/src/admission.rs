//! What every write goes through before it is stored: unknown fields pruned (refused under
//! `fieldValidation=Strict`, warned about under `Warn`), Kubernetes' defaults, then validation,
//! answered as a 422 Status with one cause per field error. Custom resources are checked
//! against their CRD's schema the same way.

use rkube_api::registry::Subresource;
use rkube_api::schema::Schemas;
use rkube_api::{defaults, validation};
use serde_json::Value;

use crate::resources::ServedResource;
use crate::status::{ApiError, ApiResult};
use crate::{object, structural};

/// How unknown fields are answered (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn parse(v: Option<&str>) -> ApiResult<Self> {
        match v {
            None | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}; supported values are Ignore, Warn, Strict"
            ))),
        }
    }
}

/// Checks, defaults and validates `obj`, a new object (`old` is `None`) or the next version of
/// `old`; returns the warnings for the client.
pub fn admit(
    resource: &ServedResource,
    subresource: Option<Subresource>,
    obj: &mut Value,
    old: Option<&Value>,
    fields: FieldValidation,
) -> ApiResult<Vec<String>> {
    let mut warnings = Vec::new();
    let schema = match &resource.custom {
        Some(custom) => custom.schema.clone(),
        None => Schemas::builtin()
            .definition_for_kind(&resource.group, &resource.version, &resource.kind)
            .and_then(|d| Schemas::builtin().definition(d))
            .cloned(),
    };
    if let (Some(schema), None) = (&schema, &resource.custom) {
        if let Some(message) = structural::type_mismatch(schema, obj) {
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: {message}",
                kind = resource.kind,
                version = resource.version,
            )));
        }
    }
    if let Some(schema) = &schema {
        let unknown = structural::prune(schema, obj);
        if !unknown.is_empty() {
            match fields {
                FieldValidation::Strict => {
                    let list: Vec<String> = unknown
                        .iter()
                        .map(|f| format!("unknown field {f:?}"))
                        .collect();
                    return Err(ApiError::bad_request(format!(
                        "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                        list.join(", "),
                        kind = resource.kind,
                        version = resource.version,
                    )));
                }
                FieldValidation::Warn => {
                    warnings.extend(unknown.iter().map(|f| format!("unknown field {f:?}")));
                }
                FieldValidation::Ignore => {}
            }
        }
    }
    let mut causes: Vec<structural::Cause> = Vec::new();
    if resource.custom.is_some() {
        if let Some(schema) = &schema {
            structural::apply_defaults(schema, obj);
            causes.extend(structural::validate(schema, obj));
        }
    } else {
        defaults::apply_defaults(&resource.group, &resource.version, &resource.kind, obj);
    }
    // A binding is the one write allowed to set a pod's node.
    let old = if subresource == Some(Subresource::Binding) {
        None
    } else {
        old
    };
    let errors = if resource.custom.is_some() {
        validation::validate_metadata(
            obj,
            old,
            resource.namespaced,
            validation::NameRule::Dns1123Subdomain,
        )
    } else {
        validation::validate(&resource.group, &resource.kind, obj, old)
    };
    for e in errors {
        causes.push((e.kind.reason().to_owned(), e.field.clone(), e.body()));
    }
    if causes.is_empty() {
        return Ok(warnings);
    }
    Err(ApiError::invalid(
        &resource.group,
        &resource.kind,
        object::name(obj),
        causes,
    ))
}
