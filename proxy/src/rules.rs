//! The rules the proxy wants in its nftables table, computed from the Service ports: a pure
//! function, so what is programmed can be read and tested without a kernel.
//!
//! The table `ip rkube` holds, as kube-proxy's nftables mode does:
//!
//! - verdict maps keyed on `address . protocol . port` (`service-ips`) and `protocol . port`
//!   (`service-nodeports`, for node-local destinations) jumping to one chain per Service port;
//! - per Service port a chain choosing an endpoint with `numgen random` (after the client-IP
//!   affinity sets, when the Service asks for affinity), and per endpoint a chain doing the DNAT;
//! - packets from outside the cluster CIDR, hairpin traffic (a pod reaching itself through its
//!   Service) and external traffic under the `Cluster` policy marked for masquerade;
//! - Service ports without endpoints in `no-endpoint-services` / `no-endpoint-nodeports`, whose
//!   new connections are rejected at once rather than left to time out.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use sha2::{Digest, Sha256};

use crate::model::{Endpoint, ServicePort};

/// The proxy's table.
pub const TABLE: &str = "rkube";
/// The packet mark asking for masquerade.
pub const MASQUERADE_MARK: u32 = 0x4000;

/// A named set or map and its elements (key -> value; sets have empty values).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Collection {
    /// What follows `add map ip rkube NAME` / `add set ...`, e.g. `{ type ... ; }`.
    pub declaration: String,
    pub is_map: bool,
    pub elements: BTreeMap<String, String>,
}

/// Everything in the table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset {
    /// Chain name -> (base chain hook spec, if any; rules).
    pub chains: BTreeMap<String, (Option<String>, Vec<String>)>,
    pub collections: BTreeMap<String, Collection>,
}

/// Where the node's traffic comes from, for the rules that depend on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeContext {
    /// The cluster's pod CIDR (`10.42.0.0/16`): sources outside it are masqueraded.
    pub cluster_cidr: String,
    /// This node's name, for the `Local` traffic policies.
    pub node_name: String,
}

/// A short stable hash of a name, as chain names carry (chains are named after what they
/// serve, and the hash keeps names unique however they are cut).
fn hash(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let mut out = String::new();
    for b in digest.iter().take(4) {
        out.push_str(&format!("{b:02X}"));
    }
    out
}

fn service_chain(sp: &ServicePort) -> String {
    let id = sp.id();
    format!("service-{}-{id}", hash(&id))
}

fn external_chain(sp: &ServicePort) -> String {
    let id = sp.id();
    format!("external-{}-{id}", hash(&id))
}

fn endpoint_chain(sp: &ServicePort, ep: &Endpoint) -> String {
    let id = format!("{}__{}/{}", sp.id(), ep.ip, ep.port);
    format!("endpoint-{}-{id}", hash(&id))
}

fn affinity_set(sp: &ServicePort, ep: &Endpoint) -> String {
    let id = format!("{}__{}/{}", sp.id(), ep.ip, ep.port);
    format!("affinity-{}", hash(&id))
}

/// A chain or collection name in a rule. (nft identifiers may hold `/`, `.`, `_` and `-`
/// after their first letter, so the names need no quoting.)
fn q(name: &str) -> String {
    name.to_owned()
}

/// The rules for these Service ports on this node.
pub fn build(ports: &[ServicePort], node: &NodeContext) -> Ruleset {
    let mut rs = Ruleset::default();
    base(&mut rs);
    for sp in ports {
        service_port(&mut rs, sp, node);
    }
    rs
}

fn map(declaration: &str) -> Collection {
    Collection {
        declaration: declaration.to_owned(),
        is_map: true,
        elements: BTreeMap::new(),
    }
}

/// The fixed skeleton: hooks, dispatch, masquerade, reject.
fn base(rs: &mut Ruleset) {
    let mut chain = |name: &str, hook: Option<&str>, rules: &[&str]| {
        rs.chains.insert(
            name.to_owned(),
            (
                hook.map(str::to_owned),
                rules.iter().map(|r| (*r).to_owned()).collect(),
            ),
        );
    };
    chain(
        "nat-prerouting",
        Some("type nat hook prerouting priority dstnat; policy accept;"),
        &["jump services"],
    );
    chain(
        "nat-output",
        Some("type nat hook output priority -100; policy accept;"),
        &["jump services"],
    );
    chain(
        "nat-postrouting",
        Some("type nat hook postrouting priority srcnat; policy accept;"),
        &["jump masquerading"],
    );
    for (name, hook) in [
        ("filter-input", "input"),
        ("filter-forward", "forward"),
        ("filter-output", "output"),
    ] {
        chain(
            name,
            Some(&format!(
                "type filter hook {hook} priority -110; policy accept;"
            )),
            &["ct state new jump service-endpoints-check"],
        );
    }
    chain(
        "services",
        None,
        &[
            "ip daddr . meta l4proto . th dport vmap @service-ips",
            "fib daddr type local meta l4proto . th dport vmap @service-nodeports",
        ],
    );
    chain(
        "service-endpoints-check",
        None,
        &[
            "ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
            "fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports",
        ],
    );
    chain(
        "mark-for-masquerade",
        None,
        &[&format!("meta mark set meta mark | {MASQUERADE_MARK:#x}")],
    );
    chain(
        "masquerading",
        None,
        &[
            &format!("meta mark & {MASQUERADE_MARK:#x} == 0 return"),
            &format!("meta mark set meta mark ^ {MASQUERADE_MARK:#x}"),
            "masquerade fully-random",
        ],
    );
    chain("reject-chain", None, &["reject"]);
    for name in ["service-ips", "no-endpoint-services"] {
        rs.collections.insert(
            name.to_owned(),
            map("{ type ipv4_addr . inet_proto . inet_service : verdict ; }"),
        );
    }
    for name in ["service-nodeports", "no-endpoint-nodeports"] {
        rs.collections.insert(
            name.to_owned(),
            map("{ type inet_proto . inet_service : verdict ; }"),
        );
    }
}

