//! The resources this server serves: the built-in table from `rkube-api`, held as owned values
//! so that resources defined at run time (custom resources) can join them.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use rkube_api::convert;
use rkube_api::registry::{self, Resource, Scope, Subresource};

use crate::status::{ApiError, ApiResult};

/// One resource in one group version, as the server routes, stores and lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedResource {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
    pub subresources: Vec<Subresource>,
    pub verbs: Vec<&'static str>,
    pub categories: Vec<String>,
    /// Key prefix under `/registry/`, shared by every version of the resource.
    pub storage_prefix: String,
    /// What a CustomResourceDefinition says of this version; `None` for built-ins.
    pub custom: Option<Arc<CustomVersion>>,
}

/// A custom resource version as its CRD defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomVersion {
    /// The CRD's name (`plural.group`).
    pub crd: String,
    /// `openAPIV3Schema`.
    pub schema: Option<serde_json::Value>,
    /// `additionalPrinterColumns`.
    pub columns: Vec<PrinterColumn>,
    /// The scale subresource's paths, when it has one.
    pub scale: Option<ScalePaths>,
    /// The version objects are stored in (`spec.versions[].storage`).
    pub storage_version: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
}

impl ServedResource {
    fn builtin(r: &Resource) -> Self {
        Self {
            group: r.group.to_owned(),
            version: r.version.to_owned(),
            kind: r.kind.to_owned(),
            plural: r.plural.to_owned(),
            singular: r.singular.to_owned(),
            short_names: r.short_names.iter().map(|s| (*s).to_owned()).collect(),
            namespaced: r.scope == Scope::Namespaced,
            subresources: r.subresources.to_vec(),
            verbs: r.verbs.iter().map(|v| v.as_str()).collect(),
            categories: r.categories.iter().map(|s| (*s).to_owned()).collect(),
            storage_prefix: r.storage_prefix.to_owned(),
            custom: None,
        }
    }

    /// `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// An object read from storage, in this resource's version: custom resources only change
    /// their apiVersion (CRDs convert with `None`); built-ins with several versions convert.
    pub fn present(&self, obj: serde_json::Value) -> ApiResult<serde_json::Value> {
        self.convert_to(obj, &self.group, &self.version)
    }

    /// Whether objects are stored in exactly this resource's version, so stored objects are
    /// served as they are.
    pub fn served_as_stored(&self) -> bool {
        match &self.custom {
            Some(c) => c.storage_version == self.version,
            None => convert::storage_version(&self.group, &self.kind)
                .is_none_or(|(g, v)| g == self.group && v == self.version),
        }
    }

    /// An object of this resource's version, in the version it is stored in.
    pub fn to_storage(&self, obj: serde_json::Value) -> ApiResult<serde_json::Value> {
        match &self.custom {
            Some(c) => {
                let version = c.storage_version.clone();
                self.convert_to(obj, &self.group, &version)
            }
            None => match convert::storage_version(&self.group, &self.kind) {
                Some((group, version)) => self.convert_to(obj, group, version),
                None => Ok(obj),
            },
        }
    }

    fn convert_to(
        &self,
        mut obj: serde_json::Value,
        group: &str,
        version: &str,
    ) -> ApiResult<serde_json::Value> {
        let api_version = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        if obj.get("apiVersion").and_then(serde_json::Value::as_str) == Some(api_version.as_str()) {
            return Ok(obj);
        }
        if self.custom.is_some() || convert::storage_version(&self.group, &self.kind).is_none() {
            obj["apiVersion"] = serde_json::Value::String(api_version);
            return Ok(obj);
        }
        convert::convert(&obj, group, version).map_err(ApiError::internal)
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    pub fn has(&self, sub: Subresource) -> bool {
        self.subresources.contains(&sub)
    }

    /// The key prefix of the objects in `namespace` (all namespaces when `None`).
    pub fn prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => {
                format!("{}/{}/{ns}/", registry::STORAGE_ROOT, self.storage_prefix)
            }
            _ => format!("{}/{}/", registry::STORAGE_ROOT, self.storage_prefix),
        }
    }

    /// The key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        let mut key = self.prefix(namespace);
        key.push_str(name);
        key
    }
}

/// Every served resource, by (group, version, plural).
#[derive(Debug, Default)]
pub struct Catalog {
    resources: RwLock<BTreeMap<(String, String, String), Arc<ServedResource>>>,
    /// Group versions in the order discovery lists them (built-ins in table order).
    order: RwLock<Vec<(String, String)>>,
    /// Bumped on every change, so documents built from the catalog know when to rebuild.
    generation_counter: std::sync::atomic::AtomicU64,
}

impl Catalog {
    /// The built-in resources.
    pub fn builtin() -> Self {
        let catalog = Catalog::default();
        for r in registry::RESOURCES {
            catalog.add(ServedResource::builtin(r));
        }
        catalog
    }

    /// Changes with every resource added or removed.
    pub fn generation(&self) -> u64 {
        self.generation_counter
            .load(std::sync::atomic::Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation_counter
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Every served resource.
    pub fn all(&self) -> Vec<Arc<ServedResource>> {
        self.resources.read().values().cloned().collect()
    }

    pub fn add(&self, r: ServedResource) {
        let gv = (r.group.clone(), r.version.clone());
        {
            let mut order = self.order.write();
            if !order.contains(&gv) {
                order.push(gv);
            }
        }
        self.resources.write().insert(
            (r.group.clone(), r.version.clone(), r.plural.clone()),
            Arc::new(r),
        );
        self.changed();
    }

    /// Removes every version of the custom resource defined by the CRD `crd`.
    pub fn remove_custom(&self, crd: &str) {
        let mut resources = self.resources.write();
        resources.retain(|_, r| r.custom.as_ref().is_none_or(|c| c.crd != crd));
        let live: Vec<(String, String)> = resources
            .values()
            .map(|r| (r.group.clone(), r.version.clone()))
            .collect();
        drop(resources);
        self.order.write().retain(|gv| live.contains(gv));
        self.changed();
    }

    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ServedResource>> {
        self.resources
            .read()
            .get(&(group.to_owned(), version.to_owned(), plural.to_owned()))
            .cloned()
    }

    /// Group versions in discovery order.
    pub fn group_versions(&self) -> Vec<(String, String)> {
        self.order.read().clone()
    }

    /// The resources of one group version, in table order for built-ins.
    pub fn in_group_version(&self, group: &str, version: &str) -> Vec<Arc<ServedResource>> {
        let resources = self.resources.read();
        let mut found: Vec<Arc<ServedResource>> = resources
            .values()
            .filter(|r| r.group == group && r.version == version)
            .cloned()
            .collect();
        found.sort_by_key(|r| {
            registry::RESOURCES
                .iter()
                .position(|b| b.group == r.group && b.version == r.version && b.plural == r.plural)
                .unwrap_or(usize::MAX)
        });
        found
    }

    /// The groups, each with its versions (preferred first), in discovery order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for (g, v) in self.group_versions() {
            match groups.iter_mut().find(|(name, _)| *name == g) {
                Some((_, versions)) => versions.push(v),
                None => groups.push((g, vec![v])),
            }
        }
        groups
    }
}
