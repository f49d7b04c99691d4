//! CustomResourceDefinitions: every served version of a CRD becomes a resource of the server
//! at once (the CRD's own server registers it before answering; every server follows the
//! CRDs through a watch), its status says NamesAccepted and Established, and deleting a CRD
//! removes its custom resources before the CRD itself goes.

use std::sync::Arc;
use std::time::Duration;

use rkube_api::registry::{self, Subresource, STANDARD_VERBS};
use rkube_store::backend::{self, ListRequest};
use serde_json::{json, Value};

use crate::cache::EventType;
use crate::object;
use crate::resources::{CustomVersion, PrinterColumn, ScalePaths, ServedResource};
use crate::ApiServer;

/// The finalizer that holds a CRD until its custom resources are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// The built-in CRD resource.
pub fn crd_resource(server: &ApiServer) -> Option<Arc<ServedResource>> {
    server
        .catalog
        .lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
}

/// The resources a CRD serves, one per served version.
pub fn resources_of(crd: &Value) -> Vec<ServedResource> {
    let name = object::name(crd).to_owned();
    let Some(group) = s(crd, &["spec", "group"]) else {
        return Vec::new();
    };
    let names = &crd["spec"]["names"];
    let (Some(plural), Some(kind)) = (s(names, &["plural"]), s(names, &["kind"])) else {
        return Vec::new();
    };
    let singular = s(names, &["singular"]).map_or_else(|| kind.to_ascii_lowercase(), str::to_owned);
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let namespaced = s(crd, &["spec", "scope"]) != Some("Cluster");
    let storage_version = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|v| v.get("name").and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned();
    let mut out = Vec::new();
    for version in crd["spec"]["versions"].as_array().into_iter().flatten() {
        if version.get("served").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let Some(v) = version.get("name").and_then(Value::as_str) else {
            continue;
        };
        let subs = &version["subresources"];
        let mut subresources = Vec::new();
        if subs.get("status").is_some() {
            subresources.push(Subresource::Status);
        }
        let scale = subs.get("scale").map(|sc| ScalePaths {
            spec_replicas: s(sc, &["specReplicasPath"])
                .unwrap_or(".spec.replicas")
                .to_owned(),
            status_replicas: s(sc, &["statusReplicasPath"])
                .unwrap_or(".status.replicas")
                .to_owned(),
            label_selector: s(sc, &["labelSelectorPath"]).map(str::to_owned),
        });
        if scale.is_some() {
            subresources.push(Subresource::Scale);
        }
        let columns = version["additionalPrinterColumns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some(PrinterColumn {
                    name: s(c, &["name"])?.to_owned(),
                    type_: s(c, &["type"]).unwrap_or("string").to_owned(),
                    format: s(c, &["format"]).unwrap_or_default().to_owned(),
                    description: s(c, &["description"]).unwrap_or_default().to_owned(),
                    priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                    json_path: s(c, &["jsonPath"])?.to_owned(),
                })
            })
            .collect();
        out.push(ServedResource {
            group: group.to_owned(),
            version: v.to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
            singular: singular.clone(),
            short_names: strings(&names["shortNames"]),
            namespaced,
            subresources,
            verbs: STANDARD_VERBS.iter().map(|v| v.as_str()).collect(),
            categories: strings(&names["categories"]),
            storage_prefix: registry::custom_resource_prefix(group, plural),
            custom: Some(Arc::new(CustomVersion {
                crd: name.clone(),
                schema: version
                    .get("schema")
                    .and_then(|sc| sc.get("openAPIV3Schema"))
                    .cloned(),
                columns,
                scale,
                storage_version: storage_version.clone(),
            })),
        });
    }
    out
}

/// Makes the server serve what `crd` defines now (replacing what it defined before).
pub fn register(server: &ApiServer, crd: &Value) {
    let name = object::name(crd);
    server.catalog.remove_custom(name);
    if object::is_deleting(crd) {
        return;
    }
    for r in resources_of(crd) {
        server.catalog.add(r);
    }
}

/// Called after any write: a CRD written through this server is served at once, before the
/// client hears back.
pub fn written(server: &ApiServer, resource: &ServedResource, obj: &Value) {
    if resource.group == "apiextensions.k8s.io" && resource.kind == "CustomResourceDefinition" {
        register(server, obj);
    }
}

/// The status a CRD has once served: names accepted, established, its stored versions.
fn established_status(crd: &Value) -> Value {
    let now = object::now_rfc3339();
    let condition = |t: &str, reason: &str, message: &str| json!({"type": t, "status": "True", "reason": reason, "message": message, "lastTransitionTime": now});
    let storage: Vec<Value> = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .filter_map(|v| v.get("name").cloned())
        .collect();
    let mut stored: Vec<Value> = crd["status"]["storedVersions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for v in storage {
        if !stored.contains(&v) {
            stored.push(v);
        }
    }
    json!({
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": crd["spec"]["names"],
        "storedVersions": stored,
    })
}

