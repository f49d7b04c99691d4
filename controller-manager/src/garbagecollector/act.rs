//! Carries the collector's decisions out through the API: owner look-ups, deletions,
//! ownerReference and finalizer patches, warnings as Events.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use serde_json::json;
use tracing::{debug, info, warn};

use super::discovery::Resources;
use super::graph::{self, Action, Checked, Graph, Lookup, Node};
use super::watch::lock;

/// The name the collector's Events carry, as Kubernetes'.
const REPORTER: &str = "garbage-collector-controller";

/// Runs passes: decide on the graph, look up unseen owners, decide again, act.
pub(super) struct Collector {
    client: kube::Client,
    recorder: Recorder,
    /// `(dependent uid, owner uid)` pairs already warned about.
    reported: HashSet<(String, String)>,
}

impl Collector {
    pub fn new(client: kube::Client) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: REPORTER.to_owned(),
                instance: None,
            },
        );
        Self {
            client,
            recorder,
            reported: HashSet::new(),
        }
    }

    /// One pass over the graph. Returns whether everything needed was done (else the
    /// caller retries soon).
    pub async fn pass(
        &mut self,
        graph: &Mutex<Graph>,
        resources: &Resources,
        synced: bool,
    ) -> bool {
        let first = {
            let g = lock(graph);
            graph::plan(&g, resources, &HashMap::new(), synced)
        };
        let mut complete = true;
        let plan = if first.lookups.is_empty() {
            first
        } else {
            let mut checked = HashMap::new();
            for lookup in first.lookups {
                match self.look_up(&lookup, resources).await {
                    Ok(state) => {
                        checked.insert(lookup, state);
                    }
                    Err(error) => {
                        warn!(%error, owner = %lookup.name, uid = %lookup.uid, "garbage collector: failed to look an owner up");
                        complete = false;
                    }
                }
            }
            let g = lock(graph);
            graph::plan(&g, resources, &checked, synced)
        };
        for action in plan.actions {
            if let Err(error) = self.act(action, resources).await {
                warn!(%error, "garbage collector: failed to act, retrying");
                complete = false;
            }
        }
        complete
    }

    /// Asks the server whether an owner the graph has not seen exists.
    async fn look_up(
        &self,
        lookup: &Lookup,
        resources: &Resources,
    ) -> Result<Checked, kube::Error> {
        let Some(served) = resources.get(&lookup.resource) else {
            return Ok(Checked::Absent);
        };
        let api: Api<DynamicObject> = match &lookup.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &served.resource),
            None => Api::all_with(self.client.clone(), &served.resource),
        };
        let Some(owner) = api.get_metadata_opt(&lookup.name).await? else {
            return Ok(Checked::Absent);
        };
        let meta = owner.metadata;
        if meta.uid.as_deref() != Some(lookup.uid.as_str()) {
            return Ok(Checked::Absent);
        }
        let waiting = meta.deletion_timestamp.is_some()
            && meta
                .finalizers
                .unwrap_or_default()
                .iter()
                .any(|f| f == graph::FOREGROUND);
        Ok(if waiting {
            Checked::Waiting
        } else {
            Checked::Solid
        })
    }

    async fn act(&mut self, action: Action, resources: &Resources) -> Result<(), kube::Error> {
        match action {
            Action::Delete { node, foreground } => {
                let Some(api) = api_for(&self.client, resources, &node) else {
                    return Ok(());
                };
                let mut params = if foreground {
                    DeleteParams::foreground()
                } else {
                    DeleteParams::background()
                };
                params.preconditions = Some(Preconditions {
                    uid: Some(node.uid.clone()),
                    resource_version: None,
                });
                info!(kind = %node.kind, namespace = node.namespace.as_deref().unwrap_or(""), name = %node.name, foreground, "garbage collector: deleting a dependent whose owners are gone");
                ignore_gone(api.delete(&node.name, &params).await.map(|_| ()))
            }
            Action::DropOwners { node, uids } => {
                let Some(api) = api_for(&self.client, resources, &node) else {
                    return Ok(());
                };
                let kept: Vec<_> = node
                    .owners
                    .iter()
                    .filter(|r| !uids.contains(&r.uid))
                    .collect();
                info!(kind = %node.kind, namespace = node.namespace.as_deref().unwrap_or(""), name = %node.name, dropped = ?uids, "garbage collector: removing ownerReferences");
                let patch = json!({"metadata": {
                    "resourceVersion": node.resource_version,
                    // An empty list is dropped, as Kubernetes leaves no empty ownerReferences.
                    "ownerReferences": if kept.is_empty() { json!(null) } else { json!(kept) },
                }});
                ignore_gone(patch_merge(&api, &node, &patch).await)
            }
            Action::RemoveFinalizer { node, finalizer } => {
                let Some(api) = api_for(&self.client, resources, &node) else {
                    return Ok(());
                };
                let kept: Vec<&String> =
                    node.finalizers.iter().filter(|f| *f != finalizer).collect();
                info!(kind = %node.kind, namespace = node.namespace.as_deref().unwrap_or(""), name = %node.name, finalizer, "garbage collector: removing a finalizer");
                let patch = json!({"metadata": {
                    "resourceVersion": node.resource_version,
                    "finalizers": if kept.is_empty() { json!(null) } else { json!(kept) },
                }});
                ignore_gone(patch_merge(&api, &node, &patch).await)
            }
            Action::InvalidOwner {
                node,
                owner,
                message,
            } => {
                if !self.reported.insert((node.uid.clone(), owner.uid.clone())) {
                    return Ok(());
                }
                warn!(kind = %node.kind, namespace = node.namespace.as_deref().unwrap_or(""), name = %node.name, %message, "garbage collector: invalid ownerReference");
                let event = Event {
                    type_: EventType::Warning,
                    reason: "OwnerRefInvalidNamespace".to_owned(),
                    note: Some(message),
                    action: "GarbageCollect".to_owned(),
                    secondary: None,
                };
                if let Err(error) = self.recorder.publish(&event, &reference(&node)).await {
                    // A lost warning is not worth retrying the pass for.
                    debug!(%error, "garbage collector: failed to record an event");
                }
                Ok(())
            }
            Action::UnknownKind { node, owner } => {
                if self.reported.insert((node.uid.clone(), owner.uid.clone())) {
                    warn!(kind = %node.kind, namespace = node.namespace.as_deref().unwrap_or(""), name = %node.name, owner_api_version = %owner.api_version, owner_kind = %owner.kind, "garbage collector: an ownerReference names a kind the server does not serve; leaving the object alone");
                }
                Ok(())
            }
        }
    }
}

fn api_for(
    client: &kube::Client,
    resources: &Resources,
    node: &Node,
) -> Option<Api<DynamicObject>> {
    let served = resources.get(&node.resource)?;
    Some(match &node.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &served.resource),
        None => Api::all_with(client.clone(), &served.resource),
    })
}

async fn patch_merge(
    api: &Api<DynamicObject>,
    node: &Node,
    patch: &serde_json::Value,
) -> Result<(), kube::Error> {
    api.patch_metadata(&node.name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map(|_| ())
}

/// An object already gone, or changed since it was seen (the next pass sees it anew), is
/// not a failure.
fn ignore_gone(result: Result<(), kube::Error>) -> Result<(), kube::Error> {
    match result {
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        other => other,
    }
}

fn reference(node: &Node) -> ObjectReference {
    ObjectReference {
        api_version: Some(node.api_version.clone()),
        kind: Some(node.kind.clone()),
        name: Some(node.name.clone()),
        namespace: node.namespace.clone(),
        uid: Some(node.uid.clone()),
        resource_version: node.resource_version.clone(),
        field_path: None,
    }
}
