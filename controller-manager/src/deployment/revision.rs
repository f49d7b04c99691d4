//! Revision bookkeeping in annotations: which revision each ReplicaSet is, the history a
//! reused ReplicaSet carries, and the replica counts a Deployment had when it last scaled.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The revision of a ReplicaSet, mirrored on its Deployment.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions a ReplicaSet had before a rollback made it new again.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's replicas when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// The Deployment's replicas plus surge when the ReplicaSet was last scaled.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

/// Deployment annotations never copied to its ReplicaSets.
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// Longest revision-history annotation kept (older entries are dropped first).
const HISTORY_CHARS: usize = 2000;

/// The revision number in the annotations (0 when absent or unreadable).
#[must_use]
pub fn of(meta: &ObjectMeta) -> i64 {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The highest revision among these ReplicaSets.
#[must_use]
pub fn max(sets: &[ReplicaSet]) -> i64 {
    sets.iter().map(|rs| of(&rs.metadata)).max().unwrap_or(0)
}

/// Gives `rs` the Deployment's annotations and `new_revision`, moving its old revision into
/// the history; a ReplicaSet being created also gets the replica annotations. Returns
/// whether anything changed.
pub fn annotate_new(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
    surge: i32,
) -> bool {
    let mut changed = copy_annotations(d, &mut rs.metadata);
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let old = annotations.get(REVISION).cloned();
    let old_num = match old.as_deref().map(str::parse::<i64>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return changed,
    };
    if old_num < new_revision {
        annotations.insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old {
            let history = match annotations.get(REVISION_HISTORY) {
                Some(h) if !h.is_empty() => format!("{h},{old}"),
                _ => old,
            };
            annotations.insert(REVISION_HISTORY.into(), trim_history(&history));
        }
    }
    if !exists {
        let replicas = replicas_of(d);
        changed |= set_replicas(&mut rs.metadata, replicas, replicas + surge);
    }
    changed
}

fn trim_history(history: &str) -> String {
    let mut h = history;
    while h.len() > HISTORY_CHARS {
        match h.split_once(',') {
            Some((_, rest)) => h = rest,
            None => break,
        }
    }
    h.to_owned()
}

/// Copies the Deployment's own annotations onto the ReplicaSet's metadata.
fn copy_annotations(d: &Deployment, meta: &mut ObjectMeta) -> bool {
    let mut changed = false;
    let annotations = meta.annotations.get_or_insert_with(BTreeMap::new);
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if NOT_COPIED.contains(&k.as_str()) || annotations.get(k) == Some(v) {
            continue;
        }
        annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// Sets the desired/max replica annotations; returns whether they changed.
pub fn set_replicas(meta: &mut ObjectMeta, desired: i32, max: i32) -> bool {
    let annotations = meta.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let value = value.to_string();
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.into(), value);
            changed = true;
        }
    }
    changed
}

/// Whether the replica annotations already say `desired` and `max`.
#[must_use]
pub fn replicas_match(meta: &ObjectMeta, desired: i32, max: i32) -> bool {
    let a = meta.annotations.as_ref();
    let get = |k: &str| a.and_then(|a| a.get(k)).cloned();
    get(DESIRED_REPLICAS) == Some(desired.to_string()) && get(MAX_REPLICAS) == Some(max.to_string())
}

/// An annotation's integer value.
#[must_use]
pub fn annotated(meta: &ObjectMeta, key: &str) -> Option<i32> {
    meta.annotations.as_ref()?.get(key)?.parse().ok()
}

/// The Deployment's desired replicas (default 1).
#[must_use]
pub fn replicas_of(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_replicaset_moves_its_revision_into_history() {
        let d = Deployment::default();
        let mut rs = ReplicaSet::default();
        rs.metadata.annotations = Some([(REVISION.to_owned(), "1".to_owned())].into());
        assert!(annotate_new(&d, &mut rs, 3, true, 1));
        let a = rs.metadata.annotations.unwrap_or_default();
        assert_eq!(a[REVISION], "3");
        assert_eq!(a[REVISION_HISTORY], "1");
    }
}
