//! `rkctl autoscale`: a HorizontalPodAutoscaler (autoscaling/v2) for a workload.

use clap::Args;
use http::Method;
use serde_json::json;

use super::target;
use super::{out, Ctx};

/// Flags of `rkctl autoscale`.
#[derive(Debug, Args)]
pub struct Opts {
    /// TYPE NAME or TYPE/NAME.
    args: Vec<String>,
    /// The lower limit for the number of pods.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    min: i64,
    /// The upper limit for the number of pods.
    #[arg(long)]
    max: i64,
    /// The target average CPU utilization (percent).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    cpu_percent: i64,
    /// The name for the autoscaler (default: the workload's).
    #[arg(long)]
    name: Option<String>,
}

/// Runs `rkctl autoscale`.
///
/// # Errors
/// Bad limits, unknown objects, server errors.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    if o.max < 1 {
        anyhow::bail!(
            "--max=MAXPODS is required and must be at least 1, max: {}",
            o.max
        );
    }
    if o.min > o.max {
        anyhow::bail!(
            "--max=MAXPODS must be larger or equal to --min=MINPODS, max: {}, min: {}",
            o.max,
            o.min
        );
    }
    let targets = target::from_args(ctx, &o.args, None, false, false).await?;
    let client = ctx.client().await?;
    for t in targets {
        let name = o.name.clone().unwrap_or_else(|| t.name.clone());
        let mut spec = json!({
            "scaleTargetRef": {"apiVersion": t.resource.api_version(), "kind": t.resource.kind, "name": t.name},
            "maxReplicas": o.max,
        });
        if o.min > 0 {
            spec["minReplicas"] = json!(o.min);
        }
        if o.cpu_percent >= 0 {
            spec["metrics"] = json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": o.cpu_percent}}}]);
        }
        let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": t.namespace}, "spec": spec});
        let ns = t
            .namespace
            .clone()
            .unwrap_or_else(|| client.namespace.clone());
        let path = format!("/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers?fieldManager=kubectl-autoscale");
        client.json(Method::POST, &path, None, Some(&hpa)).await?;
        out(&format!(
            "horizontalpodautoscaler.autoscaling/{name} autoscaled\n"
        ));
    }
    Ok(())
}
