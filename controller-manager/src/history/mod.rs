//! ControllerRevisions, the history the DaemonSet and StatefulSet controllers keep of their
//! pod templates: one revision per distinct template, named `<owner>-<hash>`, numbered in the
//! order the templates were last used, and trimmed to the owner's `revisionHistoryLimit`.
//!
//! Also the small pod and selector predicates both set controllers share.

pub mod pods;
pub mod selector;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use tracing::debug;

/// The label carrying a revision's hash, on revisions and on the pods made from them.
pub const HASH_LABEL: &str = "controller-revision-hash";

/// How many old revisions an owner keeps when it does not say.
pub const DEFAULT_HISTORY_LIMIT: i32 = 10;

/// Why a revision could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to {action} controller revisions in {namespace}: {source}")]
    Api {
        action: &'static str,
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error("failed to encode a pod template: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("no free revision name for {owner} after {tries} hash collisions")]
    Collisions { owner: String, tries: u32 },
}

/// Results of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The owner of a history: what the revisions are labelled with and point back to.
#[derive(Debug, Clone)]
pub struct Owner {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// The owner's controller reference, put on every revision it creates.
    pub reference: OwnerReference,
    /// The owner's selector labels (`matchLabels`), put on its revisions.
    pub labels: BTreeMap<String, String>,
}

/// A revision's content: the patch that puts `template` back into the owner's spec.
///
/// # Errors
/// When the template cannot be encoded.
pub fn template_patch(template: &PodTemplateSpec) -> Result<Value> {
    let mut template = serde_json::to_value(template)?;
    if let Some(map) = template.as_object_mut() {
        map.insert("$patch".to_owned(), json!("replace"));
    }
    Ok(json!({"spec": {"template": template}}))
}

/// The pod template a revision holds (the inverse of [`template_patch`]).
#[must_use]
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision
        .data
        .as_ref()?
        .0
        .get("spec")?
        .get("template")?
        .clone();
    if let Some(map) = template.as_object_mut() {
        map.remove("$patch");
    }
    serde_json::from_value(template).ok()
}

/// The hash naming a revision of `data`, salted with the owner's collision count.
#[must_use]
pub fn hash(data: &Value, collision_count: i32) -> String {
    // FNV-1a, 32 bits, over the canonical JSON (serde_json's maps are sorted).
    let mut h: u32 = 0x811c_9dc5;
    let text = data.to_string();
    let salt = collision_count.to_string();
    for byte in text.bytes().chain(salt.bytes()) {
        h ^= u32::from(byte);
        h = h.wrapping_mul(0x0100_0193);
    }
    // Spelled with consonants and digits only, so it never forms words and fits in a label.
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
        .collect()
}

/// A revision's hash, from its label (or its name's tail).
#[must_use]
pub fn hash_of(revision: &ControllerRevision) -> String {
    if let Some(h) = revision
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(HASH_LABEL))
    {
        return h.clone();
    }
    let name = revision.metadata.name.as_deref().unwrap_or_default();
    name.rsplit('-').next().unwrap_or_default().to_owned()
}

/// The revisions `owner` controls, oldest first.
///
/// # Errors
/// When the list fails.
pub async fn list(client: &kube::Client, owner: &Owner) -> Result<Vec<ControllerRevision>> {
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &owner.namespace);
    let mut params = ListParams::default();
    let selector = selector::match_labels_string(&owner.labels);
    if !selector.is_empty() {
        params = params.labels(&selector);
    }
    let listed = api.list(&params).await.map_err(|source| Error::Api {
        action: "list",
        namespace: owner.namespace.clone(),
        source,
    })?;
    let mut owned: Vec<ControllerRevision> = listed
        .items
        .into_iter()
        .filter(|r| selector::controlled_by(&r.metadata, &owner.uid))
        .collect();
    owned.sort_by_key(|r| r.revision);
    Ok(owned)
}

/// What [`ensure`] settled on.
#[derive(Debug, Clone)]
pub struct Ensured {
    /// The revision holding the owner's current template.
    pub revision: ControllerRevision,
    /// The collision count to record in the owner's status.
    pub collision_count: i32,
}

