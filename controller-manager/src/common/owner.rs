//! Controller ownerReferences: who controls an object, and the reference a controller
//! puts on what it creates or adopts.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;

/// The ownerReference with `controller: true`, if any.
#[must_use]
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// The uid of the object's controller, if it has one.
#[must_use]
pub fn controller_uid(meta: &ObjectMeta) -> Option<&str> {
    controller_of(meta).map(|r| r.uid.as_str())
}

/// A controller reference to `owner` (`controller` and `blockOwnerDeletion` true), or
/// `None` when the owner has no name or uid yet.
#[must_use]
pub fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> Option<OwnerReference> {
    let meta = owner.meta();
    Some(OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: meta.name.clone()?,
        uid: meta.uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// Writes an object's ownerReferences (adopting or releasing it), guarded by its uid and
/// resourceVersion. Returns the updated object, or `None` when it is gone or changed
/// meanwhile (the watch brings the news and the controller syncs again).
///
/// # Errors
/// Any other API error.
pub async fn set_owners<K>(
    api: &kube::Api<K>,
    obj: &K,
    refs: Vec<OwnerReference>,
) -> Result<Option<K>, kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let meta = obj.meta();
    let patch = serde_json::json!({"metadata": {
        "ownerReferences": refs,
        "resourceVersion": meta.resource_version,
        "uid": meta.uid,
    }});
    let name = meta.name.clone().unwrap_or_default();
    match api
        .patch(
            &name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(patch),
        )
        .await
    {
        Ok(obj) => Ok(Some(obj)),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(None),
        Err(error) => Err(error),
    }
}
