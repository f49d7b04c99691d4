//! The KV service: Range, Put, DeleteRange, Txn, Compact.

use tonic::{Request, Response, Status};

use super::status;
use crate::member::Member;
use crate::proto::etcd::kv_server::Kv;
use crate::proto::etcd::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, TxnRequest, TxnResponse,
};

#[derive(Debug)]
pub struct KvService {
    member: Member,
}

impl KvService {
    pub fn new(member: Member) -> Self {
        Self { member }
    }
}

fn check_key(key: &[u8]) -> Result<(), Status> {
    if key.is_empty() {
        return Err(Status::invalid_argument("etcdserver: key is not provided"));
    }
    Ok(())
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(&self, req: Request<RangeRequest>) -> Result<Response<RangeResponse>, Status> {
        let req = req.into_inner();
        check_key(&req.key)?;
        self.member
            .range(&req)
            .await
            .map(Response::new)
            .map_err(status)
    }

    async fn put(&self, req: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        let req = req.into_inner();
        check_key(&req.key)?;
        if req.ignore_lease && req.lease != 0 {
            return Err(Status::invalid_argument("etcdserver: lease ID should be 0"));
        }
        if req.ignore_value && !req.value.is_empty() {
            return Err(Status::invalid_argument("etcdserver: value is provided"));
        }
        self.member
            .put(req)
            .await
            .map(Response::new)
            .map_err(status)
    }

    async fn delete_range(
        &self,
        req: Request<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        let req = req.into_inner();
        check_key(&req.key)?;
        self.member
            .delete_range(req)
            .await
            .map(Response::new)
            .map_err(status)
    }

    async fn txn(&self, req: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        self.member
            .txn(req.into_inner())
            .await
            .map(Response::new)
            .map_err(status)
    }

    async fn compact(
        &self,
        req: Request<CompactionRequest>,
    ) -> Result<Response<CompactionResponse>, Status> {
        let rev = self
            .member
            .compact(req.into_inner())
            .await
            .map_err(status)?;
        Ok(Response::new(CompactionResponse {
            header: Some(self.member.header(rev)),
        }))
    }
}
