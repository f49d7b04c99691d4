//! Preemption: when a pod fits nowhere, find the node where evicting the fewest (and
//! least important) lower-priority pods makes room, preferring victims whose eviction breaks
//! no PodDisruptionBudget.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::cache::Cache;
use crate::diagnosis::{Diagnosis, NO_VICTIMS, PREEMPTION_NOT_HELPFUL};
use crate::filters::{self, CycleState};
use crate::pod_info::PodInfo;
use crate::selector::label_selector_matches;

/// PodDisruptionBudgets, fed by a watch.
#[derive(Debug, Default)]
pub struct Budgets {
    /// `namespace/name` -> (namespace, selector, disruptions allowed now).
    budgets: HashMap<String, (String, Option<LabelSelector>, i32)>,
}

impl Budgets {
    /// Records a budget.
    pub fn apply(&mut self, pdb: &PodDisruptionBudget) {
        let namespace = pdb.metadata.namespace.clone().unwrap_or_default();
        let key = format!(
            "{namespace}/{}",
            pdb.metadata.name.as_deref().unwrap_or_default()
        );
        let selector = pdb.spec.as_ref().and_then(|s| s.selector.clone());
        let allowed = pdb.status.as_ref().map_or(0, |s| s.disruptions_allowed);
        self.budgets.insert(key, (namespace, selector, allowed));
    }

    /// Forgets a budget.
    pub fn delete(&mut self, pdb: &PodDisruptionBudget) {
        let namespace = pdb.metadata.namespace.clone().unwrap_or_default();
        let key = format!(
            "{namespace}/{}",
            pdb.metadata.name.as_deref().unwrap_or_default()
        );
        self.budgets.remove(&key);
    }

    /// Splits `victims` into (would violate a budget, would not), keeping their order;
    /// each eviction uses up one allowed disruption of each budget covering the pod.
    fn split(&self, victims: &[Arc<PodInfo>]) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
        let mut left: HashMap<&str, i32> = self
            .budgets
            .iter()
            .map(|(k, (_, _, a))| (k.as_str(), *a))
            .collect();
        let (mut violating, mut fine) = (Vec::new(), Vec::new());
        for victim in victims {
            let mut violates = false;
            for (key, (namespace, selector, _)) in &self.budgets {
                let covers = *namespace == victim.namespace
                    && selector
                        .as_ref()
                        .is_some_and(|s| label_selector_matches(s, &victim.labels));
                if covers {
                    if let Some(n) = left.get_mut(key.as_str()) {
                        *n -= 1;
                        if *n < 0 {
                            violates = true;
                        }
                    }
                }
            }
            if violates {
                violating.push(victim.clone());
            } else {
                fine.push(victim.clone());
            }
        }
        (violating, fine)
    }
}

/// Where to preempt, and whom.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The node that will have room.
    pub node: String,
    /// The pods to evict.
    pub victims: Vec<Arc<PodInfo>>,
    /// How many of them break a PodDisruptionBudget.
    pub budget_violations: usize,
}

/// Finds the best preemption for `pod`, or returns the `preemption: ...` sentence saying why
/// there is none.
pub fn plan(
    pod: &PodInfo,
    cache: &Cache,
    cycle: &CycleState,
    diagnosis: &Diagnosis,
    budgets: &Budgets,
) -> Result<Plan, String> {
    if pod.never_preempt {
        return Err("preemption: not eligible due to preemptionPolicy=Never.".to_owned());
    }
    let mut outcome: Vec<&str> = Vec::new();
    let mut best: Option<Plan> = None;
    for (name, rejection) in &diagnosis.rejected {
        if rejection.unresolvable {
            outcome.push(PREEMPTION_NOT_HELPFUL);
            continue;
        }
        let Some(node) = cache.node(name) else {
            outcome.push(NO_VICTIMS);
            continue;
        };
        let mut lower: Vec<Arc<PodInfo>> = node
            .pods
            .iter()
            .filter(|p| p.priority < pod.priority)
            .cloned()
            .collect();
        if lower.is_empty() {
            outcome.push(NO_VICTIMS);
            continue;
        }
        let mut reduced = node.clone();
        for victim in &lower {
            reduced.remove_pod(&victim.uid);
        }
        if filters::run(pod, &reduced, cycle).is_err() {
            outcome.push(NO_VICTIMS);
            continue;
        }
        // Give back as many as possible, most important first, budget-protected ones first.
        lower.sort_by_key(|p| std::cmp::Reverse(p.priority));
        let (violating, fine) = budgets.split(&lower);
        let mut victims = Vec::new();
        let mut budget_violations = 0;
        for (candidate, breaks_budget) in violating
            .into_iter()
            .map(|p| (p, true))
            .chain(fine.into_iter().map(|p| (p, false)))
        {
            reduced.add_pod(candidate.clone());
            if filters::run(pod, &reduced, cycle).is_err() {
                reduced.remove_pod(&candidate.uid);
                budget_violations += usize::from(breaks_budget);
                victims.push(candidate);
            }
        }
        let plan = Plan {
            node: name.clone(),
            victims,
            budget_violations,
        };
        if best.as_ref().is_none_or(|b| better(&plan, b)) {
            best = Some(plan);
        }
    }
    best.ok_or_else(|| Diagnosis::preemption_message(diagnosis.nodes, &outcome))
}

