//! Rollout steps: finding or creating the new ReplicaSet, RollingUpdate, Recreate and
//! proportional scaling, each scaling ReplicaSets and recording ScalingReplicaSet events.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use serde_json::json;

use super::sync::{all_of, split, Error, Result, Step};
use super::{hash, revision, rolling, status};
use crate::common::events::EventType;
use crate::common::owner;

impl Step<'_> {
    /// The new ReplicaSet (annotated with the next revision; created when `create` and
    /// missing) and the old ones (`getAllReplicaSetsAndSyncRevision`).
    pub(super) async fn new_and_old(
        &mut self,
        sets: Vec<ReplicaSet>,
        create: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>)> {
        let (existing, old) = split(&self.d, sets);
        let next = revision::max(&old) + 1;
        let surge = rolling::max_surge(&self.d);
        if let Some(rs) = existing {
            let mut copy = rs.clone();
            let changed = revision::annotate_new(&self.d, &mut copy, next, true, surge);
            let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let min_ready_changed = copy
                .spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0)
                != min_ready.unwrap_or(0);
            let rs = if changed || min_ready_changed {
                let patch = json!({
                    "metadata": {"annotations": copy.metadata.annotations, "resourceVersion": rs.metadata.resource_version},
                    "spec": {"minReadySeconds": min_ready},
                });
                self.sets_api
                    .patch(
                        &rs.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(patch),
                    )
                    .await
                    .map_err(|source| Error::ReplicaSet {
                        verb: "update",
                        name: rs.name_any(),
                        source,
                    })?
            } else {
                rs
            };
            self.set_revision(&revision::of(&rs.metadata).to_string())
                .await?;
            if status::deadline(&self.d).is_some()
                && status::get(self.d.status.as_ref(), "Progressing").is_none()
            {
                let msg = format!("Found new replica set {:?}", rs.name_any());
                let cond = status::condition(
                    "Progressing",
                    "True",
                    status::reason::FOUND_NEW_RS,
                    msg,
                    self.now,
                );
                status::set(
                    self.d.status.get_or_insert_with(DeploymentStatus::default),
                    cond,
                );
            }
            return Ok((Some(rs), old));
        }
        if !create {
            return Ok((None, old));
        }
        let created = self.create_new(&old, next, surge).await?;
        Ok((Some(created), old))
    }

    /// Creates the ReplicaSet for the current template, named `<deployment>-<hash>`.
    async fn create_new(
        &mut self,
        old: &[ReplicaSet],
        next: i64,
        surge: i32,
    ) -> Result<ReplicaSet> {
        let spec = self.d.spec.clone().unwrap_or_default();
        let collisions = self.d.status.as_ref().and_then(|s| s.collision_count);
        let pod_hash = hash::compute(&spec.template, collisions);
        let mut template = spec.template.clone();
        let labels = {
            let meta = template.metadata.get_or_insert_with(ObjectMeta::default);
            let labels = meta.labels.get_or_insert_with(BTreeMap::new);
            labels.insert(hash::LABEL.into(), pod_hash.clone());
            labels.clone()
        };
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(hash::LABEL.into(), pod_hash.clone());
        let name = format!("{}-{pod_hash}", self.d.name_any());
        let replicas = rolling::new_rs_replicas(&self.d, old, 0);
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: self.d.namespace(),
                labels: Some(labels),
                owner_references: owner::controller_ref(&self.d).map(|r| vec![r]),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        revision::annotate_new(&self.d, &mut rs, next, false, surge);
        let created = match self.sets_api.create(&PostParams::default(), &rs).await {
            Ok(created) => created,
            Err(kube::Error::Api(s)) if s.code == 409 => return self.on_name_taken(&name).await,
            Err(source) => {
                if status::deadline(&self.d).is_some() {
                    let msg = format!("Failed to create new replica set {name:?}: {source}");
                    let cond = status::condition(
                        "Progressing",
                        "False",
                        "ReplicaSetCreateError",
                        msg,
                        self.now,
                    );
                    let mut s = self.d.status.clone().unwrap_or_default();
                    status::set(&mut s, cond);
                    self.write_status(s).await?;
                }
                return Err(Error::ReplicaSet {
                    verb: "create",
                    name,
                    source,
                });
            }
        };
        if replicas > 0 {
            self.event(
                EventType::Normal,
                "ScalingReplicaSet",
                format!("Scaled up replica set {name} from 0 to {replicas}"),
            );
        }
        if status::deadline(&self.d).is_some() {
            let msg = format!("Created new replica set {name:?}");
            let cond = status::condition(
                "Progressing",
                "True",
                status::reason::NEW_RS_CREATED,
                msg,
                self.now,
            );
            status::set(
                self.d.status.get_or_insert_with(DeploymentStatus::default),
                cond,
            );
        }
        self.set_revision(&next.to_string()).await?;
        Ok(created)
    }

    /// The name is taken: ours with the same template (a stale cache) is fine; anything else
    /// is a hash collision, and the next try hashes with a higher collision count.
    async fn on_name_taken(&mut self, name: &str) -> Result<ReplicaSet> {
        let existing = self
            .sets_api
            .get(name)
            .await
            .map_err(|source| Error::ReplicaSet {
                verb: "get",
                name: name.to_owned(),
                source,
            })?;
        let ours = owner::controller_uid(&existing.metadata) == Some(self.uid.as_str());
        let same = match (
            self.d.spec.as_ref(),
            existing.spec.as_ref().and_then(|s| s.template.as_ref()),
        ) {
            (Some(spec), Some(theirs)) => hash::equal_ignoring_hash(&spec.template, theirs),
            _ => false,
        };
        if ours && same {
            return Ok(existing);
        }
        let mut s = self.d.status.clone().unwrap_or_default();
        s.collision_count = Some(s.collision_count.unwrap_or(0).saturating_add(1));
        self.write_status(s).await?;
        Err(Error::Collision(name.to_owned()))
    }

    /// Scales a ReplicaSet and refreshes its replica annotations; returns whether its size
    /// changed, and the ReplicaSet as written.
    pub(super) async fn scale_rs(&self, rs: &ReplicaSet, size: i32) -> Result<(bool, ReplicaSet)> {
        let from = rolling::spec_replicas(rs);
        let desired = revision::replicas_of(&self.d);
        let max = desired + rolling::max_surge(&self.d);
        if from == size && revision::replicas_match(&rs.metadata, desired, max) {
            return Ok((false, rs.clone()));
        }
        let patch = json!({
            "metadata": {
                "resourceVersion": rs.metadata.resource_version,
                "annotations": {revision::DESIRED_REPLICAS: desired.to_string(), revision::MAX_REPLICAS: max.to_string()},
            },
            "spec": {"replicas": size},
        });
        let written = self
            .sets_api
            .patch(
                &rs.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
            .map_err(|source| Error::ReplicaSet {
                verb: "scale",
                name: rs.name_any(),
                source,
            })?;
        if from != size {
            let way = if size > from { "up" } else { "down" };
            let msg = format!(
                "Scaled {way} replica set {} from {from} to {size}",
                rs.name_any()
            );
            self.event(EventType::Normal, "ScalingReplicaSet", msg);
        }
        Ok((from != size, written))
    }

    /// Scales the new ReplicaSet towards the Deployment's size within the surge
    /// (`reconcileNewReplicaSet`).
    async fn scale_new(&self, new: &ReplicaSet, old: &[ReplicaSet]) -> Result<(bool, ReplicaSet)> {
        let replicas = revision::replicas_of(&self.d);
        let spec = rolling::spec_replicas(new);
        let target = if spec >= replicas {
            replicas
        } else {
            rolling::new_rs_replicas(&self.d, &all_of(Some(new), old), spec)
        };
        if target == spec {
            return Ok((false, new.clone()));
        }
        self.scale_rs(new, target).await
    }

    /// One RollingUpdate step: scale up, else scale down, else clean up (`rolloutRolling`).
    pub(super) async fn rolling(&mut self, sets: Vec<ReplicaSet>) -> Result<Action> {
        let (new, mut old) = self.new_and_old(sets, true).await?;
        let Some(mut new) = new else {
            return self.finish(&old, None).await;
        };
        let (up, written) = self.scale_new(&new, &old).await?;
        new = written;
        if up {
            return self.finish(&all_of(Some(&new), &old), Some(&new)).await;
        }
        if self.scale_old(&new, &mut old).await? {
            return self.finish(&all_of(Some(&new), &old), Some(&new)).await;
        }
        let all = all_of(Some(&new), &old);
        if status::complete(
            &self.d,
            &status::calculate(&self.d, &all, Some(&new), self.now),
        ) {
            self.cleanup(&old).await?;
        }
        self.finish(&all, Some(&new)).await
    }

    /// Scales old ReplicaSets down as far as availability allows, unhealthy replicas first
    /// (`reconcileOldReplicaSets`). Returns whether anything was scaled down.
    async fn scale_old(&self, new: &ReplicaSet, old: &mut [ReplicaSet]) -> Result<bool> {
        if old.iter().map(rolling::spec_replicas).sum::<i32>() == 0 {
            return Ok(false);
        }
        let budget = rolling::old_scale_down_budget(&self.d, &all_of(Some(new), old), Some(new));
        if budget <= 0 {
            return Ok(false);
        }
        let (plan, shed) = rolling::shed_unhealthy(old, budget);
        for (i, size) in plan {
            old[i] = self.scale_rs(&old[i], size).await?.1;
        }
        let plan = rolling::scale_down_available(&self.d, &all_of(Some(new), old), old);
        let mut scaled = shed > 0;
        for (i, size) in plan {
            let (changed, written) = self.scale_rs(&old[i], size).await?;
            scaled |= changed;
            old[i] = written;
        }
        Ok(scaled)
    }

    /// One Recreate step: old ReplicaSets to zero, wait for their pods to go, then the new
    /// one to full size (`rolloutRecreate`).
    pub(super) async fn recreate(&mut self, sets: Vec<ReplicaSet>) -> Result<Action> {
        let (new, mut old) = self.new_and_old(sets, false).await?;
        let mut scaled = false;
        for rs in &mut old {
            if rolling::spec_replicas(rs) != 0 {
                let (changed, written) = self.scale_rs(rs, 0).await?;
                scaled |= changed;
                *rs = written;
            }
        }
        let running = old
            .iter()
            .any(|rs| rs.status.as_ref().is_some_and(|s| s.replicas > 0));
        if scaled || running {
            return self.finish(&all_of(new.as_ref(), &old), new.as_ref()).await;
        }
        let new = match new {
            Some(new) => new,
            None => {
                let (new, rest) = self.new_and_old(old.clone(), true).await?;
                old = rest;
                match new {
                    Some(new) => new,
                    None => return self.finish(&old, None).await,
                }
            }
        };
        let (up, new) = self.scale_new(&new, &old).await?;
        let all = all_of(Some(&new), &old);
        if !up
            && status::complete(
                &self.d,
                &status::calculate(&self.d, &all, Some(&new), self.now),
            )
        {
            self.cleanup(&old).await?;
        }
        self.finish(&all, Some(&new)).await
    }

    /// Resizes without rolling out: the only active ReplicaSet takes the new size; a
    /// saturated new ReplicaSet lets the old ones go; otherwise the change is spread in
    /// proportion (`scale`).
    pub(super) async fn scale(
        &self,
        new: Option<ReplicaSet>,
        mut old: Vec<ReplicaSet>,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>)> {
        let replicas = revision::replicas_of(&self.d);
        let mut all = all_of(new.as_ref(), &old);
        let active: Vec<usize> = (0..all.len())
            .filter(|i| rolling::spec_replicas(&all[*i]) > 0)
            .collect();
        let single = match active.len() {
            0 if new.is_some() => Some(all.len() - 1),
            0 => all.len().checked_sub(1),
            1 => Some(active[0]),
            _ => None,
        };
        if let Some(i) = single {
            all[i] = self.scale_rs(&all[i], replicas).await?.1;
        } else if new.as_ref().is_some_and(|rs| saturated(rs, replicas)) {
            for rs in &mut all[..old.len()] {
                if rolling::spec_replicas(rs) != 0 {
                    *rs = self.scale_rs(rs, 0).await?.1;
                }
            }
        } else if !rolling::is_recreate(&self.d) {
            let current: i32 = all.iter().map(rolling::spec_replicas).sum();
            let growing = replicas + rolling::max_surge(&self.d) > current;
            let mut order = active;
            // Largest first; ties go to the newest when growing and the oldest when shrinking
            // (`all` is oldest first, the new ReplicaSet last).
            order.sort_by(|a, b| {
                let size = rolling::spec_replicas(&all[*b]).cmp(&rolling::spec_replicas(&all[*a]));
                size.then(if growing { b.cmp(a) } else { a.cmp(b) })
            });
            let sets: Vec<ReplicaSet> = order.iter().map(|i| all[*i].clone()).collect();
            let sizes = rolling::proportional(&self.d, &sets);
            for (i, size) in order.into_iter().zip(sizes) {
                all[i] = self.scale_rs(&all[i], size.max(0)).await?.1;
            }
        }
        let new = new.is_some().then(|| all.pop()).flatten();
        old = all;
        Ok((new, old))
    }
}

/// The new ReplicaSet already runs the whole Deployment (`IsSaturated`).
fn saturated(rs: &ReplicaSet, replicas: i32) -> bool {
    revision::annotated(&rs.metadata, revision::DESIRED_REPLICAS) == Some(replicas)
        && rolling::spec_replicas(rs) == replicas
        && rolling::available(rs) == replicas
}
