//! What several verbs share: the objects they act on, from manifests (`-f`) or from
//! `TYPE NAME` / `TYPE/NAME` arguments and selectors.

use http::Method;
use serde_json::Value;

use super::{query, split_type_args, Ctx};
use crate::discovery::{ApiResource, Discovery};
use crate::manifest::Document;

/// One object a verb acts on.
#[derive(Debug, Clone)]
pub struct Target {
    pub resource: ApiResource,
    /// `None` for cluster-scoped resources.
    pub namespace: Option<String>,
    pub name: String,
    /// The manifest it came from, if any.
    pub source: Option<String>,
    /// The manifest's object, if any.
    pub object: Option<Value>,
}

impl Target {
    /// The object's path.
    pub fn path(&self) -> String {
        self.resource
            .object_path(self.namespace.as_deref(), &self.name)
    }

    /// `deployment.apps/web`.
    pub fn display(&self) -> String {
        format!("{}/{}", self.resource.kind_group(), self.name)
    }
}

/// Maps every manifest document to its resource before anything is sent.
///
/// # Errors
/// Unknown kinds (with the kinds the server has), namespaces that contradict `-n`.
pub fn from_documents(
    ctx: &Ctx,
    discovery: &Discovery,
    docs: Vec<Document>,
    default_ns: &str,
    validate: bool,
) -> anyhow::Result<Vec<Target>> {
    let mut out = Vec::new();
    for d in docs {
        let api_version = d
            .object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let kind = d
            .object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let name = d
            .object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let obj_ns = d
            .object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let Some(resource) = discovery.for_kind(&api_version, &kind) else {
            let known: Vec<String> = {
                let mut k: Vec<String> = discovery
                    .resources
                    .iter()
                    .filter(|r| {
                        r.kind.eq_ignore_ascii_case(&kind) || r.api_version() == api_version
                    })
                    .map(|r| format!("{} ({})", r.kind, r.api_version()))
                    .collect();
                k.dedup();
                k
            };
            let hint = if known.is_empty() {
                "\nensure CRDs are installed first".to_owned()
            } else {
                format!(
                    "\nensure CRDs are installed first; the server has: {}",
                    known.join(", ")
                )
            };
            anyhow::bail!(
                "resource mapping not found for name: \"{name}\" namespace: \"{}\" from \"{}\": no matches for kind \"{kind}\" in version \"{api_version}\"{hint}",
                obj_ns.clone().unwrap_or_default(),
                d.source
            );
        };
        if validate {
            let errors = crate::validate::check(
                &d.object,
                &resource.group,
                &resource.version,
                &resource.kind,
            );
            if !errors.is_empty() {
                let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
                anyhow::bail!(
                    "error validating \"{}\": error validating data: [{}]; if you choose to ignore these errors, turn validation off with --validate=false",
                    d.source,
                    list.join(", ")
                );
            }
        }
        let namespace = if resource.namespaced {
            if let (Some(flag), Some(ns)) = (&ctx.global.namespace, &obj_ns) {
                if flag != ns {
                    anyhow::bail!("the namespace from the provided object \"{ns}\" does not match the namespace \"{flag}\". You must pass '--namespace={ns}' to perform this operation.");
                }
            }
            Some(obj_ns.unwrap_or_else(|| default_ns.to_owned()))
        } else {
            None
        };
        let mut object = d.object;
        if let (Some(ns), Some(Value::Object(m))) = (&namespace, object.get_mut("metadata")) {
            m.insert("namespace".into(), Value::String(ns.clone()));
        }
        out.push(Target {
            resource: resource.clone(),
            namespace,
            name,
            source: Some(d.source),
            object: Some(object),
        });
    }
    Ok(out)
}

/// Resolves `TYPE NAME...`, `TYPE/NAME...`, or a type with `-l`/`--all` (listing the server).
///
/// # Errors
/// Unknown types; listing failures.
pub async fn from_args(
    ctx: &Ctx,
    args: &[String],
    selector: Option<&str>,
    all: bool,
    all_namespaces: bool,
) -> anyhow::Result<Vec<Target>> {
    let discovery = ctx.discovery().await?;
    let client = ctx.client().await?;
    let ns = client.namespace.clone();
    let mut out = Vec::new();
    for (t, names) in split_type_args(args)? {
        let resources: Vec<ApiResource> = if t == "all" {
            discovery.category("all").into_iter().cloned().collect()
        } else {
            vec![discovery.resolve(&t)?.clone()]
        };
        for resource in resources {
            let namespace = resource.namespaced.then(|| ns.clone());
            if names.is_empty() {
                if selector.is_none() && !all {
                    anyhow::bail!("resource(s) were provided, but no name was specified");
                }
                let mut q = Vec::new();
                if let Some(s) = selector {
                    q.push(("labelSelector", s));
                }
                let list_ns = if all_namespaces {
                    None
                } else {
                    namespace.as_deref()
                };
                let path = format!("{}{}", resource.collection_path(list_ns), query(&q));
                let list = client.json(Method::GET, &path, None, None).await?;
                for item in list
                    .get("items")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    out.push(Target {
                        resource: resource.clone(),
                        namespace: item
                            .pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        name: item
                            .pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        source: None,
                        object: None,
                    });
                }
            } else {
                for name in &names {
                    out.push(Target {
                        resource: resource.clone(),
                        namespace: namespace.clone(),
                        name: name.clone(),
                        source: None,
                        object: None,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// `fieldValidation` for `--validate`.
pub fn field_validation(validate: &str) -> anyhow::Result<&'static str> {
    Ok(match validate {
        "strict" | "true" => "Strict",
        "warn" => "Warn",
        "ignore" | "false" => "Ignore",
        other => anyhow::bail!("invalid - validate option \"{other}\"; must be one of: strict (or true), warn, ignore (or false)"),
    })
}

/// How `--dry-run` was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRun {
    None,
    Client,
    Server,
}

impl DryRun {
    /// Parses `--dry-run`.
    ///
    /// # Errors
    /// Values other than none, client, server.
    pub fn parse(v: Option<&str>) -> anyhow::Result<DryRun> {
        Ok(match v {
            None | Some("none") | Some("false") => DryRun::None,
            Some("client") | Some("true") => DryRun::Client,
            Some("server") => DryRun::Server,
            Some(other) => anyhow::bail!(
                "Invalid dry-run value ({other}). Must be \"none\", \"server\", or \"client\"."
            ),
        })
    }

    /// The suffix kubectl adds to messages.
    pub fn suffix(self) -> &'static str {
        match self {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }
}
