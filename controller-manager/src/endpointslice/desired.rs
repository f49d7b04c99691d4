//! The endpoints a Service should have: one per selected pod with an IP, grouped by the ports
//! resolved on that pod (pods where a named port resolves differently, or not at all, land
//! in a group of their own, as Kubernetes does).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};

use super::pods;

/// One group of endpoints that share the same resolved ports.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Group {
    pub ports: Vec<EndpointPort>,
    pub endpoints: Vec<Endpoint>,
}

/// The desired endpoints, by port key (see [`port_key`]).
pub(crate) type Desired = BTreeMap<String, Group>;

/// A stable text key for a set of ports, so slices with the same ports compare equal.
pub(crate) fn port_key(ports: &[EndpointPort]) -> String {
    let mut parts: Vec<String> = ports
        .iter()
        .map(|p| {
            format!(
                "{}/{}/{}/{}",
                p.name.as_deref().unwrap_or_default(),
                p.protocol.as_deref().unwrap_or("TCP"),
                p.port.unwrap_or_default(),
                p.app_protocol.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    parts.sort();
    parts.join(",")
}

/// The ports of `svc` as they resolve on `pod` (ports that do not resolve are left out).
pub(crate) fn ports_for(svc: &Service, pod: &Pod) -> Vec<EndpointPort> {
    pods::service_ports(svc)
        .iter()
        .filter_map(|sp| {
            let port = pods::target_port(sp, pod)?;
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(port),
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".to_owned())),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

/// The endpoint of one pod: its address, conditions, node, zone and reference.
pub(crate) fn endpoint_for(svc: &Service, pod: &Pod, ip: &str, zone: Option<String>) -> Endpoint {
    let serving = pods::ready(pod);
    let terminating = pods::terminating(pod);
    let ready = pods::publishes_not_ready(svc) || (serving && !terminating);
    Endpoint {
        addresses: vec![ip.to_owned()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: pods::hostname(svc, pod),
        node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        zone,
        target_ref: Some(pods::target_ref(pod)),
        ..Endpoint::default()
    }
}

/// The desired endpoints of `svc` over the pods it selects; `zone_of` gives a node's zone.
pub(crate) fn desired<'a>(
    svc: &Service,
    selected: impl IntoIterator<Item = &'a Pod>,
    zone_of: impl Fn(&str) -> Option<String>,
) -> Desired {
    let mut groups = Desired::new();
    for pod in selected {
        // Terminating pods stay in slices, flagged, so proxies can drain them.
        if !pods::in_endpoints(pod, true) {
            continue;
        }
        let Some(ip) = pods::pod_ip(pod) else {
            continue;
        };
        let zone = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .and_then(&zone_of);
        let ports = ports_for(svc, pod);
        let group = groups.entry(port_key(&ports)).or_insert_with(|| Group {
            ports,
            endpoints: Vec::new(),
        });
        group.endpoints.push(endpoint_for(svc, pod, ip, zone));
    }
    for group in groups.values_mut() {
        group
            .endpoints
            .sort_by(|a, b| a.addresses.cmp(&b.addresses));
        group.endpoints.dedup_by(|a, b| a.addresses == b.addresses);
    }
    groups
}