/// Makes sure a revision holds `data`, and that it is the newest: an existing equal revision
/// is renumbered after the newest (a rollback), else a new one is created.
///
/// # Errors
/// When a write fails, or no free name is found.
pub async fn ensure(
    client: &kube::Client,
    owner: &Owner,
    existing: &[ControllerRevision],
    data: Value,
    collision_count: i32,
) -> Result<Ensured> {
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &owner.namespace);
    let newest = existing.iter().map(|r| r.revision).max().unwrap_or(0);
    if let Some(equal) = existing
        .iter()
        .find(|r| r.data.as_ref().is_some_and(|d| d.0 == data))
    {
        if equal.revision == newest {
            return Ok(Ensured {
                revision: equal.clone(),
                collision_count,
            });
        }
        let name = equal.metadata.name.clone().unwrap_or_default();
        let patch = json!({"revision": newest + 1});
        let revision = api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| Error::Api {
                action: "renumber",
                namespace: owner.namespace.clone(),
                source,
            })?;
        return Ok(Ensured {
            revision,
            collision_count,
        });
    }
    let mut collisions = collision_count;
    for _ in 0..16 {
        let h = hash(&data, collisions);
        let mut labels = owner.labels.clone();
        labels.insert(HASH_LABEL.to_owned(), h.clone());
        let revision = ControllerRevision {
            metadata: ObjectMeta {
                name: Some(format!("{}-{h}", owner.name)),
                namespace: Some(owner.namespace.clone()),
                labels: Some(labels),
                owner_references: Some(vec![owner.reference.clone()]),
                ..ObjectMeta::default()
            },
            data: Some(RawExtension(data.clone())),
            revision: newest + 1,
        };
        match api.create(&PostParams::default(), &revision).await {
            Ok(created) => {
                debug!(owner = %owner.name, revision = newest + 1, hash = %h, "created controller revision");
                return Ok(Ensured {
                    revision: created,
                    collision_count: collisions,
                });
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                // Someone holds the name: ours with the same data (a stale list), or a collision.
                let name = format!("{}-{h}", owner.name);
                if let Some(found) = api.get_opt(&name).await.map_err(|source| Error::Api {
                    action: "read",
                    namespace: owner.namespace.clone(),
                    source,
                })? {
                    if selector::controlled_by(&found.metadata, &owner.uid)
                        && found.data.as_ref().is_some_and(|d| d.0 == data)
                    {
                        return Ok(Ensured {
                            revision: found,
                            collision_count: collisions,
                        });
                    }
                }
                collisions += 1;
            }
            Err(source) => {
                return Err(Error::Api {
                    action: "create",
                    namespace: owner.namespace.clone(),
                    source,
                })
            }
        }
    }
    Err(Error::Collisions {
        owner: owner.name.clone(),
        tries: 16,
    })
}

/// Deletes the oldest revisions not `live` beyond `limit`.
///
/// # Errors
/// When a delete fails (other than the revision being gone already).
pub async fn truncate(
    client: &kube::Client,
    owner: &Owner,
    revisions: &[ControllerRevision],
    live: &(dyn Fn(&ControllerRevision) -> bool + Sync),
    limit: Option<i32>,
) -> Result<()> {
    let limit = usize::try_from(limit.unwrap_or(DEFAULT_HISTORY_LIMIT).max(0)).unwrap_or(0);
    let mut old: Vec<&ControllerRevision> = revisions.iter().filter(|r| !live(r)).collect();
    if old.len() <= limit {
        return Ok(());
    }
    old.sort_by_key(|r| r.revision);
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &owner.namespace);
    for revision in &old[..old.len() - limit] {
        let name = revision.metadata.name.clone().unwrap_or_default();
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {
                debug!(owner = %owner.name, revision = %name, "deleted old controller revision")
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => {
                return Err(Error::Api {
                    action: "delete",
                    namespace: owner.namespace.clone(),
                    source,
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_salted() {
        let data = json!({"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}});
        assert_eq!(hash(&data, 0), hash(&data, 0));
        assert_ne!(hash(&data, 0), hash(&data, 1));
        assert!(hash(&data, 0)
            .chars()
            .all(|c| c.is_ascii_alphanumeric() && !"aeiou".contains(c)));
    }

    #[test]
    fn template_round_trips_through_its_patch() {
        let template: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        }))
        .unwrap();
        let data = template_patch(&template).unwrap();
        assert_eq!(data["spec"]["template"]["$patch"], "replace");
        let revision = ControllerRevision {
            data: Some(RawExtension(data)),
            ..ControllerRevision::default()
        };
        assert_eq!(template_of(&revision), Some(template));
    }
}
