//! The built-in resources rkube serves: names, scope, subresources, verbs, and storage keys.
//!
//! # Name resolution
//!
//! [`resolve`] finds a resource the way kubectl resolves `kubectl get po`: case-insensitively by
//! short name, plural, singular or kind, optionally qualified as `resource.group` or
//! `resource.version.group`. When several resources share a name (`events` in the core and
//! `events.k8s.io` groups, `horizontalpodautoscalers` in `autoscaling/v2` and `v1`), the first in
//! [`RESOURCES`] wins: the table lists the core group first and preferred versions before older
//! ones, as discovery orders them for kubectl.
//!
//! # Storage keys
//!
//! Objects are stored as `/registry/{prefix}/{namespace}/{name}` (namespaced) or
//! `/registry/{prefix}/{name}` (cluster-scoped). Built-in resources use Kubernetes' real default
//! prefixes, which are the resource name *without* the group (`/registry/pods/default/web`,
//! `/registry/deployments/default/web`), with Kubernetes' historical exceptions kept so that an
//! etcd written by either is laid out the same: Services under `services/specs`, Endpoints under
//! `services/endpoints`, Nodes under `minions`, Ingresses under `ingress`. Resources served from
//! CustomResourceDefinitions (and the CRDs themselves) carry the group:
//! `/registry/{group}/{plural}/...`; see [`custom_resource_prefix`]. This refines the
//! `/registry/{group}/{resource}` layout sketched in the design document. Resources sharing
//! storage (core and `events.k8s.io` Events; `autoscaling/v1` and `v2` HPAs) share a prefix.

use std::fmt;

/// Why a lookup or key construction failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No resource has that name (kubectl's message).
    #[error("the server doesn't have a resource type \"{0}\"")]
    UnknownResource(String),
    /// A namespaced resource was addressed without a namespace.
    #[error("a namespace must be specified for namespaced resource \"{0}\"")]
    NamespaceRequired(&'static str),
    /// A cluster-scoped resource was addressed with a namespace.
    #[error("resource \"{0}\" is cluster-scoped and takes no namespace")]
    ClusterScoped(&'static str),
    /// A name or namespace is empty or contains `/`, which would corrupt the key space.
    #[error("invalid key segment \"{0}\": must be non-empty and contain no '/'")]
    InvalidSegment(String),
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The root of every key rkube and Kubernetes store.
pub const STORAGE_ROOT: &str = "/registry";

/// Whether a resource's objects live in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Objects live in a namespace.
    Namespaced,
    /// Objects are global to the cluster.
    Cluster,
}

/// An API verb, as discovery and RBAC spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    /// `create`.
    Create,
    /// `delete`.
    Delete,
    /// `deletecollection`.
    DeleteCollection,
    /// `get`.
    Get,
    /// `list`.
    List,
    /// `patch`.
    Patch,
    /// `update`.
    Update,
    /// `watch`.
    Watch,
}

impl Verb {
    /// The verb as discovery and RBAC spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Patch => "patch",
            Verb::Update => "update",
            Verb::Watch => "watch",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verbs every built-in resource serves, sorted as discovery lists them.
pub const STANDARD_VERBS: &[Verb] = &[
    Verb::Create,
    Verb::Delete,
    Verb::DeleteCollection,
    Verb::Get,
    Verb::List,
    Verb::Patch,
    Verb::Update,
    Verb::Watch,
];

/// A subresource (`pods/status`, `deployments/scale`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subresource {
    /// `status`: the status half of the object.
    Status,
    /// `scale`: an `autoscaling/v1` `Scale` view of the replicas.
    Scale,
    /// `pods/binding`: the scheduler assigns a node.
    Binding,
    /// `pods/eviction`: a PDB-respecting delete.
    Eviction,
    /// `pods/log`: container logs.
    Log,
    /// `pods/exec`: run a command in a container.
    Exec,
    /// `pods/attach`: attach to a container's stdio.
    Attach,
    /// `pods/portforward`: forward ports into the pod.
    PortForward,
    /// `serviceaccounts/token`: a bound token request.
    Token,
    /// `namespaces/finalize`: the namespace controller clears `spec.finalizers`.
    Finalize,
}

