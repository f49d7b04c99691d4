//! API discovery (aggregated `apidiscovery.k8s.io/v2` first, the legacy per-group documents
//! otherwise) and kubectl's resource name resolution over it.

use serde_json::Value;

use crate::client::{Client, Error as ClientError};

/// Accept header of the aggregated discovery documents (with plain JSON as fallback).
const AGGREGATED: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";

/// One resource the server serves in one group version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResource {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    pub categories: Vec<String>,
    /// Whether `version` is the group's preferred one.
    pub preferred: bool,
}

impl ApiResource {
    /// `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps` (kubectl's name in messages), `pods` for the core group.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `deployment.apps` (how `-o name` and apply messages name the kind).
    pub fn kind_group(&self) -> String {
        let kind = self.kind.to_lowercase();
        if self.group.is_empty() {
            kind
        } else {
            format!("{kind}.{}", self.group)
        }
    }

    /// The collection path, in `namespace` when namespaced.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match namespace {
            Some(ns) if self.namespaced => format!("{base}/namespaces/{ns}/{}", self.plural),
            _ => format!("{base}/{}", self.plural),
        }
    }

    /// One object's path.
    pub fn object_path(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}/{name}", self.collection_path(namespace))
    }

    fn is_called(&self, name: &str) -> bool {
        self.plural == name
            || self.singular == name
            || self.kind.to_lowercase() == name
            || self.short_names.iter().any(|s| s == name)
    }
}

/// What the server serves.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub resources: Vec<ApiResource>,
}

/// What can go wrong resolving a name.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the server doesn't have a resource type \"{0}\"")]
    UnknownType(String),
    #[error(transparent)]
    Client(#[from] ClientError),
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Reads an `APIGroupDiscoveryList`.
pub fn parse_aggregated(doc: &Value, out: &mut Vec<ApiResource>) -> bool {
    if doc.get("kind").and_then(Value::as_str) != Some("APIGroupDiscoveryList") {
        return false;
    }
    for group in doc
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let gname = group
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        for (i, version) in group
            .get("versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let vname = text(version, "version");
            for r in version
                .get("resources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let kind = r
                    .pointer("/responseKind/kind")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let plural = text(r, "resource");
                let singular = match text(r, "singularResource") {
                    s if s.is_empty() => kind.to_lowercase(),
                    s => s,
                };
                out.push(ApiResource {
                    group: gname.to_owned(),
                    version: vname.clone(),
                    kind,
                    plural,
                    singular,
                    short_names: strings(r.get("shortNames")),
                    namespaced: r.get("scope").and_then(Value::as_str) == Some("Namespaced"),
                    verbs: strings(r.get("verbs")),
                    categories: strings(r.get("categories")),
                    preferred: i == 0,
                });
            }
        }
    }
    true
}

/// Reads a legacy `APIResourceList` for `group`/`version`.
pub fn parse_resource_list(
    doc: &Value,
    group: &str,
    version: &str,
    preferred: bool,
    out: &mut Vec<ApiResource>,
) {
    for r in doc
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let plural = text(r, "name");
        if plural.contains('/') {
            continue;
        }
        let kind = text(r, "kind");
        let singular = match text(r, "singularName") {
            s if s.is_empty() => kind.to_lowercase(),
            s => s,
        };
        out.push(ApiResource {
            group: group.to_owned(),
            version: version.to_owned(),
            kind,
            plural,
            singular,
            short_names: strings(r.get("shortNames")),
            namespaced: r
                .get("namespaced")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            verbs: strings(r.get("verbs")),
            categories: strings(r.get("categories")),
            preferred,
        });
    }
}

impl Discovery {
    /// Asks the server what it serves.
    ///
    /// # Errors
    /// Connection failures and error statuses.
    pub async fn load(client: &Client) -> Result<Discovery, ClientError> {
        let mut resources = Vec::new();
        let core = client
            .json_accept(http::Method::GET, "/api", AGGREGATED, None, None)
            .await?;
        if parse_aggregated(&core, &mut resources) {
            let groups = client
                .json_accept(http::Method::GET, "/apis", AGGREGATED, None, None)
                .await?;
            if parse_aggregated(&groups, &mut resources) {
                return Ok(Discovery { resources });
            }
        }
        resources.clear();
        for (i, v) in strings(core.get("versions")).iter().enumerate() {
            let doc = client.get(&format!("/api/{v}")).await?;
            parse_resource_list(&doc, "", v, i == 0, &mut resources);
        }
        let groups = client.get("/apis").await?;
        for g in groups
            .get("groups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = text(g, "name");
            let preferred = g
                .pointer("/preferredVersion/version")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            for v in g
                .get("versions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let version = text(v, "version");
                if let Ok(doc) = client.get(&format!("/apis/{name}/{version}")).await {
                    parse_resource_list(
                        &doc,
                        &name,
                        &version,
                        version == preferred,
                        &mut resources,
                    );
                }
            }
        }
        Ok(Discovery { resources })
    }

