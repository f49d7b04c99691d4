//! What the proxy programs, read from Services and EndpointSlices: one [`ServicePort`] per port
//! of a Service, with the endpoints that serve it.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// A transport protocol, as nftables names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// From a Kubernetes protocol name (`TCP` when absent).
    pub fn parse(name: Option<&str>) -> Option<Protocol> {
        match name.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// `tcp`, `udp`, `sctp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// One address and port serving a Service port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    /// The node the endpoint runs on, for the `Local` traffic policies.
    pub node: Option<String>,
}

/// One port of one Service, with what the proxy needs to program it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    pub namespace: String,
    pub name: String,
    /// The port's name (may be empty for a single-port Service).
    pub port_name: String,
    pub protocol: Protocol,
    pub cluster_ips: Vec<Ipv4Addr>,
    pub port: u16,
    pub node_port: Option<u16>,
    pub external_ips: Vec<Ipv4Addr>,
    pub load_balancer_ips: Vec<Ipv4Addr>,
    /// Client-IP affinity and its timeout in seconds.
    pub affinity_seconds: Option<u32>,
    /// `externalTrafficPolicy: Local`.
    pub external_local: bool,
    /// `internalTrafficPolicy: Local`.
    pub internal_local: bool,
    pub endpoints: Vec<Endpoint>,
}

impl Endpoint {
    /// A ready endpoint on `node`.
    pub fn ready(ip: Ipv4Addr, port: u16, node: &str) -> Endpoint {
        Endpoint {
            ip,
            port,
            ready: true,
            serving: true,
            terminating: false,
            node: Some(node.to_owned()),
        }
    }
}

impl ServicePort {
    /// A TCP port of a ClusterIP Service, without node port, external addresses, affinity or
    /// endpoints (to be set on the value).
    pub fn cluster_ip(
        namespace: &str,
        name: &str,
        port_name: &str,
        ip: Ipv4Addr,
        port: u16,
    ) -> Self {
        ServicePort {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            port_name: port_name.to_owned(),
            protocol: Protocol::Tcp,
            cluster_ips: vec![ip],
            port,
            node_port: None,
            external_ips: Vec::new(),
            load_balancer_ips: Vec::new(),
            affinity_seconds: None,
            external_local: false,
            internal_local: false,
            endpoints: Vec::new(),
        }
    }

    /// `namespace/name/protocol/port-name`, as the chains are named.
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.namespace,
            self.name,
            self.protocol.as_str(),
            self.port_name
        )
    }

    /// The endpoints traffic goes to: the ready ones; when none is ready, the serving ones that
    /// are terminating (so connections drain rather than fail), as Kubernetes does.
    pub fn usable_endpoints(&self) -> Vec<&Endpoint> {
        let ready: Vec<&Endpoint> = self.endpoints.iter().filter(|e| e.ready).collect();
        if !ready.is_empty() {
            return ready;
        }
        self.endpoints
            .iter()
            .filter(|e| e.serving && e.terminating)
            .collect()
    }
}

fn ipv4s<'a>(items: impl IntoIterator<Item = &'a String>) -> Vec<Ipv4Addr> {
    items.into_iter().filter_map(|s| s.parse().ok()).collect()
}

