//! Per-kind describe sections.

use serde_json::Value;

use super::{s, Writer};
use crate::discovery::ApiResource;

/// Writes the sections for `obj`.
pub fn describe(w: &mut Writer, resource: &ApiResource, obj: &Value) {
    generic(w, resource, obj);
}

fn generic(w: &mut Writer, resource: &ApiResource, obj: &Value) {
    w.field(0, "Name", s(obj, "/metadata/name"));
    if resource.namespaced {
        w.field(0, "Namespace", s(obj, "/metadata/namespace"));
    }
    w.map(0, "Labels", obj.pointer("/metadata/labels"), &[]);
    w.map(0, "Annotations", obj.pointer("/metadata/annotations"), &[]);
}
