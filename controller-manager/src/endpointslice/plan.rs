//! Turning desired endpoints and a Service's current slices into the fewest writes: endpoints
//! stay in the slice they are in, slices that must be rewritten anyway take new endpoints
//! first, and new slices hold at most [`MAX_ENDPOINTS`] endpoints each.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::desired::{port_key, Desired};
use super::pods;

/// Endpoints per slice (kube-controller-manager's `--max-endpoints-per-slice` default).
pub(crate) const MAX_ENDPOINTS: usize = 100;
/// Label naming the Service a slice belongs to.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Label naming the controller that manages a slice.
pub(crate) const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value of [`MANAGED_BY_LABEL`].
pub(crate) const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
/// The one address type this controller writes.
const ADDRESS_TYPE: &str = "IPv4";

/// The writes that bring a Service's slices to the desired state.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub create: Vec<EndpointSlice>,
    pub update: Vec<EndpointSlice>,
    /// Names of slices to delete.
    pub delete: Vec<String>,
}

impl Plan {
    /// Whether nothing needs writing.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// The labels every slice of `svc` carries.
pub(crate) fn slice_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = pods::endpoint_labels(svc);
    labels.insert(
        SERVICE_NAME_LABEL.to_owned(),
        svc.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned());
    labels
}

fn owner(svc: &Service) -> OwnerReference {
    OwnerReference {
        api_version: "v1".to_owned(),
        kind: "Service".to_owned(),
        name: svc.metadata.name.clone().unwrap_or_default(),
        uid: svc.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn owned_by(slice: &EndpointSlice, svc: &Service) -> bool {
    let uid = svc.metadata.uid.as_deref().unwrap_or_default();
    slice
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && o.controller == Some(true))
}

fn new_slice(svc: &Service, ports: &[EndpointPort], endpoints: Vec<Endpoint>) -> EndpointSlice {
    let name = svc.metadata.name.clone().unwrap_or_default();
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: svc.metadata.namespace.clone(),
            labels: Some(slice_labels(svc)),
            owner_references: Some(vec![owner(svc)]),
            ..ObjectMeta::default()
        },
        address_type: ADDRESS_TYPE.to_owned(),
        endpoints,
        ports: Some(ports.to_vec()),
    }
}

fn first_address(ep: &Endpoint) -> &str {
    ep.addresses.first().map_or("", String::as_str)
}

/// A current slice being reworked.
struct Working {
    slice: EndpointSlice,
    changed: bool,
}

impl Working {
    fn room(&self) -> usize {
        MAX_ENDPOINTS.saturating_sub(self.slice.endpoints.len())
    }
}

/// Plans the writes for `svc` given its `desired` endpoints and its `current` managed slices.
pub(crate) fn plan(svc: &Service, desired: Desired, current: Vec<EndpointSlice>) -> Plan {
    let mut plan = Plan::default();
    let labels = slice_labels(svc);
    let mut by_key: BTreeMap<String, Vec<Working>> = BTreeMap::new();
    for slice in current {
        let name = slice.metadata.name.clone().unwrap_or_default();
        if slice.address_type != ADDRESS_TYPE || !owned_by(&slice, svc) {
            plan.delete.push(name);
            continue;
        }
        let key = port_key(slice.ports.as_deref().unwrap_or_default());
        let changed = slice.metadata.labels.as_ref() != Some(&labels);
        let mut slice = slice;
        slice.metadata.labels = Some(labels.clone());
        by_key
            .entry(key)
            .or_default()
            .push(Working { slice, changed });
    }

    if desired.values().all(|g| g.endpoints.is_empty()) {
        placeholder(svc, by_key, &mut plan);
        return plan;
    }

    for (key, group) in desired {
        let slices = by_key.remove(&key).unwrap_or_default();
        place(svc, &group.ports, group.endpoints, slices, &mut plan);
    }
    // Slices whose ports no pod resolves to any more; a placeholder becomes a slice that
    // would otherwise be created (one write instead of two).
    for w in by_key.into_values().flatten() {
        let placeholder =
            w.slice.endpoints.is_empty() && w.slice.ports.as_ref().is_none_or(Vec::is_empty);
        if placeholder && !plan.create.is_empty() {
            let mut reused = plan.create.remove(0);
            let mut metadata = w.slice.metadata;
            metadata.labels = reused.metadata.labels.take();
            metadata.owner_references = reused.metadata.owner_references.take();
            reused.metadata = metadata;
            plan.update.push(reused);
            continue;
        }
        plan.delete
            .push(w.slice.metadata.name.clone().unwrap_or_default());
    }
    plan
}

