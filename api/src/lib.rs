//! The shared Kubernetes object model every rkube component builds on.
//!
//! This crate does no I/O: it holds pure data and pure functions, except [`client`] (the
//! `client` feature): helpers on kube-rs for rkube's own components.
//!
//! # Layout
//!
//! - [`registry`]: the built-in resources the API server serves (group, version, kind, plural,
//!   short names, scope, subresources, verbs), kubectl-style name resolution, and the storage key
//!   layout under `/registry/`.
//! - [`labels`]: label selectors (string and structured forms), label key and value validation.
//! - [`gojson`]: JSON text as Go writes it, where users see the exact bytes.
//! - [`fields`]: field selectors (`metadata.name=x,spec.nodeName!=y`).
//! - [`quantity`]: exact resource quantities (`100m`, `1.5Gi`, `1e3`) with canonical formatting.
//! - [`names`]: DNS-1123 and qualified-name validation, `generateName`, well-known names.
//! - [`printers`]: the Table columns and cells kube-apiserver returns for `kubectl get`
//!   (`as=Table`), per kind, and Kubernetes' human durations (the AGE column).
//! - [`jsonpath`]: kubectl's JSONPath templates (`-o jsonpath=...`, CRD printer columns),
//!   parsed once and evaluated on JSON objects.
//! - [`defaults`]: the defaults kube-apiserver fills into built-in objects (JSON form) on
//!   create and update.
//! - [`validation`]: kube-apiserver's validation of built-in objects, with its field error
//!   texts and the 422 `Status` message.
//! - [`schema`]: the OpenAPI schemas of the built-in kinds (Kubernetes 1.33, from k8s-openapi),
//!   annotated from one hand-written table of patch strategies, merge keys and list/map types;
//!   lookups by definition name, by group/version/kind, and field by field.
//! - [`openapi`]: the `/openapi/v2` (Swagger 2.0) and `/openapi/v3` (index and per-group-version
//!   OpenAPI 3.0) documents of the served resources, built-in and custom, shaped for kubectl.
//! - [`patch`]: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch,
//!   applied as kube-apiserver applies them, and the three-way patches client-side
//!   `kubectl apply` computes (strategic for built-in kinds, JSON merge for custom resources).
//! - [`convert`]: conversion between the served versions of one stored resource
//!   (`autoscaling/v1` and `v2` HorizontalPodAutoscalers, core and `events.k8s.io` Events),
//!   lossless both ways, and each such resource's storage version.

#[cfg(feature = "client")]
pub mod client;
pub mod convert;
pub mod defaults;
pub mod fields;
pub mod gojson;
pub mod jsonpath;
pub mod labels;
pub mod names;
pub mod openapi;
pub mod patch;
pub mod printers;
pub mod quantity;
pub mod registry;
pub mod schema;
pub mod validation;

pub use quantity::Quantity;

/// Writes `items` separated by commas: the canonical form of label and field selectors.
pub(crate) fn write_comma_separated<T: std::fmt::Display>(
    f: &mut std::fmt::Formatter<'_>,
    items: &[T],
) -> std::fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}
