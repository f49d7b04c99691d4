use super::*;
use serde_json::json;

fn pod(name: &str, revision: &str, ready: bool) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {HASH_LABEL: revision}},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
        },
    }))
    .unwrap()
}

fn inputs(replicas: i32, ordered: bool, partition: Option<i32>) -> Inputs<'static> {
    Inputs {
        replicas,
        start: 0,
        ordered,
        partition,
        current_revision: "web-a",
        update_revision: "web-b",
    }
}

#[test]
fn ordered_creation_waits_for_readiness() {
    let web0 = pod("web-0", "web-b", false);
    let mut pods = BTreeMap::new();
    assert_eq!(
        plan(&pods, inputs(3, true, Some(0))),
        vec![Step::Create {
            ordinal: 0,
            revision: Revision::Update
        }]
    );
    pods.insert(0, &web0);
    assert!(plan(&pods, inputs(3, true, Some(0))).is_empty());
    let parallel = plan(&pods, inputs(3, false, Some(0)));
    assert_eq!(parallel.len(), 2);
    let web0 = pod("web-0", "web-b", true);
    pods.insert(0, &web0);
    assert_eq!(
        plan(&pods, inputs(3, true, Some(0))),
        vec![Step::Create {
            ordinal: 1,
            revision: Revision::Update
        }]
    );
}

#[test]
fn scale_down_goes_from_the_highest_ordinal() {
    let all: Vec<Pod> = (0..3)
        .map(|i| pod(&format!("web-{i}"), "web-b", true))
        .collect();
    let pods: BTreeMap<i32, &Pod> = (0..3).zip(all.iter()).collect();
    assert_eq!(
        plan(&pods, inputs(1, true, Some(0))),
        vec![Step::Delete {
            ordinal: 2,
            name: "web-2".into(),
            condemned: true
        }]
    );
    assert_eq!(plan(&pods, inputs(1, false, Some(0))).len(), 2);
}

#[test]
fn rolling_update_stops_at_the_partition() {
    let all: Vec<Pod> = (0..3)
        .map(|i| pod(&format!("web-{i}"), "web-a", true))
        .collect();
    let mut pods: BTreeMap<i32, &Pod> = (0..3).zip(all.iter()).collect();
    assert_eq!(
        plan(&pods, inputs(3, true, Some(1))),
        vec![Step::Delete {
            ordinal: 2,
            name: "web-2".into(),
            condemned: false
        }]
    );
    let updated = pod("web-2", "web-b", false);
    pods.insert(2, &updated);
    assert!(plan(&pods, inputs(3, true, Some(1))).is_empty());
    let updated = pod("web-2", "web-b", true);
    pods.insert(2, &updated);
    assert_eq!(
        plan(&pods, inputs(3, true, Some(1))),
        vec![Step::Delete {
            ordinal: 1,
            name: "web-1".into(),
            condemned: false
        }]
    );
    let one = pod("web-1", "web-b", true);
    pods.insert(1, &one);
    assert!(plan(&pods, inputs(3, true, Some(1))).is_empty());
    assert!(plan(&pods, inputs(3, true, None)).is_empty());
}