/// The ports of a Service, with endpoints from its EndpointSlices. Headless Services and
/// ExternalName Services have nothing to program.
pub fn service_ports(svc: &Service, slices: &[EndpointSlice]) -> Vec<ServicePort> {
    let Some(spec) = svc.spec.as_ref() else {
        return Vec::new();
    };
    if spec.type_.as_deref() == Some("ExternalName") {
        return Vec::new();
    }
    let cluster_ips = match (&spec.cluster_ips, &spec.cluster_ip) {
        (Some(ips), _) if !ips.is_empty() => ipv4s(ips),
        (_, Some(ip)) => ipv4s([ip]),
        _ => Vec::new(),
    };
    if cluster_ips.is_empty() {
        return Vec::new();
    }
    let namespace = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    let external_ips = ipv4s(spec.external_ips.iter().flatten());
    let load_balancer_ips: Vec<Ipv4Addr> = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_ref()?.parse().ok())
        .collect();
    let affinity_seconds = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(10_800)
    });
    let external_local = spec.external_traffic_policy.as_deref() == Some("Local");
    let internal_local = spec.internal_traffic_policy.as_deref() == Some("Local");

    // Endpoints per (port name, protocol), from every slice of this Service.
    let mut by_port: BTreeMap<(String, Protocol), Vec<Endpoint>> = BTreeMap::new();
    for slice in slices {
        if slice.address_type != "IPv4" {
            continue;
        }
        for port in slice.ports.iter().flatten() {
            let (Some(number), Some(protocol)) = (
                port.port.and_then(|p| u16::try_from(p).ok()),
                Protocol::parse(port.protocol.as_deref()),
            ) else {
                continue;
            };
            let list = by_port
                .entry((port.name.clone().unwrap_or_default(), protocol))
                .or_default();
            for ep in &slice.endpoints {
                let conditions = ep.conditions.clone().unwrap_or_default();
                let ready = conditions.ready.unwrap_or(true);
                for ip in ipv4s(&ep.addresses) {
                    list.push(Endpoint {
                        ip,
                        port: number,
                        ready,
                        serving: conditions.serving.unwrap_or(ready),
                        terminating: conditions.terminating.unwrap_or(false),
                        node: ep.node_name.clone(),
                    });
                }
            }
        }
    }

    let mut out = Vec::new();
    for port in spec.ports.iter().flatten() {
        let (Ok(number), Some(protocol)) = (
            u16::try_from(port.port),
            Protocol::parse(port.protocol.as_deref()),
        ) else {
            continue;
        };
        let port_name = port.name.clone().unwrap_or_default();
        let mut endpoints = by_port
            .get(&(port_name.clone(), protocol))
            .cloned()
            .unwrap_or_default();
        endpoints.sort();
        endpoints.dedup_by(|a, b| a.ip == b.ip && a.port == b.port);
        out.push(ServicePort {
            namespace: namespace.clone(),
            name: name.clone(),
            port_name,
            protocol,
            cluster_ips: cluster_ips.clone(),
            port: number,
            node_port: port.node_port.and_then(|p| u16::try_from(p).ok()),
            external_ips: external_ips.clone(),
            load_balancer_ips: load_balancer_ips.clone(),
            affinity_seconds,
            external_local,
            internal_local,
            endpoints,
        });
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ports_and_endpoints_from_service_and_slices() {
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "demo"},
            "spec": {
                "type": "NodePort",
                "clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
                "externalIPs": ["192.0.2.10"],
                "sessionAffinity": "ClientIP",
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "web", "nodePort": 30080},
                    {"name": "dns", "port": 53, "protocol": "UDP"}
                ]
            }
        }))
        .unwrap();
        let slice: EndpointSlice = serde_json::from_value(json!({
            "metadata": {"name": "web-abc", "namespace": "demo"},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8000, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.42.0.5"], "conditions": {"ready": true}, "nodeName": "n1"},
                {"addresses": ["10.42.1.5"], "conditions": {"ready": false, "serving": true, "terminating": true}}
            ]
        }))
        .unwrap();
        let ports = service_ports(&svc, &[slice]);
        assert_eq!(ports.len(), 2);
        let http = &ports[0];
        assert_eq!(http.id(), "demo/web/tcp/http");
        assert_eq!(http.node_port, Some(30080));
        assert_eq!(http.affinity_seconds, Some(10_800));
        assert_eq!(http.external_ips, vec![Ipv4Addr::new(192, 0, 2, 10)]);
        let usable = http.usable_endpoints();
        assert_eq!(usable.len(), 1);
        assert_eq!(
            (usable[0].ip, usable[0].port),
            (Ipv4Addr::new(10, 42, 0, 5), 8000)
        );
        // No slice port for dns: no endpoints.
        assert!(ports[1].endpoints.is_empty());
        assert_eq!(ports[1].protocol, Protocol::Udp);
    }

    #[test]
    fn terminating_endpoints_serve_when_none_is_ready() {
        let mut sp = ServicePort::cluster_ip("d", "s", "", Ipv4Addr::new(10, 96, 0, 9), 80);
        sp.endpoints = vec![Endpoint {
            ready: false,
            terminating: true,
            ..Endpoint::ready(Ipv4Addr::new(10, 42, 0, 9), 80, "n1")
        }];
        assert_eq!(sp.usable_endpoints().len(), 1);
        sp.endpoints[0].serving = false;
        assert!(sp.usable_endpoints().is_empty());
    }

    #[test]
    fn headless_and_external_name_have_nothing() {
        let headless: Service = serde_json::from_value(json!({
            "metadata": {"name": "h", "namespace": "d"},
            "spec": {"clusterIP": "None", "ports": [{"port": 80}]}
        }))
        .unwrap();
        assert!(service_ports(&headless, &[]).is_empty());
    }
}