impl Subresource {
    /// The subresource's path segment.
    pub const fn as_str(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
            Subresource::Binding => "binding",
            Subresource::Eviction => "eviction",
            Subresource::Log => "log",
            Subresource::Exec => "exec",
            Subresource::Attach => "attach",
            Subresource::PortForward => "portforward",
            Subresource::Token => "token",
            Subresource::Finalize => "finalize",
        }
    }

    /// The verbs the subresource serves.
    pub const fn verbs(self) -> &'static [Verb] {
        match self {
            Subresource::Status | Subresource::Scale => &[Verb::Get, Verb::Patch, Verb::Update],
            Subresource::Binding | Subresource::Eviction | Subresource::Token => &[Verb::Create],
            Subresource::Log => &[Verb::Get],
            Subresource::Exec | Subresource::Attach | Subresource::PortForward => {
                &[Verb::Create, Verb::Get]
            }
            Subresource::Finalize => &[Verb::Update],
        }
    }

    /// Looks a subresource up by its path segment.
    pub fn from_name(name: &str) -> Option<Subresource> {
        ALL_SUBRESOURCES
            .iter()
            .copied()
            .find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Subresource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const ALL_SUBRESOURCES: &[Subresource] = &[
    Subresource::Status,
    Subresource::Scale,
    Subresource::Binding,
    Subresource::Eviction,
    Subresource::Log,
    Subresource::Exec,
    Subresource::Attach,
    Subresource::PortForward,
    Subresource::Token,
    Subresource::Finalize,
];

/// One served resource in one group version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Resource {
    /// The API group; `""` for the core group.
    pub group: &'static str,
    /// The version, e.g. `v1`.
    pub version: &'static str,
    /// The kind, e.g. `Deployment`.
    pub kind: &'static str,
    /// The plural, lowercase resource name used in paths, e.g. `deployments`.
    pub plural: &'static str,
    /// The singular name, e.g. `deployment`.
    pub singular: &'static str,
    /// kubectl's short names, e.g. `deploy`.
    pub short_names: &'static [&'static str],
    /// Namespaced or cluster-scoped.
    pub scope: Scope,
    /// The subresources served.
    pub subresources: &'static [Subresource],
    /// The verbs served on the resource itself.
    pub verbs: &'static [Verb],
    /// Discovery categories (`all` is what `kubectl get all` lists).
    pub categories: &'static [&'static str],
    /// The storage prefix under `/registry/` (see the module docs).
    pub storage_prefix: &'static str,
}

impl Resource {
    /// `v1` for the core group, else `group/version`, as `apiVersion` is written.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether objects live in a namespace.
    pub fn is_namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    /// Whether the resource serves `subresource`.
    pub fn has_subresource(&self, subresource: Subresource) -> bool {
        self.subresources.contains(&subresource)
    }

    /// Whether `name` (any case) is this resource's plural, singular, kind or a short name.
    pub fn is_called(&self, name: &str) -> bool {
        self.plural.eq_ignore_ascii_case(name)
            || self.singular.eq_ignore_ascii_case(name)
            || self.kind.eq_ignore_ascii_case(name)
            || self
                .short_names
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name))
    }

    /// The REST path of the collection, or of one object when `name` is given, e.g.
    /// `/api/v1/namespaces/default/pods/web` or `/apis/apps/v1/deployments`.
    ///
    /// # Errors
    ///
    /// As [`Resource::storage_key`] for the scope and segments.
    pub fn path(&self, namespace: Option<&str>, name: Option<&str>) -> Result<String> {
        let mut path = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        if let Some(ns) = namespace {
            if !self.is_namespaced() {
                return Err(Error::ClusterScoped(self.plural));
            }
            path.push_str("/namespaces/");
            path.push_str(check_segment(ns)?);
        }
        path.push('/');
        path.push_str(self.plural);
        if let Some(name) = name {
            path.push('/');
            path.push_str(check_segment(name)?);
        }
        Ok(path)
    }

    /// The storage key of one object: `/registry/{prefix}/{namespace}/{name}` or
    /// `/registry/{prefix}/{name}`.
    ///
    /// # Errors
    ///
    /// [`Error::NamespaceRequired`] / [`Error::ClusterScoped`] when `namespace` does not fit the
    /// scope; [`Error::InvalidSegment`] for an empty name or namespace or one containing `/`.
    pub fn storage_key(&self, namespace: Option<&str>, name: &str) -> Result<String> {
        let mut key = self.storage_prefix_in(namespace)?;
        if namespace.is_none() && self.is_namespaced() {
            return Err(Error::NamespaceRequired(self.plural));
        }
        key.push_str(check_segment(name)?);
        Ok(key)
    }

    /// The key prefix (ending in `/`) covering every object of the resource in `namespace`, or in
    /// all namespaces when `namespace` is `None`: list and watch ranges over it.
    ///
    /// # Errors
    ///
    /// [`Error::ClusterScoped`] for a namespace on a cluster-scoped resource;
    /// [`Error::InvalidSegment`] for a bad namespace.
    pub fn storage_prefix_in(&self, namespace: Option<&str>) -> Result<String> {
        let mut prefix = format!("{STORAGE_ROOT}/{}/", self.storage_prefix);
        if let Some(ns) = namespace {
            if !self.is_namespaced() {
                return Err(Error::ClusterScoped(self.plural));
            }
            prefix.push_str(check_segment(ns)?);
            prefix.push('/');
        }
        Ok(prefix)
    }
}