fn element(rs: &mut Ruleset, map: &str, key: String, verdict: String) {
    if let Some(c) = rs.collections.get_mut(map) {
        c.elements.insert(key, verdict);
    }
}

/// A `numgen` choice among endpoint chains (or one `goto` when there is one).
fn choose(chains: &[String]) -> String {
    if let [only] = chains {
        return format!("goto {}", q(only));
    }
    let arms: Vec<String> = chains
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{i} : goto {}", q(c)))
        .collect();
    format!(
        "numgen random mod {} vmap {{ {} }}",
        chains.len(),
        arms.join(", ")
    )
}

fn service_port(rs: &mut Ruleset, sp: &ServicePort, node: &NodeContext) {
    let proto = sp.protocol.as_str();
    let usable = sp.usable_endpoints();
    let local: Vec<&Endpoint> = usable
        .iter()
        .copied()
        .filter(|e| e.node.as_deref() == Some(node.node_name.as_str()))
        .collect();
    let internal = if sp.internal_local { &local } else { &usable };
    let external = if sp.external_local { &local } else { &usable };
    let externals: Vec<Ipv4Addr> = sp
        .external_ips
        .iter()
        .chain(&sp.load_balancer_ips)
        .copied()
        .collect();
    let reject = "goto reject-chain".to_owned();

    // Endpoint chains: hairpin masquerade, affinity, DNAT.
    let mut endpoint_chains = BTreeMap::new();
    for ep in usable.iter().copied() {
        let name = endpoint_chain(sp, ep);
        let mut rules = vec![format!("ip saddr {} jump mark-for-masquerade", ep.ip)];
        if let Some(timeout) = sp.affinity_seconds {
            let set = affinity_set(sp, ep);
            rs.collections.insert(
                set.clone(),
                Collection {
                    declaration: format!(
                        "{{ type ipv4_addr ; flags dynamic,timeout ; timeout {timeout}s ; }}"
                    ),
                    is_map: false,
                    elements: BTreeMap::new(),
                },
            );
            rules.push(format!("update @{} {{ ip saddr }}", q(&set)));
        }
        rules.push(format!(
            "meta l4proto {proto} dnat to {}:{}",
            ep.ip, ep.port
        ));
        rs.chains.insert(name.clone(), (None, rules));
        endpoint_chains.insert((ep.ip, ep.port), name);
    }
    let chains_of = |eps: &[&Endpoint]| -> Vec<String> {
        eps.iter()
            .filter_map(|e| endpoint_chain_name(&endpoint_chains, e))
            .collect()
    };
    let affinity_rules = |eps: &[&Endpoint]| -> Vec<String> {
        if sp.affinity_seconds.is_none() {
            return Vec::new();
        }
        eps.iter()
            .map(|e| {
                format!(
                    "ip saddr @{} goto {}",
                    q(&affinity_set(sp, e)),
                    q(&endpoint_chain(sp, e))
                )
            })
            .collect()
    };

    // Cluster IPs.
    if internal.is_empty() {
        for ip in &sp.cluster_ips {
            element(
                rs,
                "no-endpoint-services",
                format!("{ip} . {proto} . {}", sp.port),
                reject.clone(),
            );
        }
    } else {
        let name = service_chain(sp);
        let mut rules: Vec<String> = sp
            .cluster_ips
            .iter()
            .map(|ip| {
                format!(
                    "ip daddr {ip} ip saddr != {} jump mark-for-masquerade",
                    node.cluster_cidr
                )
            })
            .collect();
        rules.extend(affinity_rules(internal));
        rules.push(choose(&chains_of(internal)));
        rs.chains.insert(name.clone(), (None, rules));
        for ip in &sp.cluster_ips {
            element(
                rs,
                "service-ips",
                format!("{ip} . {proto} . {}", sp.port),
                format!("goto {}", q(&name)),
            );
        }
    }

    // External IPs, load-balancer IPs and node ports.
    if externals.is_empty() && sp.node_port.is_none() {
        return;
    }
    if external.is_empty() {
        for ip in &externals {
            element(
                rs,
                "no-endpoint-services",
                format!("{ip} . {proto} . {}", sp.port),
                reject.clone(),
            );
        }
        if let Some(np) = sp.node_port {
            element(
                rs,
                "no-endpoint-nodeports",
                format!("{proto} . {np}"),
                reject.clone(),
            );
        }
        return;
    }
    let name = external_chain(sp);
    let mut rules = Vec::new();
    if !sp.external_local {
        // Replies must come back through this node: the source is rewritten.
        rules.push("jump mark-for-masquerade".to_owned());
    }
    rules.extend(affinity_rules(external));
    rules.push(choose(&chains_of(external)));
    rs.chains.insert(name.clone(), (None, rules));
    for ip in &externals {
        element(
            rs,
            "service-ips",
            format!("{ip} . {proto} . {}", sp.port),
            format!("goto {}", q(&name)),
        );
    }
    if let Some(np) = sp.node_port {
        element(
            rs,
            "service-nodeports",
            format!("{proto} . {np}"),
            format!("goto {}", q(&name)),
        );
    }
}

