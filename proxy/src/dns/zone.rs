//! The cluster's DNS records, as Kubernetes' DNS specification names them (CoreDNS answers the
//! same):
//!
//! - `<service>.<namespace>.svc.<domain>`: A records of the ClusterIP; for a headless Service
//!   the addresses of its ready endpoints, and `<hostname>.<service>.<namespace>.svc.<domain>`
//!   for endpoints with a hostname (StatefulSet pods under their governing Service);
//! - a CNAME for ExternalName Services;
//! - `_<port>._<protocol>.<service>.<namespace>.svc.<domain>` SRV records for named ports;
//! - `<a-b-c-d>.<namespace>.pod.<domain>` A records for pod addresses.
//!
//! Names inside the domain that do not exist answer NXDOMAIN; names that exist without the
//! asked type (and the empty names between, like `<namespace>.svc.<domain>`) answer no data.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use hickory_proto::rr::rdata::{CNAME, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The TTL of every answer, in seconds (CoreDNS' default for the kubernetes plugin).
pub const TTL: u32 = 5;

/// What a name lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Records of the asked type (possibly a CNAME to follow).
    Answers(Vec<Record>),
    /// The name exists without records of that type.
    NoData,
    /// No such name.
    NxDomain,
}

/// Every record of the cluster domain.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    /// The domain with its trailing dot, lowercase (`cluster.local.`).
    domain: String,
    records: BTreeMap<(String, RecordType), Vec<RData>>,
    /// Every name holding records, and every name between them and the domain.
    names: BTreeSet<String>,
}

