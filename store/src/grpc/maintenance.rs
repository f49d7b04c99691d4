//! The Maintenance service: status, alarms, leadership transfer, and key-space hashes.

use std::pin::Pin;
use std::sync::atomic::Ordering;

use futures::Stream;
use redb::ReadableDatabase;
use tonic::{Request, Response, Status};

use super::{status, ETCD_API_VERSION};
use crate::db::KV;
use crate::member::Member;
use crate::mvcc::Revision;
use crate::proto::etcd::maintenance_server::Maintenance;
use crate::proto::etcd::{
    AlarmRequest, AlarmResponse, DefragmentRequest, DefragmentResponse, HashKvRequest,
    HashKvResponse, HashRequest, HashResponse, MoveLeaderRequest, MoveLeaderResponse,
    SnapshotRequest, SnapshotResponse, StatusRequest, StatusResponse,
};

#[derive(Debug)]
pub struct MaintenanceService {
    member: Member,
}

impl MaintenanceService {
    pub fn new(member: Member) -> Self {
        Self { member }
    }

    fn db_size(&self) -> i64 {
        let path = self.member.config().data_dir.join(crate::db::DB_FILE);
        std::fs::metadata(path).map(|m| m.len() as i64).unwrap_or(0)
    }
}

/// FNV-1a over every stored revision up to `rev`: equal on members with equal histories.
fn hash_kv(member: &Member, rev: i64) -> Result<(u32, i64, i64), Status> {
    let sm = member.state();
    let rev = if rev <= 0 { sm.mvcc.revision() } else { rev };
    let compact = sm.mvcc.compact_revision();
    let internal =
        |e: &dyn std::fmt::Display| Status::internal(format!("failed to hash key space: {e}"));
    let rtx = sm.db.begin_read().map_err(|e| internal(&e))?;
    let kv = rtx.open_table(KV).map_err(|e| internal(&e))?;
    let mut h: u32 = 0x811c_9dc5;
    let hi = Revision::new(rev, i64::MAX).to_key();
    for row in kv.range(..=hi).map_err(|e| internal(&e))? {
        let (k, v) = row.map_err(|e| internal(&e))?;
        let (main, sub) = k.value();
        for b in main
            .to_be_bytes()
            .iter()
            .chain(sub.to_be_bytes().iter())
            .chain(v.value().iter())
        {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    Ok((h, compact, rev))
}

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<SnapshotResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(&self, _req: Request<AlarmRequest>) -> Result<Response<AlarmResponse>, Status> {
        Ok(Response::new(AlarmResponse {
            header: Some(self.member.header(self.member.state().mvcc.revision())),
            alarms: Vec::new(),
        }))
    }

    async fn status(
        &self,
        _req: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let st = self.member.status();
        let sm = self.member.state();
        let size = self.db_size();
        let is_learner = sm.member(self.member.id()).is_some_and(|m| m.is_learner);
        Ok(Response::new(StatusResponse {
            header: Some(self.member.header(sm.mvcc.revision())),
            version: ETCD_API_VERSION.to_string(),
            db_size: size,
            leader: st.leader.load(Ordering::Acquire),
            raft_index: st.commit.load(Ordering::Acquire).max(sm.applied_index()),
            raft_term: st.term.load(Ordering::Acquire),
            raft_applied_index: sm.applied_index(),
            errors: Vec::new(),
            db_size_in_use: size,
            is_learner,
        }))
    }

    async fn defragment(
        &self,
        _req: Request<DefragmentRequest>,
    ) -> Result<Response<DefragmentResponse>, Status> {
        // redb reuses freed pages on its own; there is nothing to rewrite.
        Ok(Response::new(DefragmentResponse {
            header: Some(self.member.header(self.member.state().mvcc.revision())),
        }))
    }

    async fn hash(&self, _req: Request<HashRequest>) -> Result<Response<HashResponse>, Status> {
        let (hash, _, rev) = hash_kv(&self.member, 0)?;
        Ok(Response::new(HashResponse {
            header: Some(self.member.header(rev)),
            hash,
        }))
    }

    async fn hash_kv(
        &self,
        req: Request<HashKvRequest>,
    ) -> Result<Response<HashKvResponse>, Status> {
        let (hash, compact, rev) = hash_kv(&self.member, req.into_inner().revision)?;
        Ok(Response::new(HashKvResponse {
            header: Some(self.member.header(self.member.state().mvcc.revision())),
            hash,
            compact_revision: compact,
            hash_revision: rev,
        }))
    }

    type SnapshotStream = SnapshotStream;

    async fn snapshot(
        &self,
        _req: Request<SnapshotRequest>,
    ) -> Result<Response<SnapshotStream>, Status> {
        Err(Status::unimplemented(
            "snapshot save is not supported by rkube store yet; copy the data dir of a stopped member instead",
        ))
    }

    async fn move_leader(
        &self,
        req: Request<MoveLeaderRequest>,
    ) -> Result<Response<MoveLeaderResponse>, Status> {
        self.member
            .transfer_leadership(req.into_inner().target_id)
            .map_err(status)?;
        Ok(Response::new(MoveLeaderResponse {
            header: Some(self.member.header(self.member.state().mvcc.revision())),
        }))
    }
}
