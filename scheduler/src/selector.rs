//! Matching of the API's label selectors and node selector terms against labels.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `labels` satisfy a `metav1.LabelSelector` (an empty selector matches everything).
pub fn label_selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    labels_ok
        && selector.match_expressions.iter().flatten().all(|expr| {
            let value = labels.get(&expr.key);
            let values = expr.values.as_deref().unwrap_or_default();
            match expr.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(want)) = (
                value.and_then(number),
                values.first().and_then(|s| number(s)),
            ) else {
                return false;
            };
            if req.operator == "Gt" {
                have > want
            } else {
                have < want
            }
        }
        _ => false,
    }
}

/// Whether a node (its labels and name) satisfies one node selector term: every expression
/// and every field requirement holds. A term with no requirements matches nothing.
pub fn node_term_matches(
    term: &NodeSelectorTerm,
    labels: &BTreeMap<String, String>,
    node_name: &str,
) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            let value = (r.key == "metadata.name").then_some(node_name);
            requirement_matches(r, value)
        })
}

/// Whether a node satisfies any of the terms (terms are ORed).
pub fn node_terms_match(
    terms: &[NodeSelectorTerm],
    labels: &BTreeMap<String, String>,
    node_name: &str,
) -> bool {
    terms
        .iter()
        .any(|t| node_term_matches(t, labels, node_name))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn label_selector_operators() {
        let sel: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        }))
        .unwrap();
        assert!(label_selector_matches(
            &sel,
            &labels(&[("app", "web"), ("tier", "a")])
        ));
        assert!(!label_selector_matches(
            &sel,
            &labels(&[("app", "web"), ("tier", "c")])
        ));
        assert!(!label_selector_matches(
            &sel,
            &labels(&[("app", "web"), ("tier", "a"), ("canary", "1")])
        ));
        assert!(label_selector_matches(
            &LabelSelector::default(),
            &labels(&[])
        ));
    }

    #[test]
    fn node_terms_with_numbers_and_fields() {
        let term: NodeSelectorTerm = serde_json::from_value(json!({
            "matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}],
            "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}],
        }))
        .unwrap();
        assert!(node_term_matches(&term, &labels(&[("cores", "8")]), "n1"));
        assert!(!node_term_matches(&term, &labels(&[("cores", "4")]), "n1"));
        assert!(!node_term_matches(&term, &labels(&[("cores", "8")]), "n2"));
        assert!(!node_term_matches(
            &NodeSelectorTerm::default(),
            &labels(&[]),
            "n1"
        ));
    }
}
