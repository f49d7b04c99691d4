//! What every write goes through before it is stored: Kubernetes' defaults, then validation,
//! answered as a 422 Status with one cause per field error.

use rkube_api::registry::Subresource;
use rkube_api::validation;
use serde_json::Value;

use crate::object;
use crate::resources::ServedResource;
use crate::status::{ApiError, ApiResult};

/// Defaults and validates `obj`, a new object (`old` is `None`) or the next version of `old`.
pub fn admit(
    resource: &ServedResource,
    subresource: Option<Subresource>,
    obj: &mut Value,
    old: Option<&Value>,
) -> ApiResult<()> {
    // A binding is the one write allowed to set a pod's node.
    let old = if subresource == Some(Subresource::Binding) { None } else { old };
    let errors = validation::validate(&resource.group, &resource.kind, obj, old);
    if errors.is_empty() {
        return Ok(());
    }
    let causes = errors
        .iter()
        .map(|e| {
            let rendered = e.to_string();
            let message = rendered
                .strip_prefix(&format!("{}: ", e.field))
                .unwrap_or(&rendered)
                .to_owned();
            (e.kind.reason().to_owned(), e.field.clone(), message)
        })
        .collect();
    Err(ApiError::invalid(
        &resource.group,
        &resource.kind,
        object::name(obj),
        causes,
    ))
}
