//! Which PersistentVolume a claim gets: the pure rules of Kubernetes' PV controller (class,
//! access modes, volume mode, size, selector, node affinity, pre-binding by claimRef), and
//! the volume the built-in local-path provisioner makes for a claim.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, NodeSelectorRequirement, PersistentVolume, PersistentVolumeClaim,
    PersistentVolumeSpec, VolumeNodeAffinity,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use rkube_api::Quantity as Exact;

/// The provisioner name of rkube's built-in local-path StorageClass.
pub const LOCAL_PATH: &str = "rkube.io/local-path";

/// The bytes a quantity means (0 when malformed: such a volume or claim never matches).
fn bytes(q: Option<&Quantity>) -> i128 {
    q.and_then(|q| Exact::parse(&q.0).ok())
        .map_or(0, |q| q.value())
}

/// The storage a claim requests.
pub fn requested(claim: &PersistentVolumeClaim) -> Option<&Quantity> {
    claim
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")
}

/// The class a claim asks for (`""`: none).
pub fn claim_class(claim: &PersistentVolumeClaim) -> &str {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or_default()
}

fn volume_class(volume: &PersistentVolume) -> &str {
    volume
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or_default()
}

/// Whether `volume`'s claimRef names `claim` (by namespace and name; by uid when it has one).
pub fn refers_to(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(r) = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return false;
    };
    r.namespace == claim.namespace()
        && r.name.as_deref() == Some(claim.name_any().as_str())
        && r.uid
            .as_deref()
            .is_none_or(|uid| Some(uid) == claim.uid().as_deref())
}

/// Whether the volume is free to bind (no claimRef).
fn available(volume: &PersistentVolume) -> bool {
    volume.metadata.deletion_timestamp.is_none()
        && volume.spec.as_ref().is_none_or(|s| s.claim_ref.is_none())
}

/// Whether `volume` satisfies `claim`: class, access modes, volume mode, size, selector, and
/// (when the claim waits for a node) the volume's node affinity on `node_labels`.
pub fn satisfies(
    volume: &PersistentVolume,
    claim: &PersistentVolumeClaim,
    node_labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let (Some(vspec), Some(cspec)) = (volume.spec.as_ref(), claim.spec.as_ref()) else {
        return false;
    };
    if volume_class(volume) != claim_class(claim) {
        return false;
    }
    let offered = vspec.access_modes.clone().unwrap_or_default();
    if !cspec
        .access_modes
        .iter()
        .flatten()
        .all(|m| offered.contains(m))
    {
        return false;
    }
    let mode = |m: Option<&String>| m.map_or("Filesystem", String::as_str).to_owned();
    if mode(vspec.volume_mode.as_ref()) != mode(cspec.volume_mode.as_ref()) {
        return false;
    }
    let capacity = vspec.capacity.as_ref().and_then(|c| c.get("storage"));
    if bytes(capacity) < bytes(requested(claim)) {
        return false;
    }
    if let Some(selector) = &cspec.selector {
        let Ok(selector) = rkube_api::client::label_selector(selector) else {
            return false;
        };
        if !selector.matches(&volume.labels().clone()) {
            return false;
        }
    }
    match node_labels {
        Some(labels) => node_allows(vspec.node_affinity.as_ref(), labels),
        None => true,
    }
}

/// Whether a volume's required node affinity lets it be used on a node with `labels`.
pub fn node_allows(
    affinity: Option<&VolumeNodeAffinity>,
    labels: &BTreeMap<String, String>,
) -> bool {
    let Some(terms) = affinity
        .and_then(|a| a.required.as_ref())
        .map(|r| &r.node_selector_terms)
    else {
        return true;
    };
    terms.iter().any(|term| {
        term.match_expressions
            .iter()
            .flatten()
            .all(|e| requirement_holds(e, labels))
    })
}

fn requirement_holds(e: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let values = e.values.clone().unwrap_or_default();
    let value = labels.get(&e.key);
    match e.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

/// The volume for `claim`: one already naming it in its claimRef, else the smallest free one
/// that satisfies it.
pub fn best_volume<'a>(
    claim: &PersistentVolumeClaim,
    volumes: &'a [std::sync::Arc<PersistentVolume>],
    node_labels: Option<&BTreeMap<String, String>>,
) -> Option<&'a PersistentVolume> {
    if let Some(pre) = volumes.iter().find(|v| refers_to(v, claim)) {
        return Some(pre);
    }
    volumes
        .iter()
        .filter(|v| available(v) && satisfies(v, claim, node_labels))
        .min_by_key(|v| {
            bytes(
                v.spec
                    .as_ref()
                    .and_then(|s| s.capacity.as_ref())
                    .and_then(|c| c.get("storage")),
            )
        })
        .map(|v| &**v)
}

/// The name the provisioner gives the volume of a claim.
pub fn provisioned_name(claim: &PersistentVolumeClaim) -> String {
    format!("pvc-{}", claim.uid().unwrap_or_default())
}

