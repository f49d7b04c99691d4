//! Event conversion between core `v1` and `events.k8s.io/v1`: the same data under other names.

use serde_json::{Map, Value};

/// Field names that differ, as (core `v1`, `events.k8s.io/v1`). Every other field (`metadata`,
/// `eventTime`, `series`, `action`, `related`, `reason`, `reportingInstance`, `type`) has the
/// same name and meaning in both.
const RENAMED: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("source", "deprecatedSource"),
    ("reportingComponent", "reportingController"),
    ("message", "note"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

/// A core `v1` Event as an `events.k8s.io/v1` Event (without `apiVersion`, set by the caller).
pub(super) fn to_events(core: &Map<String, Value>) -> Map<String, Value> {
    rename(core, |field| {
        RENAMED
            .iter()
            .find(|(from, _)| *from == field)
            .map(|(_, to)| *to)
    })
}

/// An `events.k8s.io/v1` Event as a core `v1` Event (without `apiVersion`, set by the caller).
pub(super) fn to_core(events: &Map<String, Value>) -> Map<String, Value> {
    rename(events, |field| {
        RENAMED
            .iter()
            .find(|(_, from)| *from == field)
            .map(|(to, _)| *to)
    })
}

/// `obj` with each field renamed by `renamed` (when it gives a new name) and every other field
/// kept. Fields that already bear a target name are dropped in favour of the renamed ones: a
/// core Event carrying a stray `note` must not override its `message`.
fn rename(
    obj: &Map<String, Value>,
    renamed: impl Fn(&str) -> Option<&'static str>,
) -> Map<String, Value> {
    let targets: Vec<&str> = obj.keys().filter_map(|k| renamed(k)).collect();
    let mut out = Map::new();
    for (key, value) in obj {
        match renamed(key) {
            Some(to) => {
                out.insert(to.to_owned(), value.clone());
            }
            None if targets.contains(&key.as_str()) => {}
            None => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use serde_json::{json, Value};

    use crate::convert::convert;

    fn core_event() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web-7d4b9.1800a1b2c3d4e5f6", "namespace": "default",
                "uid": "5b1c2d3e-0000-4000-8000-000000000001", "resourceVersion": "4123",
                "creationTimestamp": "2026-11-23T10:00:00Z"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-7d4b9",
                "uid": "0c9a7e1f-0000-4000-8000-000000000002", "apiVersion": "v1",
                "resourceVersion": "4100", "fieldPath": "spec.containers{web}"},
            "reason": "BackOff",
            "message": "Back-off restarting failed container web in pod web-7d4b9_default",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2026-11-23T09:58:00Z",
            "lastTimestamp": "2026-11-23T10:00:00Z",
            "count": 7,
            "type": "Warning",
            "eventTime": null,
            "series": {"count": 3, "lastObservedTime": "2026-11-23T10:00:00.123456Z"},
            "action": "Restarting",
            "related": {"kind": "Node", "name": "node-1", "apiVersion": "v1"},
            "reportingComponent": "kubelet",
            "reportingInstance": "node-1"
        })
    }

    fn events_event() -> Value {
        json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "web-7d4b9.1800a1b2c3d4e5f6", "namespace": "default",
                "uid": "5b1c2d3e-0000-4000-8000-000000000001", "resourceVersion": "4123",
                "creationTimestamp": "2026-11-23T10:00:00Z"},
            "regarding": {"kind": "Pod", "namespace": "default", "name": "web-7d4b9",
                "uid": "0c9a7e1f-0000-4000-8000-000000000002", "apiVersion": "v1",
                "resourceVersion": "4100", "fieldPath": "spec.containers{web}"},
            "reason": "BackOff",
            "note": "Back-off restarting failed container web in pod web-7d4b9_default",
            "deprecatedSource": {"component": "kubelet", "host": "node-1"},
            "deprecatedFirstTimestamp": "2026-11-23T09:58:00Z",
            "deprecatedLastTimestamp": "2026-11-23T10:00:00Z",
            "deprecatedCount": 7,
            "type": "Warning",
            "eventTime": null,
            "series": {"count": 3, "lastObservedTime": "2026-11-23T10:00:00.123456Z"},
            "action": "Restarting",
            "related": {"kind": "Node", "name": "node-1", "apiVersion": "v1"},
            "reportingController": "kubelet",
            "reportingInstance": "node-1"
        })
    }

    #[test]
    fn core_to_events() {
        let out = convert(&core_event(), "events.k8s.io", "v1").unwrap();
        assert_eq!(out, events_event());
    }

    #[test]
    fn events_to_core() {
        let out = convert(&events_event(), "", "v1").unwrap();
        assert_eq!(out, core_event());
    }

    #[test]
    fn round_trips_keep_everything() {
        let core = core_event();
        let there = convert(&core, "events.k8s.io", "v1").unwrap();
        assert_eq!(convert(&there, "", "v1").unwrap(), core);

        let events = events_event();
        let there = convert(&events, "", "v1").unwrap();
        assert_eq!(convert(&there, "events.k8s.io", "v1").unwrap(), events);
    }

    #[test]
    fn new_style_event_from_a_controller() {
        // What client-go's events/v1 recorder writes: eventTime and reporting fields, no
        // deprecated ones.
        let events = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "default"},
            "eventTime": "2026-11-23T10:00:00.000001Z",
            "reportingController": "default-scheduler",
            "reportingInstance": "default-scheduler-cp-1",
            "action": "Binding", "reason": "Scheduled", "type": "Normal",
            "regarding": {"kind": "Pod", "namespace": "default", "name": "web"},
            "note": "Successfully assigned default/web to node-1"
        });
        let core = convert(&events, "", "v1").unwrap();
        assert_eq!(
            core,
            json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": "web.1", "namespace": "default"},
                "eventTime": "2026-11-23T10:00:00.000001Z",
                "reportingComponent": "default-scheduler",
                "reportingInstance": "default-scheduler-cp-1",
                "action": "Binding", "reason": "Scheduled", "type": "Normal",
                "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web"},
                "message": "Successfully assigned default/web to node-1"
            })
        );
        assert_eq!(convert(&core, "events.k8s.io", "v1").unwrap(), events);
    }

    #[test]
    fn stray_target_names_do_not_override_renamed_fields() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "message": "real",
            "note": "stray", "metadata": {"name": "e"}});
        let events = convert(&core, "events.k8s.io", "v1").unwrap();
        assert_eq!(
            events,
            json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "note": "real",
                "metadata": {"name": "e"}})
        );
    }
}
