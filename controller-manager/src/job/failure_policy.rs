//! `spec.podFailurePolicy`: what a failed pod means for its Job, by its containers' exit codes
//! or its conditions (the first matching rule decides; no match counts the failure).

use k8s_openapi::api::batch::v1::{PodFailurePolicy, PodFailurePolicyRule};
use k8s_openapi::api::core::v1::Pod;

/// What a failed pod does to its Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Counts towards `backoffLimit` (also `Count` and `FailIndex` rules).
    Count,
    /// Not counted: the pod is replaced as if it had never run.
    Ignore,
    /// Fails the whole Job, with this message.
    FailJob(String),
}

/// Applies `policy` to the failed `pod`.
pub(crate) fn judge(policy: Option<&PodFailurePolicy>, pod: &Pod) -> Outcome {
    let Some(policy) = policy else {
        return Outcome::Count;
    };
    for (index, rule) in policy.rules.iter().enumerate() {
        let Some(why) = matches(rule, pod) else {
            continue;
        };
        return match rule.action.as_str() {
            "Ignore" => Outcome::Ignore,
            "FailJob" => {
                let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
                let name = pod.metadata.name.as_deref().unwrap_or_default();
                Outcome::FailJob(format!(
                    "{why} for pod {namespace}/{name} matching FailJob rule at index {index}"
                ))
            }
            _ => Outcome::Count,
        };
    }
    Outcome::Count
}

/// Why the rule matches the pod (the start of the Job's failure message), if it does.
fn matches(rule: &PodFailurePolicyRule, pod: &Pod) -> Option<String> {
    if let Some(codes) = &rule.on_exit_codes {
        let status = pod.status.as_ref()?;
        let containers = status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten());
        for container in containers {
            if codes
                .container_name
                .as_ref()
                .is_some_and(|n| *n != container.name)
            {
                continue;
            }
            let Some(code) = container
                .state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .map(|t| t.exit_code)
            else {
                continue;
            };
            // Exit code 0 never matches: the container succeeded.
            let listed = codes.values.contains(&code);
            let hit = match codes.operator.as_str() {
                "In" => code != 0 && listed,
                "NotIn" => code != 0 && !listed,
                _ => false,
            };
            if hit {
                return Some(format!(
                    "Container {} failed with exit code {code}",
                    container.name
                ));
            }
        }
        return None;
    }
    let patterns = rule.on_pod_conditions.as_deref().unwrap_or_default();
    let conditions = pod
        .status
        .as_ref()?
        .conditions
        .as_deref()
        .unwrap_or_default();
    patterns.iter().find_map(|pattern| {
        conditions
            .iter()
            .any(|c| c.type_ == pattern.type_ && c.status == pattern.status)
            .then(|| format!("Pod has condition {} {}", pattern.type_, pattern.status))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use serde_json::json;

    use super::*;

    fn failed_pod(exit: i32, conditions: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "status": {"phase": "Failed", "conditions": conditions, "containerStatuses": [
                {"name": "main", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": exit}}},
            ]},
        }))
        .unwrap()
    }

    fn policy(rules: serde_json::Value) -> PodFailurePolicy {
        serde_json::from_value(json!({"rules": rules})).unwrap()
    }

    #[test]
    fn rules_in_order() {
        let p = policy(json!([
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1]}},
        ]));
        assert_eq!(
            judge(Some(&p), &failed_pod(42, json!([]))),
            Outcome::FailJob(
                "Container main failed with exit code 42 for pod ns/p matching FailJob rule at index 0"
                    .to_owned()
            )
        );
        let disrupted = failed_pod(1, json!([{"type": "DisruptionTarget", "status": "True"}]));
        assert_eq!(judge(Some(&p), &disrupted), Outcome::Ignore);
        assert_eq!(judge(Some(&p), &failed_pod(1, json!([]))), Outcome::Count);
        assert_eq!(judge(None, &failed_pod(42, json!([]))), Outcome::Count);
    }
}