/// The local-path volume for `claim` on `node`: a directory under `root` on that node, pinned
/// to it by node affinity, already naming the claim.
pub fn local_path_volume(
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    node: &str,
    root: &str,
) -> PersistentVolume {
    let name = provisioned_name(claim);
    let namespace = claim.namespace().unwrap_or_default();
    let cspec = claim.spec.clone().unwrap_or_default();
    let size = requested(claim)
        .cloned()
        .unwrap_or_else(|| Quantity("1Gi".into()));
    let path = format!(
        "{}/{name}_{namespace}_{}",
        root.trim_end_matches('/'),
        claim.name_any()
    );
    let affinity = serde_json::json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
    ]}]}});
    PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name),
            annotations: Some(BTreeMap::from([(
                "pv.kubernetes.io/provisioned-by".to_owned(),
                LOCAL_PATH.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: cspec.access_modes.clone(),
            capacity: Some(BTreeMap::from([("storage".to_owned(), size)])),
            claim_ref: Some(k8s_openapi::api::core::v1::ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("PersistentVolumeClaim".into()),
                namespace: Some(namespace),
                name: Some(claim.name_any()),
                uid: claim.uid(),
                resource_version: claim.resource_version(),
                ..Default::default()
            }),
            host_path: Some(HostPathVolumeSource {
                path,
                type_: Some("DirectoryOrCreate".into()),
            }),
            node_affinity: serde_json::from_value(affinity).ok(),
            persistent_volume_reclaim_policy: Some(
                class
                    .reclaim_policy
                    .clone()
                    .unwrap_or_else(|| "Delete".into()),
            ),
            storage_class_name: Some(class.name_any()),
            volume_mode: cspec.volume_mode.clone(),
            ..PersistentVolumeSpec::default()
        }),
        status: None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn volume(name: &str, size: &str, class: &str, modes: &[&str]) -> Arc<PersistentVolume> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"tier": "fast"}},
                "spec": {"capacity": {"storage": size}, "storageClassName": class,
                         "accessModes": modes, "hostPath": {"path": "/x"}},
            }))
            .unwrap(),
        )
    }

    fn claim(size: &str, class: &str, modes: &[&str]) -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": "data", "namespace": "ns", "uid": "u1"},
            "spec": {"resources": {"requests": {"storage": size}}, "storageClassName": class,
                     "accessModes": modes},
        }))
        .unwrap()
    }

    #[test]
    fn the_smallest_volume_that_fits_wins() {
        let volumes = vec![
            volume("big", "10Gi", "", &["ReadWriteOnce"]),
            volume("small", "1Gi", "", &["ReadWriteOnce"]),
            volume("tiny", "500Mi", "", &["ReadWriteOnce"]),
        ];
        let c = claim("800Mi", "", &["ReadWriteOnce"]);
        assert_eq!(best_volume(&c, &volumes, None).unwrap().name_any(), "small");
    }

    #[test]
    fn class_modes_and_selector_must_match() {
        let volumes = vec![
            volume("other-class", "1Gi", "slow", &["ReadWriteOnce"]),
            volume("rox", "1Gi", "", &["ReadOnlyMany"]),
        ];
        let c = claim("1Gi", "", &["ReadWriteOnce"]);
        assert!(best_volume(&c, &volumes, None).is_none());
        let mut c = claim("1Gi", "slow", &["ReadWriteOnce"]);
        assert_eq!(
            best_volume(&c, &volumes, None).unwrap().name_any(),
            "other-class"
        );
        c.spec.as_mut().unwrap().selector =
            serde_json::from_value(json!({"matchLabels": {"tier": "slow"}})).unwrap();
        assert!(best_volume(&c, &volumes, None).is_none());
    }

    #[test]
    fn a_volume_naming_the_claim_is_taken_first() {
        let mut pre = (*volume("pre", "1Gi", "x", &["ReadWriteMany"])).clone();
        pre.spec.as_mut().unwrap().claim_ref =
            serde_json::from_value(json!({"namespace": "ns", "name": "data"})).unwrap();
        let volumes = vec![volume("free", "1Gi", "", &["ReadWriteOnce"]), Arc::new(pre)];
        let c = claim("1Gi", "", &["ReadWriteOnce"]);
        assert_eq!(best_volume(&c, &volumes, None).unwrap().name_any(), "pre");
    }

    #[test]
    fn node_affinity_limits_where_a_volume_serves() {
        let class: StorageClass =
            serde_json::from_value(json!({"metadata": {"name": "local-path"},
                                          "provisioner": LOCAL_PATH}))
            .unwrap();
        let c = claim("2Gi", "local-path", &["ReadWriteOnce"]);
        let v = local_path_volume(&c, &class, "n1", "/var/lib/rkube/storage/");
        let spec = v.spec.as_ref().unwrap();
        assert_eq!(v.name_any(), "pvc-u1");
        assert_eq!(
            spec.host_path.as_ref().unwrap().path,
            "/var/lib/rkube/storage/pvc-u1_ns_data"
        );
        assert_eq!(
            spec.persistent_volume_reclaim_policy.as_deref(),
            Some("Delete")
        );
        let on =
            |node: &str| BTreeMap::from([("kubernetes.io/hostname".to_owned(), node.to_owned())]);
        assert!(node_allows(spec.node_affinity.as_ref(), &on("n1")));
        assert!(!node_allows(spec.node_affinity.as_ref(), &on("n2")));
        assert!(refers_to(&v, &c));
    }
}
