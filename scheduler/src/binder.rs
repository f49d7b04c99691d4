//! The scheduler's writes to the API: the binding of a pod to its node, and, for a pod that
//! fits nowhere, its PodScheduled=False condition and FailedScheduling event. Each runs in
//! its own task so that scheduling goes on while requests are in flight.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::Resource;
use serde_json::json;

use crate::pod_info::PodInfo;

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or could not be reached.
    #[error("failed to {what} pod {pod}: {source}")]
    Api {
        /// What was being done.
        what: &'static str,
        /// `namespace/name`.
        pod: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// Whether the pod is gone (no point retrying).
    pub fn pod_gone(&self) -> bool {
        matches!(self, Error::Api { source: kube::Error::Api(status), .. } if status.code == 404)
    }
}

/// Writes bindings, conditions and events.
#[derive(Clone)]
pub struct Binder {
    client: kube::Client,
    recorder: Arc<Recorder>,
    /// Whether to publish a Normal `Scheduled` event for each binding.
    pub scheduled_events: bool,
}

impl std::fmt::Debug for Binder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binder").finish_non_exhaustive()
    }
}

fn reference(pod: &Pod) -> ObjectReference {
    let mut r = pod.object_ref(&());
    r.field_path = None;
    r
}

impl Binder {
    /// A binder reporting events as `scheduler_name`.
    pub fn new(client: kube::Client, scheduler_name: &str, host: &str) -> Self {
        let reporter = Reporter {
            controller: scheduler_name.to_owned(),
            instance: Some(format!("{scheduler_name}-{host}")),
        };
        Self {
            recorder: Arc::new(Recorder::new(client.clone(), reporter)),
            client,
            scheduled_events: true,
        }
    }

    /// Names `node` in each delayed-binding claim of the pod (`claims`), so their volumes are
    /// provisioned or bound where the pod will run (kube-scheduler's VolumeBinding pre-bind).
    ///
    /// # Errors
    /// When a claim cannot be annotated.
    pub async fn select_node_for_claims(
        &self,
        pod: &Pod,
        claims: &[String],
        node: &str,
    ) -> Result<(), Error> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let api: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> =
            Api::namespaced(self.client.clone(), namespace);
        let patch = json!({"metadata": {"annotations": {crate::volumes::SELECTED_NODE: node}}});
        for claim in claims {
            api.patch(
                claim,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .map_err(|source| Error::Api {
                what: "select a node for the claim of",
                pod: format!(
                    "{namespace}/{}",
                    pod.metadata.name.as_deref().unwrap_or_default()
                ),
                source,
            })?;
        }
        Ok(())
    }

    /// POSTs the pod's binding to `node`, then records the Scheduled event.
    ///
    /// # Errors
    /// When the API server refuses the binding.
    pub async fn bind(&self, pod: &Pod, node: &str) -> Result<(), Error> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let binding = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": pod.metadata.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        api.create_subresource::<_, serde_json::Value>(
            "binding",
            name,
            &PostParams::default(),
            &binding,
        )
        .await
        .map_err(|source| Error::Api {
            what: "bind",
            pod: format!("{namespace}/{name}"),
            source,
        })?;
        if self.scheduled_events {
            let event = Event {
                type_: EventType::Normal,
                reason: "Scheduled".to_owned(),
                note: Some(format!(
                    "Successfully assigned {namespace}/{name} to {node}"
                )),
                action: "Binding".to_owned(),
                secondary: None,
            };
            if let Err(error) = self.recorder.publish(&event, &reference(pod)).await {
                tracing::debug!(pod = %name, %error, "failed to record the Scheduled event");
            }
        }
        Ok(())
    }

    /// Records that the pod fits nowhere: the PodScheduled=False condition (reason
    /// Unschedulable) and a Warning FailedScheduling event, both with `message`; and
    /// `status.nominatedNodeName` when preemption made room on a node.
    ///
    /// # Errors
    /// When the status cannot be written.
    pub async fn report_unschedulable(
        &self,
        pod: &Pod,
        message: &str,
        nominated: Option<&str>,
    ) -> Result<(), Error> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let event = Event {
            type_: EventType::Warning,
            reason: "FailedScheduling".to_owned(),
            note: Some(message.to_owned()),
            action: "Scheduling".to_owned(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, &reference(pod)).await {
            tracing::warn!(pod = %name, %error, "failed to record the FailedScheduling event");
        }
        let existing = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
        let unchanged = existing.is_some_and(|c| {
            c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
                && c.message.as_deref() == Some(message)
        }) && nominated.is_none();
        if unchanged {
            return Ok(());
        }
        let now = Timestamp::now().to_string();
        let mut status = json!({
            "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": message, "lastProbeTime": null, "lastTransitionTime": now,
            }],
        });
        if let Some(node) = nominated {
            status["nominatedNodeName"] = json!(node);
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Strategic(json!({ "status": status })),
        )
        .await
        .map_err(|source| Error::Api {
            what: "update the status of",
            pod: format!("{namespace}/{name}"),
            source,
        })?;
        Ok(())
    }

    /// Deletes a preemption victim, with a Preempted event on it.
    ///
    /// # Errors
    /// When the delete is refused (a victim already gone is not an error).
    pub async fn delete_victim(
        &self,
        victim: &PodInfo,
        preemptor: &str,
        node: &str,
    ) -> Result<(), Error> {
        let reference = ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("Pod".to_owned()),
            namespace: Some(victim.namespace.clone()),
            name: Some(victim.name.clone()),
            uid: Some(victim.uid.clone()),
            ..ObjectReference::default()
        };
        let event = Event {
            type_: EventType::Normal,
            reason: "Preempted".to_owned(),
            note: Some(format!("Preempted by pod {preemptor} on node {node}")),
            action: "Preempting".to_owned(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, &reference).await {
            tracing::debug!(pod = %victim.key, %error, "failed to record the Preempted event");
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &victim.namespace);
        match api.delete(&victim.name, &Default::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(source) => Err(Error::Api {
                what: "delete",
                pod: victim.key.clone(),
                source,
            }),
        }
    }
}
