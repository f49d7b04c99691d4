//! The resources the server serves, found through discovery, as the garbage collector and the
//! namespace controller need them: which can be listed, watched and deleted, and by kind.

use std::collections::BTreeMap;

use kube::discovery::{verbs, ApiCapabilities, ApiResource, Discovery, Scope};

/// One served resource at its group's preferred version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Served {
    pub resource: ApiResource,
    pub namespaced: bool,
    /// Supports `deletecollection`.
    pub delete_collection: bool,
    /// Supports `list`, `watch` and `delete`.
    pub collectable: bool,
}

/// Every served resource, by `(group, plural)`, with a kind index.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resources {
    by_plural: BTreeMap<(String, String), Served>,
    by_kind: BTreeMap<(String, String), (String, String)>,
}

impl Resources {
    /// Asks the server for its resources (subresources left out).
    ///
    /// # Errors
    /// When a discovery request fails.
    pub async fn discover(client: &kube::Client) -> Result<Self, kube::Error> {
        let discovery = Discovery::new(client.clone()).run().await?;
        let mut out = Self::default();
        for group in discovery.groups() {
            for (resource, caps) in group.recommended_resources() {
                out.insert(resource, &caps);
            }
        }
        Ok(out)
    }

    /// Adds one resource, as discovery would (for tests elsewhere in the collector).
    #[cfg(test)]
    pub fn insert_for_tests(&mut self, resource: ApiResource, caps: &ApiCapabilities) {
        self.insert(resource, caps);
    }

    fn insert(&mut self, resource: ApiResource, caps: &ApiCapabilities) {
        let served = Served {
            namespaced: caps.scope == Scope::Namespaced,
            delete_collection: caps.supports_operation(verbs::DELETE_COLLECTION),
            collectable: [verbs::LIST, verbs::WATCH, verbs::DELETE]
                .iter()
                .all(|v| caps.supports_operation(v)),
            resource,
        };
        let plural = (
            served.resource.group.clone(),
            served.resource.plural.clone(),
        );
        self.by_kind.insert(
            (served.resource.group.clone(), served.resource.kind.clone()),
            plural.clone(),
        );
        self.by_plural.insert(plural, served);
    }

    /// Every resource.
    pub fn all(&self) -> impl Iterator<Item = &Served> {
        self.by_plural.values()
    }

    /// The resource `(group, plural)`.
    pub fn get(&self, key: &(String, String)) -> Option<&Served> {
        self.by_plural.get(key)
    }

    /// The resource of `kind` in the group of `api_version` (any version of the group).
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&Served> {
        let group = match api_version.split_once('/') {
            Some((group, _)) => group,
            None => "",
        };
        let plural = self.by_kind.get(&(group.to_owned(), kind.to_owned()))?;
        self.by_plural.get(plural)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(scope: Scope, ops: &[&str]) -> ApiCapabilities {
        ApiCapabilities {
            scope,
            subresources: Vec::new(),
            operations: ops.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn finds_kinds_whatever_the_version() {
        let mut r = Resources::default();
        let rs = ApiResource {
            group: "apps".into(),
            version: "v1".into(),
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            plural: "replicasets".into(),
        };
        r.insert(
            rs,
            &caps(
                Scope::Namespaced,
                &["list", "watch", "delete", "deletecollection"],
            ),
        );
        let found = r
            .by_kind("apps/v1beta2", "ReplicaSet")
            .expect("found by kind");
        assert!(found.namespaced && found.collectable && found.delete_collection);
        assert!(r.by_kind("v1", "ReplicaSet").is_none());
        assert!(r.by_kind("apps/v1", "Deployment").is_none());
    }
}
