//! The paths and operations of served resources, in a form both document versions render.

use crate::registry::Verb;
use crate::schema::{Gvk, Schemas};

use super::params::{self, Param};
use super::{ServedResource, SubresourceBody};

pub(super) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(super) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(super) const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
pub(super) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

const JSON_YAML: &[&str] = &["application/json", "application/yaml"];
const LISTABLE: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/json;stream=watch",
];
const WATCHABLE: &[&str] = &["application/json", "application/json;stream=watch"];
const TEXT: &[&str] = &["text/plain", "application/json", "application/yaml"];
const ANY: &[&str] = &["*/*"];
const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];
/// Custom resources do not take strategic merge patches.
const CUSTOM_PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];

/// What a response carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Payload {
    Definition(String),
    Text,
}

/// One operation.
#[derive(Debug, Clone)]
pub(super) struct Operation {
    pub method: &'static str,
    pub id: String,
    pub description: String,
    pub action: &'static str,
    pub gvk: Gvk,
    pub query: &'static [Param],
    /// The request body's definition, if any.
    pub body: Option<String>,
    pub consumes: &'static [&'static str],
    pub produces: &'static [&'static str],
    pub responses: Vec<(&'static str, &'static str, Payload)>,
    pub tag: String,
}

/// What distinguishes one operation; the builder adds the kind, content types and tag.
struct OpSpec {
    method: &'static str,
    id: String,
    description: String,
    action: &'static str,
    query: &'static [Param],
    body: Option<String>,
    responses: Vec<(&'static str, &'static str, Payload)>,
}

/// One path and its operations.
#[derive(Debug, Clone)]
pub(super) struct PathItem {
    pub path: String,
    pub params: Vec<Param>,
    pub operations: Vec<Operation>,
}

/// `apps` -> `Apps`, `rbac.authorization.k8s.io` -> `RbacAuthorization`, core -> `Core`.
fn group_id(group: &str) -> String {
    if group.is_empty() {
        return "Core".to_owned();
    }
    group
        .trim_end_matches(".k8s.io")
        .split(['.', '-'])
        .map(capitalize)
        .collect()
}

fn decapitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Builds every path of one resource.
pub(super) fn resource_paths(resource: &ServedResource) -> Vec<PathItem> {
    Builder::new(resource).build()
}

struct Builder<'a> {
    r: &'a ServedResource,
    prefix: String,
    ns: &'static str,
    namespaced_id: &'static str,
    gv_id: String,
    definition: String,
    gvk: Gvk,
    tag: String,
    /// Whether the kind comes from a CustomResourceDefinition.
    custom: bool,
}

