//! The disruption controller: keeps each PodDisruptionBudget's status (expected and healthy
//! pods, `disruptionsAllowed`, the `DisruptionAllowed` condition) up to date from the pods it
//! selects, so the API server's eviction subresource (and so `kubectl drain`) can honour it.
//!
//! Budgets and pods are mirrored by watches; a change marks the budgets of that namespace for
//! a sync, and every budget is resynced every 30 s so evicted pods that never went stop
//! counting as disrupted after two minutes.

mod budget;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::{self, reflector, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Client, Resource, ResourceExt};
use tracing::{debug, warn};

use crate::common::pods::is_ready;
use crate::Context;
use budget::{BudgetError, Counts};

/// How often every budget is recomputed even without a change.
const RESYNC: Duration = Duration::from_secs(30);

/// Runs the disruption controller until `ctx.stop`.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    run(ctx).boxed()
}

async fn run(ctx: Context) {
    let (budgets, budget_writer) = reflector::store::<PodDisruptionBudget>();
    let (pods, pod_writer) = reflector::store::<Pod>();
    let budget_changes = reflector(
        budget_writer,
        watcher(Api::all(ctx.client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects()
    .map_ok(|b: PodDisruptionBudget| b.namespace().unwrap_or_default());
    let pod_changes = reflector(
        pod_writer,
        watcher(Api::all(ctx.client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects()
    .map_ok(|p: Pod| p.namespace().unwrap_or_default());
    let changes = futures::stream::select(budget_changes, pod_changes);
    let sync = Syncer {
        client: ctx.client.clone(),
        budgets,
        pods,
    };
    let all = || {
        sync.budgets
            .state()
            .iter()
            .filter_map(|b| b.namespace())
            .collect()
    };
    crate::batch::run(
        "disruption",
        ctx.stop.clone(),
        changes,
        RESYNC,
        all,
        |namespaces| async {
            if !(crate::batch::ready(&sync.budgets) && crate::batch::ready(&sync.pods)) {
                return namespaces;
            }
            let mut retry = BTreeSet::new();
            for namespace in namespaces {
                if !sync.namespace(&namespace).await {
                    retry.insert(namespace);
                }
            }
            retry
        },
    )
    .await;
}

struct Syncer {
    client: Client,
    budgets: Store<PodDisruptionBudget>,
    pods: Store<Pod>,
}

impl Syncer {
    /// Syncs every budget in `namespace`; false when one must be retried.
    async fn namespace(&self, namespace: &str) -> bool {
        let budgets: Vec<_> = self
            .budgets
            .state()
            .into_iter()
            .filter(|b| b.namespace().as_deref() == Some(namespace))
            .collect();
        let mut ok = true;
        for pdb in budgets {
            if let Err(error) = self.budget(&pdb).await {
                warn!(budget = %ObjectRef::from_obj(&*pdb), %error, "failed to sync a disruption budget");
                ok = false;
            }
        }
        ok
    }

    async fn budget(&self, pdb: &PodDisruptionBudget) -> Result<(), kube::Error> {
        let namespace = pdb.namespace().unwrap_or_default();
        let spec = pdb.spec.clone().unwrap_or_default();
        let selector = spec
            .selector
            .as_ref()
            .and_then(|s| rkube_api::client::label_selector(s).ok());
        let empty = BTreeMap::new();
        let pods: Vec<_> = match &selector {
            Some(selector) => self
                .pods
                .state()
                .into_iter()
                .filter(|p| p.namespace().as_deref() == Some(namespace.as_str()))
                .filter(|p| selector.matches(p.metadata.labels.as_ref().unwrap_or(&empty)))
                .collect(),
            None => Vec::new(),
        };
        let now = Timestamp::now();
        let old = pdb.status.clone().unwrap_or_default();
        let recorded: BTreeMap<String, Timestamp> = old
            .disrupted_pods
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0))
            .collect();
        let (disrupted, _) = budget::live_disruptions(
            &recorded,
            |name| {
                pods.iter()
                    .any(|p| p.name_any() == name && p.metadata.deletion_timestamp.is_none())
            },
            now,
        );
        let healthy = pods
            .iter()
            .filter(|p| {
                p.metadata.deletion_timestamp.is_none()
                    && !disrupted.contains_key(&p.name_any())
                    && is_ready(p)
            })
            .count();
        let healthy = i32::try_from(healthy).unwrap_or(i32::MAX);
        let count = i32::try_from(pods.len()).unwrap_or(i32::MAX);
        let mut scale_cache = HashMap::new();
        let scale = self.scale(&namespace, &pods, &mut scale_cache).await;
        let counts = budget::counts(&spec, count, healthy, || scale);
        let generation = pdb.metadata.generation;
        let condition = |status: &str, reason: &str, message: String| Condition {
            type_: "DisruptionAllowed".to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message,
            observed_generation: generation,
            last_transition_time: old
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "DisruptionAllowed" && c.status == status)
                .map_or_else(|| Time(now), |c| c.last_transition_time.clone()),
        };
        let (counts, condition) = match counts {
            Ok(c) if c.disruptions_allowed > 0 => {
                (c, condition("True", "SufficientPods", String::new()))
            }
            Ok(c) => (c, condition("False", "InsufficientPods", String::new())),
            Err(error) => (
                Counts {
                    expected: count,
                    desired_healthy: 0,
                    current_healthy: healthy,
                    disruptions_allowed: 0,
                },
                condition("False", "SyncFailed", error.to_string()),
            ),
        };
        let status = PodDisruptionBudgetStatus {
            conditions: Some(vec![condition]),
            current_healthy: counts.current_healthy,
            desired_healthy: counts.desired_healthy,
            disrupted_pods: (!disrupted.is_empty())
                .then(|| disrupted.into_iter().map(|(k, v)| (k, Time(v))).collect()),
            disruptions_allowed: counts.disruptions_allowed,
            expected_pods: counts.expected,
            observed_generation: generation,
        };
        if status == old {
            return Ok(());
        }
        debug!(budget = %pdb.name_any(), allowed = status.disruptions_allowed, "updating disruption budget status");
        let mut next = pdb.clone();
        next.status = Some(status);
        let api: Api<PodDisruptionBudget> = Api::namespaced(self.client.clone(), &namespace);
        api.replace_status(&pdb.name_any(), &PostParams::default(), &next)
            .await?;
        Ok(())
    }

    /// The replicas the pods' controllers want, summed once per controller (a ReplicaSet of
    /// a Deployment counts as the Deployment).
    async fn scale(
        &self,
        namespace: &str,
        pods: &[std::sync::Arc<Pod>],
        cache: &mut HashMap<String, (String, i32)>,
    ) -> Result<i32, BudgetError> {
        let mut by_controller: BTreeMap<String, i32> = BTreeMap::new();
        for pod in pods {
            let owner = pod
                .owner_references()
                .iter()
                .find(|o| o.controller == Some(true))
                .ok_or_else(|| BudgetError::NoController(pod.name_any()))?;
            let (uid, replicas) = match cache.get(&owner.uid) {
                Some(found) => found.clone(),
                None => {
                    let found = self
                        .controller_scale(namespace, &owner.kind, &owner.api_version, &owner.name)
                        .await
                        .ok_or_else(|| BudgetError::NoController(pod.name_any()))?;
                    cache.insert(owner.uid.clone(), found.clone());
                    found
                }
            };
            by_controller.insert(uid, replicas);
        }
        Ok(by_controller.values().sum())
    }

    /// (uid, replicas) of the workload behind a pod's controller.
    async fn controller_scale(
        &self,
        namespace: &str,
        kind: &str,
        api_version: &str,
        name: &str,
    ) -> Option<(String, i32)> {
        let client = self.client.clone();
        match (api_version, kind) {
            ("apps/v1", "ReplicaSet") => {
                let rs = Api::<ReplicaSet>::namespaced(client.clone(), namespace)
                    .get_opt(name)
                    .await
                    .ok()??;
                if let Some(owner) = rs
                    .owner_references()
                    .iter()
                    .find(|o| o.controller == Some(true) && o.kind == "Deployment")
                {
                    let d = Api::<Deployment>::namespaced(client, namespace)
                        .get_opt(&owner.name)
                        .await
                        .ok()??;
                    return Some((uid(&d), d.spec.and_then(|s| s.replicas).unwrap_or(1)));
                }
                Some((uid(&rs), rs.spec.and_then(|s| s.replicas).unwrap_or(1)))
            }
            ("apps/v1", "StatefulSet") => {
                let s = Api::<StatefulSet>::namespaced(client, namespace)
                    .get_opt(name)
                    .await
                    .ok()??;
                Some((uid(&s), s.spec.and_then(|s| s.replicas).unwrap_or(1)))
            }
            ("v1", "ReplicationController") => {
                let rc = Api::<ReplicationController>::namespaced(client, namespace)
                    .get_opt(name)
                    .await
                    .ok()??;
                Some((uid(&rc), rc.spec.and_then(|s| s.replicas).unwrap_or(1)))
            }
            _ => None,
        }
    }
}

fn uid<K: Resource>(obj: &K) -> String {
    obj.meta().uid.clone().unwrap_or_default()
}
