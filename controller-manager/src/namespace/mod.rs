//! The namespace controller (placeholder).
use futures::future::BoxFuture;
use futures::FutureExt;
use crate::Context;
/// Starts the namespace controller.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> { async move { ctx.stop.cancelled().await }.boxed() }
