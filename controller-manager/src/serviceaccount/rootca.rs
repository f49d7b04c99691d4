//! The root CA publisher: the ConfigMap `kube-root-ca.crt` (key `ca.crt`, the cluster CA) in
//! every active namespace, made again if deleted and put right if changed.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use futures::FutureExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use tracing::{info, warn};

use super::each_namespace::keep_in_each_namespace;
use crate::Context;

/// The ConfigMap's name, as Kubernetes'.
const NAME: &str = "kube-root-ca.crt";
/// The key holding the CA certificate.
const KEY: &str = "ca.crt";

/// Starts the root CA publisher.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    run(ctx).boxed()
}

async fn run(ctx: Context) {
    let Some(ca) = ctx.config.root_ca.clone() else {
        warn!("root CA publisher: no cluster CA known, nothing to publish");
        ctx.stop.cancelled().await;
        return;
    };
    let client = ctx.client.clone();
    keep_in_each_namespace::<ConfigMap, _, _>(&ctx, NAME, |ns, current| {
        let (client, ca) = (client.clone(), ca.clone());
        async move {
            let api: Api<ConfigMap> = Api::namespaced(client, &ns);
            match current {
                Some(cm) => {
                    let right = cm.data.as_ref().and_then(|d| d.get(KEY)) == Some(&ca);
                    if right {
                        return Ok(());
                    }
                    info!(namespace = %ns, "root CA publisher: putting the CA back");
                    let patch = json!({"data": {KEY: ca}});
                    api.patch(NAME, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                        .map(|_| ())
                }
                None => {
                    let cm = ConfigMap {
                        metadata: ObjectMeta {
                            name: Some(NAME.to_owned()),
                            namespace: Some(ns.clone()),
                            ..ObjectMeta::default()
                        },
                        data: Some(BTreeMap::from([(KEY.to_owned(), ca)])),
                        ..ConfigMap::default()
                    };
                    info!(namespace = %ns, "root CA publisher: publishing the CA");
                    super::ignore_benign(api.create(&PostParams::default(), &cm).await.map(|_| ()))
                }
            }
        }
    })
    .await;
}
