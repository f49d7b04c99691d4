//! One Deployment sync: claim ReplicaSets, pick the path (paused or scaling, Recreate,
//! RollingUpdate), write status; plus the writes every path shares.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use super::{hash, revision, rolling, status, Shared};
use crate::common::events::EventType;
use crate::common::{owner, selector};

/// Why a Deployment sync failed; it is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to {verb} replicaset {name}: {source}")]
    ReplicaSet {
        verb: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("failed to update deployment: {0}")]
    Deployment(#[source] kube::Error),
    #[error("replicaset {0} exists with another template; retrying with a new collision count")]
    Collision(String),
}

/// Result of a sync step.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Syncs one Deployment.
///
/// # Errors
/// When an API request fails; the controller retries with backoff.
pub async fn reconcile(d: Arc<Deployment>, shared: Arc<Shared>) -> Result<Action> {
    shared.sets.wait_synced().await;
    let Some(mut step) = Step::new(&d, &shared) else {
        return Ok(Action::await_change());
    };
    let action = step.run().await?;
    shared.failures.succeeded(&step.uid);
    Ok(action)
}

/// Backs off on errors, per Deployment.
pub fn error_policy(d: Arc<Deployment>, error: &Error, shared: Arc<Shared>) -> Action {
    let wait = shared
        .failures
        .failed(d.metadata.uid.as_deref().unwrap_or_default());
    warn!(deployment = %d.name_any(), namespace = d.namespace().unwrap_or_default(), %error, ?wait, "deployment sync failed");
    Action::requeue(wait)
}

/// The state of one sync: the Deployment as being changed, and its status as last written.
pub(super) struct Step<'a> {
    pub(super) shared: &'a Shared,
    pub(super) d: Deployment,
    pub(super) uid: String,
    observed: Option<DeploymentStatus>,
    pub(super) sets_api: Api<ReplicaSet>,
    deploys_api: Api<Deployment>,
    pub(super) now: Timestamp,
}

impl<'a> Step<'a> {
    fn new(d: &Deployment, shared: &'a Shared) -> Option<Self> {
        let ns = d.metadata.namespace.clone()?;
        Some(Self {
            shared,
            uid: d.metadata.uid.clone()?,
            observed: d.status.clone(),
            d: d.clone(),
            sets_api: Api::namespaced(shared.client.clone(), &ns),
            deploys_api: Api::namespaced(shared.client.clone(), &ns),
            now: Timestamp::now(),
        })
    }

    async fn run(&mut self) -> Result<Action> {
        let spec = self.d.spec.clone().unwrap_or_default();
        if self.d.metadata.deletion_timestamp.is_some() {
            let sets = self.claim().await?;
            let (new, old) = split(&self.d, sets);
            return self
                .sync_status(&all_of(new.as_ref(), &old), new.as_ref())
                .await;
        }
        if selector::is_empty(Some(&spec.selector)) {
            let msg = "This deployment is selecting all pods. A non-empty selector is required.";
            self.event(EventType::Warning, "SelectingAll", msg.to_owned());
            return Ok(Action::await_change());
        }
        let sets = self.claim().await?;
        self.check_paused();
        if spec.paused == Some(true) || self.is_scaling_event(&sets) {
            return self.sync_scale(sets, spec.paused == Some(true)).await;
        }
        if rolling::is_recreate(&self.d) {
            self.recreate(sets).await
        } else {
            self.rolling(sets).await
        }
    }