fn fqdn(parts: &[&str]) -> String {
    let mut s = parts.join(".").to_ascii_lowercase();
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

impl Zone {
    /// The zone of `domain` (e.g. `cluster.local`) from the cluster's Services and slices.
    pub fn build(domain: &str, services: &[Service], slices: &[EndpointSlice]) -> Zone {
        let mut zone = Zone {
            domain: fqdn(&[domain.trim_end_matches('.')]),
            ..Zone::default()
        };
        let mut by_service: BTreeMap<(String, String), Vec<&EndpointSlice>> = BTreeMap::new();
        for slice in slices {
            if let Some(svc) = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name"))
            {
                let ns = slice.metadata.namespace.clone().unwrap_or_default();
                by_service.entry((ns, svc.clone())).or_default().push(slice);
            }
        }
        for svc in services {
            let (Some(ns), Some(name), Some(spec)) = (
                svc.metadata.namespace.as_deref(),
                svc.metadata.name.as_deref(),
                svc.spec.as_ref(),
            ) else {
                continue;
            };
            let base = fqdn(&[name, ns, "svc", domain.trim_end_matches('.')]);
            if spec.type_.as_deref() == Some("ExternalName") {
                if let Some(Ok(target)) = spec.external_name.as_deref().map(Name::from_ascii) {
                    zone.add(&base, RData::CNAME(CNAME(target)));
                }
                continue;
            }
            let headless = spec.cluster_ip.as_deref() == Some("None");
            let slices = by_service
                .get(&(ns.to_owned(), name.to_owned()))
                .cloned()
                .unwrap_or_default();
            if headless {
                zone.headless(&base, spec, &slices);
            } else {
                let ips = spec
                    .cluster_ips
                    .iter()
                    .flatten()
                    .chain(spec.cluster_ip.iter())
                    .filter_map(|ip| ip.parse::<Ipv4Addr>().ok())
                    .collect::<BTreeSet<_>>();
                for ip in ips {
                    zone.add(&base, RData::A(ip.into()));
                }
                for port in spec.ports.iter().flatten() {
                    let (Some(port_name), Ok(number)) = (&port.name, u16::try_from(port.port))
                    else {
                        continue;
                    };
                    let proto = port
                        .protocol
                        .as_deref()
                        .unwrap_or("TCP")
                        .to_ascii_lowercase();
                    if let Ok(target) = Name::from_ascii(&base) {
                        let srv = fqdn(&[&format!("_{port_name}._{proto}"), &base]);
                        zone.add(&srv, RData::SRV(SRV::new(0, 100, number, target)));
                    }
                }
            }
        }
        zone
    }

    /// A headless Service: its ready endpoints' addresses, hostnames and SRV records.
    fn headless(
        &mut self,
        base: &str,
        spec: &k8s_openapi::api::core::v1::ServiceSpec,
        slices: &[&EndpointSlice],
    ) {
        // The Service exists even with no endpoint.
        self.mark(base);
        for slice in slices {
            if slice.address_type != "IPv4" {
                continue;
            }
            for ep in &slice.endpoints {
                let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
                let publish = spec.publish_not_ready_addresses.unwrap_or(false);
                if !ready && !publish {
                    continue;
                }
                for ip in ep
                    .addresses
                    .iter()
                    .filter_map(|a| a.parse::<Ipv4Addr>().ok())
                {
                    self.add(base, RData::A(ip.into()));
                    let host = ep
                        .hostname
                        .clone()
                        .unwrap_or_else(|| ip.to_string().replace('.', "-"));
                    let host_name = fqdn(&[&host, base]);
                    self.add(&host_name, RData::A(ip.into()));
                    for port in slice.ports.iter().flatten() {
                        let (Some(port_name), Some(number)) =
                            (&port.name, port.port.and_then(|p| u16::try_from(p).ok()))
                        else {
                            continue;
                        };
                        if port_name.is_empty() {
                            continue;
                        }
                        let proto = port
                            .protocol
                            .as_deref()
                            .unwrap_or("TCP")
                            .to_ascii_lowercase();
                        if let Ok(target) = Name::from_ascii(&host_name) {
                            let srv = fqdn(&[&format!("_{port_name}._{proto}"), base]);
                            self.add(&srv, RData::SRV(SRV::new(0, 100, number, target)));
                        }
                    }
                }
            }
        }
    }

    fn add(&mut self, name: &str, rdata: RData) {
        self.mark(name);
        let list = self
            .records
            .entry((name.to_owned(), rdata.record_type()))
            .or_default();
        if !list.contains(&rdata) {
            list.push(rdata);
        }
    }

    /// Records `name` and every name between it and the domain as existing.
    fn mark(&mut self, name: &str) {
        let mut n = name;
        while n.len() >= self.domain.len() {
            if !self.names.insert(n.to_owned()) {
                break;
            }
            match n.split_once('.') {
                Some((_, rest)) if !rest.is_empty() => n = rest,
                _ => break,
            }
        }
    }

    /// Whether `name` is inside the cluster domain.
    pub fn contains(&self, name: &Name) -> bool {
        let n = name.to_lowercase().to_string();
        n == self.domain || n.ends_with(&format!(".{}", self.domain))
    }

    /// The zone's SOA record, for the authority section of negative answers.
    pub fn soa(&self) -> Option<Record> {
        let apex = Name::from_ascii(&self.domain).ok()?;
        let mname = Name::from_ascii(format!("ns.dns.{}", self.domain)).ok()?;
        let rname = Name::from_ascii(format!("hostmaster.{}", self.domain)).ok()?;
        Some(Record::from_rdata(
            apex,
            TTL,
            RData::SOA(SOA::new(mname, rname, 1, 7200, 1800, 86400, TTL)),
        ))
    }

    /// Looks `name` up for `rtype` (the name must be inside the domain).
    pub fn lookup(&self, name: &Name, rtype: RecordType) -> Lookup {
        let key = name.to_lowercase().to_string();
        let records = |t: RecordType| {
            self.records.get(&(key.clone(), t)).map(|rs| {
                rs.iter()
                    .map(|r| Record::from_rdata(name.clone(), TTL, r.clone()))
                    .collect::<Vec<_>>()
            })
        };
        if let Some(found) = records(rtype) {
            return Lookup::Answers(found);
        }
        if rtype != RecordType::CNAME {
            if let Some(cname) = records(RecordType::CNAME) {
                return Lookup::Answers(cname);
            }
        }
        if let Some(ip) = self.pod_address(&key) {
            return match rtype {
                RecordType::A => Lookup::Answers(vec![Record::from_rdata(
                    name.clone(),
                    TTL,
                    RData::A(ip.into()),
                )]),
                _ => Lookup::NoData,
            };
        }
        if self.names.contains(&key) || self.is_pod_namespace(&key) {
            Lookup::NoData
        } else {
            Lookup::NxDomain
        }
    }

    /// `1-2-3-4.<namespace>.pod.<domain>` read as 1.2.3.4.
    fn pod_address(&self, key: &str) -> Option<Ipv4Addr> {
        let rest = key.strip_suffix(&format!(".pod.{}", self.domain))?;
        let (dashed, namespace) = rest.split_once('.')?;
        if namespace.is_empty() || namespace.contains('.') {
            return None;
        }
        dashed.replace('-', ".").parse().ok()
    }

    /// `<namespace>.pod.<domain>` and `pod.<domain>` exist (without records).
    fn is_pod_namespace(&self, key: &str) -> bool {
        let pod = format!("pod.{}", self.domain);
        key == pod
            || key
                .strip_suffix(&format!(".{pod}"))
                .is_some_and(|ns| !ns.contains('.'))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;
    use serde_json::json;

    fn zone() -> Zone {
        let services: Vec<Service> = serde_json::from_value(json!([
            {"metadata": {"name": "web", "namespace": "demo"},
             "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80}]}},
            {"metadata": {"name": "db", "namespace": "demo"},
             "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}},
            {"metadata": {"name": "ext", "namespace": "demo"},
             "spec": {"type": "ExternalName", "externalName": "db.example.test"}}
        ]))
        .unwrap();
        let slices: Vec<EndpointSlice> = serde_json::from_value(json!([
            {"metadata": {"name": "db-1", "namespace": "demo", "labels": {"kubernetes.io/service-name": "db"}},
             "addressType": "IPv4",
             "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
             "endpoints": [
                {"addresses": ["10.42.0.8"], "hostname": "db-0", "conditions": {"ready": true}},
                {"addresses": ["10.42.1.8"], "hostname": "db-1", "conditions": {"ready": false}}
             ]}
        ]))
        .unwrap();
        Zone::build("cluster.local", &services, &slices)
    }

    fn a(lookup: Lookup) -> Vec<String> {
        match lookup {
            Lookup::Answers(rs) => rs.iter().map(|r| r.data.to_string()).collect(),
            other => panic!("expected answers, got {other:?}"),
        }
    }

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn services_headless_services_and_pods() {
        let z = zone();
        assert_eq!(
            a(z.lookup(&name("web.demo.svc.cluster.local."), RecordType::A)),
            ["10.96.0.20"]
        );
        // Case does not matter.
        assert_eq!(
            a(z.lookup(&name("WEB.demo.svc.cluster.local."), RecordType::A)),
            ["10.96.0.20"]
        );
        assert_eq!(
            a(z.lookup(&name("db.demo.svc.cluster.local."), RecordType::A)),
            ["10.42.0.8"]
        );
        assert_eq!(
            a(z.lookup(&name("db-0.db.demo.svc.cluster.local."), RecordType::A)),
            ["10.42.0.8"]
        );
        assert_eq!(
            z.lookup(&name("db-1.db.demo.svc.cluster.local."), RecordType::A),
            Lookup::NxDomain
        );
        assert_eq!(
            a(z.lookup(
                &name("_http._tcp.web.demo.svc.cluster.local."),
                RecordType::SRV
            )),
            ["0 100 80 web.demo.svc.cluster.local."]
        );
        assert_eq!(
            a(z.lookup(
                &name("_pg._tcp.db.demo.svc.cluster.local."),
                RecordType::SRV
            )),
            ["0 100 5432 db-0.db.demo.svc.cluster.local."]
        );
        assert_eq!(
            a(z.lookup(&name("ext.demo.svc.cluster.local."), RecordType::A)),
            ["db.example.test"]
        );
        assert_eq!(
            a(z.lookup(&name("10-42-0-9.demo.pod.cluster.local."), RecordType::A)),
            ["10.42.0.9"]
        );
    }

    #[test]
    fn negative_answers() {
        let z = zone();
        assert_eq!(
            z.lookup(&name("nope.demo.svc.cluster.local."), RecordType::A),
            Lookup::NxDomain
        );
        assert_eq!(
            z.lookup(&name("web.demo.svc.cluster.local."), RecordType::AAAA),
            Lookup::NoData
        );
        assert_eq!(
            z.lookup(&name("demo.svc.cluster.local."), RecordType::A),
            Lookup::NoData
        );
        assert!(z.contains(&name("x.cluster.local.")));
        assert!(!z.contains(&name("example.test.")));
    }
}
