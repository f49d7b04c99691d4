//! The serviceaccount controller (placeholder).
pub(crate) mod rootca;
use futures::future::BoxFuture;
use futures::FutureExt;
use crate::Context;
/// Starts the serviceaccount controller.
pub fn start(ctx: Context) -> BoxFuture<'static, ()> { async move { ctx.stop.cancelled().await }.boxed() }