/// With no endpoints at all, a Service keeps one empty slice (as Kubernetes does), reusing a
/// current one when possible.
fn placeholder(svc: &Service, by_key: BTreeMap<String, Vec<Working>>, plan: &mut Plan) {
    let mut kept = false;
    for mut w in by_key.into_values().flatten() {
        let empty_ports = w.slice.ports.as_ref().is_none_or(Vec::is_empty);
        if !kept && empty_ports && w.slice.endpoints.is_empty() {
            kept = true;
            if w.changed {
                plan.update.push(w.slice);
            }
            continue;
        }
        if !kept {
            kept = true;
            w.slice.endpoints.clear();
            w.slice.ports = Some(Vec::new());
            plan.update.push(w.slice);
            continue;
        }
        plan.delete
            .push(w.slice.metadata.name.take().unwrap_or_default());
    }
    if !kept {
        plan.create.push(new_slice(svc, &[], Vec::new()));
    }
}

/// Places one port group's endpoints into its current slices and new ones.
fn place(
    svc: &Service,
    ports: &[EndpointPort],
    endpoints: Vec<Endpoint>,
    mut slices: Vec<Working>,
    plan: &mut Plan,
) {
    let mut wanted: BTreeMap<String, Endpoint> = endpoints
        .into_iter()
        .map(|e| (first_address(&e).to_owned(), e))
        .collect();
    // Keep (and refresh) endpoints where they are; drop the ones no longer wanted.
    for w in &mut slices {
        let old = std::mem::take(&mut w.slice.endpoints);
        for ep in old {
            match wanted.remove(first_address(&ep)) {
                Some(new) => {
                    if new != ep {
                        w.changed = true;
                    }
                    w.slice.endpoints.push(new);
                }
                None => w.changed = true,
            }
        }
    }
    let mut remaining: Vec<Endpoint> = wanted.into_values().collect();
    // New endpoints go first into slices that are rewritten anyway.
    for w in slices.iter_mut().filter(|w| w.changed) {
        let take = w.room().min(remaining.len());
        w.slice.endpoints.extend(remaining.drain(..take));
    }
    // Then into new full slices; a last partial chunk may fit an unchanged slice.
    while remaining.len() >= MAX_ENDPOINTS {
        let chunk: Vec<Endpoint> = remaining.drain(..MAX_ENDPOINTS).collect();
        plan.create.push(new_slice(svc, ports, chunk));
    }
    if !remaining.is_empty() {
        let fits = slices
            .iter_mut()
            .filter(|w| !w.changed && w.room() >= remaining.len())
            .min_by_key(|w| w.room());
        match fits {
            Some(w) => {
                w.slice.endpoints.append(&mut remaining);
                w.changed = true;
            }
            None => plan.create.push(new_slice(svc, ports, remaining)),
        }
    }
    for mut w in slices {
        if w.slice.endpoints.is_empty() {
            plan.delete
                .push(w.slice.metadata.name.take().unwrap_or_default());
        } else if w.changed {
            plan.update.push(w.slice);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::super::desired::desired;
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    fn svc() -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        }))
        .unwrap()
    }

    fn pod(i: usize, ready: bool, port_name: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": format!("p{i}"), "namespace": "default", "uid": format!("u{i}"),
                "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [
                {"name": port_name, "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": format!("10.0.{}.{}", i / 200, i % 200 + 1),
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]},
        }))
        .unwrap()
    }

    /// Applies a plan as the API server would (names for created slices).
    fn apply(current: Vec<EndpointSlice>, plan: Plan, next: &mut usize) -> Vec<EndpointSlice> {
        let mut out: Vec<EndpointSlice> = current
            .into_iter()
            .filter(|s| !plan.delete.contains(s.metadata.name.as_ref().unwrap()))
            .map(|s| {
                plan.update
                    .iter()
                    .find(|u| u.metadata.name == s.metadata.name)
                    .cloned()
                    .unwrap_or(s)
            })
            .collect();
        for mut s in plan.create {
            *next += 1;
            s.metadata.name = Some(format!("web-{next}"));
            out.push(s);
        }
        out
    }

    #[test]
    fn empty_service_gets_one_placeholder() {
        let p = plan(&svc(), Desired::new(), Vec::new());
        assert_eq!(p.create.len(), 1);
        assert!(p.create[0].endpoints.is_empty());
        assert_eq!(p.create[0].ports, Some(Vec::new()));
        let mut n = 0;
        let slices = apply(Vec::new(), p, &mut n);
        assert!(plan(&svc(), Desired::new(), slices).is_empty());
    }

    #[test]
    fn splits_at_max_and_keeps_endpoints_in_place() {
        let s = svc();
        let pods: Vec<Pod> = (0..250).map(|i| pod(i, true, "http")).collect();
        let mut n = 0;
        let p = plan(&s, desired(&s, &pods, |_| None), Vec::new());
        assert_eq!(p.create.len(), 3);
        let slices = apply(Vec::new(), p, &mut n);
        assert!(slices.iter().all(|s| s.endpoints.len() <= MAX_ENDPOINTS));
        // Steady state: nothing to do.
        assert!(plan(&s, desired(&s, &pods, |_| None), slices.clone()).is_empty());
        // One pod turns not ready: exactly one slice is rewritten.
        let mut pods2 = pods.clone();
        pods2[7] = pod(7, false, "http");
        let p = plan(&s, desired(&s, &pods2, |_| None), slices.clone());
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));
        // A new pod goes into a slice with room, no new slice.
        let mut pods3 = pods.clone();
        pods3.push(pod(300, true, "http"));
        let p = plan(&s, desired(&s, &pods3, |_| None), slices);
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));
    }

    #[test]
    fn pods_with_other_ports_get_their_own_slice() {
        let s = svc();
        let pods = vec![pod(1, true, "http"), pod(2, true, "web")];
        let d = desired(&s, &pods, |_| Some("z1".to_owned()));
        assert_eq!(d.len(), 2);
        let p = plan(&s, d, Vec::new());
        assert_eq!(p.create.len(), 2);
        let no_ports = p
            .create
            .iter()
            .find(|s| s.ports.as_ref().is_some_and(Vec::is_empty))
            .unwrap();
        assert_eq!(no_ports.endpoints[0].addresses, vec!["10.0.0.3".to_owned()]);
        assert_eq!(no_ports.endpoints[0].zone.as_deref(), Some("z1"));
    }

    #[test]
    fn placeholder_is_reused_for_the_first_endpoints() {
        let s = svc();
        let mut n = 0;
        let slices = apply(Vec::new(), plan(&s, Desired::new(), Vec::new()), &mut n);
        let pods = vec![pod(1, true, "http")];
        let p = plan(&s, desired(&s, &pods, |_| None), slices);
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));
        assert_eq!(p.update[0].metadata.name.as_deref(), Some("web-1"));
        assert_eq!(p.update[0].endpoints.len(), 1);
    }

    #[test]
    fn foreign_and_emptied_slices_are_deleted() {
        let s = svc();
        let pods = vec![pod(1, true, "http")];
        let mut n = 0;
        let slices = apply(
            Vec::new(),
            plan(&s, desired(&s, &pods, |_| None), Vec::new()),
            &mut n,
        );
        let mut foreign = slices[0].clone();
        foreign.metadata.name = Some("old".to_owned());
        foreign.metadata.owner_references = None;
        let mut all = slices.clone();
        all.push(foreign);
        let p = plan(&s, desired(&s, &pods, |_| None), all);
        assert_eq!(p.delete, vec!["old".to_owned()]);
        // All pods gone: the slice becomes the placeholder.
        let p = plan(&s, Desired::new(), slices);
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));
        assert!(p.update[0].endpoints.is_empty());
    }
}
