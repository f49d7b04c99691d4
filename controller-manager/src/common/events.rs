//! Recording Events without holding up a sync: each is published on its own task.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder};
use tracing::debug;

/// Publishes an Event about `regarding` in the background; failures are only logged.
pub fn publish(recorder: &Recorder, regarding: ObjectReference, kind: EventType, reason: &str, note: String) {
    let recorder = recorder.clone();
    let event = Event {
        type_: kind,
        reason: reason.to_owned(),
        note: Some(note),
        action: reason.to_owned(),
        secondary: None,
    };
    tokio::spawn(async move {
        if let Err(error) = recorder.publish(&event, &regarding).await {
            debug!(%error, "failed to record event");
        }
    });
}
