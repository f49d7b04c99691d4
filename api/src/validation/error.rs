//! Field errors and the 422 message, rendered exactly as Kubernetes renders them.

use std::fmt;

use serde_json::Value;

use super::render;

/// The kind of a field error; each maps to a `StatusCause` reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A required value is missing.
    Required,
    /// The value is malformed or out of range.
    Invalid,
    /// The value is not one of an enumeration.
    NotSupported,
    /// The value must be unique and is not.
    Duplicate,
    /// The value is well-formed but not allowed here.
    Forbidden,
    /// The value is too long (the value itself is not shown).
    TooLong,
    /// A list has too many items.
    TooMany,
    /// A referenced value does not exist.
    NotFound,
    /// Validation itself failed.
    Internal,
}

impl ErrorKind {
    /// The `StatusCause` reason (`FieldValueRequired`, `FieldValueInvalid`, ...).
    pub const fn reason(self) -> &'static str {
        match self {
            ErrorKind::Required => "FieldValueRequired",
            ErrorKind::Invalid => "FieldValueInvalid",
            ErrorKind::NotSupported => "FieldValueNotSupported",
            ErrorKind::Duplicate => "FieldValueDuplicate",
            ErrorKind::Forbidden => "FieldValueForbidden",
            ErrorKind::TooLong => "FieldValueTooLong",
            ErrorKind::TooMany => "FieldValueTooMany",
            ErrorKind::NotFound => "FieldValueNotFound",
            ErrorKind::Internal => "InternalError",
        }
    }

    /// The human-readable title (`Required value`, `Invalid value`, ...).
    pub const fn title(self) -> &'static str {
        match self {
            ErrorKind::Required => "Required value",
            ErrorKind::Invalid => "Invalid value",
            ErrorKind::NotSupported => "Unsupported value",
            ErrorKind::Duplicate => "Duplicate value",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::TooLong => "Too long",
            ErrorKind::TooMany => "Too many",
            ErrorKind::NotFound => "Not found",
            ErrorKind::Internal => "Internal error",
        }
    }

    /// Whether Kubernetes shows the bad value for this kind of error.
    const fn shows_value(self) -> bool {
        !matches!(
            self,
            ErrorKind::Required | ErrorKind::Forbidden | ErrorKind::TooLong | ErrorKind::Internal
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// One problem with one field of an object.
///
/// `Display` gives Kubernetes' text: `{field}: {title}[: {value}][: {detail}]`, the value
/// rendered as Go prints it (strings quoted, numbers bare, `map[string]string{"a":"b"}`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// What is wrong.
    pub kind: ErrorKind,
    /// The field's path, e.g. `spec.containers[0].ports[1].containerPort`.
    pub field: String,
    /// The offending value; `None` when Kubernetes omits it.
    pub bad_value: Option<Value>,
    /// Further explanation; may be empty.
    pub detail: String,
    /// How Go prints the value when that is not derivable from its JSON form (Go structs such
    /// as `intstr.IntOrString{...}` or `v1.LabelSelector{...}`); overrides `bad_value` in text.
    pub go_repr: Option<String>,
}

impl FieldError {
    fn new(kind: ErrorKind, field: &str, bad_value: Option<Value>, detail: &str) -> FieldError {
        FieldError {
            kind,
            field: field.to_owned(),
            bad_value,
            detail: detail.to_owned(),
            go_repr: None,
        }
    }

    /// `Required value`.
    pub fn required(field: &str, detail: &str) -> FieldError {
        FieldError::new(ErrorKind::Required, field, None, detail)
    }

    /// `Invalid value: {value}: {detail}`.
    pub fn invalid(field: &str, value: impl Into<Value>, detail: &str) -> FieldError {
        FieldError::new(ErrorKind::Invalid, field, Some(value.into()), detail)
    }

    /// `Unsupported value: {value}: supported values: "a", "b"`.
    pub fn not_supported(field: &str, value: impl Into<Value>, supported: &[&str]) -> FieldError {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| render::go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        FieldError::new(ErrorKind::NotSupported, field, Some(value.into()), &detail)
    }

    /// `Duplicate value: {value}`.
    pub fn duplicate(field: &str, value: impl Into<Value>) -> FieldError {
        FieldError::new(ErrorKind::Duplicate, field, Some(value.into()), "")
    }

    /// `Forbidden: {detail}`.
    pub fn forbidden(field: &str, detail: &str) -> FieldError {
        FieldError::new(ErrorKind::Forbidden, field, None, detail)
    }

    /// `Too long: may not be more than {max} bytes`.
    pub fn too_long(field: &str, max: usize) -> FieldError {
        let detail = format!("may not be more than {max} bytes");
        FieldError::new(ErrorKind::TooLong, field, None, &detail)
    }

    /// `Too many: {actual}: must have at most {max} items`.
    pub fn too_many(field: &str, actual: usize, max: usize) -> FieldError {
        let detail = format!("must have at most {max} items");
        FieldError::new(
            ErrorKind::TooMany,
            field,
            Some(Value::from(actual)),
            &detail,
        )
    }

    /// `Not found: {value}`.
    pub fn not_found(field: &str, value: impl Into<Value>) -> FieldError {
        FieldError::new(ErrorKind::NotFound, field, Some(value.into()), "")
    }

    /// `Internal error: {detail}`.
    pub fn internal(field: &str, detail: &str) -> FieldError {
        FieldError::new(ErrorKind::Internal, field, None, detail)
    }

    /// Sets how Go prints the bad value (see [`FieldError::go_repr`]).
    pub fn with_go_repr(mut self, repr: String) -> FieldError {
        self.go_repr = Some(repr);
        self
    }

    /// The message without the field path, as a `StatusCause` carries it.
    pub fn body(&self) -> String {
        let mut s = self.kind.title().to_owned();
        if self.kind.shows_value() {
            if let Some(repr) = &self.go_repr {
                s.push_str(": ");
                s.push_str(repr);
            } else if let Some(value) = &self.bad_value {
                s.push_str(": ");
                s.push_str(&render::go_value(value));
            }
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// The message of the 422 `Status` for an invalid object, e.g.
/// `Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: ...`.
///
/// Several errors are listed in brackets, separated by `, `; identical messages appear once.
/// Core kinds (`group` empty) have no group suffix.
pub fn invalid_message(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> String {
    let qualified = if group.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}.{group}")
    };
    let mut messages: Vec<String> = Vec::new();
    for err in errors {
        let msg = err.to_string();
        if !messages.contains(&msg) {
            messages.push(msg);
        }
    }
    let all = match messages.len() {
        0 => "<nil>".to_owned(),
        1 => messages.remove(0),
        _ => format!("[{}]", messages.join(", ")),
    };
    format!("{qualified} {} is invalid: {all}", render::go_quote(name))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn renders_as_kubernetes() {
        assert_eq!(
            FieldError::invalid("spec.replicas", -1, "must be greater than or equal to 0")
                .to_string(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            FieldError::required("metadata.name", "name or generateName is required").to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
        assert_eq!(
            FieldError::required("spec.containers", "").to_string(),
            "spec.containers: Required value"
        );
        assert_eq!(
            FieldError::not_supported(
                "spec.type",
                "X",
                &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
            )
            .to_string(),
            "spec.type: Unsupported value: \"X\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""
        );
        assert_eq!(
            FieldError::invalid(
                "spec.template.metadata.labels",
                json!({"app": "x"}),
                "`selector` does not match template `labels`"
            )
            .to_string(),
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"
        );
        assert_eq!(
            FieldError::duplicate("spec.containers[1].name", "a").to_string(),
            "spec.containers[1].name: Duplicate value: \"a\""
        );
        assert_eq!(
            FieldError::forbidden("metadata.namespace", "not allowed on this type").to_string(),
            "metadata.namespace: Forbidden: not allowed on this type"
        );
        assert_eq!(
            FieldError::too_long("metadata.annotations", 262144).to_string(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
        assert_eq!(
            FieldError::too_many("spec.x", 5, 4).to_string(),
            "spec.x: Too many: 5: must have at most 4 items"
        );
        assert_eq!(
            FieldError::not_found("spec.containers[0].volumeMounts[0].name", "data").to_string(),
            "spec.containers[0].volumeMounts[0].name: Not found: \"data\""
        );
        assert_eq!(
            FieldError::invalid("spec.activeDeadlineSeconds", Value::Null, "x").to_string(),
            "spec.activeDeadlineSeconds: Invalid value: \"null\": x"
        );
    }

    #[test]
    fn reasons() {
        assert_eq!(ErrorKind::Required.reason(), "FieldValueRequired");
        assert_eq!(ErrorKind::NotSupported.reason(), "FieldValueNotSupported");
        assert_eq!(ErrorKind::Internal.reason(), "InternalError");
        assert_eq!(ErrorKind::TooMany.reason(), "FieldValueTooMany");
    }

    #[test]
    fn status_messages() {
        let one = [FieldError::invalid(
            "spec.replicas",
            -1,
            "must be greater than or equal to 0",
        )];
        assert_eq!(
            invalid_message("Deployment", "apps", "web", &one),
            "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        let two = [
            FieldError::required("spec.containers[0].name", ""),
            FieldError::required("spec.containers[0].image", ""),
            FieldError::required("spec.containers[0].image", ""),
        ];
        assert_eq!(
            invalid_message("Pod", "", "p", &two),
            "Pod \"p\" is invalid: [spec.containers[0].name: Required value, spec.containers[0].image: Required value]"
        );
    }
}
