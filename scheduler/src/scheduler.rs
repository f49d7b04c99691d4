//! The scheduling loop: one task owns the cache and the queue, feeds them from the watches,
//! and between watch events takes the next pod, picks its node, assumes it there at once and
//! hands the binding to a task of its own (many bindings in flight).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::algorithm::Picker;
use crate::binder::Binder;
use crate::cache::Cache;
use crate::filters::CycleState;
use crate::pod_info::{is_terminal, PodInfo};
use crate::preemption::{self, Budgets};
use crate::priority::Priorities;
use crate::queue::{Queue, Queued};
use crate::volumes::Volumes;
use crate::Config;

/// Most binding requests in flight at once.
const MAX_BINDINGS_IN_FLIGHT: usize = 256;

/// What a binding task reports back.
#[derive(Debug)]
struct BindOutcome {
    uid: String,
    failed: Option<crate::binder::Error>,
}

type Watch<K> = std::pin::Pin<Box<dyn Stream<Item = Result<Event<K>, watcher::Error>> + Send>>;

fn watch<K>(client: &kube::Client) -> Watch<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
{
    let api: Api<K> = Api::all(client.clone());
    watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed()
}

/// The scheduler's state, owned by the loop.
struct Scheduler {
    config: Config,
    cache: Cache,
    queue: Queue,
    volumes: Volumes,
    priorities: Priorities,
    budgets: Budgets,
    picker: Picker,
    binder: Binder,
    bindings: Arc<Semaphore>,
    outcomes: mpsc::UnboundedSender<BindOutcome>,
    nodes_synced: bool,
    pods_synced: bool,
    /// Names/UIDs seen during a relist, to drop what disappeared.
    relist_nodes: Option<HashSet<String>>,
    relist_pods: Option<HashSet<String>>,
}

/// Runs the loop until `term` is cancelled.
pub async fn run(client: kube::Client, config: Config, term: CancellationToken) {
    let (tx, mut outcomes) = mpsc::unbounded_channel();
    let mut s = Scheduler {
        binder: Binder::new(client.clone(), &config.scheduler_name, &config.host),
        config,
        cache: Cache::default(),
        queue: Queue::default(),
        volumes: Volumes::default(),
        priorities: Priorities::default(),
        budgets: Budgets::default(),
        picker: Picker::default(),
        bindings: Arc::new(Semaphore::new(MAX_BINDINGS_IN_FLIGHT)),
        outcomes: tx,
        nodes_synced: false,
        pods_synced: false,
        relist_nodes: None,
        relist_pods: None,
    };
    let mut nodes = watch::<Node>(&client);
    let mut pods = watch::<Pod>(&client);
    let mut claims = watch::<PersistentVolumeClaim>(&client);
    let mut volumes = watch::<PersistentVolume>(&client);
    let mut classes = watch::<PriorityClass>(&client);
    let mut budgets = watch::<PodDisruptionBudget>(&client);
    let mut storage_classes = watch::<StorageClass>(&client);
    let mut since_yield = 0u32;
    loop {
        if term.is_cancelled() {
            break;
        }
        // Take in everything the watches have ready before the next decision.
        let mut drained = 0;
        loop {
            let mut any = false;
            if let Some(Some(ev)) = nodes.next().now_or_never() {
                s.node_event(ev);
                any = true;
            }
            if let Some(Some(ev)) = pods.next().now_or_never() {
                s.pod_event(ev);
                any = true;
            }
            if let Some(Some(ev)) = claims.next().now_or_never() {
                s.claim_event(ev);
                any = true;
            }
            if let Some(Some(ev)) = volumes.next().now_or_never() {
                s.volume_event(ev);
                any = true;
            }
            if let Some(Some(ev)) = classes.next().now_or_never() {
                s.class_event(ev);
                any = true;
            }
            if let Some(Some(ev)) = budgets.next().now_or_never() {
                s.budget_event(ev);
                any = true;
            }
            if let Some(Some(ev)) = storage_classes.next().now_or_never() {
                s.storage_class_event(ev);
                any = true;
            }
            while let Ok(outcome) = outcomes.try_recv() {
                s.bound(outcome);
                any = true;
            }
            drained += 1;
            if !any || drained > 10_000 {
                break;
            }
        }
        s.queue.flush(Instant::now());
        if s.nodes_synced && s.pods_synced {
            if let Some(next) = s.queue.pop() {
                s.schedule_one(next);
                since_yield += 1;
                if since_yield >= 32 {
                    since_yield = 0;
                    tokio::task::yield_now().await;
                }
                continue;
            }
        }
        let deadline = s
            .queue
            .next_deadline()
            .map_or(Duration::from_secs(3600), |d| {
                d.saturating_duration_since(Instant::now())
            });
        tokio::select! {
            () = term.cancelled() => break,
            Some(ev) = nodes.next() => s.node_event(ev),
            Some(ev) = pods.next() => s.pod_event(ev),
            Some(ev) = claims.next() => s.claim_event(ev),
            Some(ev) = volumes.next() => s.volume_event(ev),
            Some(ev) = classes.next() => s.class_event(ev),
            Some(ev) = budgets.next() => s.budget_event(ev),
            Some(outcome) = outcomes.recv() => s.bound(outcome),
            () = tokio::time::sleep(deadline) => {}
        }
    }
    tracing::info!(scheduler = %s.config.scheduler_name, "scheduler stopped");
}

