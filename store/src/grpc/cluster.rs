//! The Cluster service: member list, add, remove, update, promote.

use tonic::{Request, Response, Status};

use super::status;
use crate::member::Member;
use crate::proto::etcd::cluster_server::Cluster;
use crate::proto::etcd::{
    Member as PbMember, MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse,
    MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest, MemberRemoveResponse,
    MemberUpdateRequest, MemberUpdateResponse,
};
use crate::proto::internal::MemberAttributes;

#[derive(Debug)]
pub struct ClusterService {
    member: Member,
}

impl ClusterService {
    pub fn new(member: Member) -> Self {
        Self { member }
    }

    fn header(&self) -> Option<crate::proto::etcd::ResponseHeader> {
        Some(self.member.header(self.member.state().mvcc.revision()))
    }
}

fn to_pb(m: &MemberAttributes) -> PbMember {
    PbMember {
        id: m.id,
        name: m.name.clone(),
        peer_ur_ls: m.peer_urls.clone(),
        client_ur_ls: m.client_urls.clone(),
        is_learner: m.is_learner,
    }
}

fn all(ms: &[MemberAttributes]) -> Vec<PbMember> {
    ms.iter().map(to_pb).collect()
}

fn check_urls(urls: &[String]) -> Result<(), Status> {
    if urls.is_empty()
        || urls
            .iter()
            .any(|u| !(u.starts_with("http://") || u.starts_with("https://")))
    {
        return Err(Status::invalid_argument(format!(
            "etcdserver: invalid peer URLs {urls:?}: expected http://HOST:PORT"
        )));
    }
    Ok(())
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        req: Request<MemberAddRequest>,
    ) -> Result<Response<MemberAddResponse>, Status> {
        let req = req.into_inner();
        check_urls(&req.peer_ur_ls)?;
        let (m, ms) = self
            .member
            .member_add(req.peer_ur_ls, req.is_learner)
            .await
            .map_err(status)?;
        Ok(Response::new(MemberAddResponse {
            header: self.header(),
            member: Some(to_pb(&m)),
            members: all(&ms),
        }))
    }

    async fn member_remove(
        &self,
        req: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        let ms = self
            .member
            .member_remove(req.into_inner().id)
            .await
            .map_err(status)?;
        Ok(Response::new(MemberRemoveResponse {
            header: self.header(),
            members: all(&ms),
        }))
    }

    async fn member_update(
        &self,
        req: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        let req = req.into_inner();
        check_urls(&req.peer_ur_ls)?;
        let ms = self
            .member
            .member_update(req.id, req.peer_ur_ls)
            .await
            .map_err(status)?;
        Ok(Response::new(MemberUpdateResponse {
            header: self.header(),
            members: all(&ms),
        }))
    }

    async fn member_list(
        &self,
        req: Request<MemberListRequest>,
    ) -> Result<Response<MemberListResponse>, Status> {
        if req.into_inner().linearizable {
            self.member.linearizable_barrier().await.map_err(status)?;
        }
        Ok(Response::new(MemberListResponse {
            header: self.header(),
            members: all(&self.member.members()),
        }))
    }

    async fn member_promote(
        &self,
        req: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        let ms = self
            .member
            .member_promote(req.into_inner().id)
            .await
            .map_err(status)?;
        Ok(Response::new(MemberPromoteResponse {
            header: self.header(),
            members: all(&ms),
        }))
    }
}
