use super::*;
use serde_json::json;

const NEW: &str = "new";

fn pod(name: &str, hash: &str, ready: bool) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {HASH_LABEL: hash}},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
        },
    }))
    .unwrap()
}

const RUN: Fit = Fit {
    should_run: true,
    should_continue: true,
};

fn inputs(strategy: Strategy) -> Inputs<'static> {
    Inputs {
        hash: NEW,
        strategy,
        min_ready_seconds: 0,
        now: Timestamp::now(),
    }
}

#[test]
fn creates_on_empty_nodes_and_deletes_where_not_wanted() {
    let p = pod("ds-a", NEW, true);
    let mut nodes = BTreeMap::new();
    nodes.insert(
        "n1".to_owned(),
        NodeState {
            fit: RUN,
            pods: vec![],
        },
    );
    let gone = Fit {
        should_run: false,
        should_continue: false,
    };
    nodes.insert(
        "n2".to_owned(),
        NodeState {
            fit: gone,
            pods: vec![&p],
        },
    );
    let out = plan(&nodes, inputs(Strategy::OnDelete));
    assert_eq!(out.create, vec!["n1".to_owned()]);
    assert_eq!(out.delete, vec!["ds-a".to_owned()]);
}

#[test]
fn rolling_update_respects_max_unavailable() {
    let pods: Vec<Pod> = (0..3)
        .map(|i| pod(&format!("old-{i}"), "old", true))
        .collect();
    let nodes: BTreeMap<String, NodeState<'_>> = pods
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                format!("n{i}"),
                NodeState {
                    fit: RUN,
                    pods: vec![p],
                },
            )
        })
        .collect();
    let rolling = Strategy::RollingUpdate {
        max_unavailable: 1,
        max_surge: 0,
    };
    let out = plan(&nodes, inputs(rolling));
    assert_eq!(out.delete.len(), 1);
    assert!(out.create.is_empty());
    let s = status(&nodes, inputs(rolling), Some(2));
    assert_eq!(s.desired_number_scheduled, 3);
    assert_eq!(s.updated_number_scheduled, Some(0));
    assert_eq!(s.number_available, Some(3));
}

#[test]
fn surge_creates_beside_old_pods_then_retires_them() {
    let old0 = pod("old-0", "old", true);
    let old1 = pod("old-1", "old", true);
    let new0 = pod("new-0", NEW, true);
    let mut nodes = BTreeMap::new();
    nodes.insert(
        "n0".to_owned(),
        NodeState {
            fit: RUN,
            pods: vec![&old0, &new0],
        },
    );
    nodes.insert(
        "n1".to_owned(),
        NodeState {
            fit: RUN,
            pods: vec![&old1],
        },
    );
    let surge = Strategy::RollingUpdate {
        max_unavailable: 0,
        max_surge: 1,
    };
    let out = plan(&nodes, inputs(surge));
    assert_eq!(out.delete, vec!["old-0".to_owned()]);
    assert_eq!(out.create, vec!["n1".to_owned()]);
}
