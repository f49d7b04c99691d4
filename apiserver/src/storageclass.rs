//! The DefaultStorageClass admission step: a PersistentVolumeClaim created without
//! `spec.storageClassName` gets the cluster's default StorageClass (the one annotated
//! `storageclass.kubernetes.io/is-default-class: "true"`; the newest when several are). An
//! explicit `""` asks for no class and is kept.

use serde_json::{json, Value};

use crate::rest::cache_of;
use crate::ApiServer;

const DEFAULT_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";

/// Whether `resource` is core PersistentVolumeClaims.
pub fn is_claim(resource: &crate::resources::ServedResource) -> bool {
    resource.group.is_empty() && resource.kind == "PersistentVolumeClaim"
}

/// Fills in the default class of a claim that names none.
pub fn default_class(server: &ApiServer, claim: &mut Value) {
    if claim
        .pointer("/spec/storageClassName")
        .is_some_and(|c| !c.is_null())
    {
        return;
    }
    let Some(classes) = server
        .catalog
        .lookup("storage.k8s.io", "v1", "storageclasses")
    else {
        return;
    };
    let (entries, _) = cache_of(server, &classes).list(&classes.prefix(None));
    let default = entries
        .iter()
        .map(|e| &e.obj)
        .filter(|c| {
            c.pointer("/metadata/annotations")
                .and_then(|a| a.get(DEFAULT_ANNOTATION))
                .and_then(Value::as_str)
                == Some("true")
        })
        .max_by(|a, b| {
            let created = |c: &Value| {
                c.pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            created(a).cmp(&created(b))
        });
    if let (Some(name), Some(spec)) = (
        default.and_then(|c| crate::object::meta_str(c, "name")),
        claim.get_mut("spec").and_then(Value::as_object_mut),
    ) {
        spec.insert("storageClassName".into(), json!(name));
    }
}
