//! The peer port refuses raft traffic from another cluster, whatever it carries.

mod common;

use common::start_member;
use rkube_store::proto::internal::RaftMessage;
use rkube_store::raft::transport::peer_client;

#[tokio::test]
async fn raft_messages_from_another_cluster_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (running, _url, shutdown) = start_member(dir.path(), |_| {}).await;
    let peer_url = running.member.config().advertise_peer_urls[0].clone();
    let mut client = peer_client(&peer_url).expect("peer client");

    for header in [None, Some("12345")] {
        let mut req =
            tonic::Request::new(tokio_stream::iter(vec![RaftMessage { data: Vec::new() }]));
        if let Some(h) = header {
            req.metadata_mut()
                .insert("rkube-cluster-id", h.parse().expect("header"));
        }
        let status = client
            .send(req)
            .await
            .expect_err("a foreign cluster is refused");
        assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status}");
        assert!(
            status.message().contains("--initial-cluster-token"),
            "{status}"
        );
    }
    shutdown.cancel();
    running.done.await.expect("join").expect("clean stop");
}
