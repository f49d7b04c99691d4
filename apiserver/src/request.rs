//! What a request asks for: the path parsed into group, version, namespace, resource, name and
//! subresource (Kubernetes' request-info rules), and the query parameters.

use std::collections::HashMap;

use http::Method;

/// A request for a resource (as opposed to discovery or health paths).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The legacy `/watch/` path prefix was used.
    pub watch_prefix: bool,
}

/// What a path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/api`: the core versions.
    CoreVersions,
    /// `/apis`: the groups.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`: the resource list.
    GroupVersion(String, String),
    Resource(ResourcePath),
    /// Anything else (`/version`, `/healthz`, `/openapi/v2`, ...): the path as given.
    Other(String),
}

/// Subresources of a namespace itself: `/api/v1/namespaces/{name}/status|finalize`.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Parses a request path.
pub fn parse_path(path: &str) -> Target {
    let trimmed = path.trim_matches('/');
    let parts: Vec<&str> = if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    };
    let (group, version, rest) = match parts.as_slice() {
        ["api"] => return Target::CoreVersions,
        ["apis"] => return Target::Groups,
        ["apis", g] => return Target::Group((*g).to_owned()),
        ["api", v] => return Target::GroupVersion(String::new(), (*v).to_owned()),
        ["apis", g, v] => return Target::GroupVersion((*g).to_owned(), (*v).to_owned()),
        ["api", v, rest @ ..] => (String::new(), (*v).to_owned(), rest),
        ["apis", g, v, rest @ ..] => ((*g).to_owned(), (*v).to_owned(), rest),
        _ => return Target::Other(path.to_owned()),
    };
    let mut rest = rest;
    let mut watch_prefix = false;
    if rest.first() == Some(&"watch") {
        watch_prefix = true;
        rest = &rest[1..];
    }
    let mut out = ResourcePath {
        group,
        version,
        watch_prefix,
        ..Default::default()
    };
    // `namespaces/{ns}/{resource}...` is in a namespace; `namespaces/{name}[/status]` is a
    // namespace itself.
    if rest.first() == Some(&"namespaces")
        && rest.len() > 2
        && !NAMESPACE_SUBRESOURCES.contains(&rest[2])
    {
        out.namespace = Some(rest[1].to_owned());
        rest = &rest[2..];
    }
    match rest {
        [plural] => out.plural = (*plural).to_owned(),
        [plural, name] => {
            out.plural = (*plural).to_owned();
            out.name = Some((*name).to_owned());
        }
        [plural, name, sub] => {
            out.plural = (*plural).to_owned();
            out.name = Some((*name).to_owned());
            out.subresource = Some((*sub).to_owned());
        }
        _ => return Target::Other(path.to_owned()),
    }
    Target::Resource(out)
}

/// The verb a method and path make, as RBAC and audit name it.
pub fn verb(method: &Method, path: &ResourcePath, query: &Query) -> &'static str {
    let has_name = path.name.is_some();
    match *method {
        Method::GET | Method::HEAD => {
            if path.watch_prefix || query.flag("watch") {
                "watch"
            } else if has_name {
                "get"
            } else {
                "list"
            }
        }
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => {
            if has_name {
                "delete"
            } else {
                "deletecollection"
            }
        }
        _ => "unknown",
    }
}

/// Query parameters (last value wins, as Go's `url.Values.Get` does for the first: parameters
/// are not repeated in practice).
#[derive(Debug, Clone, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        let mut map = HashMap::new();
        if let Some(q) = query {
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
            }
        }
        Query(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A boolean parameter, read as Go's `strconv.ParseBool` reads it (`1`, `t`, `true`, `True`...).
    pub fn flag(&self, key: &str) -> bool {
        matches!(
            self.get(key),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True")
        )
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("invalid value for {key}: {v:?}: must be an integer")),
        }
    }

    /// `dryRun=All` was asked for.
    pub fn dry_run(&self) -> bool {
        self.get("dryRun") == Some("All")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match parse_path(path) {
            Target::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths() {
        assert_eq!(parse_path("/api"), Target::CoreVersions);
        assert_eq!(parse_path("/apis/apps"), Target::Group("apps".into()));
        assert_eq!(
            parse_path("/apis/apps/v1"),
            Target::GroupVersion("apps".into(), "v1".into())
        );
        let r = res("/api/v1/namespaces/default/pods/web/status");
        assert_eq!(r.namespace.as_deref(), Some("default"));
        assert_eq!(r.plural, "pods");
        assert_eq!(r.name.as_deref(), Some("web"));
        assert_eq!(r.subresource.as_deref(), Some("status"));
        let ns = res("/api/v1/namespaces/kube-system");
        assert_eq!(
            (ns.plural.as_str(), ns.name.as_deref()),
            ("namespaces", Some("kube-system"))
        );
        let fin = res("/api/v1/namespaces/x/finalize");
        assert_eq!(fin.subresource.as_deref(), Some("finalize"));
        assert_eq!(fin.namespace, None);
        let all = res("/apis/apps/v1/deployments");
        assert_eq!((all.namespace, all.plural.as_str()), (None, "deployments"));
        let w = res("/api/v1/watch/namespaces/default/pods");
        assert!(w.watch_prefix);
        assert_eq!(parse_path("/version"), Target::Other("/version".into()));
    }

    #[test]
    fn verbs() {
        let q = Query::parse(Some("watch=1&labelSelector=app%3Dweb"));
        assert_eq!(q.get("labelSelector"), Some("app=web"));
        let list = res("/api/v1/pods");
        assert_eq!(verb(&Method::GET, &list, &q), "watch");
        assert_eq!(verb(&Method::GET, &list, &Query::default()), "list");
        assert_eq!(verb(&Method::DELETE, &list, &q), "deletecollection");
    }
}