    /// The ReplicaSets this Deployment controls, after adopting matching orphans and
    /// releasing the ones that no longer match.
    async fn claim(&self) -> Result<Vec<ReplicaSet>> {
        let sel = self.d.spec.as_ref().map(|s| &s.selector);
        let deleting = self.d.metadata.deletion_timestamp.is_some();
        let mut mine = Vec::new();
        for rs in self.shared.sets.owned_by(&self.uid) {
            if deleting || selector::matches(sel, rs.metadata.labels.as_ref()) {
                mine.push((*rs).clone());
            } else if rs.metadata.deletion_timestamp.is_none() {
                let refs = rs
                    .owner_references()
                    .iter()
                    .filter(|r| r.uid != self.uid)
                    .cloned()
                    .collect();
                self.set_owners(&rs, refs, "release").await?;
                info!(deployment = %self.d.name_any(), replicaset = %rs.name_any(), "released replicaset");
            }
        }
        let Some(me) = owner::controller_ref(&self.d).filter(|_| !deleting) else {
            return Ok(mine);
        };
        let ns = self.d.namespace().unwrap_or_default();
        for rs in self.shared.sets.orphans_in(&ns) {
            if rs.metadata.deletion_timestamp.is_some()
                || !selector::matches(sel, rs.metadata.labels.as_ref())
            {
                continue;
            }
            let mut refs = rs.owner_references().to_vec();
            refs.push(me.clone());
            if let Some(adopted) = self.set_owners(&rs, refs, "adopt").await? {
                info!(deployment = %self.d.name_any(), replicaset = %rs.name_any(), "adopted replicaset");
                mine.push(adopted);
            }
        }
        Ok(mine)
    }

    async fn set_owners(
        &self,
        rs: &ReplicaSet,
        refs: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
        verb: &'static str,
    ) -> Result<Option<ReplicaSet>> {
        owner::set_owners(&self.sets_api, rs, refs)
            .await
            .map_err(|source| Error::ReplicaSet {
                verb,
                name: rs.name_any(),
                source,
            })
    }

    /// Progressing says Paused or Resumed as the Deployment is paused or resumed
    /// (`checkPausedConditions`).
    fn check_paused(&mut self) {
        if status::deadline(&self.d).is_none() {
            return;
        }
        let current = status::get(self.d.status.as_ref(), "Progressing");
        let reason = current.and_then(|c| c.reason.clone());
        if reason.as_deref() == Some(status::reason::TIMED_OUT) {
            return;
        }
        let paused_now = reason.as_deref() == Some(status::reason::PAUSED);
        let paused = self.d.spec.as_ref().and_then(|s| s.paused) == Some(true);
        let cond = if paused && !paused_now {
            status::condition(
                "Progressing",
                "Unknown",
                status::reason::PAUSED,
                "Deployment is paused".into(),
                self.now,
            )
        } else if !paused && paused_now {
            status::condition(
                "Progressing",
                "Unknown",
                status::reason::RESUMED,
                "Deployment is resumed".into(),
                self.now,
            )
        } else {
            return;
        };
        status::set(
            self.d.status.get_or_insert_with(DeploymentStatus::default),
            cond,
        );
    }

    /// Whether an active ReplicaSet was last scaled for another Deployment size.
    fn is_scaling_event(&self, sets: &[ReplicaSet]) -> bool {
        let replicas = revision::replicas_of(&self.d);
        sets.iter()
            .filter(|rs| rolling::spec_replicas(rs) > 0)
            .filter_map(|rs| revision::annotated(&rs.metadata, revision::DESIRED_REPLICAS))
            .any(|desired| desired != replicas)
    }

    /// The path for paused Deployments and resizes: scale, clean up when paused, write
    /// counts (`sync`).
    async fn sync_scale(&mut self, sets: Vec<ReplicaSet>, paused: bool) -> Result<Action> {
        let (new, old) = self.new_and_old(sets, false).await?;
        let (new, old) = self.scale(new, old).await?;
        if paused {
            self.cleanup(&old).await?;
        }
        self.sync_status(&all_of(new.as_ref(), &old), new.as_ref())
            .await
    }

    /// Writes the counts and Available (Progressing kept as is).
    pub(super) async fn sync_status(
        &mut self,
        all: &[ReplicaSet],
        new: Option<&ReplicaSet>,
    ) -> Result<Action> {
        let s = status::calculate(&self.d, all, new, self.now);
        self.write_status(s).await?;
        Ok(Action::await_change())
    }

