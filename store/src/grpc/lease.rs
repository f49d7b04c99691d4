//! The Lease service: grant, revoke, keep-alive streams, time-to-live, list.

use std::pin::Pin;

use futures::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::status;
use crate::member::Member;
use crate::proto::etcd::lease_server::Lease;
use crate::proto::etcd::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
    LeaseLeasesRequest, LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseStatus,
    LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};

#[derive(Debug)]
pub struct LeaseService {
    member: Member,
}

impl LeaseService {
    pub fn new(member: Member) -> Self {
        Self { member }
    }
}

type KeepAliveStream = Pin<Box<dyn Stream<Item = Result<LeaseKeepAliveResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(
        &self,
        req: Request<LeaseGrantRequest>,
    ) -> Result<Response<LeaseGrantResponse>, Status> {
        let req = req.into_inner();
        let (id, ttl, rev) = self
            .member
            .lease_grant(req.id, req.ttl)
            .await
            .map_err(status)?;
        Ok(Response::new(LeaseGrantResponse {
            header: Some(self.member.header(rev)),
            id,
            ttl,
            error: String::new(),
        }))
    }

    async fn lease_revoke(
        &self,
        req: Request<LeaseRevokeRequest>,
    ) -> Result<Response<LeaseRevokeResponse>, Status> {
        let rev = self
            .member
            .lease_revoke(req.into_inner().id)
            .await
            .map_err(status)?;
        Ok(Response::new(LeaseRevokeResponse {
            header: Some(self.member.header(rev)),
        }))
    }

    type LeaseKeepAliveStream = KeepAliveStream;

    async fn lease_keep_alive(
        &self,
        req: Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<KeepAliveStream>, Status> {
        let mut input = req.into_inner();
        let member = self.member.clone();
        let out = async_stream::try_stream! {
            while let Some(r) = input.message().await? {
                // An unknown or expired lease answers TTL 0, as etcd does.
                let ttl = match member.lease_renew(r.id).await {
                    Ok(ttl) => ttl,
                    Err(crate::member::Error::LeaseNotFound) => 0,
                    Err(e) => Err(status(e))?,
                };
                let rev = member.state().mvcc.revision();
                yield LeaseKeepAliveResponse { header: Some(member.header(rev)), id: r.id, ttl };
            }
        };
        Ok(Response::new(Box::pin(out)))
    }

    async fn lease_time_to_live(
        &self,
        req: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        let req = req.into_inner();
        let rev = self.member.state().mvcc.revision();
        let resp = match self.member.lease_status(req.id).await {
            Ok(st) => LeaseTimeToLiveResponse {
                header: Some(self.member.header(rev)),
                id: req.id,
                ttl: st.remaining,
                granted_ttl: st.granted_ttl,
                keys: if req.keys { st.keys } else { Vec::new() },
            },
            // etcd answers an unknown lease with TTL -1 rather than an error.
            Err(crate::member::Error::LeaseNotFound) => LeaseTimeToLiveResponse {
                header: Some(self.member.header(rev)),
                id: req.id,
                ttl: -1,
                ..Default::default()
            },
            Err(e) => return Err(status(e)),
        };
        Ok(Response::new(resp))
    }

    async fn lease_leases(
        &self,
        _req: Request<LeaseLeasesRequest>,
    ) -> Result<Response<LeaseLeasesResponse>, Status> {
        self.member.linearizable_barrier().await.map_err(status)?;
        let rev = self.member.state().mvcc.revision();
        Ok(Response::new(LeaseLeasesResponse {
            header: Some(self.member.header(rev)),
            leases: self
                .member
                .lease_ids()
                .into_iter()
                .map(|id| LeaseStatus { id })
                .collect(),
        }))
    }
}