    /// Resolves a type as kubectl does: plural, singular, short name or kind, any case,
    /// optionally qualified as `name.group` or `name.version.group`; preferred versions first.
    ///
    /// # Errors
    /// [`Error::UnknownType`] with kubectl's message.
    pub fn resolve(&self, name: &str) -> Result<&ApiResource, Error> {
        let lower = name.to_lowercase();
        let by_preference = || {
            self.resources
                .iter()
                .filter(|r| r.preferred)
                .chain(self.resources.iter().filter(|r| !r.preferred))
        };
        if let Some(r) = by_preference().find(|r| r.is_called(&lower)) {
            return Ok(r);
        }
        if let Some((resource, qualifier)) = lower.split_once('.') {
            if let Some((version, group)) = qualifier.split_once('.') {
                if let Some(r) = self
                    .resources
                    .iter()
                    .find(|r| r.version == version && r.group == group && r.is_called(resource))
                {
                    return Ok(r);
                }
            }
            if let Some(r) = by_preference().find(|r| r.group == qualifier && r.is_called(resource))
            {
                return Ok(r);
            }
        }
        Err(Error::UnknownType(name.to_owned()))
    }

    /// The resource for an object's `apiVersion` and `kind` (manifests).
    pub fn for_kind(&self, api_version: &str, kind: &str) -> Option<&ApiResource> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
    }

    /// The resources of a category (`all`), preferred versions, in discovery order.
    pub fn category(&self, name: &str) -> Vec<&ApiResource> {
        self.resources
            .iter()
            .filter(|r| r.preferred && r.categories.iter().any(|c| c == name))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Discovery {
        let doc = json!({"kind": "APIGroupDiscoveryList", "items": [
            {"metadata": {}, "versions": [{"version": "v1", "resources": [
                {"resource": "pods", "responseKind": {"kind": "Pod"}, "scope": "Namespaced",
                 "singularResource": "pod", "shortNames": ["po"], "categories": ["all"], "verbs": ["get"]},
                {"resource": "namespaces", "responseKind": {"kind": "Namespace"}, "scope": "Cluster",
                 "singularResource": "namespace", "shortNames": ["ns"], "verbs": ["get"]}]}]},
            {"metadata": {"name": "autoscaling"}, "versions": [
                {"version": "v2", "resources": [{"resource": "horizontalpodautoscalers",
                  "responseKind": {"kind": "HorizontalPodAutoscaler"}, "scope": "Namespaced",
                  "singularResource": "horizontalpodautoscaler", "shortNames": ["hpa"], "categories": ["all"]}]},
                {"version": "v1", "resources": [{"resource": "horizontalpodautoscalers",
                  "responseKind": {"kind": "HorizontalPodAutoscaler"}, "scope": "Namespaced",
                  "singularResource": "horizontalpodautoscaler", "shortNames": ["hpa"], "categories": ["all"]}]}]}
        ]});
        let mut resources = Vec::new();
        assert!(parse_aggregated(&doc, &mut resources));
        Discovery { resources }
    }

    #[test]
    fn resolves_like_kubectl() {
        let d = sample();
        for name in ["po", "pod", "pods", "Pod", "PODS"] {
            assert_eq!(d.resolve(name).unwrap().plural, "pods");
        }
        assert_eq!(d.resolve("hpa").unwrap().version, "v2");
        assert_eq!(d.resolve("hpa.v1.autoscaling").unwrap().version, "v1");
        assert_eq!(d.resolve("hpa.autoscaling").unwrap().version, "v2");
        assert_eq!(
            d.resolve("foo").unwrap_err().to_string(),
            "the server doesn't have a resource type \"foo\""
        );
        let all: Vec<_> = d.category("all").iter().map(|r| r.plural.clone()).collect();
        assert_eq!(all, ["pods", "horizontalpodautoscalers"]);
        assert_eq!(
            d.resolve("ns").unwrap().object_path(Some("x"), "a"),
            "/api/v1/namespaces/a"
        );
    }
}