    /// Writes the counts, Available and Progressing; requeues to check the deadline
    /// (`syncRolloutStatus`).
    pub(super) async fn finish(
        &mut self,
        all: &[ReplicaSet],
        new: Option<&ReplicaSet>,
    ) -> Result<Action> {
        let (s, recheck) = status::rollout(&self.d, all, new, self.now);
        self.write_status(s).await?;
        Ok(recheck.map_or_else(Action::await_change, |wait| {
            Action::requeue(wait + Duration::from_millis(100))
        }))
    }

    /// Writes the status if it differs from what the server has.
    pub(super) async fn write_status(&mut self, s: DeploymentStatus) -> Result<()> {
        if !status::same(self.observed.as_ref(), &s) {
            self.deploys_api
                .patch_status(
                    &self.d.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": status::to_patch(&s)})),
                )
                .await
                .map_err(Error::Deployment)?;
            self.observed = Some(s.clone());
        }
        self.d.status = Some(s);
        Ok(())
    }

    /// Mirrors the new ReplicaSet's revision on the Deployment.
    pub(super) async fn set_revision(&mut self, rev: &str) -> Result<()> {
        let current = self
            .d
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(revision::REVISION));
        if current.map(String::as_str) == Some(rev) {
            return Ok(());
        }
        let patch = json!({"metadata": {"annotations": {revision::REVISION: rev}}});
        self.deploys_api
            .patch(
                &self.d.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
            .map_err(Error::Deployment)?;
        self.d
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(revision::REVISION.into(), rev.to_owned());
        Ok(())
    }

    /// Deletes the oldest scaled-down ReplicaSets beyond `revisionHistoryLimit`.
    pub(super) async fn cleanup(&self, old: &[ReplicaSet]) -> Result<()> {
        let Some(limit) = self.d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
            return Ok(());
        };
        let mut cleanable: Vec<&ReplicaSet> = old
            .iter()
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .collect();
        let excess = cleanable
            .len()
            .saturating_sub(usize::try_from(limit).unwrap_or(0));
        if excess == 0 {
            return Ok(());
        }
        cleanable.sort_by_key(|rs| {
            (
                revision::of(&rs.metadata),
                rs.metadata.creation_timestamp.clone(),
            )
        });
        for rs in cleanable.into_iter().take(excess) {
            let observed = rs.status.as_ref().and_then(|s| s.observed_generation);
            let settled = rs.metadata.generation <= observed;
            if rolling::spec_replicas(rs) != 0
                || rs.status.as_ref().is_some_and(|s| s.replicas != 0)
                || !settled
            {
                continue;
            }
            info!(deployment = %self.d.name_any(), replicaset = %rs.name_any(), "deleting old replicaset");
            match self
                .sets_api
                .delete(&rs.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(source) => {
                    return Err(Error::ReplicaSet {
                        verb: "delete",
                        name: rs.name_any(),
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// Records an Event on the Deployment.
    pub(super) fn event(&self, kind: EventType, reason: &str, note: String) {
        self.shared
            .recorder
            .publish(self.d.object_ref(&()), kind, reason, note);
    }
}

/// The ReplicaSet whose template is the Deployment's (oldest first if several), and the rest,
/// oldest first.
pub(super) fn split(
    d: &Deployment,
    mut sets: Vec<ReplicaSet>,
) -> (Option<ReplicaSet>, Vec<ReplicaSet>) {
    sets.sort_by(|a, b| {
        (
            a.metadata.creation_timestamp.as_ref().map(|t| t.0),
            a.metadata.name.as_ref(),
        )
            .cmp(&(
                b.metadata.creation_timestamp.as_ref().map(|t| t.0),
                b.metadata.name.as_ref(),
            ))
    });
    let template = d.spec.as_ref().map(|s| &s.template);
    let position = sets.iter().position(|rs| {
        let theirs = rs.spec.as_ref().and_then(|s| s.template.as_ref());
        matches!((template, theirs), (Some(a), Some(b)) if hash::equal_ignoring_hash(a, b))
    });
    let new = position.map(|i| sets.remove(i));
    (new, sets)
}

/// Old and new together.
pub(super) fn all_of(new: Option<&ReplicaSet>, old: &[ReplicaSet]) -> Vec<ReplicaSet> {
    old.iter().cloned().chain(new.cloned()).collect()
}
