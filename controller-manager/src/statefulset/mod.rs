//! The StatefulSet controller.
use futures::future::BoxFuture;
use futures::FutureExt;
use crate::Context;
/// Starts the StatefulSet controller.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    async move { ctx.stop.cancelled().await }.boxed()
}
