//! The endpoints of the `kubernetes` Service: the API server publishes its own address, as
//! Kubernetes' endpoint reconciler does, in the Endpoints `default/kubernetes` and the
//! EndpointSlice of the same name, so that pods reach the API through the Service's cluster IP.
//! The Service has no selector, so the endpoint controllers leave both alone.

use std::net::IpAddr;

use serde_json::{json, Value};

use crate::status::ApiError;
use crate::{object, ApiServer};

/// The address the API server tells clients and pods to use when it listens on every address:
/// the IPv4 address of the interface holding the default route, else the first non-loopback
/// IPv4 address of an interface that is up.
pub fn host_address() -> Option<IpAddr> {
    let addrs: Vec<(String, IpAddr)> = nix::ifaddrs::getifaddrs()
        .ok()?
        .filter(|a| a.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP))
        .filter_map(|a| {
            let ip = a.address?.as_sockaddr_in()?.ip();
            (!ip.is_loopback()).then_some((a.interface_name, IpAddr::V4(ip)))
        })
        .collect();
    let default_iface = std::fs::read_to_string("/proc/net/route")
        .ok()
        .and_then(|table| default_route_interface(&table));
    default_iface
        .and_then(|iface| addrs.iter().find(|(name, _)| *name == iface))
        .or_else(|| addrs.first())
        .map(|(_, ip)| *ip)
}

/// The interface of the IPv4 default route in a `/proc/net/route` table.
fn default_route_interface(table: &str) -> Option<String> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [iface, "00000000", _, _, _, _, _, "00000000", ..] => Some((*iface).to_owned()),
            _ => None,
        }
    })
}

/// Writes the `kubernetes` Endpoints and EndpointSlice naming `ip:port`, unless they already do.
pub async fn ensure(state: &ApiServer, ip: IpAddr, port: u16) -> Result<(), ApiError> {
    let address_type = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    let port_entry = json!({"name": "https", "port": port, "protocol": "TCP"});
    let endpoints = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [{"addresses": [{"ip": ip.to_string()}], "ports": [port_entry.clone()]}],
    });
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "kubernetes"},
        },
        "addressType": address_type,
        "endpoints": [{"addresses": [ip.to_string()], "conditions": {"ready": true}}],
        "ports": [port_entry],
    });
    put_if_changed(state, "", "endpoints", endpoints, &["subsets"]).await?;
    put_if_changed(
        state,
        "discovery.k8s.io",
        "endpointslices",
        slice,
        &["addressType", "endpoints", "ports"],
    )
    .await
}

/// Creates `obj`, or replaces the stored one when any of `fields` differ.
async fn put_if_changed(
    state: &ApiServer,
    group: &str,
    plural: &str,
    mut obj: Value,
    fields: &[&str],
) -> Result<(), ApiError> {
    let resource = state
        .catalog
        .lookup(group, "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))?;
    let key = resource.key(Some("default"), "kubernetes");
    let storage = |e| ApiError::from_storage(e, group, plural, "kubernetes");
    let (existing, _) = state
        .backend
        .get(key.as_bytes(), 0)
        .await
        .map_err(storage)?;
    match existing {
        None => {
            obj["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
            obj["metadata"]["creationTimestamp"] = json!(object::now_rfc3339());
            let bytes = object::encode(&obj)?;
            match state.backend.create(key.as_bytes(), bytes, 0).await {
                Ok(_) | Err(rkube_store::backend::Error::AlreadyExists { .. }) => Ok(()),
                Err(e) => Err(storage(e)),
            }
        }
        Some(rec) => {
            let mut current = object::decode(&rec.value, rec.mod_revision)?;
            if fields.iter().all(|f| current.get(*f) == obj.get(*f)) {
                return Ok(());
            }
            for f in fields {
                current[*f] = obj[*f].take();
            }
            let bytes = object::encode(&current)?;
            state
                .backend
                .update(key.as_bytes(), bytes, rec.mod_revision, 0)
                .await
                .map(|_| ())
                .map_err(storage)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    #[test]
    fn finds_the_default_route_interface() {
        let table =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                     eth1\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n";
        assert_eq!(default_route_interface(table).as_deref(), Some("eth1"));
        assert_eq!(default_route_interface("Iface\tDestination\n"), None);
    }
}
