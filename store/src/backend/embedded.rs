//! The backend over an in-process member: no network hop between API server and store.

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::mpsc;

use super::{
    prefix_end, Backend, Error, Event, EventKind, ListRequest, ListResponse, Record, Result,
    WatchMessage, WatchRequest, WatchStream,
};
use crate::apply::Rejection;
use crate::member::{self, Member};
use crate::mvcc;
use crate::proto::etcd::{
    compare, request_op, response_op, CompactionRequest, Compare, DeleteRangeRequest, PutRequest,
    RangeRequest, RequestOp, TxnRequest, TxnResponse,
};
use crate::proto::mvcc::{event::EventType, KeyValue};
use crate::raft::node::ProposeError;
use crate::watch::{WatchHub, WatchItem, WatchSpec};

/// Items buffered per watch before it falls back to catching up from history.
const WATCH_BUFFER: usize = 1024;

#[derive(Debug, Clone)]
pub struct Embedded {
    member: Member,
}

impl Embedded {
    pub fn new(member: Member) -> Self {
        Self { member }
    }

    fn error(&self, e: member::Error) -> Error {
        let compacted = || Error::Compacted {
            revision: self.member.state().mvcc.compact_revision(),
        };
        match e {
            member::Error::Rejected(Rejection::Compacted) => compacted(),
            member::Error::Mvcc(mvcc::Error::Compacted { .. }) => compacted(),
            member::Error::Rejected(Rejection::FutureRevision)
            | member::Error::Mvcc(mvcc::Error::FutureRevision) => Error::FutureRevision,
            member::Error::TooLarge => Error::TooLarge,
            member::Error::Propose(
                ProposeError::NoLeader | ProposeError::LeaderChanged | ProposeError::Stopped,
            )
            | member::Error::Timeout
            | member::Error::NoSpace => Error::Unavailable(e.to_string()),
            other => Error::Other(other.to_string()),
        }
    }

    async fn range(&self, req: RangeRequest) -> Result<crate::proto::etcd::RangeResponse> {
        self.member.range(&req).await.map_err(|e| self.error(e))
    }

    async fn txn(&self, req: TxnRequest) -> Result<TxnResponse> {
        self.member.txn(req).await.map_err(|e| self.error(e))
    }
}

pub(super) fn record(kv: KeyValue) -> Record {
    Record {
        key: kv.key,
        value: kv.value,
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        lease: kv.lease,
    }
}

fn revision_of(resp: &TxnResponse) -> i64 {
    resp.header.as_ref().map_or(0, |h| h.revision)
}

fn compare_mod(key: &[u8], rev: i64) -> Compare {
    Compare {
        result: compare::CompareResult::Equal as i32,
        target: compare::CompareTarget::Mod as i32,
        key: key.to_vec(),
        target_union: Some(compare::TargetUnion::ModRevision(rev)),
        range_end: Vec::new(),
    }
}

fn get_op(key: &[u8]) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestRange(RangeRequest {
            key: key.to_vec(),
            ..Default::default()
        })),
    }
}

/// The current version from a failed guarded write's fallback read.
fn fallback_current(resp: TxnResponse) -> Option<Box<Record>> {
    resp.responses.into_iter().find_map(|r| match r.response {
        Some(response_op::Response::ResponseRange(rr)) => {
            rr.kvs.into_iter().next().map(|kv| Box::new(record(kv)))
        }
        _ => None,
    })
}

fn put_op(key: &[u8], value: Vec<u8>, lease: i64, prev_kv: bool) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: key.to_vec(),
            value,
            lease,
            prev_kv,
            ..Default::default()
        })),
    }
}

#[async_trait::async_trait]
impl Backend for Embedded {
    async fn get(&self, key: &[u8], revision: i64) -> Result<(Option<Record>, i64)> {
        let resp = self
            .range(RangeRequest {
                key: key.to_vec(),
                revision,
                ..Default::default()
            })
            .await?;
        let rev = if revision > 0 {
            revision
        } else {
            resp.header.map_or(0, |h| h.revision)
        };
        Ok((resp.kvs.into_iter().next().map(record), rev))
    }

    async fn list(&self, req: ListRequest) -> Result<ListResponse> {
        let end = prefix_end(&req.prefix);
        let start = req.start.unwrap_or(req.prefix);
        let resp = self
            .range(RangeRequest {
                key: start,
                range_end: end,
                limit: req.limit,
                revision: req.revision,
                ..Default::default()
            })
            .await?;
        let revision = if req.revision > 0 {
            req.revision
        } else {
            resp.header.map_or(0, |h| h.revision)
        };
        let records: Vec<Record> = resp.kvs.into_iter().map(record).collect();
        Ok(ListResponse {
            remaining: resp.count - records.len() as i64,
            records,
            revision,
            more: resp.more,
        })
    }

    async fn count(&self, prefix: &[u8]) -> Result<i64> {
        let resp = self
            .range(RangeRequest {
                key: prefix.to_vec(),
                range_end: prefix_end(prefix),
                count_only: true,
                ..Default::default()
            })
            .await?;
        Ok(resp.count)
    }

