//! Service cluster IPs and node ports, allocated by the server as Kubernetes does.
//!
//! Each allocated value is claimed by creating one key in the store
//! (`/registry/rkube/serviceips/<ip>`, `/registry/rkube/servicenodeports/<port>`) whose value
//! names the owning Service: a create either wins or finds the key taken, so several servers
//! never hand out the same value. Values are released when their Service goes or stops using
//! them; a repair loop frees claims whose Service is gone (left by a crash between the claim and
//! the write of the Service).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rkube_store::backend::{self, Backend, ListRequest};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::object;
use crate::status::{ApiError, ApiResult};

const IP_PREFIX: &str = "/registry/rkube/serviceips/";
const PORT_PREFIX: &str = "/registry/rkube/servicenodeports/";

/// The default service CIDR and node port range.
pub const SERVICE_CIDR: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 96, 0, 0), 12);
pub const NODE_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;

/// The claim keys a Service holds.
pub fn claims_of(svc: &Value) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let spec = &svc["spec"];
    if let Some(ip) = spec["clusterIP"]
        .as_str()
        .filter(|ip| !ip.is_empty() && *ip != "None")
    {
        keys.insert(format!("{IP_PREFIX}{ip}"));
    }
    for p in spec["ports"].as_array().into_iter().flatten() {
        if let Some(n) = p["nodePort"].as_i64().filter(|n| *n > 0) {
            keys.insert(format!("{PORT_PREFIX}{n}"));
        }
    }
    keys
}

fn owner_of(svc: &Value) -> String {
    format!(
        "{}/{}",
        object::namespace(svc).unwrap_or_default(),
        object::name(svc)
    )
}

fn invalid(svc: &Value, field: &str, value: &Value, why: &str) -> ApiError {
    ApiError::invalid(
        "",
        "Service",
        object::name(svc),
        vec![(
            "FieldValueInvalid".into(),
            field.into(),
            format!("Invalid value: {value}: {why}"),
        )],
    )
}

/// Claims `key` for `owner`: true when it is ours now (newly, or already).
async fn claim(backend: &dyn Backend, key: &str, owner: &str) -> ApiResult<(bool, bool)> {
    match backend
        .create(key.as_bytes(), owner.as_bytes().to_vec(), 0)
        .await
    {
        Ok(_) => Ok((true, true)),
        Err(backend::Error::AlreadyExists { .. }) => {
            let (rec, _) = backend
                .get(key.as_bytes(), 0)
                .await
                .map_err(|e| ApiError::from_storage(e, "", "services", owner))?;
            Ok((rec.is_some_and(|r| r.value == owner.as_bytes()), false))
        }
        Err(e) => Err(ApiError::from_storage(e, "", "services", owner)),
    }
}

/// Gives a Service of type ClusterIP, NodePort or LoadBalancer what it lacks (a cluster IP, node
/// ports) and claims what it asks for; a ClusterIP Service loses node ports. Returns the keys
/// claimed by this call, to release if the write of the Service then fails.
pub async fn ensure(backend: &dyn Backend, svc: &mut Value) -> ApiResult<Vec<String>> {
    let owner = owner_of(svc);
    let mut claimed = Vec::new();
    let result = ensure_inner(backend, svc, &owner, &mut claimed).await;
    if result.is_err() {
        release(backend, &claimed).await;
    }
    result.map(|()| claimed)
}

