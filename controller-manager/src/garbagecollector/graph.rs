//! The owner/dependent graph and the decisions drawn from it: which dependents to delete,
//! which ownerReferences to drop, which finalizers to remove. No I/O here: the caller feeds
//! the graph from watches, checks unseen owners against the API, and carries the decisions out.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::discovery::{Resources, Served};

/// The finalizer that makes the collector delete dependents before their owner goes.
pub(crate) const FOREGROUND: &str = "foregroundDeletion";
/// The finalizer that makes the collector free dependents before their owner goes.
pub(crate) const ORPHAN: &str = "orphan";

/// A resource's identity in the graph: `(group, plural)`.
pub(crate) type ResourceKey = (String, String);

/// One object, as much as the collector needs of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub resource: ResourceKey,
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    pub resource_version: Option<String>,
    pub owners: Vec<OwnerReference>,
    pub finalizers: Vec<String>,
    pub deleting: bool,
}

impl Node {
    /// The node for an object of `served` with metadata `meta`; `None` without name or uid.
    pub fn from_meta(served: &Served, meta: ObjectMeta) -> Option<Self> {
        let r = &served.resource;
        Some(Self {
            resource: (r.group.clone(), r.plural.clone()),
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            namespace: meta.namespace.filter(|n| !n.is_empty()),
            name: meta.name?,
            uid: meta.uid?,
            resource_version: meta.resource_version,
            owners: meta.owner_references.unwrap_or_default(),
            finalizers: meta.finalizers.unwrap_or_default(),
            deleting: meta.deletion_timestamp.is_some(),
        })
    }

    fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }

    /// Deleting in the foreground: waiting for its blocking dependents.
    pub fn waits_for_dependents(&self) -> bool {
        self.deleting && self.has_finalizer(FOREGROUND)
    }
}

/// Every watched object, by uid.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    nodes: HashMap<String, Node>,
    by_resource: HashMap<ResourceKey, BTreeSet<String>>,
}

impl Graph {
    /// Adds or replaces one object.
    pub fn upsert(&mut self, node: Node) {
        self.by_resource
            .entry(node.resource.clone())
            .or_default()
            .insert(node.uid.clone());
        self.nodes.insert(node.uid.clone(), node);
    }

    /// Forgets one object.
    pub fn remove(&mut self, uid: &str) {
        if let Some(node) = self.nodes.remove(uid) {
            if let Some(uids) = self.by_resource.get_mut(&node.resource) {
                uids.remove(uid);
            }
        }
    }

    /// Replaces every object of `resource` by `nodes` (a fresh list).
    pub fn replace(&mut self, resource: &ResourceKey, nodes: Vec<Node>) {
        self.forget_resource(resource);
        for node in nodes {
            self.upsert(node);
        }
    }

    /// Forgets every object of `resource` (no longer served).
    pub fn forget_resource(&mut self, resource: &ResourceKey) {
        for uid in self.by_resource.remove(resource).unwrap_or_default() {
            self.nodes.remove(&uid);
        }
    }

    /// Dependents by owner uid.
    fn dependents(&self) -> HashMap<&str, Vec<&Node>> {
        let mut out: HashMap<&str, Vec<&Node>> = HashMap::new();
        for node in self.nodes.values() {
            for owner in &node.owners {
                out.entry(owner.uid.as_str()).or_default().push(node);
            }
        }
        out
    }
}

/// What is known of an owner that the graph cannot vouch for, asked of the API server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checked {
    /// It exists with that uid and is not deleting in the foreground.
    Solid,
    /// It exists and waits for its dependents (foreground deletion).
    Waiting,
    /// Nothing of that name and uid.
    Absent,
}

/// An owner to look up: the owner reference, where to look, in which resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Lookup {
    pub resource: ResourceKey,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
}

/// What an ownerReference stands for, as far as known.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RefState {
    Solid,
    Waiting,
    Dangling,
    /// Must be looked up first.
    Unchecked(Lookup),
    /// Cannot be decided (unknown kind, or a cluster-scoped dependent of a namespaced kind).
    Unresolvable,
}

/// What the collector should do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Delete the object, its own dependents in the foreground or the background.
    Delete { node: Node, foreground: bool },
    /// Drop the ownerReferences with these uids from the object.
    DropOwners { node: Node, uids: BTreeSet<String> },
    /// Remove a finalizer from the object.
    RemoveFinalizer { node: Node, finalizer: &'static str },
    /// Warn on a dependent whose ownerReference cannot be valid (the `OwnerRefInvalidNamespace` event).
    InvalidOwner {
        node: Node,
        owner: OwnerReference,
        message: String,
    },
    /// Nothing decided on a dependent whose owner's kind is unknown.
    UnknownKind { node: Node, owner: OwnerReference },
}

/// The decisions of one pass, and the owners to look up before the next one.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub actions: Vec<Action>,
    pub lookups: BTreeSet<Lookup>,
}

