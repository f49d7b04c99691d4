//! Helpers shared by the store's integration tests.
#![allow(dead_code)] // each test crate uses its own subset

use std::path::Path;

use rkube_store::{Listeners, Running, StoreConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Starts a one-member cluster on 127.0.0.1 ports with its data in `dir`, after `adjust`
/// had its say on the configuration. Returns the member, its client URL and its stop token.
pub async fn start_member(
    dir: &Path,
    adjust: impl FnOnce(&mut StoreConfig),
) -> (Running, String, CancellationToken) {
    let client = TcpListener::bind("127.0.0.1:0").await.expect("bind client");
    let peer = TcpListener::bind("127.0.0.1:0").await.expect("bind peer");
    let client_url = format!("http://{}", client.local_addr().expect("addr"));
    let peer_url = format!("http://{}", peer.local_addr().expect("addr"));
    let mut config =
        StoreConfig::single_member("t", dir.to_path_buf(), client_url.clone(), peer_url);
    adjust(&mut config);
    let shutdown = CancellationToken::new();
    let running = rkube_store::start(config, Listeners { client, peer }, shutdown.clone())
        .await
        .expect("start member");
    (running, client_url, shutdown)
}
