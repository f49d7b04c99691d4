//! Label selectors evaluated against labels, as Kubernetes' `metav1.LabelSelector`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `labels` satisfy `selector`. A missing selector selects nothing; an empty one
/// selects everything (Kubernetes' `LabelSelectorAsSelector`). An unknown operator selects
/// nothing, so a malformed selector never claims objects.
#[must_use]
pub fn matches(
    selector: Option<&LabelSelector>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let Some(selector) = selector else {
        return false;
    };
    let empty = BTreeMap::new();
    rkube_api::client::label_selector(selector).is_ok_and(|s| s.matches(labels.unwrap_or(&empty)))
}

/// Whether the selector is present but selects everything (no labels, no expressions).
#[must_use]
pub fn is_empty(selector: Option<&LabelSelector>) -> bool {
    selector.is_some_and(|s| {
        s.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
            && s.match_expressions.as_ref().is_none_or(Vec::is_empty)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn labels_and_expressions() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "NotIn".into(),
                values: Some(vec!["db".into()]),
            }]),
        };
        assert!(matches(Some(&sel), Some(&labels(&[("app", "web")]))));
        assert!(!matches(
            Some(&sel),
            Some(&labels(&[("app", "web"), ("tier", "db")]))
        ));
        assert!(!matches(Some(&sel), Some(&labels(&[("app", "db")]))));
        assert!(!matches(None, Some(&labels(&[("app", "web")]))));
        assert!(matches(Some(&LabelSelector::default()), None));
        assert!(is_empty(Some(&LabelSelector::default())));
    }
}
