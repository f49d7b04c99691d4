//! Which objects a list or watch wants: namespace, label selector and field selector.

use std::collections::BTreeMap;

use rkube_api::{fields, labels};
use serde_json::Value;

use crate::object;
use crate::request::Query;
use crate::resources::ServedResource;
use crate::status::{ApiError, ApiResult};

/// The selection of one list or watch.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub namespace: Option<String>,
    pub labels: Option<labels::Selector>,
    pub fields: Option<fields::Selector>,
}

/// The fields each kind can be selected on besides `metadata.name` and `metadata.namespace`.
fn selectable_fields(group: &str, kind: &str) -> &'static [&'static str] {
    match (group, kind) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("events.k8s.io", "Event") => &[
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "reason",
            "reportingController",
            "type",
        ],
        ("", "Secret") => &["type"],
        ("", "Node") => &["spec.unschedulable"],
        ("", "Namespace") => &["status.phase"],
        ("apps", "ReplicaSet") => &["status.replicas"],
        ("batch", "Job") => &["status.successful"],
        ("certificates.k8s.io", "CertificateSigningRequest") => &["spec.signerName"],
        _ => &[],
    }
}

impl Filter {
    /// The filter a request's namespace and `labelSelector`/`fieldSelector` ask for.
    pub fn from_query(
        resource: &ServedResource,
        namespace: Option<&str>,
        query: &Query,
    ) -> ApiResult<Self> {
        let labels = query
            .get("labelSelector")
            .map(labels::Selector::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
        let fields = query
            .get("fieldSelector")
            .map(fields::Selector::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        if let Some(f) = &fields {
            let allowed = selectable_fields(&resource.group, &resource.kind);
            for r in f.requirements() {
                let known = r.field == "metadata.name"
                    || r.field == "metadata.namespace"
                    || allowed.contains(&r.field.as_str());
                if !known {
                    return Err(ApiError::bad_request(format!(
                        "field label not supported: {}",
                        r.field
                    )));
                }
            }
        }
        Ok(Filter {
            namespace: namespace.map(str::to_owned),
            labels: labels.filter(|s| !s.is_empty()),
            fields: fields.filter(|s| !s.is_empty()),
        })
    }

    /// Whether `obj` is selected.
    pub fn matches(&self, obj: &Value) -> bool {
        if let Some(ns) = &self.namespace {
            if object::namespace(obj) != Some(ns.as_str()) {
                return false;
            }
        }
        if let Some(sel) = &self.labels {
            let set: BTreeMap<String, String> = object::labels(obj)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            if !sel.matches(&set) {
                return false;
            }
        }
        if let Some(sel) = &self.fields {
            if !sel.matches(|path| field_value(obj, path)) {
                return false;
            }
        }
        true
    }

    /// Whether anything beyond the namespace narrows the selection.
    pub fn has_selectors(&self) -> bool {
        self.labels.is_some() || self.fields.is_some()
    }
}

/// The selector a structured `LabelSelector` (`matchLabels`, `matchExpressions`) means.
pub fn label_selector(v: &Value) -> Result<labels::Selector, String> {
    let mut structured = labels::LabelSelector::default();
    if let Some(m) = v.get("matchLabels").and_then(Value::as_object) {
        for (k, val) in m {
            let val = val
                .as_str()
                .ok_or_else(|| format!("matchLabels.{k} must be a string"))?;
            structured.match_labels.insert(k.clone(), val.to_owned());
        }
    }
    for e in v
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let operator = e
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .parse::<labels::ExpressionOperator>()
            .map_err(|e| e.to_string())?;
        let values = e
            .get("values")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        structured
            .match_expressions
            .push(labels::LabelSelectorRequirement {
                key,
                operator,
                values,
            });
    }
    labels::Selector::try_from(&structured).map_err(|e| e.to_string())
}

/// A field's value as a selector compares it: strings as they are, booleans and numbers in
/// their text form, absent as `None` (which compares as "").
fn field_value(obj: &Value, path: &str) -> Option<String> {
    let mut v = obj;
    for part in path.split('.') {
        v = v.get(part)?;
    }
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pods() -> ServedResource {
        crate::resources::Catalog::builtin()
            .lookup("", "v1", "pods")
            .map(|r| (*r).clone())
            .unwrap()
    }

    #[test]
    fn selects_by_labels_and_fields() {
        let q = Query::parse(Some(
            "labelSelector=app%3Dweb,tier!%3Ddb&fieldSelector=spec.nodeName%3Dn1",
        ));
        let f = Filter::from_query(&pods(), Some("default"), &q).unwrap();
        let pod = json!({"metadata": {"name": "a", "namespace": "default", "labels": {"app": "web"}}, "spec": {"nodeName": "n1"}});
        assert!(f.matches(&pod));
        let other = json!({"metadata": {"name": "a", "namespace": "default", "labels": {"app": "web"}}, "spec": {"nodeName": "n2"}});
        assert!(!f.matches(&other));
        let wrong_ns = json!({"metadata": {"name": "a", "namespace": "x", "labels": {"app": "web"}}, "spec": {"nodeName": "n1"}});
        assert!(!f.matches(&wrong_ns));
    }

    #[test]
    fn unknown_field_is_rejected() {
        let q = Query::parse(Some("fieldSelector=spec.foo%3Dx"));
        let e = Filter::from_query(&pods(), None, &q).unwrap_err();
        assert_eq!(e.message, "field label not supported: spec.foo");
    }
}