fn log_watch_error(kind: &str, error: &watcher::Error) {
    tracing::warn!(kind, %error, "watch failed; retrying");
}

impl Scheduler {
    fn node_event(&mut self, ev: Result<Event<Node>, watcher::Error>) {
        match ev {
            Err(e) => log_watch_error("Node", &e),
            Ok(Event::Init) => self.relist_nodes = Some(HashSet::new()),
            Ok(Event::InitApply(node)) => {
                if let (Some(seen), Some(name)) = (&mut self.relist_nodes, &node.metadata.name) {
                    seen.insert(name.clone());
                }
                self.cache.apply_node(&node);
            }
            Ok(Event::InitDone) => {
                if let Some(seen) = self.relist_nodes.take() {
                    self.cache.retain_nodes(&seen);
                }
                self.nodes_synced = true;
                self.queue.move_all_to_active();
            }
            Ok(Event::Apply(node)) => {
                self.cache.apply_node(&node);
                self.queue.move_all_to_active();
            }
            Ok(Event::Delete(node)) => {
                if let Some(name) = &node.metadata.name {
                    self.cache.delete_node(name);
                }
            }
        }
    }

    fn pod_event(&mut self, ev: Result<Event<Pod>, watcher::Error>) {
        match ev {
            Err(e) => log_watch_error("Pod", &e),
            Ok(Event::Init) => self.relist_pods = Some(HashSet::new()),
            Ok(Event::InitApply(pod)) => {
                if let (Some(seen), Some(uid)) = (&mut self.relist_pods, &pod.metadata.uid) {
                    seen.insert(uid.clone());
                }
                self.apply_pod(pod);
            }
            Ok(Event::InitDone) => {
                if let Some(seen) = self.relist_pods.take() {
                    for uid in self.cache.pod_uids() {
                        if !seen.contains(&uid) && !self.cache.is_assumed(&uid) {
                            self.cache.remove_pod(&uid);
                        }
                    }
                }
                self.pods_synced = true;
            }
            Ok(Event::Apply(pod)) => self.apply_pod(pod),
            Ok(Event::Delete(pod)) => {
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                self.queue.remove(&uid);
                if self.cache.node_of(&uid).is_some() {
                    self.cache.remove_pod(&uid);
                    self.queue.move_all_to_active();
                }
            }
        }
    }

    fn pod_info(&self, pod: &Pod) -> PodInfo {
        let mut info = PodInfo::new(pod);
        let spec = pod.spec.as_ref();
        info.priority = self.priorities.resolve(
            spec.and_then(|s| s.priority),
            spec.and_then(|s| s.priority_class_name.as_deref()),
        );
        info
    }

