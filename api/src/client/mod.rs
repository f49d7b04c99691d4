//! Client helpers on kube-rs for rkube's own components (the `client` feature): a client
//! from a kubeconfig file, leader election on a `coordination.k8s.io/v1` Lease, and watch-fed
//! caches.
//!
//! The scheduler and the controller-manager talk to the API server through the public
//! Kubernetes API exactly as any other client does; these helpers are what they share.

pub mod leader;
pub mod watch;

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};

pub use leader::{LeaderElection, LeaderError};

use crate::labels::{self, ExpressionOperator, LabelSelectorRequirement, Selector};

/// Why a client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("failed to read the kubeconfig {path}: {source}")]
    Read {
        path: String,
        source: kube::config::KubeconfigError,
    },
    #[error("the kubeconfig {path} is not usable: {source}")]
    Config {
        path: String,
        source: kube::config::KubeconfigError,
    },
    #[error("failed to make a client from the kubeconfig {path}: {source}")]
    Client { path: String, source: kube::Error },
}

/// A client for the current context of the kubeconfig at `path`, introducing itself as
/// `user_agent` (the API server names the field manager of its writes after it, as
/// Kubernetes' components do: `kube-controller-manager/v1.33.0 (linux/amd64) rkube`).
///
/// # Errors
/// When the file cannot be read or parsed, names no usable context, or its credentials
/// cannot be loaded.
pub async fn from_kubeconfig(path: &Path, user_agent: &str) -> Result<kube::Client, ClientError> {
    let shown = path.display().to_string();
    let kubeconfig = Kubeconfig::read_from(path).map_err(|source| ClientError::Read {
        path: shown.clone(),
        source,
    })?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|source| ClientError::Config {
                path: shown.clone(),
                source,
            })?;
    if let Ok(agent) = http::HeaderValue::from_str(user_agent) {
        config.headers.push((http::header::USER_AGENT, agent));
    }
    kube::Client::try_from(config).map_err(|source| ClientError::Client {
        path: shown,
        source,
    })
}

/// The selector a k8s-openapi `LabelSelector` means (empty: everything). A *missing*
/// selector means nothing in most places; callers decide that before converting.
///
/// # Errors
/// When a key, value or operator is invalid (the API server's validation refuses those, so
/// this is rare for stored objects).
pub fn label_selector(
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> Result<Selector, labels::Error> {
    let structured = labels::LabelSelector {
        match_labels: selector.match_labels.clone().unwrap_or_default(),
        match_expressions: selector
            .match_expressions
            .iter()
            .flatten()
            .map(|e| {
                Ok(LabelSelectorRequirement {
                    key: e.key.clone(),
                    operator: e.operator.parse::<ExpressionOperator>()?,
                    values: e.values.clone().unwrap_or_default(),
                })
            })
            .collect::<Result<_, labels::Error>>()?,
    };
    Selector::try_from(&structured)
}
