//! Helpers for the crate's unit tests.

use std::sync::Arc;

use rkube_store::backend::{Backend, Embedded};
use tokio_util::sync::CancellationToken;

/// A one-member store on loopback ports in a temporary directory, as a backend; cancel the
/// token (and keep the directory) for as long as the test needs it.
pub async fn embedded_backend() -> (Arc<dyn Backend>, CancellationToken, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let client = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peer = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = rkube_store::StoreConfig::single_member(
        "t",
        dir.path().to_path_buf(),
        format!("http://{}", client.local_addr().unwrap()),
        format!("http://{}", peer.local_addr().unwrap()),
    );
    let stop = CancellationToken::new();
    let running = rkube_store::start(
        config,
        rkube_store::Listeners { client, peer },
        stop.clone(),
    )
    .await
    .unwrap();
    (Arc::new(Embedded::new(running.member.clone())), stop, dir)
}