/// Decides what to do given the graph, the served resources and the owners already looked up.
/// Owner-side decisions (finalizer removal, orphaning) need the graph complete: `synced`.
pub(crate) fn plan(
    graph: &Graph,
    resources: &Resources,
    checked: &HashMap<Lookup, Checked>,
    synced: bool,
) -> Plan {
    let mut plan = Plan::default();
    let dependents = graph.dependents();
    if synced {
        for owner in graph.nodes.values().filter(|n| n.deleting) {
            let deps = dependents.get(owner.uid.as_str());
            owner_side(owner, deps.map_or(&[][..], Vec::as_slice), &mut plan);
        }
    }
    for node in graph.nodes.values() {
        if !node.owners.is_empty() && !node.deleting {
            dependent_side(graph, resources, checked, node, &mut plan);
        }
    }
    plan
}

/// An owner being deleted: orphan its dependents, or let it go once no dependent blocks it.
fn owner_side(owner: &Node, deps: &[&Node], plan: &mut Plan) {
    if owner.has_finalizer(ORPHAN) {
        if deps.is_empty() {
            plan.actions.push(Action::RemoveFinalizer {
                node: owner.clone(),
                finalizer: ORPHAN,
            });
        }
        for dep in deps {
            plan.actions.push(Action::DropOwners {
                node: (*dep).clone(),
                uids: BTreeSet::from([owner.uid.clone()]),
            });
        }
        return;
    }
    if owner.has_finalizer(FOREGROUND) {
        let blocked = deps.iter().any(|d| {
            d.owners
                .iter()
                .any(|r| r.uid == owner.uid && r.block_owner_deletion == Some(true))
        });
        if !blocked {
            plan.actions.push(Action::RemoveFinalizer {
                node: owner.clone(),
                finalizer: FOREGROUND,
            });
        }
    }
}

/// A dependent: deleted when no owner stands, freed of the owners that are gone or waiting.
fn dependent_side(
    graph: &Graph,
    resources: &Resources,
    checked: &HashMap<Lookup, Checked>,
    node: &Node,
    plan: &mut Plan,
) {
    let mut states = Vec::with_capacity(node.owners.len());
    for owner in &node.owners {
        let state = ref_state(graph, resources, checked, node, owner, plan);
        states.push((owner, state));
    }
    if states
        .iter()
        .any(|(_, s)| matches!(s, RefState::Unresolvable | RefState::Unchecked(_)))
    {
        for (_, state) in states {
            if let RefState::Unchecked(lookup) = state {
                plan.lookups.insert(lookup);
            }
        }
        return;
    }
    let solid = states.iter().any(|(_, s)| *s == RefState::Solid);
    let gone: BTreeSet<String> = states
        .iter()
        .filter(|(_, s)| matches!(s, RefState::Dangling | RefState::Waiting))
        .map(|(r, _)| r.uid.clone())
        .collect();
    if gone.is_empty() {
        return;
    }
    if solid {
        plan.actions.push(Action::DropOwners {
            node: node.clone(),
            uids: gone,
        });
        return;
    }
    // Dependents blocking an owner deleted in the foreground go in the foreground themselves.
    let foreground = states
        .iter()
        .any(|(r, s)| *s == RefState::Waiting && r.block_owner_deletion == Some(true));
    plan.actions.push(Action::Delete {
        node: node.clone(),
        foreground,
    });
}

fn ref_state(
    graph: &Graph,
    resources: &Resources,
    checked: &HashMap<Lookup, Checked>,
    node: &Node,
    owner: &OwnerReference,
    plan: &mut Plan,
) -> RefState {
    let Some(served) = resources.by_kind(&owner.api_version, &owner.kind) else {
        plan.actions.push(Action::UnknownKind {
            node: node.clone(),
            owner: owner.clone(),
        });
        return RefState::Unresolvable;
    };
    if served.namespaced && node.namespace.is_none() {
        plan.actions.push(Action::InvalidOwner {
            node: node.clone(),
            owner: owner.clone(),
            message: format!(
                "ownerRef [{}/{}, name: {}, uid: {}] is namespaced: a cluster-scoped object cannot be owned by it",
                owner.api_version, owner.kind, owner.name, owner.uid
            ),
        });
        return RefState::Unresolvable;
    }
    let namespace = if served.namespaced {
        node.namespace.clone()
    } else {
        None
    };
    if let Some(seen) = graph.nodes.get(&owner.uid) {
        if seen.namespace == namespace {
            return if seen.waits_for_dependents() {
                RefState::Waiting
            } else {
                RefState::Solid
            };
        }
        // A namespaced owner lives in another namespace than its dependent: such a
        // reference cannot hold, so the owner is looked for where it should be.
        plan.actions.push(Action::InvalidOwner {
            node: node.clone(),
            owner: owner.clone(),
            message: format!(
                "ownerRef [{}/{}, namespace: {}, name: {}, uid: {}] does not exist in namespace {:?}",
                owner.api_version,
                owner.kind,
                seen.namespace.as_deref().unwrap_or(""),
                owner.name,
                owner.uid,
                node.namespace.as_deref().unwrap_or("")
            ),
        });
    }
    let lookup = Lookup {
        resource: (
            served.resource.group.clone(),
            served.resource.plural.clone(),
        ),
        namespace,
        name: owner.name.clone(),
        uid: owner.uid.clone(),
    };
    match checked.get(&lookup) {
        Some(Checked::Solid) => RefState::Solid,
        Some(Checked::Waiting) => RefState::Waiting,
        Some(Checked::Absent) => RefState::Dangling,
        None => RefState::Unchecked(lookup),
    }
}

#[cfg(test)]
#[path = "graph_tests.rs"]
mod tests;
