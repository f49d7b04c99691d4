//! Pod `log`, `exec`, `attach` and `portforward`: the server checks the request against the pod
//! (it exists, is on a node, names one of its containers) and forwards it to that node's kubelet
//! (see [`crate::kubelet`]).

use std::sync::Arc;

use http::{Method, Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use rkube_api::registry::Subresource;
use serde_json::Value;

use super::Call;
use crate::body::{self, Body};
use crate::kubelet::Endpoint;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

/// A streaming request on a pod: the call, and what the transport carries beside it.
pub struct StreamRequest<'a> {
    pub call: &'a Call,
    pub method: &'a Method,
    /// The query exactly as sent: exec repeats `command=` once per argument.
    pub raw_query: &'a str,
    pub upgrade: Option<OnUpgrade>,
}

/// Serves `pods/{name}/log|exec|attach|portforward`.
pub async fn pod(server: &Arc<ApiServer>, req: StreamRequest<'_>) -> ApiResult<Response<Body>> {
    let call = req.call;
    let sub = call.subresource.unwrap_or(Subresource::Log);
    match (sub, req.method) {
        (Subresource::Log, &Method::GET) => {}
        (Subresource::Exec | Subresource::Attach | Subresource::PortForward, m)
            if *m == Method::GET || *m == Method::POST => {}
        (_, m) => {
            return Err(ApiError::method_not_supported(
                "",
                &format!("pods/{sub}"),
                m.as_str(),
            ))
        }
    }
    if sub == Subresource::Log {
        check_log_options(call)?;
    }
    let pod = super::read::get_object(server, &call.main()).await?;
    let name = call.name();
    let namespace = call.namespace.as_deref().unwrap_or_default();
    let node_name = pod["spec"]["nodeName"].as_str().unwrap_or_default();
    if node_name.is_empty() {
        // Kubernetes answers a log request for a pod not yet on a node with nothing at all.
        if sub == Subresource::Log {
            return Ok(body::text(StatusCode::OK, ""));
        }
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let path = match sub {
        Subresource::PortForward => format!("/portForward/{namespace}/{name}"),
        _ => {
            let container = container_of(&pod, call.query.get("container"))?;
            let kind = match sub {
                Subresource::Log => "containerLogs",
                Subresource::Exec => "exec",
                _ => "attach",
            };
            format!("/{kind}/{namespace}/{name}/{container}")
        }
    };
    let path_and_query = if req.raw_query.is_empty() {
        path
    } else {
        format!("{path}?{}", req.raw_query)
    };
    let nodes = server
        .catalog
        .lookup("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("the nodes resource is not served"))?;
    let node_call = Call {
        resource: nodes,
        namespace: None,
        name: Some(node_name.to_owned()),
        subresource: None,
        query: Default::default(),
        headers: Default::default(),
        warnings: Default::default(),
    };
    let node = super::read::get_object(server, &node_call).await?;
    let endpoint = Endpoint::of_node(&node)?;
    server
        .kubelet
        .forward(
            &endpoint,
            req.method.clone(),
            &path_and_query,
            &call.headers,
            req.upgrade,
        )
        .await
}

/// The container a request is about: the one named, or the pod's only container.
fn container_of(pod: &Value, wanted: Option<&str>) -> ApiResult<String> {
    let names = |field: &str| -> Vec<String> {
        pod["spec"][field]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (containers, init, ephemeral) = (
        names("containers"),
        names("initContainers"),
        names("ephemeralContainers"),
    );
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    match wanted.filter(|w| !w.is_empty()) {
        Some(w) => {
            if containers
                .iter()
                .chain(&init)
                .chain(&ephemeral)
                .any(|c| c == w)
            {
                Ok(w.to_owned())
            } else {
                Err(ApiError::bad_request(format!(
                    "container {w} is not valid for pod {pod_name}"
                )))
            }
        }
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None => {
            let mut message = format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                message.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            if !ephemeral.is_empty() {
                message.push_str(&format!(
                    " or one of the ephemeral containers: [{}]",
                    ephemeral.join(" ")
                ));
            }
            Err(ApiError::bad_request(message))
        }
    }
}

/// The log options Kubernetes validates before asking the kubelet.
fn check_log_options(call: &Call) -> ApiResult<()> {
    let q = &call.query;
    let int = |key: &str| q.int(key).map_err(ApiError::bad_request);
    let invalid = |field: &str, value: i64, why: &str| {
        ApiError::invalid(
            "",
            "PodLogOptions",
            "",
            vec![(
                "FieldValueInvalid".to_owned(),
                field.to_owned(),
                format!("Invalid value: {value}: {why}"),
            )],
        )
    };
    if let Some(v) = int("tailLines")?.filter(|v| *v < 0) {
        return Err(invalid(
            "tailLines",
            v,
            "must be greater than or equal to 0",
        ));
    }
    if let Some(v) = int("limitBytes")?.filter(|v| *v < 1) {
        return Err(invalid("limitBytes", v, "must be greater than 0"));
    }
    if let Some(v) = int("sinceSeconds")?.filter(|v| *v < 1) {
        return Err(invalid("sinceSeconds", v, "must be greater than 0"));
    }
    if q.get("sinceSeconds").is_some() && q.get("sinceTime").is_some() {
        return Err(ApiError::bad_request(
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "metadata": {"name": "web"},
            "spec": {
                "containers": [{"name": "app"}, {"name": "sidecar"}],
                "initContainers": [{"name": "setup"}]
            }
        })
    }

    #[test]
    fn a_container_is_named_or_the_only_one() {
        assert_eq!(container_of(&pod(), Some("setup")).unwrap(), "setup");
        let one = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}});
        assert_eq!(container_of(&one, None).unwrap(), "c");
        let err = container_of(&pod(), None).unwrap_err();
        assert_eq!(
            err.message,
            "a container name must be specified for pod web, choose one of: [app sidecar] or one of the init containers: [setup]"
        );
        let err = container_of(&pod(), Some("db")).unwrap_err();
        assert_eq!(err.message, "container db is not valid for pod web");
    }
}