    async fn create(&self, key: &[u8], value: Vec<u8>, lease: i64) -> Result<Record> {
        let mut cmp = compare_mod(key, 0);
        cmp.target = compare::CompareTarget::Create as i32;
        cmp.target_union = Some(compare::TargetUnion::CreateRevision(0));
        let resp = self
            .txn(TxnRequest {
                compare: vec![cmp],
                success: vec![put_op(key, value.clone(), lease, false)],
                failure: Vec::new(),
            })
            .await?;
        if !resp.succeeded {
            return Err(Error::AlreadyExists { key: key.to_vec() });
        }
        let rev = revision_of(&resp);
        Ok(Record::created(key, value, rev, lease))
    }

    async fn update(
        &self,
        key: &[u8],
        value: Vec<u8>,
        expected_revision: i64,
        lease: i64,
    ) -> Result<Record> {
        let resp = self
            .txn(TxnRequest {
                compare: vec![compare_mod(key, expected_revision)],
                success: vec![put_op(key, value.clone(), lease, true)],
                failure: vec![get_op(key)],
            })
            .await?;
        let rev = revision_of(&resp);
        if !resp.succeeded {
            return Err(Error::Conflict {
                key: key.to_vec(),
                current: fallback_current(resp),
            });
        }
        let prev = resp.responses.into_iter().find_map(|r| match r.response {
            Some(response_op::Response::ResponsePut(p)) => p.prev_kv.map(record),
            _ => None,
        });
        Ok(Record::written(key, value, rev, lease, prev.as_ref()))
    }

    async fn delete(&self, key: &[u8], expected_revision: Option<i64>) -> Result<(Record, i64)> {
        let del = RequestOp {
            request: Some(request_op::Request::RequestDeleteRange(
                DeleteRangeRequest {
                    key: key.to_vec(),
                    prev_kv: true,
                    ..Default::default()
                },
            )),
        };
        let resp = self
            .txn(TxnRequest {
                compare: expected_revision
                    .map(|r| compare_mod(key, r))
                    .into_iter()
                    .collect(),
                success: vec![del],
                failure: vec![get_op(key)],
            })
            .await?;
        let rev = revision_of(&resp);
        if !resp.succeeded {
            return match fallback_current(resp) {
                Some(current) => Err(Error::Conflict {
                    key: key.to_vec(),
                    current: Some(current),
                }),
                None => Err(Error::NotFound { key: key.to_vec() }),
            };
        }
        let prev = resp.responses.into_iter().find_map(|r| match r.response {
            Some(response_op::Response::ResponseDeleteRange(d)) => d.prev_kvs.into_iter().next(),
            _ => None,
        });
        match prev {
            Some(kv) => Ok((record(kv), rev)),
            None => Err(Error::NotFound { key: key.to_vec() }),
        }
    }

    async fn watch(&self, req: WatchRequest) -> Result<WatchStream> {
        let hub: Arc<WatchHub> = self.member.state().hub.clone();
        let (tx, mut rx) = mpsc::channel(WATCH_BUFFER);
        let stream_id = hub.new_stream_id();
        hub.watch(
            stream_id,
            0,
            WatchSpec {
                range_end: prefix_end(&req.prefix),
                key: req.prefix,
                start_revision: req.start_revision,
                ..Default::default()
            },
            tx.clone(),
        );
        let interval = self.member.config().progress_notify_interval;
        let guard = StreamGuard {
            hub: hub.clone(),
            stream_id,
        };
        let requests = req.progress_requests.clone().unwrap_or_default();
        let stream = async_stream::stream! {
            let _guard = guard;
            let mut ticker = tokio::time::interval(interval);
            ticker.tick().await;
            loop {
                let item = tokio::select! {
                    item = rx.recv() => item,
                    _ = ticker.tick(), if req.progress => {
                        hub.request_progress(stream_id, &tx);
                        continue;
                    }
                    _ = requests.notified() => {
                        hub.request_progress(stream_id, &tx);
                        continue;
                    }
                };
                match item {
                    Some(WatchItem::Events { mut events, .. }) => {
                        if req.prev {
                            hub.fill_prev(&mut events);
                        }
                        yield Ok(WatchMessage::Events(events.into_iter().map(|e| Event {
                            kind: if e.r#type == EventType::Delete as i32 { EventKind::Delete } else { EventKind::Put },
                            record: record(e.kv.unwrap_or_default()),
                            prev: e.prev_kv.map(record),
                        }).collect()));
                    }
                    Some(WatchItem::Compacted { compact_revision, .. }) => {
                        yield Err(Error::Compacted { revision: compact_revision });
                        break;
                    }
                    Some(WatchItem::Progress { revision }) => yield Ok(WatchMessage::Progress(revision)),
                    None => break,
                }
            }
        };
        Ok(stream.boxed())
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.member
            .compact(CompactionRequest {
                revision,
                physical: false,
            })
            .await
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    async fn revision(&self) -> Result<i64> {
        self.member
            .linearizable_barrier()
            .await
            .map_err(|e| self.error(e))?;
        Ok(self.member.state().mvcc.revision())
    }

    async fn grant_lease(&self, ttl: i64) -> Result<i64> {
        let (id, _, _) = self
            .member
            .lease_grant(0, ttl)
            .await
            .map_err(|e| self.error(e))?;
        Ok(id)
    }
}

/// Removes the watcher when its stream is dropped.
struct StreamGuard {
    hub: Arc<WatchHub>,
    stream_id: u64,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.hub.close_stream(self.stream_id);
    }
}
