//! placeholder
use futures::future::BoxFuture;
use futures::FutureExt;
use crate::Context;
/// Starts.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> { async move { ctx.stop.cancelled().await }.boxed() }