fn check_segment(segment: &str) -> Result<&str> {
    if segment.is_empty() || segment.contains('/') {
        return Err(Error::InvalidSegment(segment.to_owned()));
    }
    Ok(segment)
}

/// The storage prefix of a resource served from a CustomResourceDefinition:
/// `{group}/{plural}`, as Kubernetes lays custom resources out.
pub fn custom_resource_prefix(group: &str, plural: &str) -> String {
    format!("{group}/{plural}")
}

mod table;

/// Every built-in resource, in resolution priority order (see the module docs).
pub static RESOURCES: &[Resource] = table::RESOURCES;

/// The resource served at `/apis/{group}/{version}/{plural}` (or `/api/v1/{plural}` for `""`).
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource of kind `kind` in `group`/`version` (exact case, as `apiVersion`/`kind` are).
pub fn lookup_kind(group: &str, version: &str, kind: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// Every resource of kind `kind` (exact case), in priority order: `Event` has two.
pub fn by_kind(kind: &str) -> impl Iterator<Item = &'static Resource> + '_ {
    RESOURCES.iter().filter(move |r| r.kind == kind)
}

/// The resources of one group version, as discovery lists them.
pub fn group_version<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static Resource> + 'a {
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

/// The resources in a discovery category (`all`), in priority order, one per plural and group.
pub fn category(name: &str) -> Vec<&'static Resource> {
    let mut found: Vec<&'static Resource> = Vec::new();
    for r in RESOURCES.iter().filter(|r| r.categories.contains(&name)) {
        if !found
            .iter()
            .any(|f| f.group == r.group && f.plural == r.plural)
        {
            found.push(r);
        }
    }
    found
}

