//! stub
use futures::future::BoxFuture;
use crate::Context;
/// stub
pub fn start(ctx: Context) -> BoxFuture<'static, ()> {
    Box::pin(async move { ctx.stop.cancelled().await })
}
