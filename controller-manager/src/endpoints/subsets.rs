//! A Service's Endpoints subsets from its pods: ready pods in `addresses`, the others in
//! `notReadyAddresses`, addresses with the same resolved ports grouped in one subset, and at
//! most [`MAX_ADDRESSES`] addresses in all (ready ones kept first).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, Pod, Service};

use crate::endpointslice::pods;

/// Addresses an Endpoints object holds at most (kube-controller-manager's `maxCapacity`).
pub(crate) const MAX_ADDRESSES: usize = 1000;

/// The subsets, and whether addresses had to be dropped to stay under [`MAX_ADDRESSES`].
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Subsets {
    pub subsets: Vec<EndpointSubset>,
    pub truncated: bool,
}

fn address(svc: &Service, pod: &Pod, ip: &str) -> EndpointAddress {
    let spec = pod.spec.as_ref();
    let hostname = spec
        .filter(|s| s.subdomain.is_some() && s.subdomain == svc.metadata.name)
        .and_then(|s| s.hostname.clone())
        .filter(|h| !h.is_empty());
    EndpointAddress {
        ip: ip.to_owned(),
        hostname,
        node_name: spec.and_then(|s| s.node_name.clone()),
        target_ref: Some(pods::target_ref(pod)),
    }
}

/// Ports of a subset, as a sortable key.
type PortKey = Vec<(String, i32, String, String)>;

fn port_key(ports: &[EndpointPort]) -> PortKey {
    let mut key: PortKey = ports
        .iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port,
                p.protocol.clone().unwrap_or_default(),
                p.app_protocol.clone().unwrap_or_default(),
            )
        })
        .collect();
    key.sort();
    key
}

/// Computes the subsets of `svc` over the pods it selects.
pub(crate) fn subsets<'a>(svc: &Service, selected: impl IntoIterator<Item = &'a Pod>) -> Subsets {
    let tolerate_unready = pods::publishes_not_ready(svc);
    let headless = svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None");
    let service_ports = pods::service_ports(svc);
    // Port set → (ready addresses, not-ready addresses), each by IP.
    type Group = (
        Vec<EndpointPort>,
        BTreeMap<String, EndpointAddress>,
        BTreeMap<String, EndpointAddress>,
    );
    let mut groups: BTreeMap<PortKey, Group> = BTreeMap::new();
    for pod in selected {
        if !pods::in_endpoints(pod, tolerate_unready) {
            continue;
        }
        let Some(ip) = pods::pod_ip(pod) else {
            continue;
        };
        let ports: Vec<EndpointPort> = service_ports
            .iter()
            .filter_map(|sp| {
                Some(EndpointPort {
                    name: sp.name.clone().filter(|n| !n.is_empty()),
                    port: pods::target_port(sp, pod)?,
                    protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".to_owned())),
                    app_protocol: sp.app_protocol.clone(),
                })
            })
            .collect();
        // A pod none of whose ports resolve is left out, unless the Service has no ports
        // at all and is headless (DNS only).
        if ports.is_empty() && !(service_ports.is_empty() && headless) {
            continue;
        }
        let mut sorted = ports.clone();
        sorted.sort_by_key(|p| (p.name.clone(), p.port, p.protocol.clone()));
        let group = groups
            .entry(port_key(&sorted))
            .or_insert_with(|| (sorted, BTreeMap::new(), BTreeMap::new()));
        let addr = address(svc, pod, ip);
        if tolerate_unready || pods::ready(pod) {
            group.1.insert(ip.to_owned(), addr);
        } else {
            group.2.insert(ip.to_owned(), addr);
        }
    }
    let mut out: Vec<(
        Vec<EndpointPort>,
        Vec<EndpointAddress>,
        Vec<EndpointAddress>,
    )> = groups
        .into_values()
        .map(|(ports, ready, not_ready)| {
            (
                ports,
                ready.into_values().collect(),
                not_ready.into_values().collect(),
            )
        })
        .collect();
    let truncated = truncate(&mut out);
    let subsets = out
        .into_iter()
        .filter(|(_, r, n)| !r.is_empty() || !n.is_empty())
        .map(|(ports, ready, not_ready)| EndpointSubset {
            addresses: (!ready.is_empty()).then_some(ready),
            not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
            ports: (!ports.is_empty()).then_some(ports),
        })
        .collect();
    Subsets { subsets, truncated }
}

type Rows = Vec<(
    Vec<EndpointPort>,
    Vec<EndpointAddress>,
    Vec<EndpointAddress>,
)>;

/// Keeps at most [`MAX_ADDRESSES`] addresses: ready ones first, each subset keeping its share.
fn truncate(rows: &mut Rows) -> bool {
    let ready: usize = rows.iter().map(|r| r.1.len()).sum();
    let not_ready: usize = rows.iter().map(|r| r.2.len()).sum();
    if ready + not_ready <= MAX_ADDRESSES {
        return false;
    }
    let ready_budget = ready.min(MAX_ADDRESSES);
    let not_ready_budget = MAX_ADDRESSES - ready_budget;
    share(rows, ready, ready_budget, |r| &mut r.1);
    share(rows, not_ready, not_ready_budget, |r| &mut r.2);
    true
}

/// Cuts the lists `pick` chooses down to `budget` addresses in all, proportionally.
fn share(
    rows: &mut Rows,
    total: usize,
    budget: usize,
    pick: impl Fn(
        &mut (
            Vec<EndpointPort>,
            Vec<EndpointAddress>,
            Vec<EndpointAddress>,
        ),
    ) -> &mut Vec<EndpointAddress>,
) {
    if total <= budget {
        return;
    }
    let mut left = budget;
    let n = rows.len();
    for (i, row) in rows.iter_mut().enumerate() {
        let list = pick(row);
        let keep = if i + 1 == n {
            left
        } else {
            (list.len() * budget).div_ceil(total.max(1))
        }
        .min(list.len())
        .min(left);
        list.truncate(keep);
        left -= keep;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(extra: serde_json::Value) -> Service {
        let mut v = json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "s"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        });
        if let Some(m) = extra.as_object() {
            for (k, val) in m {
                v["spec"][k] = val.clone();
            }
        }
        serde_json::from_value(v).unwrap()
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

    #[test]
    fn ready_and_not_ready_addresses() {
        let pods = [
            pod(1, true, "http"),
            pod(2, false, "http"),
            pod(3, true, "other"),
        ];
        let s = subsets(&svc(json!({})), &pods);
        assert!(!s.truncated);
        assert_eq!(s.subsets.len(), 1);
        let sub = &s.subsets[0];
        assert_eq!(sub.addresses.as_ref().unwrap()[0].ip, "10.0.0.2");
        assert_eq!(sub.not_ready_addresses.as_ref().unwrap()[0].ip, "10.0.0.3");
        assert_eq!(sub.ports.as_ref().unwrap()[0].port, 8080);
        // publishNotReadyAddresses puts every pod in addresses.
        let s = subsets(&svc(json!({"publishNotReadyAddresses": true})), &pods);
        assert_eq!(s.subsets[0].addresses.as_ref().unwrap().len(), 2);
    }

    #[test]
    fn truncates_at_capacity_keeping_ready_first() {
        let pods: Vec<Pod> = (0..1200).map(|i| pod(i, i % 2 == 0, "http")).collect();
        let s = subsets(&svc(json!({})), &pods);
        assert!(s.truncated);
        let sub = &s.subsets[0];
        assert_eq!(sub.addresses.as_ref().unwrap().len(), 600);
        assert_eq!(sub.not_ready_addresses.as_ref().unwrap().len(), 400);
    }
}