/// Resolves a name as kubectl does for `kubectl get NAME`: short name, plural, singular or kind,
/// any case, optionally qualified as `name.group` or `name.version.group` (e.g.
/// `deploy.apps`, `hpa.v1.autoscaling`).
///
/// # Errors
///
/// [`Error::UnknownResource`] with kubectl's message.
pub fn resolve(name: &str) -> Result<&'static Resource> {
    if let Some(r) = RESOURCES.iter().find(|r| r.is_called(name)) {
        return Ok(r);
    }
    if let Some((resource, qualifier)) = name.split_once('.') {
        // `name.version.group` first: versions never contain a dot, groups may.
        if let Some((version, group)) = qualifier.split_once('.') {
            if let Some(r) = RESOURCES.iter().find(|r| {
                r.version.eq_ignore_ascii_case(version)
                    && r.group.eq_ignore_ascii_case(group)
                    && r.is_called(resource)
            }) {
                return Ok(r);
            }
        }
        if let Some(r) = RESOURCES
            .iter()
            .find(|r| r.group.eq_ignore_ascii_case(qualifier) && r.is_called(resource))
        {
            return Ok(r);
        }
    }
    Err(Error::UnknownResource(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn resolved(name: &str) -> (String, &'static str) {
        let r = resolve(name).unwrap_or_else(|e| panic!("{name:?}: {e}"));
        (r.api_version(), r.plural)
    }

    #[test]
    fn table_is_consistent() {
        let mut seen = HashSet::new();
        for r in RESOURCES {
            assert!(
                seen.insert((r.group, r.version, r.plural)),
                "duplicate {}/{}",
                r.api_version(),
                r.plural
            );
            assert_eq!(r.singular, r.kind.to_lowercase(), "{}", r.kind);
            assert_eq!(r.plural, r.plural.to_lowercase());
            assert!(!r.storage_prefix.starts_with('/') && !r.storage_prefix.ends_with('/'));
            assert_eq!(crate::names::validate_dns1123_label(r.plural), Ok(()));
            assert!(r.verbs.contains(&Verb::Watch));
        }
        assert_eq!(RESOURCES.len(), 36);
        // Two different resources never share a storage prefix unless they are the same objects.
        for a in RESOURCES {
            for b in RESOURCES {
                if a.storage_prefix == b.storage_prefix {
                    assert_eq!((a.kind, a.plural), (b.kind, b.plural));
                }
            }
        }
    }

    #[test]
    fn resolves_like_kubectl() {
        let cases = [
            ("po", "v1", "pods"),
            ("pod", "v1", "pods"),
            ("pods", "v1", "pods"),
            ("Pod", "v1", "pods"),
            ("PODS", "v1", "pods"),
            ("svc", "v1", "services"),
            ("deploy", "apps/v1", "deployments"),
            ("Deployment", "apps/v1", "deployments"),
            ("rs", "apps/v1", "replicasets"),
            ("sts", "apps/v1", "statefulsets"),
            ("ds", "apps/v1", "daemonsets"),
            ("ns", "v1", "namespaces"),
            ("no", "v1", "nodes"),
            ("cm", "v1", "configmaps"),
            ("sa", "v1", "serviceaccounts"),
            ("ev", "v1", "events"),
            ("events", "v1", "events"),
            ("pv", "v1", "persistentvolumes"),
            ("pvc", "v1", "persistentvolumeclaims"),
            ("hpa", "autoscaling/v2", "horizontalpodautoscalers"),
            ("ing", "networking.k8s.io/v1", "ingresses"),
            ("netpol", "networking.k8s.io/v1", "networkpolicies"),
            ("ep", "v1", "endpoints"),
            ("cj", "batch/v1", "cronjobs"),
            ("pc", "scheduling.k8s.io/v1", "priorityclasses"),
            ("sc", "storage.k8s.io/v1", "storageclasses"),
            (
                "crd",
                "apiextensions.k8s.io/v1",
                "customresourcedefinitions",
            ),
            (
                "crds",
                "apiextensions.k8s.io/v1",
                "customresourcedefinitions",
            ),
            ("limits", "v1", "limitranges"),
            ("quota", "v1", "resourcequotas"),
            ("pdb", "policy/v1", "poddisruptionbudgets"),
            ("deploy.apps", "apps/v1", "deployments"),
            ("deployments.v1.apps", "apps/v1", "deployments"),
            ("events.events.k8s.io", "events.k8s.io/v1", "events"),
            (
                "hpa.v1.autoscaling",
                "autoscaling/v1",
                "horizontalpodautoscalers",
            ),
            ("ev.v1.events.k8s.io", "events.k8s.io/v1", "events"),
            (
                "leases.coordination.k8s.io",
                "coordination.k8s.io/v1",
                "leases",
            ),
        ];
        for (name, api_version, plural) in cases {
            assert_eq!(resolved(name), (api_version.to_owned(), plural), "{name:?}");
        }
        for unknown in [
            "",
            "foo",
            "csr",
            "deploy.batch",
            "pods.v2",
            "hpa.v3.autoscaling",
        ] {
            assert_eq!(
                resolve(unknown),
                Err(Error::UnknownResource(unknown.to_owned())),
                "{unknown:?}"
            );
        }
        assert_eq!(
            resolve("foo").expect_err("unknown").to_string(),
            "the server doesn't have a resource type \"foo\""
        );
    }

    #[test]
    fn lookups() {
        let pods = lookup("", "v1", "pods").expect("pods");
        assert_eq!((pods.kind, pods.scope), ("Pod", Scope::Namespaced));
        assert!(
            pods.has_subresource(Subresource::Binding) && pods.has_subresource(Subresource::Exec)
        );
        assert!(!pods.has_subresource(Subresource::Scale));
        assert!(lookup("apps", "v1", "deployments")
            .is_some_and(|d| d.has_subresource(Subresource::Scale)));
        assert!(lookup("apps", "v2", "deployments").is_none());
        assert!(
            lookup("", "v1", "Pods").is_none(),
            "plural lookups are exact"
        );
        assert_eq!(
            lookup_kind("autoscaling", "v1", "HorizontalPodAutoscaler").map(|r| r.version),
            Some("v1")
        );
        assert_eq!(
            by_kind("Event").map(|r| r.group).collect::<Vec<_>>(),
            ["", "events.k8s.io"]
        );
        assert_eq!(
            group_version("batch", "v1")
                .map(|r| r.plural)
                .collect::<Vec<_>>(),
            ["jobs", "cronjobs"]
        );
        assert_eq!(group_version("", "v1").count(), 13);
        let all: Vec<_> = category("all").iter().map(|r| r.plural).collect();
        assert_eq!(
            all,
            [
                "pods",
                "services",
                "deployments",
                "replicasets",
                "statefulsets",
                "daemonsets",
                "jobs",
                "cronjobs",
                "horizontalpodautoscalers"
            ]
        );
        assert!(lookup("", "v1", "nodes").is_some_and(|n| !n.is_namespaced()));
        assert_eq!(
            Subresource::from_name("portforward"),
            Some(Subresource::PortForward)
        );
        assert_eq!(Subresource::from_name("proxy"), None);
        assert_eq!(Subresource::Exec.verbs(), [Verb::Create, Verb::Get]);
        assert_eq!(Verb::DeleteCollection.to_string(), "deletecollection");
    }

    #[test]
    fn storage_keys_follow_kubernetes() {
        let key = |group: &str, plural: &str, ns: Option<&str>, name: &str| {
            let r = RESOURCES
                .iter()
                .find(|r| r.group == group && r.plural == plural)
                .expect("known");
            r.storage_key(ns, name)
                .unwrap_or_else(|e| panic!("{plural}: {e}"))
        };
        assert_eq!(
            key("", "pods", Some("default"), "web"),
            "/registry/pods/default/web"
        );
        assert_eq!(
            key("apps", "deployments", Some("ns"), "d"),
            "/registry/deployments/ns/d"
        );
        assert_eq!(
            key("", "services", Some("default"), "kubernetes"),
            "/registry/services/specs/default/kubernetes"
        );
        assert_eq!(
            key("", "endpoints", Some("default"), "kubernetes"),
            "/registry/services/endpoints/default/kubernetes"
        );
        assert_eq!(key("", "nodes", None, "node-a"), "/registry/minions/node-a");
        assert_eq!(
            key("", "namespaces", None, "default"),
            "/registry/namespaces/default"
        );
        assert_eq!(
            key("networking.k8s.io", "ingresses", Some("a"), "b"),
            "/registry/ingress/a/b"
        );
        assert_eq!(
            key("events.k8s.io", "events", Some("a"), "b"),
            key("", "events", Some("a"), "b")
        );
        assert_eq!(
            key(
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                None,
                "foos.example.com"
            ),
            "/registry/apiextensions.k8s.io/customresourcedefinitions/foos.example.com"
        );
        assert_eq!(
            custom_resource_prefix("example.com", "foos"),
            "example.com/foos"
        );
    }

    #[test]
    fn storage_prefixes_and_errors() {
        let pods = lookup("", "v1", "pods").expect("pods");
        let nodes = lookup("", "v1", "nodes").expect("nodes");
        assert_eq!(
            pods.storage_prefix_in(None),
            Ok("/registry/pods/".to_owned())
        );
        assert_eq!(
            pods.storage_prefix_in(Some("kube-system")),
            Ok("/registry/pods/kube-system/".to_owned())
        );
        assert_eq!(
            nodes.storage_prefix_in(None),
            Ok("/registry/minions/".to_owned())
        );
        assert_eq!(
            nodes.storage_prefix_in(Some("x")),
            Err(Error::ClusterScoped("nodes"))
        );
        assert_eq!(
            nodes.storage_key(Some("x"), "n"),
            Err(Error::ClusterScoped("nodes"))
        );
        assert_eq!(
            pods.storage_key(None, "web"),
            Err(Error::NamespaceRequired("pods"))
        );
        assert_eq!(
            pods.storage_key(Some("a"), ""),
            Err(Error::InvalidSegment(String::new()))
        );
        assert_eq!(
            pods.storage_key(Some("a/b"), "c"),
            Err(Error::InvalidSegment("a/b".into()))
        );
        assert_eq!(
            pods.storage_key(Some("a"), "b/c"),
            Err(Error::InvalidSegment("b/c".into()))
        );
    }

    #[test]
    fn rest_paths() {
        let pods = lookup("", "v1", "pods").expect("pods");
        let deployments = lookup("apps", "v1", "deployments").expect("deployments");
        let nodes = lookup("", "v1", "nodes").expect("nodes");
        assert_eq!(
            pods.path(Some("default"), Some("web")),
            Ok("/api/v1/namespaces/default/pods/web".to_owned())
        );
        assert_eq!(pods.path(None, None), Ok("/api/v1/pods".to_owned()));
        assert_eq!(
            deployments.path(Some("ns"), None),
            Ok("/apis/apps/v1/namespaces/ns/deployments".to_owned())
        );
        assert_eq!(
            nodes.path(None, Some("n1")),
            Ok("/api/v1/nodes/n1".to_owned())
        );
        assert_eq!(
            nodes.path(Some("ns"), None),
            Err(Error::ClusterScoped("nodes"))
        );
        assert_eq!(deployments.api_version(), "apps/v1");
        assert_eq!(pods.api_version(), "v1");
    }
}
