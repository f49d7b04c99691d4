//! Deletes everything in a namespace, resource by resource, and counts what is left.

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PartialObjectMeta};
use tracing::debug;

use super::conditions::Outcome;
use crate::garbagecollector::discovery::{Resources, Served};

/// Deletes every object of every namespaced resource in `namespace` and reports what remains.
pub(super) async fn delete_all(
    client: &kube::Client,
    resources: &Resources,
    namespace: &str,
) -> Outcome {
    let mut outcome = Outcome::default();
    for served in resources.all().filter(|s| s.namespaced && s.collectable) {
        if let Err(error) = delete_resource(client, served, namespace, &mut outcome).await {
            outcome.failures.push(format!("{}: {error}", shown(served)));
        }
    }
    outcome
}

/// `pods`, `deployments.apps`: how Kubernetes names a resource in its messages.
fn shown(served: &Served) -> String {
    if served.resource.group.is_empty() {
        served.resource.plural.clone()
    } else {
        format!("{}.{}", served.resource.plural, served.resource.group)
    }
}

async fn delete_resource(
    client: &kube::Client,
    served: &Served,
    namespace: &str,
    outcome: &mut Outcome,
) -> Result<(), kube::Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &served.resource);
    let meta: Api<PartialObjectMeta<DynamicObject>> =
        Api::namespaced_with(client.clone(), namespace, &served.resource);
    if served.delete_collection {
        api.delete_collection(&DeleteParams::background(), &ListParams::default())
            .await?;
    } else {
        for obj in meta.list(&ListParams::default()).await?.items {
            let Some(name) = obj.metadata.name else {
                continue;
            };
            if obj.metadata.deletion_timestamp.is_some() {
                continue;
            }
            match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
    }
    let left = meta.list(&ListParams::default()).await?.items;
    if !left.is_empty() {
        debug!(namespace, resource = %shown(served), left = left.len(), "namespace: content remaining");
        outcome.remaining.insert(shown(served), left.len());
        for obj in left {
            for finalizer in obj.metadata.finalizers.unwrap_or_default() {
                *outcome.finalizers.entry(finalizer).or_default() += 1;
            }
        }
    }
    Ok(())
}
