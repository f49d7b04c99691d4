use serde_json::{json, Value};

use crate::patch::{apply_strategic_merge_patch, create_merge_patch, create_three_way_merge_patch};
use crate::schema::Schemas;

const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";

fn three_way(original: Option<&Value>, modified: &Value, current: &Value) -> Value {
    create_three_way_merge_patch(original, modified, current, Schemas::builtin(), DEPLOYMENT)
        .unwrap()
}

#[test]
fn smoke() {
    let o = json!({"spec": {"replicas": 1}});
    let m = json!({"spec": {"replicas": 2}});
    assert_eq!(
        three_way(Some(&o), &m, &o),
        json!({"spec": {"replicas": 2}})
    );
    assert_eq!(
        create_merge_patch(Some(&o), &m, &o),
        json!({"spec": {"replicas": 2}})
    );
    let _ = apply_strategic_merge_patch;
}