    fn apply_pod(&mut self, pod: Pod) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty());
        if let Some(node) = node {
            self.queue.remove(&uid);
            if is_terminal(&pod) {
                if self.cache.node_of(&uid).is_some() {
                    self.cache.remove_pod(&uid);
                    self.queue.move_all_to_active();
                }
                return;
            }
            if self.cache.is_assumed(&uid) && self.cache.node_of(&uid) == Some(node.as_str()) {
                self.cache.confirm(&uid);
                return;
            }
            let info = Arc::new(self.pod_info(&pod));
            self.cache.add_pod(&node, info);
            return;
        }
        let ours = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .unwrap_or("default-scheduler")
            == self.config.scheduler_name;
        if !ours || is_terminal(&pod) || pod.metadata.deletion_timestamp.is_some() {
            self.queue.remove(&uid);
            return;
        }
        if self.cache.is_assumed(&uid) {
            // Our binding is in flight; the watch has not caught up yet.
            return;
        }
        let info = Arc::new(self.pod_info(&pod));
        self.queue.add_or_update(Arc::new(pod), info);
    }

    fn claim_event(&mut self, ev: Result<Event<PersistentVolumeClaim>, watcher::Error>) {
        match ev {
            Err(e) => log_watch_error("PersistentVolumeClaim", &e),
            Ok(Event::Apply(c) | Event::InitApply(c)) => {
                self.volumes.apply_claim(&c);
                self.queue.move_all_to_active();
            }
            Ok(Event::Delete(c)) => self.volumes.delete_claim(&c),
            Ok(Event::Init | Event::InitDone) => {}
        }
    }

    fn storage_class_event(&mut self, ev: Result<Event<StorageClass>, watcher::Error>) {
        match ev {
            Err(e) => log_watch_error("StorageClass", &e),
            Ok(Event::Apply(c) | Event::InitApply(c)) => {
                self.volumes.apply_class(&c);
                self.queue.move_all_to_active();
            }
            Ok(Event::Delete(c)) => self.volumes.delete_class(&c),
            Ok(Event::Init | Event::InitDone) => {}
        }
    }

    fn volume_event(&mut self, ev: Result<Event<PersistentVolume>, watcher::Error>) {
        match ev {
            Err(e) => log_watch_error("PersistentVolume", &e),
            Ok(Event::Apply(v) | Event::InitApply(v)) => {
                self.volumes.apply_volume(&v);
                self.queue.move_all_to_active();
            }
            Ok(Event::Delete(v)) => {
                if let Some(name) = &v.metadata.name {
                    self.volumes.delete_volume(name);
                }
            }
            Ok(Event::Init | Event::InitDone) => {}
        }
    }

    fn class_event(&mut self, ev: Result<Event<PriorityClass>, watcher::Error>) {
        match ev {
            Err(e) => log_watch_error("PriorityClass", &e),
            Ok(Event::Apply(c) | Event::InitApply(c)) => self.priorities.apply(&c),
            Ok(Event::Delete(c)) => {
                if let Some(name) = &c.metadata.name {
                    self.priorities.delete(name);
                }
            }
            Ok(Event::Init | Event::InitDone) => {}
        }
    }

    fn budget_event(&mut self, ev: Result<Event<PodDisruptionBudget>, watcher::Error>) {
        match ev {
            Err(e) => log_watch_error("PodDisruptionBudget", &e),
            Ok(Event::Apply(b) | Event::InitApply(b)) => self.budgets.apply(&b),
            Ok(Event::Delete(b)) => self.budgets.delete(&b),
            Ok(Event::Init | Event::InitDone) => {}
        }
    }

    /// One scheduling attempt for one pod.
    fn schedule_one(&mut self, queued: Queued) {
        let info = queued.info.clone();
        let volumes = self.volumes.state_for(&info);
        let delayed = volumes.delayed.clone();
        let cycle = CycleState::new(&info, &self.cache, volumes);
        match self.picker.pick(&info, &self.cache, &cycle) {
            Ok(node) => {
                self.queue.remove(&info.uid);
                self.cache.assume(&node, info.clone());
                tracing::debug!(pod = %info.key, %node, "scheduled");
                let binder = self.binder.clone();
                let outcomes = self.outcomes.clone();
                let permits = self.bindings.clone();
                let pod = queued.pod;
                tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    let failed = match binder.select_node_for_claims(&pod, &delayed, &node).await {
                        Ok(()) => binder.bind(&pod, &node).await.err(),
                        Err(error) => Some(error),
                    };
                    let _ = outcomes.send(BindOutcome {
                        uid: info.uid.clone(),
                        failed,
                    });
                });
            }
            Err(diagnosis) => {
                let mut message = diagnosis.message();
                let mut nominated = None;
                if diagnosis.nodes > 0 {
                    match preemption::plan(&info, &self.cache, &cycle, &diagnosis, &self.budgets) {
                        Ok(plan) => nominated = Some(plan),
                        Err(why) => {
                            message.push(' ');
                            message.push_str(&why);
                        }
                    }
                }
                tracing::info!(pod = %info.key, %message, "pod is unschedulable");
                self.queue.failed(&info.uid, true);
                let binder = self.binder.clone();
                let pod = queued.pod;
                tokio::spawn(async move {
                    let node = nominated.as_ref().map(|p| p.node.as_str());
                    if let Some(plan) = &nominated {
                        for victim in &plan.victims {
                            tracing::info!(preemptor = %info.key, victim = %victim.key, node = %plan.node, "preempting");
                            if let Err(error) =
                                binder.delete_victim(victim, &info.key, &plan.node).await
                            {
                                tracing::warn!(%error, "failed to preempt");
                            }
                        }
                    }
                    if let Err(error) = binder.report_unschedulable(&pod, &message, node).await {
                        if !error.pod_gone() {
                            tracing::warn!(%error, "failed to report an unschedulable pod");
                        }
                    }
                });
            }
        }
    }

    /// A binding task finished.
    fn bound(&mut self, outcome: BindOutcome) {
        let Some(error) = outcome.failed else {
            return;
        };
        // Forget the placement; the pod goes back to the queue with backoff unless it is gone.
        self.cache.remove_pod(&outcome.uid);
        if error.pod_gone() {
            return;
        }
        tracing::warn!(%error, "binding failed; will retry");
        self.queue.failed(&outcome.uid, false);
    }
}