impl<'a> Builder<'a> {
    fn new(r: &'a ServedResource) -> Builder<'a> {
        let prefix = format!("/{}", r.group_version_key());
        let group = group_id(&r.group);
        let tag = format!("{}_{}", decapitalize(&group), r.version);
        Builder {
            r,
            prefix,
            ns: if r.namespaced {
                "/namespaces/{namespace}"
            } else {
                ""
            },
            namespaced_id: if r.namespaced { "Namespaced" } else { "" },
            gv_id: format!("{group}{}", capitalize(&r.version)),
            definition: r.definition_name(),
            gvk: r.gvk(),
            tag,
            custom: matches!(r.schema, super::ResourceSchema::Inline(_)),
        }
    }

    fn serves(&self, verb: Verb) -> bool {
        self.r.verbs.contains(&verb)
    }

    fn scope_params(&self) -> Vec<Param> {
        if self.r.namespaced {
            vec![params::NAMESPACE, params::PRETTY]
        } else {
            vec![params::PRETTY]
        }
    }

    fn object_params(&self) -> Vec<Param> {
        let mut p = vec![params::NAME];
        p.extend(self.scope_params());
        p
    }

    fn op(&self, spec: OpSpec) -> Operation {
        let OpSpec {
            method,
            id,
            description,
            action,
            query,
            body,
            responses,
        } = spec;
        let (consumes, produces) = match (method, action) {
            ("patch", _) if self.custom => (CUSTOM_PATCH_TYPES, JSON_YAML),
            ("patch", _) => (PATCH_TYPES, JSON_YAML),
            (_, "list") => (ANY, LISTABLE),
            (_, "watch" | "watchlist") => (ANY, WATCHABLE),
            _ => (ANY, JSON_YAML),
        };
        Operation {
            method,
            id,
            description,
            action,
            gvk: self.gvk.clone(),
            query,
            body,
            consumes,
            produces,
            responses,
            tag: self.tag.clone(),
        }
    }

    fn build(&self) -> Vec<PathItem> {
        let r = self.r;
        let (gv, ns, k) = (&self.gv_id, self.namespaced_id, &r.kind);
        let def = || Payload::Definition(self.definition.clone());
        let status = || Payload::Definition(STATUS.to_owned());
        let mut items = Vec::new();

        let mut collection = Vec::new();
        if self.serves(Verb::List) {
            collection.push(self.op(OpSpec {
                method: "get",
                id: format!("list{gv}{ns}{k}"),
                description: format!("list or watch objects of kind {k}"),
                action: "list",
                query: params::LIST,
                body: None,
                responses: vec![(
                    "200",
                    "OK",
                    Payload::Definition(format!("{}List", self.definition)),
                )],
            }));
        }
        if self.serves(Verb::Create) {
            collection.push(self.op(OpSpec {
                method: "post",
                id: format!("create{gv}{ns}{k}"),
                description: format!("create a {k}"),
                action: "post",
                query: params::WRITE,
                body: Some(self.definition.clone()),
                responses: vec![
                    ("200", "OK", def()),
                    ("201", "Created", def()),
                    ("202", "Accepted", def()),
                ],
            }));
        }
        if self.serves(Verb::DeleteCollection) {
            collection.push(self.op(OpSpec {
                method: "delete",
                id: format!("delete{gv}Collection{ns}{k}"),
                description: format!("delete collection of {k}"),
                action: "deletecollection",
                query: params::DELETE_COLLECTION,
                body: Some(DELETE_OPTIONS.to_owned()),
                responses: vec![("200", "OK", status())],
            }));
        }
        let base = format!("{}{}/{}", self.prefix, self.ns, r.plural);
        push(&mut items, &base, self.scope_params(), collection);

        let mut object = Vec::new();
        if self.serves(Verb::Get) {
            object.push(self.op(OpSpec {
                method: "get",
                id: format!("read{gv}{ns}{k}"),
                description: format!("read the specified {k}"),
                action: "get",
                query: &[],
                body: None,
                responses: vec![("200", "OK", def())],
            }));
        }
        if self.serves(Verb::Update) {
            object.push(self.op(OpSpec {
                method: "put",
                id: format!("replace{gv}{ns}{k}"),
                description: format!("replace the specified {k}"),
                action: "put",
                query: params::WRITE,
                body: Some(self.definition.clone()),
                responses: vec![("200", "OK", def()), ("201", "Created", def())],
            }));
        }
        if self.serves(Verb::Patch) {
            object.push(self.op(OpSpec {
                method: "patch",
                id: format!("patch{gv}{ns}{k}"),
                description: format!("partially update the specified {k}"),
                action: "patch",
                query: params::PATCH,
                body: Some(PATCH.to_owned()),
                responses: vec![("200", "OK", def()), ("201", "Created", def())],
            }));
        }
        if self.serves(Verb::Delete) {
            object.push(self.op(OpSpec {
                method: "delete",
                id: format!("delete{gv}{ns}{k}"),
                description: format!("delete a {k}"),
                action: "delete",
                query: params::DELETE,
                body: Some(DELETE_OPTIONS.to_owned()),
                responses: vec![("200", "OK", status()), ("202", "Accepted", status())],
            }));
        }
        let object_path = format!("{base}/{{name}}");
        push(&mut items, &object_path, self.object_params(), object);

        if r.namespaced && self.serves(Verb::List) {
            let op = self.op(OpSpec {
                method: "get",
                id: format!("list{gv}{k}ForAllNamespaces"),
                description: format!("list or watch objects of kind {k}"),
                action: "list",
                query: params::LIST,
                body: None,
                responses: vec![(
                    "200",
                    "OK",
                    Payload::Definition(format!("{}List", self.definition)),
                )],
            });
            push(
                &mut items,
                &format!("{}/{}", self.prefix, r.plural),
                vec![params::PRETTY],
                vec![op],
            );
        }
        if self.serves(Verb::Watch) {
            let event = || vec![("200", "OK", Payload::Definition(WATCH_EVENT.to_owned()))];
            let watch_base = format!("{}/watch{}/{}", self.prefix, self.ns, r.plural);
            let list = self.op(OpSpec {
                method: "get",
                id: format!("watch{gv}{ns}{k}List"),
                description: format!("watch individual changes to a list of {k}"),
                action: "watchlist",
                query: params::LIST,
                body: None,
                responses: event(),
            });
            push(&mut items, &watch_base, self.scope_params(), vec![list]);
            let one = self.op(OpSpec {
                method: "get",
                id: format!("watch{gv}{ns}{k}"),
                description: format!("watch changes to an object of kind {k}"),
                action: "watch",
                query: params::LIST,
                body: None,
                responses: event(),
            });
            push(
                &mut items,
                &format!("{watch_base}/{{name}}"),
                self.object_params(),
                vec![one],
            );
            if r.namespaced {
                let all = self.op(OpSpec {
                    method: "get",
                    id: format!("watch{gv}{k}ListForAllNamespaces"),
                    description: format!("watch individual changes to a list of {k}"),
                    action: "watchlist",
                    query: params::LIST,
                    body: None,
                    responses: event(),
                });
                push(
                    &mut items,
                    &format!("{}/watch/{}", self.prefix, r.plural),
                    vec![params::PRETTY],
                    vec![all],
                );
            }
        }
        for sub in &r.subresources {
            let ops = self.subresource_ops(sub);
            push(
                &mut items,
                &format!("{object_path}/{}", sub.name),
                self.object_params(),
                ops,
            );
        }
        items
    }

    fn subresource_ops(&self, sub: &super::ServedSubresource) -> Vec<Operation> {
        let (gv, ns, k) = (&self.gv_id, self.namespaced_id, &self.r.kind);
        let s = capitalize(&sub.name);
        let (gvk, definition) = match &sub.body {
            SubresourceBody::Parent => (self.gvk.clone(), Some(self.definition.clone())),
            SubresourceBody::Kind(gvk) => (
                gvk.clone(),
                Schemas::builtin()
                    .definition_for_kind(&gvk.group, &gvk.version, &gvk.kind)
                    .map(str::to_owned),
            ),
            SubresourceBody::Text => (self.gvk.clone(), None),
            SubresourceBody::Connect => (
                Gvk::new(&self.r.group, &self.r.version, &format!("{k}{s}Options")),
                None,
            ),
        };
        let payload = || match &definition {
            Some(d) => Payload::Definition(d.clone()),
            None => Payload::Text,
        };
        let mut ops = Vec::new();
        for verb in &sub.verbs {
            let mut op = match (&sub.body, verb) {
                (SubresourceBody::Connect, Verb::Get) => self.op(OpSpec {
                    method: "get",
                    id: format!("connect{gv}Get{ns}{k}{s}"),
                    description: format!("connect GET requests to {} of {k}", sub.name),
                    action: "connect",
                    query: connect_params(&sub.name),
                    body: None,
                    responses: vec![("200", "OK", Payload::Text)],
                }),
                (SubresourceBody::Connect, Verb::Create) => self.op(OpSpec {
                    method: "post",
                    id: format!("connect{gv}Post{ns}{k}{s}"),
                    description: format!("connect POST requests to {} of {k}", sub.name),
                    action: "connect",
                    query: connect_params(&sub.name),
                    body: None,
                    responses: vec![("200", "OK", Payload::Text)],
                }),
                (SubresourceBody::Text, Verb::Get) => {
                    let mut op = self.op(OpSpec {
                        method: "get",
                        id: format!("read{gv}{ns}{k}{s}"),
                        description: format!("read {} of the specified {k}", sub.name),
                        action: "get",
                        query: params::LOG,
                        body: None,
                        responses: vec![("200", "OK", Payload::Text)],
                    });
                    op.produces = TEXT;
                    op
                }
                (_, Verb::Get) => self.op(OpSpec {
                    method: "get",
                    id: format!("read{gv}{ns}{k}{s}"),
                    description: format!("read {} of the specified {k}", sub.name),
                    action: "get",
                    query: &[],
                    body: None,
                    responses: vec![("200", "OK", payload())],
                }),
                (_, Verb::Update) => self.op(OpSpec {
                    method: "put",
                    id: format!("replace{gv}{ns}{k}{s}"),
                    description: format!("replace {} of the specified {k}", sub.name),
                    action: "put",
                    query: params::WRITE,
                    body: definition.clone(),
                    responses: vec![("200", "OK", payload()), ("201", "Created", payload())],
                }),
                (_, Verb::Patch) => self.op(OpSpec {
                    method: "patch",
                    id: format!("patch{gv}{ns}{k}{s}"),
                    description: format!("partially update {} of the specified {k}", sub.name),
                    action: "patch",
                    query: params::PATCH,
                    body: Some(PATCH.to_owned()),
                    responses: vec![("200", "OK", payload()), ("201", "Created", payload())],
                }),
                (_, Verb::Create) => self.op(OpSpec {
                    method: "post",
                    id: format!("create{gv}{ns}{k}{s}"),
                    description: format!("create {} of a {k}", sub.name),
                    action: "post",
                    query: params::WRITE,
                    body: definition.clone(),
                    responses: vec![
                        ("200", "OK", payload()),
                        ("201", "Created", payload()),
                        ("202", "Accepted", payload()),
                    ],
                }),
                _ => continue,
            };
            op.gvk = gvk.clone();
            ops.push(op);
        }
        ops
    }
}

fn connect_params(name: &str) -> &'static [Param] {
    match name {
        "portforward" => params::PORT_FORWARD,
        _ => params::EXEC,
    }
}

fn push(items: &mut Vec<PathItem>, path: &str, params: Vec<Param>, operations: Vec<Operation>) {
    if !operations.is_empty() {
        items.push(PathItem {
            path: path.to_owned(),
            params,
            operations,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::group_id;

    #[test]
    fn group_ids_follow_kubernetes_operation_ids() {
        assert_eq!(group_id(""), "Core");
        assert_eq!(group_id("apps"), "Apps");
        assert_eq!(group_id("rbac.authorization.k8s.io"), "RbacAuthorization");
        assert_eq!(group_id("networking.k8s.io"), "Networking");
        assert_eq!(group_id("apiextensions.k8s.io"), "Apiextensions");
        assert_eq!(group_id("stable.example.com"), "StableExampleCom");
    }
}