/// kube-scheduler's order: fewest budget violations, then the lowest most-important victim,
/// then the smallest priority sum, then the fewest victims.
fn better(a: &Plan, b: &Plan) -> bool {
    let key = |p: &Plan| {
        (
            p.budget_violations,
            p.victims
                .iter()
                .map(|v| v.priority)
                .max()
                .unwrap_or(i32::MIN),
            p.victims.iter().map(|v| i64::from(v.priority)).sum::<i64>(),
            p.victims.len(),
        )
    };
    key(a) < key(b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Node;

    fn pod(uid: &str, priority: i32, cpu: i64) -> PodInfo {
        let mut p = PodInfo {
            uid: uid.into(),
            name: uid.into(),
            namespace: "d".into(),
            priority,
            ..PodInfo::default()
        };
        p.requests.milli_cpu = cpu;
        p
    }

    fn setup() -> Cache {
        let mut cache = Cache::default();
        for name in ["n1", "n2"] {
            let node: Node = serde_json::from_value(serde_json::json!({
                "metadata": {"name": name},
                "status": {"allocatable": {"cpu": "2", "memory": "1Gi", "pods": "10"},
                    "conditions": [{"type": "Ready", "status": "True"}]},
            }))
            .unwrap();
            cache.apply_node(&node);
        }
        cache.add_pod("n1", Arc::new(pod("a", 0, 1000)));
        cache.add_pod("n1", Arc::new(pod("b", 0, 1000)));
        cache.add_pod("n2", Arc::new(pod("c", 5, 2000)));
        cache
    }

    fn diagnose(incoming: &PodInfo, cache: &Cache) -> Diagnosis {
        let mut picker = crate::algorithm::Picker::default();
        let cycle = CycleState::new(incoming, cache, Default::default());
        picker.pick(incoming, cache, &cycle).unwrap_err()
    }

    #[test]
    fn fewest_victims_win() {
        let cache = setup();
        let incoming = pod("x", 100, 1000);
        let diagnosis = diagnose(&incoming, &cache);
        let cycle = CycleState::new(&incoming, &cache, Default::default());
        let plan = plan(&incoming, &cache, &cycle, &diagnosis, &Budgets::default()).unwrap();
        assert_eq!(plan.victims.len(), 1);
        assert_eq!(plan.node, "n1");
    }

    #[test]
    fn no_lower_priority_pods_no_victims() {
        let cache = setup();
        let incoming = pod("x", 0, 1000);
        let diagnosis = diagnose(&incoming, &cache);
        let cycle = CycleState::new(&incoming, &cache, Default::default());
        let message = plan(&incoming, &cache, &cycle, &diagnosis, &Budgets::default()).unwrap_err();
        assert_eq!(
            message,
            "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn budgets_steer_victims() {
        let cache = setup();
        let mut budgets = Budgets::default();
        let pdb: PodDisruptionBudget = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "d"},
            "spec": {"selector": {"matchLabels": {"protected": "yes"}}},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1},
        }))
        .unwrap();
        budgets.apply(&pdb);
        let mut cache = cache;
        // Protect the lone pod on n2; n1 then needs one victim, n2 one protected victim.
        let mut c = pod("c", 0, 2000);
        c.labels.insert("protected".into(), "yes".into());
        cache.add_pod("n2", Arc::new(c));
        let incoming = pod("x", 100, 1000);
        let diagnosis = diagnose(&incoming, &cache);
        let cycle = CycleState::new(&incoming, &cache, Default::default());
        let plan = plan(&incoming, &cache, &cycle, &diagnosis, &budgets).unwrap();
        assert_eq!(plan.node, "n1");
        assert_eq!(plan.budget_violations, 0);
    }
}
