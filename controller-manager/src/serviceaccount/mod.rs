//! The service-account controller: a `default` ServiceAccount in every active namespace,
//! made again if deleted; and (`rootca`) the root CA publisher.

mod each_namespace;
pub(crate) mod rootca;

use futures::future::BoxFuture;
use futures::FutureExt;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use tracing::info;

use crate::Context;

/// The ServiceAccount every namespace gets.
const DEFAULT: &str = "default";

/// Starts the service-account controller.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    run(ctx).boxed()
}

async fn run(ctx: Context) {
    let client = ctx.client.clone();
    each_namespace::keep_in_each_namespace::<ServiceAccount, _, _>(&ctx, DEFAULT, |ns, current| {
        let client = client.clone();
        async move {
            if current.is_some() {
                return Ok(());
            }
            let sa = ServiceAccount {
                metadata: ObjectMeta {
                    name: Some(DEFAULT.to_owned()),
                    namespace: Some(ns.clone()),
                    ..ObjectMeta::default()
                },
                ..ServiceAccount::default()
            };
            info!(namespace = %ns, "serviceaccount controller: creating the default ServiceAccount");
            let api: Api<ServiceAccount> = Api::namespaced(client, &ns);
            ignore_benign(api.create(&PostParams::default(), &sa).await.map(|_| ()))
        }
    })
    .await;
}

/// Already there (the watch is behind), or the namespace began terminating: nothing to do.
fn ignore_benign(result: Result<(), kube::Error>) -> Result<(), kube::Error> {
    match result {
        Err(kube::Error::Api(s))
            if s.is_already_exists() || s.is_forbidden() || s.is_not_found() =>
        {
            Ok(())
        }
        other => other,
    }
}
