//! Events as kube-controller-manager records them: one core `v1` Event per occurrence
//! (`Created pod: web-abc12` and `Created pod: web-def34` stay two lines in `describe`),
//! published on their own task so a sync never waits for them.

use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
pub use kube::runtime::events::EventType;
use tracing::debug;

/// Where a controller's Events go, and under which component name.
#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    component: &'static str,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("component", &self.component)
            .finish_non_exhaustive()
    }
}

/// Makes Event names unique even when two share a timestamp.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl Recorder {
    /// A recorder reporting as `component` (e.g. `deployment-controller`).
    #[must_use]
    pub fn new(client: kube::Client, component: &'static str) -> Self {
        Self { client, component }
    }

    /// Publishes an Event about `regarding` in the background; failures are only logged.
    pub fn publish(
        &self,
        regarding: ObjectReference,
        kind: EventType,
        reason: &str,
        message: String,
    ) {
        let now = Timestamp::now();
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}.{:x}{:04x}",
            regarding.name.as_deref().unwrap_or("object"),
            now.as_nanosecond(),
            seq & 0xffff
        );
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: regarding,
            reason: Some(reason.to_owned()),
            message: Some(message),
            type_: Some(
                match kind {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .to_owned(),
            ),
            source: Some(EventSource {
                component: Some(self.component.to_owned()),
                host: None,
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            reporting_component: Some(self.component.to_owned()),
            reporting_instance: Some(self.component.to_owned()),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        tokio::spawn(async move {
            if let Err(error) = api.create(&PostParams::default(), &event).await {
                debug!(%error, "failed to record event");
            }
        });
    }
}

/// Publishes one event through kube-rs's `events.k8s.io` recorder, the action named after the
/// reason, `related` as the secondary object; a failure is only logged.
pub async fn publish_with(
    recorder: &kube::runtime::events::Recorder,
    regarding: &ObjectReference,
    type_: EventType,
    reason: &str,
    note: String,
    related: Option<ObjectReference>,
) {
    let event = kube::runtime::events::Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: reason.to_owned(),
        secondary: related,
    };
    if let Err(error) = recorder.publish(&event, regarding).await {
        debug!(%error, reason, "failed to record an event");
    }
}
