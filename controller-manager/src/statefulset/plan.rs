//! The StatefulSet's decisions, without I/O: which ordinal to create, which pod to delete,
//! in the order Kubernetes takes them (OrderedReady waits for each pod to be Running and
//! Ready; Parallel does not), then the rolling update from the highest ordinal down to the
//! partition, one pod at a time; and the status that results.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use crate::history::pods;
use crate::history::HASH_LABEL;

/// Which revision a new pod gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revision {
    Current,
    Update,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create the pod with this ordinal (and its claims first).
    Create { ordinal: i32, revision: Revision },
    /// Delete a pod; `condemned` when it is beyond the replicas (a scale down).
    Delete {
        ordinal: i32,
        name: String,
        condemned: bool,
    },
}

/// Everything the plan needs besides the pods.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub replicas: i32,
    /// The first ordinal (`spec.ordinals.start`).
    pub start: i32,
    /// OrderedReady (true) or Parallel pod management.
    pub ordered: bool,
    /// The RollingUpdate partition; `None` for OnDelete.
    pub partition: Option<i32>,
    pub current_revision: &'a str,
    pub update_revision: &'a str,
}

/// The revision a pod was made from (its hash label holds the revision's name).
#[must_use]
pub fn revision_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(HASH_LABEL))
        .map(String::as_str)
}

fn healthy(pod: &Pod) -> bool {
    pods::running_and_ready(pod)
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// Decides the next steps for the pods by ordinal.
#[must_use]
pub fn plan(pods_by_ordinal: &BTreeMap<i32, &Pod>, inputs: Inputs<'_>) -> Vec<Step> {
    let mut steps = Vec::new();
    let end = inputs.start.saturating_add(inputs.replicas.max(0));
    let in_range = |o: i32| o >= inputs.start && o < end;

    // Replicas, lowest ordinal first.
    for ordinal in inputs.start..end {
        let Some(pod) = pods_by_ordinal.get(&ordinal) else {
            let index = ordinal - inputs.start;
            let revision = match inputs.partition {
                Some(p) if index < p => Revision::Current,
                _ => Revision::Update,
            };
            steps.push(Step::Create { ordinal, revision });
            if inputs.ordered {
                return steps;
            }
            continue;
        };
        if pods::terminating(pod) {
            if inputs.ordered {
                return steps;
            }
            continue;
        }
        if pods::phase(pod) == "Failed" {
            // Recreated with the same name once it is gone.
            steps.push(Step::Delete {
                ordinal,
                name: name_of(pod),
                condemned: false,
            });
            if inputs.ordered {
                return steps;
            }
            continue;
        }
        if inputs.ordered && !healthy(pod) {
            return steps;
        }
    }

    // Condemned pods, highest ordinal first.
    let condemned: Vec<(i32, &Pod)> = pods_by_ordinal
        .iter()
        .rev()
        .filter(|(o, _)| !in_range(**o))
        .map(|(o, p)| (*o, *p))
        .collect();
    for (i, (ordinal, pod)) in condemned.iter().enumerate() {
        if pods::terminating(pod) {
            if inputs.ordered {
                return steps;
            }
            continue;
        }
        // In order, a pod goes only when every other remaining pod is healthy.
        if inputs.ordered && condemned[i + 1..].iter().any(|(_, p)| !healthy(p)) {
            return steps;
        }
        steps.push(Step::Delete {
            ordinal: *ordinal,
            name: name_of(pod),
            condemned: true,
        });
        if inputs.ordered {
            return steps;
        }
    }
    if !steps.is_empty() {
        return steps;
    }

    // Rolling update: from the highest ordinal down to the partition, one pod at a time.
    let Some(partition) = inputs.partition else {
        return steps;
    };
    let lowest = inputs.start.saturating_add(partition.max(0));
    for ordinal in (lowest..end).rev() {
        let Some(pod) = pods_by_ordinal.get(&ordinal) else {
            return steps;
        };
        if revision_of(pod) != Some(inputs.update_revision) && !pods::terminating(pod) {
            steps.push(Step::Delete {
                ordinal,
                name: name_of(pod),
                condemned: false,
            });
            return steps;
        }
        if !healthy(pod) {
            return steps;
        }
    }
    steps
}

/// The counts a StatefulSet reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub replicas: i32,
    pub ready: i32,
    pub available: i32,
    pub current: i32,
    pub updated: i32,
}

/// Counts the live pods: created, ready, available, at the current and update revisions.
#[must_use]
pub fn counts(
    pods_by_ordinal: &BTreeMap<i32, &Pod>,
    inputs: Inputs<'_>,
    available: &dyn Fn(&Pod) -> bool,
) -> Counts {
    let mut c = Counts::default();
    for pod in pods_by_ordinal.values().filter(|p| !pods::terminating(p)) {
        c.replicas += 1;
        if healthy(pod) {
            c.ready += 1;
        }
        if available(pod) {
            c.available += 1;
        }
        let revision = revision_of(pod);
        if revision == Some(inputs.current_revision) {
            c.current += 1;
        }
        if revision == Some(inputs.update_revision) {
            c.updated += 1;
        }
    }
    c
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests;
