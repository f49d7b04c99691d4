//! The conditions a terminating namespace shows while its content goes, as Kubernetes sets
//! them: each of the five types always present, `True` when something holds the deletion.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::NamespaceCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// What one round of content deletion found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Why discovery failed, if it did.
    pub discovery_failure: Option<String>,
    /// Resources whose content could not be deleted, with the error.
    pub failures: Vec<String>,
    /// Objects left, by resource (`pods`, `deployments.apps`).
    pub remaining: BTreeMap<String, usize>,
    /// Objects left holding each finalizer.
    pub finalizers: BTreeMap<String, usize>,
}

impl Outcome {
    /// Nothing left and nothing failed: the namespace may be finalized.
    pub fn is_empty(&self) -> bool {
        self.discovery_failure.is_none() && self.failures.is_empty() && self.remaining.is_empty()
    }
}

/// The conditions for `outcome`, keeping the transition times of `previous` where a
/// condition's status did not change.
pub(crate) fn conditions(
    outcome: &Outcome,
    previous: &[NamespaceCondition],
    now: &Time,
) -> Vec<NamespaceCondition> {
    let discovery = match &outcome.discovery_failure {
        Some(why) => (
            true,
            "DiscoveryFailed",
            format!("Discovery failed for some groups: {why}"),
        ),
        None => (
            false,
            "ResourcesDiscovered",
            "All resources successfully discovered".to_owned(),
        ),
    };
    let parsing = (
        false,
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed".to_owned(),
    );
    let content = if outcome.failures.is_empty() {
        (
            false,
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization".to_owned(),
        )
    } else {
        (
            true,
            "ContentDeletionFailed",
            format!(
                "Failed to delete all resource types, {} remaining: {}",
                outcome.failures.len(),
                outcome.failures.join(", ")
            ),
        )
    };
    let remaining = if outcome.remaining.is_empty() {
        (
            false,
            "ContentRemoved",
            "All content successfully removed".to_owned(),
        )
    } else {
        let counts: Vec<String> = outcome
            .remaining
            .iter()
            .map(|(resource, n)| format!("{resource} has {n} resource instances"))
            .collect();
        (
            true,
            "SomeResourcesRemain",
            format!("Some resources are remaining: {}", counts.join(", ")),
        )
    };
    let finalizers = if outcome.finalizers.is_empty() {
        (
            false,
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished".to_owned(),
        )
    } else {
        let counts: Vec<String> = outcome
            .finalizers
            .iter()
            .map(|(finalizer, n)| format!("{finalizer} in {n} resource instances"))
            .collect();
        (
            true,
            "SomeFinalizersRemain",
            format!(
                "Some content in the namespace has finalizers remaining: {}",
                counts.join(", ")
            ),
        )
    };
    [
        ("NamespaceDeletionDiscoveryFailure", discovery),
        ("NamespaceDeletionGroupVersionParsingFailure", parsing),
        ("NamespaceDeletionContentFailure", content),
        ("NamespaceContentRemaining", remaining),
        ("NamespaceFinalizersRemaining", finalizers),
    ]
    .into_iter()
    .map(|(type_, (status, reason, message))| {
        let status = if status { "True" } else { "False" };
        let since = previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| now.clone());
        NamespaceCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: Some(reason.to_owned()),
            message: Some(message),
            last_transition_time: Some(since),
        }
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_type<'a>(conds: &'a [NamespaceCondition], t: &str) -> &'a NamespaceCondition {
        conds
            .iter()
            .find(|c| c.type_ == t)
            .expect("condition present")
    }

    #[test]
    fn remaining_content_and_finalizers_are_reported() {
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let outcome = Outcome {
            remaining: BTreeMap::from([
                ("configmaps".to_owned(), 2),
                ("widgets.example.com".to_owned(), 1),
            ]),
            finalizers: BTreeMap::from([("example.com/hold".to_owned(), 1)]),
            ..Outcome::default()
        };
        assert!(!outcome.is_empty());
        let conds = conditions(&outcome, &[], &now);
        assert_eq!(conds.len(), 5);
        let remaining = by_type(&conds, "NamespaceContentRemaining");
        assert_eq!(remaining.status, "True");
        assert_eq!(remaining.reason.as_deref(), Some("SomeResourcesRemain"));
        assert_eq!(
            remaining.message.as_deref(),
            Some("Some resources are remaining: configmaps has 2 resource instances, widgets.example.com has 1 resource instances")
        );
        let fin = by_type(&conds, "NamespaceFinalizersRemaining");
        assert_eq!(fin.status, "True");
        assert_eq!(
            fin.message.as_deref(),
            Some("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
        );
        assert_eq!(
            by_type(&conds, "NamespaceDeletionContentFailure").status,
            "False"
        );
        assert_eq!(
            by_type(&conds, "NamespaceDeletionDiscoveryFailure").status,
            "False"
        );
    }

    #[test]
    fn transition_times_stay_while_the_status_does() {
        let then = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let later = Time(k8s_openapi::jiff::Timestamp::from_second(1000).expect("valid time"));
        let failing = Outcome {
            failures: vec!["pods: boom".to_owned()],
            ..Outcome::default()
        };
        let first = conditions(&failing, &[], &then);
        let second = conditions(&failing, &first, &later);
        assert_eq!(first, second);
        let fixed = conditions(&Outcome::default(), &second, &later);
        let content = by_type(&fixed, "NamespaceDeletionContentFailure");
        assert_eq!(content.status, "False");
        assert_eq!(content.last_transition_time, Some(later.clone()));
        assert_eq!(
            by_type(&fixed, "NamespaceContentRemaining").last_transition_time,
            Some(then)
        );
    }
}