fn is_established(crd: &Value) -> bool {
    crd["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Established" && c["status"] == "True")
        && crd["status"]["acceptedNames"] == crd["spec"]["names"]
}

/// Follows every CRD for the life of the server: registers them, establishes new ones and
/// cleans up deleted ones.
pub fn start(server: Arc<ApiServer>) {
    tokio::spawn(async move {
        let Some(resource) = crd_resource(&server) else {
            return;
        };
        loop {
            let cache = crate::rest::cache_of(&server, &resource);
            if !cache.ready(Duration::from_secs(30)).await {
                continue;
            }
            let Ok(mut sub) = cache.subscribe(None) else {
                continue;
            };
            for e in std::mem::take(&mut sub.initial) {
                follow(&server, e.kind, &e.obj.obj).await;
            }
            // A lagged or closed subscription starts over from the current state.
            while let Ok(e) = sub.live.recv().await {
                follow(&server, e.kind, &e.obj.obj).await;
            }
        }
    });
}

async fn follow(server: &Arc<ApiServer>, kind: EventType, crd: &Value) {
    match kind {
        EventType::Deleted => server.catalog.remove_custom(object::name(crd)),
        _ => {
            register(server, crd);
            if object::is_deleting(crd) {
                cleanup(server, crd).await;
            } else if !is_established(crd) {
                establish(server, object::name(crd)).await;
            }
        }
    }
}

fn crd_key(name: &str) -> String {
    format!(
        "{}/apiextensions.k8s.io/customresourcedefinitions/{name}",
        registry::STORAGE_ROOT
    )
}

/// Writes the established status, unless someone else did meanwhile.
async fn establish(server: &ApiServer, name: &str) {
    let key = crd_key(name);
    for _ in 0..5 {
        let Ok((Some(rec), _)) = server.backend.get(key.as_bytes(), 0).await else {
            return;
        };
        let Ok(mut crd) = object::decode(&rec.value, rec.mod_revision) else {
            return;
        };
        if is_established(&crd) || object::is_deleting(&crd) {
            return;
        }
        crd["status"] = established_status(&crd);
        let Ok(bytes) = object::encode(&crd) else {
            return;
        };
        match server
            .backend
            .update(key.as_bytes(), bytes, rec.mod_revision, rec.lease)
            .await
        {
            Ok(_) => return,
            Err(backend::Error::Conflict { .. }) => continue,
            Err(e) => {
                tracing::warn!(crd = name, error = %e, "could not write the CRD's status");
                return;
            }
        }
    }
}

/// Deletes every custom resource of a deleting CRD, then the CRD.
async fn cleanup(server: &ApiServer, crd: &Value) {
    let name = object::name(crd);
    let (Some(group), Some(plural)) = (
        s(crd, &["spec", "group"]),
        s(crd, &["spec", "names", "plural"]),
    ) else {
        return;
    };
    let prefix = format!(
        "{}/{}/",
        registry::STORAGE_ROOT,
        registry::custom_resource_prefix(group, plural)
    );
    loop {
        let page = match server
            .backend
            .list(ListRequest {
                prefix: prefix.as_bytes().to_vec(),
                limit: 500,
                ..Default::default()
            })
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(crd = name, error = %e, "listing custom resources to delete failed");
                return;
            }
        };
        if page.records.is_empty() {
            break;
        }
        for r in page.records {
            if let Err(e) = server.backend.delete(&r.key, None).await {
                if !matches!(e, backend::Error::NotFound { .. }) {
                    tracing::warn!(crd = name, error = %e, "deleting a custom resource failed");
                    return;
                }
            }
        }
    }
    let key = crd_key(name);
    for _ in 0..5 {
        let Ok((Some(rec), _)) = server.backend.get(key.as_bytes(), 0).await else {
            return;
        };
        let Ok(mut current) = object::decode(&rec.value, rec.mod_revision) else {
            return;
        };
        let rest: Vec<String> = object::finalizers(&current)
            .into_iter()
            .filter(|f| f != CLEANUP_FINALIZER)
            .collect();
        let result = if rest.is_empty() {
            server
                .backend
                .delete(key.as_bytes(), Some(rec.mod_revision))
                .await
                .map(|_| ())
        } else {
            current["metadata"]["finalizers"] = json!(rest);
            let Ok(bytes) = object::encode(&current) else {
                return;
            };
            server
                .backend
                .update(key.as_bytes(), bytes, rec.mod_revision, rec.lease)
                .await
                .map(|_| ())
        };
        match result {
            Ok(()) => return,
            Err(backend::Error::Conflict { .. }) => continue,
            Err(e) => {
                tracing::warn!(crd = name, error = %e, "finishing the CRD's deletion failed");
                return;
            }
        }
    }
}