async fn ensure_inner(
    backend: &dyn Backend,
    svc: &mut Value,
    owner: &str,
    claimed: &mut Vec<String>,
) -> ApiResult<()> {
    let kind = svc["spec"]["type"]
        .as_str()
        .unwrap_or("ClusterIP")
        .to_owned();
    if kind == "ExternalName" {
        return Ok(());
    }
    let ip = svc["spec"]["clusterIP"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if ip.is_empty() {
        let (base, prefix) = SERVICE_CIDR;
        let size = 1u32 << (32 - prefix);
        let mut found = None;
        for _ in 0..64 {
            // Skip the network address, .1 (the `kubernetes` Service) and the broadcast address.
            let offset = rand::rng().random_range(2..size - 1);
            let candidate = Ipv4Addr::from(u32::from(base) + offset);
            let key = format!("{IP_PREFIX}{candidate}");
            if let (true, true) = claim(backend, &key, owner).await? {
                claimed.push(key);
                found = Some(candidate);
                break;
            }
        }
        let ip = found
            .ok_or_else(|| ApiError::internal("failed to allocate a serviceIP: range is full"))?;
        svc["spec"]["clusterIP"] = json!(ip.to_string());
        svc["spec"]["clusterIPs"] = json!([ip.to_string()]);
    } else if ip != "None" {
        let parsed: Ipv4Addr = ip.parse().map_err(|_| {
            invalid(
                svc,
                "spec.clusterIPs",
                &json!([ip]),
                "must be a valid IP address",
            )
        })?;
        let (base, prefix) = SERVICE_CIDR;
        if u32::from(parsed) >> (32 - prefix) != u32::from(base) >> (32 - prefix) {
            return Err(invalid(
                svc,
                "spec.clusterIPs",
                &json!([ip]),
                &format!("failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {base}/{prefix}"),
            ));
        }
        let key = format!("{IP_PREFIX}{ip}");
        match claim(backend, &key, owner).await? {
            (true, true) => claimed.push(key),
            (true, false) => {}
            (false, _) => {
                return Err(invalid(
                    svc,
                    "spec.clusterIPs",
                    &json!([ip]),
                    &format!("failed to allocate IP {ip}: provided IP is already allocated"),
                ));
            }
        }
    }
    let wants_node_ports = kind == "NodePort"
        || (kind == "LoadBalancer"
            && svc["spec"]["allocateLoadBalancerNodePorts"].as_bool() != Some(false));
    let Some(ports) = svc["spec"]["ports"].as_array_mut() else {
        return Ok(());
    };
    for (i, p) in ports.iter_mut().enumerate() {
        if !wants_node_ports {
            if let Some(map) = p.as_object_mut() {
                map.remove("nodePort");
            }
            continue;
        }
        match p["nodePort"].as_i64().filter(|n| *n > 0) {
            Some(n) => {
                let key = format!("{PORT_PREFIX}{n}");
                match claim(backend, &key, owner).await? {
                    (true, true) => claimed.push(key),
                    (true, false) => {}
                    (false, _) => {
                        let field = format!("spec.ports[{i}].nodePort");
                        return Err(ApiError::invalid(
                            "",
                            "Service",
                            owner.split('/').nth(1).unwrap_or_default(),
                            vec![(
                                "FieldValueInvalid".into(),
                                field,
                                format!("Invalid value: {n}: provided port is already allocated"),
                            )],
                        ));
                    }
                }
            }
            None => {
                let mut found = None;
                for _ in 0..64 {
                    let port = rand::rng().random_range(NODE_PORTS);
                    let key = format!("{PORT_PREFIX}{port}");
                    if let (true, true) = claim(backend, &key, owner).await? {
                        claimed.push(key);
                        found = Some(port);
                        break;
                    }
                }
                let port = found.ok_or_else(|| {
                    ApiError::internal("failed to allocate a nodePort: range is full")
                })?;
                p["nodePort"] = json!(port);
            }
        }
    }
    Ok(())
}

/// Frees claim keys.
pub async fn release(backend: &dyn Backend, keys: &[String]) {
    for key in keys {
        if let Err(e) = backend.delete(key.as_bytes(), None).await {
            if !matches!(e, backend::Error::NotFound { .. }) {
                tracing::warn!(key = %key, error = %e, "could not release an allocation");
            }
        }
    }
}

/// Every few minutes, frees claims whose Service is gone or no longer uses them (a claim must
/// look orphaned twice in a row, so one being written right now is left alone).
pub async fn repair(backend: Arc<dyn Backend>, every: Duration, shutdown: CancellationToken) {
    let mut suspects: BTreeSet<String> = BTreeSet::new();
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match orphans(backend.as_ref()).await {
            Ok(now) => {
                let confirmed: Vec<String> = now.intersection(&suspects).cloned().collect();
                release(backend.as_ref(), &confirmed).await;
                suspects = now;
            }
            Err(e) => tracing::warn!(error = %e, "allocation repair failed"),
        }
    }
}

async fn orphans(backend: &dyn Backend) -> Result<BTreeSet<String>, backend::Error> {
    let mut out = BTreeSet::new();
    for prefix in [IP_PREFIX, PORT_PREFIX] {
        let claims = backend
            .list(ListRequest {
                prefix: prefix.as_bytes().to_vec(),
                ..Default::default()
            })
            .await?;
        for c in claims.records {
            let owner = String::from_utf8_lossy(&c.value).into_owned();
            let key = String::from_utf8_lossy(&c.key).into_owned();
            let (ns, name) = owner.split_once('/').unwrap_or(("", ""));
            let svc_key = format!(
                "{}/services/specs/{ns}/{name}",
                rkube_api::registry::STORAGE_ROOT
            );
            let (svc, _) = backend.get(svc_key.as_bytes(), 0).await?;
            let used = svc
                .and_then(|r| serde_json::from_slice::<Value>(&r.value).ok())
                .is_some_and(|s| claims_of(&s).contains(&key));
            if !used {
                out.insert(key);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn allocates_claims_and_repairs() {
        let (backend, stop, _dir) = crate::testing::embedded_backend().await;
        let mut svc = json!({
            "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"type": "NodePort", "ports": [{"port": 80}]},
        });
        let claimed = ensure(backend.as_ref(), &mut svc).await.unwrap();
        assert_eq!(claimed.len(), 2);
        assert_eq!(claims_of(&svc).len(), 2);
        // Another Service asking for the same IP is refused.
        let mut other = json!({
            "metadata": {"name": "other", "namespace": "demo"},
            "spec": {"clusterIP": svc["spec"]["clusterIP"], "ports": [{"port": 80}]},
        });
        let err = ensure(backend.as_ref(), &mut other).await.unwrap_err();
        assert!(
            err.message.contains("provided IP is already allocated"),
            "{}",
            err.message
        );
        // The Service was never stored: both claims are orphans.
        assert_eq!(orphans(backend.as_ref()).await.unwrap().len(), 2);
        release(backend.as_ref(), &claimed).await;
        assert!(orphans(backend.as_ref()).await.unwrap().is_empty());
        stop.cancel();
    }
}
