//! `rkctl expose`: a Service for a workload, pod or service, selecting what it selects.

use clap::Args;
use http::Method;
use serde_json::{json, Map, Value};

use super::target;
use super::{out, Ctx};

/// Flags of `rkctl expose`.
#[derive(Debug, Args)]
pub struct Opts {
    /// TYPE NAME or TYPE/NAME.
    args: Vec<String>,
    /// The port that the service should serve on.
    #[arg(long)]
    port: Option<i64>,
    /// The port (number or name) the service forwards to.
    #[arg(long)]
    target_port: Option<String>,
    /// ClusterIP, NodePort, LoadBalancer or ExternalName.
    #[arg(long = "type")]
    service_type: Option<String>,
    /// The name for the new service.
    #[arg(long)]
    name: Option<String>,
    /// TCP, UDP or SCTP.
    #[arg(long, default_value = "TCP")]
    protocol: String,
    /// Additional external IPs for the service.
    #[arg(long)]
    external_ip: Option<String>,
}

fn selector_of(kind: &str, obj: &Value) -> Option<Map<String, Value>> {
    let pointer = match kind {
        "Pod" => "/metadata/labels",
        "Service" => "/spec/selector",
        "ReplicationController" => "/spec/selector",
        _ => "/spec/selector/matchLabels",
    };
    obj.pointer(pointer).and_then(Value::as_object).cloned()
}

fn first_port(obj: &Value) -> Option<i64> {
    for pointer in ["/spec/template/spec/containers", "/spec/containers"] {
        if let Some(cs) = obj.pointer(pointer).and_then(Value::as_array) {
            for c in cs {
                if let Some(p) = c.pointer("/ports/0/containerPort").and_then(Value::as_i64) {
                    return Some(p);
                }
            }
        }
    }
    obj.pointer("/spec/ports/0/port").and_then(Value::as_i64)
}

/// Runs `rkctl expose`.
///
/// # Errors
/// Objects without a selector or port, server errors.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let targets = target::from_args(ctx, &o.args, None, false, false).await?;
    let client = ctx.client().await?;
    for t in targets {
        let obj = client.get(&t.path()).await?;
        let Some(selector) = selector_of(&t.resource.kind, &obj) else {
            anyhow::bail!("couldn't retrieve selectors via --selector flag or introspection: the {} has no selector", t.resource.kind);
        };
        let Some(port) = o.port.or_else(|| first_port(&obj)) else {
            anyhow::bail!("couldn't find port via --port flag or introspection");
        };
        let name = o.name.clone().unwrap_or_else(|| t.name.clone());
        let mut p = json!({"port": port, "protocol": o.protocol});
        p["targetPort"] = match &o.target_port {
            Some(tp) => tp.parse::<i64>().map_or_else(|_| json!(tp), |n| json!(n)),
            None => json!(port),
        };
        let mut spec = json!({"ports": [p], "selector": selector});
        if let Some(ty) = &o.service_type {
            spec["type"] = json!(ty);
        }
        if let Some(ip) = &o.external_ip {
            spec["externalIPs"] = json!(ip.split(',').collect::<Vec<_>>());
        }
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": obj.pointer("/metadata/labels").cloned().unwrap_or(json!({}))}, "spec": spec});
        let ns = t
            .namespace
            .clone()
            .unwrap_or_else(|| client.namespace.clone());
        let path = format!("/api/v1/namespaces/{ns}/services?fieldManager=kubectl-expose");
        client.json(Method::POST, &path, None, Some(&svc)).await?;
        out(&format!("service/{name} exposed\n"));
    }
    Ok(())
}
