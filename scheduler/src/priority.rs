//! PriorityClasses: a pod's priority from its `priorityClassName` (or the global default
//! class) when the API server has not filled `spec.priority`.

use std::collections::HashMap;

use k8s_openapi::api::scheduling::v1::PriorityClass;

/// PriorityClass values, fed by a watch.
#[derive(Debug, Default)]
pub struct Priorities {
    classes: HashMap<String, (i32, bool)>,
}

/// Built-in classes that exist in every cluster.
const BUILT_IN: [(&str, i32); 2] = [
    ("system-cluster-critical", 2_000_000_000),
    ("system-node-critical", 2_000_001_000),
];

impl Priorities {
    /// Records a class.
    pub fn apply(&mut self, class: &PriorityClass) {
        if let Some(name) = &class.metadata.name {
            self.classes.insert(
                name.clone(),
                (class.value, class.global_default.unwrap_or(false)),
            );
        }
    }

    /// Forgets a class.
    pub fn delete(&mut self, name: &str) {
        self.classes.remove(name);
    }

    /// The priority of a pod with `spec.priority` and `spec.priorityClassName` as given.
    pub fn resolve(&self, priority: Option<i32>, class: Option<&str>) -> i32 {
        if let Some(p) = priority {
            return p;
        }
        if let Some(name) = class.filter(|c| !c.is_empty()) {
            if let Some((value, _)) = self.classes.get(name) {
                return *value;
            }
            if let Some((_, value)) = BUILT_IN.iter().find(|(n, _)| *n == name) {
                return *value;
            }
        }
        self.classes
            .values()
            .find(|(_, default)| *default)
            .map_or(0, |(value, _)| *value)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn resolution_order() {
        let mut p = Priorities::default();
        let class: PriorityClass = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "high"}, "value": 1000}))
        .unwrap();
        p.apply(&class);
        assert_eq!(p.resolve(Some(5), Some("high")), 5);
        assert_eq!(p.resolve(None, Some("high")), 1000);
        assert_eq!(p.resolve(None, None), 0);
        let default: PriorityClass = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "d"}, "value": 7, "globalDefault": true}))
        .unwrap();
        p.apply(&default);
        assert_eq!(p.resolve(None, None), 7);
    }
}