fn endpoint_chain_name(
    chains: &BTreeMap<(Ipv4Addr, u16), String>,
    ep: &Endpoint,
) -> Option<String> {
    chains.get(&(ep.ip, ep.port)).cloned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
pub(crate) mod tests {
    use super::*;

    pub(crate) fn port(endpoints: &[(&str, bool)]) -> ServicePort {
        let mut sp =
            ServicePort::cluster_ip("demo", "web", "http", Ipv4Addr::new(10, 96, 0, 20), 80);
        sp.node_port = Some(30080);
        sp.endpoints = endpoints
            .iter()
            .map(|(ip, ready)| Endpoint {
                ready: *ready,
                serving: *ready,
                ..Endpoint::ready(ip.parse().unwrap(), 8000, "n1")
            })
            .collect();
        sp
    }

    pub(crate) fn node() -> NodeContext {
        NodeContext {
            cluster_cidr: "10.42.0.0/16".into(),
            node_name: "n1".into(),
        }
    }

    #[test]
    fn a_service_spreads_over_its_ready_endpoints() {
        let rs = build(
            &[port(&[
                ("10.42.0.5", true),
                ("10.42.1.5", true),
                ("10.42.2.5", false),
            ])],
            &node(),
        );
        let svc = rs
            .chains
            .iter()
            .find(|(n, _)| n.starts_with("service-") && n.ends_with("demo/web/tcp/http"))
            .unwrap();
        let rules = &svc.1 .1;
        assert_eq!(
            rules[0],
            "ip daddr 10.96.0.20 ip saddr != 10.42.0.0/16 jump mark-for-masquerade"
        );
        assert!(
            rules[1].starts_with("numgen random mod 2 vmap { 0 : goto endpoint-"),
            "{}",
            rules[1]
        );
        let ep = rs
            .chains
            .iter()
            .find(|(n, _)| n.ends_with("__10.42.0.5/8000"))
            .unwrap();
        assert_eq!(
            ep.1 .1,
            vec![
                "ip saddr 10.42.0.5 jump mark-for-masquerade".to_owned(),
                "meta l4proto tcp dnat to 10.42.0.5:8000".to_owned()
            ]
        );
        assert!(!rs.chains.keys().any(|n| n.contains("10.42.2.5")));
        let ips = &rs.collections["service-ips"].elements;
        assert!(ips["10.96.0.20 . tcp . 80"].starts_with("goto service-"));
        let nodeports = &rs.collections["service-nodeports"].elements;
        assert!(nodeports["tcp . 30080"].starts_with("goto external-"));
    }

    #[test]
    fn no_endpoints_means_reject() {
        let rs = build(&[port(&[("10.42.0.5", false)])], &node());
        assert_eq!(
            rs.collections["no-endpoint-services"].elements["10.96.0.20 . tcp . 80"],
            "goto reject-chain"
        );
        assert_eq!(
            rs.collections["no-endpoint-nodeports"].elements["tcp . 30080"],
            "goto reject-chain"
        );
        assert!(rs.collections["service-ips"].elements.is_empty());
    }

    #[test]
    fn affinity_sets_and_local_policy() {
        let mut sp = port(&[("10.42.0.5", true), ("10.42.1.5", true)]);
        sp.affinity_seconds = Some(60);
        sp.external_local = true;
        sp.endpoints[1].node = Some("n2".into());
        let rs = build(&[sp], &node());
        let affinity: Vec<_> = rs
            .collections
            .iter()
            .filter(|(n, _)| n.starts_with("affinity-"))
            .collect();
        assert_eq!(affinity.len(), 2);
        assert!(affinity[0].1.declaration.contains("timeout 60s"));
        let ext = rs
            .chains
            .iter()
            .find(|(n, _)| n.starts_with("external-"))
            .unwrap();
        // Local: no masquerade, only this node's endpoint.
        assert_eq!(ext.1 .1.len(), 2, "{:?}", ext.1 .1);
        assert!(ext.1 .1[0].starts_with("ip saddr @affinity-"));
        assert!(ext.1 .1[1].starts_with("goto endpoint-"));
    }
}
