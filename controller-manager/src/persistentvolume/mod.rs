//! The PersistentVolume controller: binds claims to volumes and keeps both phases, as
//! Kubernetes' PV binder does, with a built-in local-path provisioner behind the default
//! StorageClass `local-path` (created at start when absent), so a claim works on a bare
//! cluster as on k3s.
//!
//! A claim gets the volume its claimRef names, else the smallest free volume that satisfies
//! it; with none, a class whose provisioner is `rkube.io/local-path` makes one: a directory
//! `<storage-dir>/pvc-<uid>_<namespace>_<name>` on the node the claim's first pod was
//! scheduled to (the class waits for that consumer: `volume.kubernetes.io/selected-node`),
//! pinned there by node affinity. A volume whose claim went is Released, then deleted under
//! the `Delete` reclaim policy or kept under `Retain`.

mod matching;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{
    Node, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus,
    PersistentVolumeStatus,
};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{EventType, Recorder};
use kube::runtime::reflector::{self, reflector, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use crate::Context;
pub use matching::LOCAL_PATH;

const RESYNC: Duration = Duration::from_secs(15);
const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
const DEFAULT_CLASS: &str = "local-path";

/// Runs the PersistentVolume controller until `ctx.stop`.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    run(ctx).boxed()
}

/// Mirrors every `K` into a store; the stream yields one item per change.
fn mirror<K>(
    client: &Client,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<String, watcher::Error>> + Send,
)
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store::<K>();
    let stream = reflector(
        writer,
        watcher(Api::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects()
    .map_ok(|_| String::new());
    (store, stream)
}

async fn run(ctx: Context) {
    ensure_default_class(&ctx.client).await;
    let (claims, claim_changes) = mirror::<PersistentVolumeClaim>(&ctx.client);
    let (volumes, volume_changes) = mirror::<PersistentVolume>(&ctx.client);
    let (classes, class_changes) = mirror::<StorageClass>(&ctx.client);
    let (nodes, node_changes) = mirror::<Node>(&ctx.client);
    let changes = futures::stream::select_all([
        claim_changes.boxed(),
        volume_changes.boxed(),
        class_changes.boxed(),
        node_changes.boxed(),
    ]);
    let binder = Binder {
        client: ctx.client.clone(),
        recorder: Recorder::new(ctx.client.clone(), "persistentvolume-controller".into()),
        storage_dir: ctx.config.storage_dir.clone(),
        claims,
        volumes,
        classes,
        nodes,
        reported: Mutex::default(),
    };
    crate::batch::run(
        "persistentvolume-binder",
        ctx.stop.clone(),
        changes,
        RESYNC,
        || vec![String::new()],
        |keys| async {
            let ready = crate::batch::ready(&binder.claims)
                && crate::batch::ready(&binder.volumes)
                && crate::batch::ready(&binder.classes)
                && crate::batch::ready(&binder.nodes);
            if !ready || !binder.sync().await {
                return keys;
            }
            BTreeSet::new()
        },
    )
    .await;
}

/// Creates the default StorageClass `local-path` unless it exists.
async fn ensure_default_class(client: &Client) {
    let api: Api<StorageClass> = Api::all(client.clone());
    let class = json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": DEFAULT_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": LOCAL_PATH,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    });
    let Ok(class) = serde_json::from_value::<StorageClass>(class) else {
        return;
    };
    for _ in 0..30 {
        match api.create(&PostParams::default(), &class).await {
            Ok(_) => {
                info!(class = DEFAULT_CLASS, "created the default StorageClass");
                return;
            }
            Err(kube::Error::Api(status)) if status.code == 409 => return,
            Err(error) => {
                warn!(%error, "failed to create the default StorageClass; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

struct Binder {
    client: Client,
    recorder: Recorder,
    storage_dir: String,
    claims: Store<PersistentVolumeClaim>,
    volumes: Store<PersistentVolume>,
    classes: Store<StorageClass>,
    nodes: Store<Node>,
    /// (claim uid, reason) of the events already recorded by [`Binder::event_once`].
    reported: Mutex<HashSet<(String, String)>>,
}

impl Binder {
    /// One pass over every claim and volume; false when something must be retried.
    async fn sync(&self) -> bool {
        let mut ok = true;
        for claim in self.claims.state() {
            if claim.metadata.deletion_timestamp.is_some() {
                continue;
            }
            if let Err(error) = self.claim(&claim).await {
                warn!(claim = %claim.name_any(), namespace = ?claim.namespace(), %error, "failed to sync a claim");
                ok = false;
            }
        }
        for volume in self.volumes.state() {
            if let Err(error) = self.volume(&volume).await {
                warn!(volume = %volume.name_any(), %error, "failed to sync a volume");
                ok = false;
            }
        }
        ok
    }

    async fn claim(&self, claim: &PersistentVolumeClaim) -> Result<(), kube::Error> {
        let volumes = self.volumes.state();
        let bound_name = claim.spec.as_ref().and_then(|s| s.volume_name.clone());
        if let Some(name) = bound_name.filter(|n| !n.is_empty()) {
            return match volumes.iter().find(|v| v.name_any() == name) {
                Some(volume) if matching::refers_to(volume, claim) => {
                    self.claim_bound(claim, volume).await
                }
                Some(volume) if volume.spec.as_ref().is_none_or(|s| s.claim_ref.is_none()) => {
                    self.bind(claim, volume).await
                }
                Some(_) => Ok(()),
                None => {
                    let was_bound =
                        claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
                    if was_bound {
                        self.claim_phase(claim, "Lost").await?;
                        self.event(claim, EventType::Warning, "ClaimLost",
                            "Bound claim has lost its PersistentVolume. Data on the volume is lost!".to_owned()).await;
                    }
                    Ok(())
                }
            };
        }
        let class_name = matching::claim_class(claim);
        let class = self
            .classes
            .state()
            .into_iter()
            .find(|c| c.name_any() == class_name);
        let waits = class
            .as_ref()
            .is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"));
        let selected = claim.annotations().get(SELECTED_NODE).cloned();
        let node_labels = match (&selected, waits) {
            (Some(node), true) => Some(
                self.nodes
                    .state()
                    .into_iter()
                    .find(|n| n.name_any() == *node)
                    .map(|n| n.labels().clone())
                    .unwrap_or_else(|| {
                        BTreeMap::from([("kubernetes.io/hostname".to_owned(), node.clone())])
                    }),
            ),
            _ => None,
        };
        if waits && selected.is_none() {
            self.claim_phase(claim, "Pending").await?;
            self.event_once(
                claim,
                EventType::Normal,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding".to_owned(),
            )
            .await;
            return Ok(());
        }
        if let Some(volume) = matching::best_volume(claim, &volumes, node_labels.as_ref()) {
            return self.bind(claim, volume).await;
        }
        self.claim_phase(claim, "Pending").await?;
        match class {
            Some(class) if class.provisioner == LOCAL_PATH => {
                let Some(node) = selected else {
                    self.event_once(claim, EventType::Warning, "ProvisioningFailed",
                        format!("the {LOCAL_PATH} provisioner needs the class's volumeBindingMode to be WaitForFirstConsumer")).await;
                    return Ok(());
                };
                self.provision(claim, &class, &node).await
            }
            Some(class) => {
                self.event_once(claim, EventType::Normal, "ExternalProvisioning",
                    format!("Waiting for a volume to be created either by the external provisioner '{}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.", class.provisioner)).await;
                Ok(())
            }
            None if class_name.is_empty() => {
                self.event_once(
                    claim,
                    EventType::Normal,
                    "FailedBinding",
                    "no persistent volumes available for this claim and no storage class is set"
                        .to_owned(),
                )
                .await;
                Ok(())
            }
            None => {
                self.event_once(
                    claim,
                    EventType::Warning,
                    "ProvisioningFailed",
                    format!("storageclass.storage.k8s.io \"{class_name}\" not found"),
                )
                .await;
                Ok(())
            }
        }
    }

    async fn provision(
        &self,
        claim: &PersistentVolumeClaim,
        class: &StorageClass,
        node: &str,
    ) -> Result<(), kube::Error> {
        let namespace = claim.namespace().unwrap_or_default();
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &namespace);
        let marked = json!({"metadata": {"annotations": {
            "volume.kubernetes.io/storage-provisioner": LOCAL_PATH,
            "volume.beta.kubernetes.io/storage-provisioner": LOCAL_PATH,
        }}});
        claims
            .patch(
                &claim.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&marked),
            )
            .await?;
        self.event(
            claim,
            EventType::Normal,
            "Provisioning",
            format!(
                "External provisioner is provisioning volume for claim \"{namespace}/{}\"",
                claim.name_any()
            ),
        )
        .await;
        let volume = matching::local_path_volume(claim, class, node, &self.storage_dir);
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        match api.create(&PostParams::default(), &volume).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(error) => return Err(error),
        }
        self.event(
            claim,
            EventType::Normal,
            "ProvisioningSucceeded",
            format!("Successfully provisioned volume {}", volume.name_any()),
        )
        .await;
        Ok(())
    }

    /// Points the volume at the claim, then the claim at the volume.
    async fn bind(
        &self,
        claim: &PersistentVolumeClaim,
        volume: &PersistentVolume,
    ) -> Result<(), kube::Error> {
        let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
        if !matching::refers_to(volume, claim)
            || volume
                .spec
                .as_ref()
                .and_then(|s| s.claim_ref.as_ref())
                .and_then(|r| r.uid.as_ref())
                .is_none()
        {
            let mut next = volume.clone();
            let spec = next.spec.get_or_insert_with(Default::default);
            spec.claim_ref = Some(claim.object_ref(&()));
            next.annotations_mut()
                .insert("pv.kubernetes.io/bound-by-controller".into(), "yes".into());
            volumes
                .replace(&volume.name_any(), &PostParams::default(), &next)
                .await?;
        }
        self.volume_phase(volume, "Bound").await?;
        let namespace = claim.namespace().unwrap_or_default();
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &namespace);
        let patch = json!({
            "metadata": {"annotations": {
                "pv.kubernetes.io/bind-completed": "yes",
                "pv.kubernetes.io/bound-by-controller": "yes",
            }},
            "spec": {"volumeName": volume.name_any()},
        });
        let updated = claims
            .patch(
                &claim.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        self.claim_bound(&updated, volume).await
    }

    /// The claim's status says Bound, with the volume's capacity and access modes.
    async fn claim_bound(
        &self,
        claim: &PersistentVolumeClaim,
        volume: &PersistentVolume,
    ) -> Result<(), kube::Error> {
        let spec = volume.spec.clone().unwrap_or_default();
        let status = PersistentVolumeClaimStatus {
            phase: Some("Bound".into()),
            capacity: spec.capacity.clone(),
            access_modes: spec.access_modes.clone(),
            ..claim.status.clone().unwrap_or_default()
        };
        if claim.status.as_ref() == Some(&status) {
            return self.volume_phase(volume, "Bound").await;
        }
        let namespace = claim.namespace().unwrap_or_default();
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &namespace);
        claims
            .patch_status(
                &claim.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": status})),
            )
            .await?;
        self.volume_phase(volume, "Bound").await
    }

    async fn claim_phase(
        &self,
        claim: &PersistentVolumeClaim,
        phase: &str,
    ) -> Result<(), kube::Error> {
        if claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(phase) {
            return Ok(());
        }
        let namespace = claim.namespace().unwrap_or_default();
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &namespace);
        claims
            .patch_status(
                &claim.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": {"phase": phase}})),
            )
            .await?;
        Ok(())
    }

    /// A volume's phase from its claim: Available, Bound, or Released then reclaimed.
    async fn volume(&self, volume: &PersistentVolume) -> Result<(), kube::Error> {
        let Some(claim_ref) = volume.spec.as_ref().and_then(|s| s.claim_ref.clone()) else {
            return self.volume_phase(volume, "Available").await;
        };
        let claim =
            self.claims.state().into_iter().find(|c| {
                c.namespace() == claim_ref.namespace && Some(c.name_any()) == claim_ref.name
            });
        let alive = match (&claim, &claim_ref.uid) {
            (Some(c), Some(uid)) => c.uid().as_ref() == Some(uid),
            (Some(_), None) => true,
            (None, None) => return self.volume_phase(volume, "Available").await,
            (None, Some(_)) => false,
        };
        if alive {
            // Bound once the claim points back; the claim's sync does that.
            return Ok(());
        }
        self.volume_phase(volume, "Released").await?;
        let policy = volume
            .spec
            .as_ref()
            .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
            .unwrap_or("Retain");
        if policy == "Delete" && volume.metadata.deletion_timestamp.is_none() {
            let api: Api<PersistentVolume> = Api::all(self.client.clone());
            match api
                .delete(&volume.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => info!(volume = %volume.name_any(), "deleted a released volume"),
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    async fn volume_phase(
        &self,
        volume: &PersistentVolume,
        phase: &str,
    ) -> Result<(), kube::Error> {
        let current = self
            .volumes
            .state()
            .into_iter()
            .find(|v| v.name_any() == volume.name_any())
            .and_then(|v| v.status.as_ref().and_then(|s| s.phase.clone()));
        if current.as_deref() == Some(phase) {
            return Ok(());
        }
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        let status = PersistentVolumeStatus {
            phase: Some(phase.to_owned()),
            ..PersistentVolumeStatus::default()
        };
        api.patch_status(
            &volume.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await?;
        Ok(())
    }

    async fn event(
        &self,
        claim: &PersistentVolumeClaim,
        type_: EventType,
        reason: &str,
        note: String,
    ) {
        crate::common::events::publish_with(
            &self.recorder,
            &claim.object_ref(&()),
            type_,
            reason,
            note,
            None,
        )
        .await;
    }

    /// An event each resync would repeat: recorded once per claim and reason.
    async fn event_once(
        &self,
        claim: &PersistentVolumeClaim,
        type_: EventType,
        reason: &str,
        note: String,
    ) {
        let key = (claim.uid().unwrap_or_default(), reason.to_owned());
        let first = self
            .reported
            .lock()
            .map(|mut seen| seen.insert(key))
            .unwrap_or(true);
        if first {
            self.event(claim, type_, reason, note).await;
        }
    }
}
