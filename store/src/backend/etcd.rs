//! The backend over the etcd v3 API (etcd-client), for a real etcd cluster or `rkube store`
//! members reached over the network (`--datastore-endpoint`).

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType, GetOptions, KeyValue,
    PutOptions, Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use futures::StreamExt;

use super::{
    prefix_end, Backend, Error, Event, EventKind, ListRequest, ListResponse, Record, Result,
    WatchMessage, WatchRequest, WatchStream,
};

#[derive(Clone)]
pub struct Etcd {
    client: Client,
    endpoints: Vec<String>,
}

impl std::fmt::Debug for Etcd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Etcd")
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

fn record(kv: &KeyValue) -> Record {
    Record {
        key: kv.key().to_vec(),
        value: kv.value().to_vec(),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
        lease: kv.lease(),
    }
}

fn error(e: etcd_client::Error) -> Error {
    match &e {
        etcd_client::Error::GRpcStatus(s) => {
            let msg = s.message();
            if msg.contains("required revision has been compacted") {
                Error::Compacted { revision: 0 }
            } else if msg.contains("required revision is a future revision") {
                Error::FutureRevision
            } else if msg.contains("request is too large") {
                Error::TooLarge
            } else if matches!(
                s.code(),
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
            ) {
                Error::Unavailable(msg.to_string())
            } else {
                Error::Other(msg.to_string())
            }
        }
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => {
            Error::Unavailable(e.to_string())
        }
        _ => Error::Other(e.to_string()),
    }
}

fn put_options(lease: i64, prev: bool) -> PutOptions {
    let mut o = PutOptions::new();
    if lease != 0 {
        o = o.with_lease(lease);
    }
    if prev {
        o = o.with_prev_key();
    }
    o
}

fn fallback_current(ops: &[TxnOpResponse]) -> Option<Box<Record>> {
    ops.iter().find_map(|r| match r {
        TxnOpResponse::Get(g) => g.kvs().first().map(|kv| Box::new(record(kv))),
        _ => None,
    })
}

impl Etcd {
    /// Connects to any of `endpoints` (`http://host:port`).
    pub async fn connect(endpoints: &[String]) -> Result<Self> {
        let opts = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5))
            .with_require_leader(true);
        let client = Client::connect(endpoints, Some(opts))
            .await
            .map_err(error)?;
        Ok(Self {
            client,
            endpoints: endpoints.to_vec(),
        })
    }

    fn client(&self) -> Client {
        self.client.clone()
    }
}

#[async_trait::async_trait]
impl Backend for Etcd {
    async fn get(&self, key: &[u8], revision: i64) -> Result<(Option<Record>, i64)> {
        let mut opts = GetOptions::new();
        if revision > 0 {
            opts = opts.with_revision(revision);
        }
        let resp = self.client().get(key, Some(opts)).await.map_err(error)?;
        let rev = if revision > 0 {
            revision
        } else {
            resp.header().map_or(0, |h| h.revision())
        };
        Ok((resp.kvs().first().map(record), rev))
    }

    async fn list(&self, req: ListRequest) -> Result<ListResponse> {
        let mut opts = GetOptions::new().with_range(prefix_end(&req.prefix));
        if req.limit > 0 {
            opts = opts.with_limit(req.limit);
        }
        if req.revision > 0 {
            opts = opts.with_revision(req.revision);
        }
        let start = req.start.unwrap_or(req.prefix);
        let resp = self.client().get(start, Some(opts)).await.map_err(error)?;
        let revision = if req.revision > 0 {
            req.revision
        } else {
            resp.header().map_or(0, |h| h.revision())
        };
        let records: Vec<Record> = resp.kvs().iter().map(record).collect();
        Ok(ListResponse {
            remaining: resp.count() - records.len() as i64,
            records,
            revision,
            more: resp.more(),
        })
    }

    async fn count(&self, prefix: &[u8]) -> Result<i64> {
        let opts = GetOptions::new()
            .with_range(prefix_end(prefix))
            .with_count_only();
        Ok(self
            .client()
            .get(prefix, Some(opts))
            .await
            .map_err(error)?
            .count())
    }

    async fn create(&self, key: &[u8], value: Vec<u8>, lease: i64) -> Result<Record> {
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key,
                value.clone(),
                Some(put_options(lease, false)),
            )]);
        let resp = self.client().txn(txn).await.map_err(error)?;
        if !resp.succeeded() {
            return Err(Error::AlreadyExists { key: key.to_vec() });
        }
        let rev = resp.header().map_or(0, |h| h.revision());
        Ok(Record::created(key, value, rev, lease))
    }

    async fn update(
        &self,
        key: &[u8],
        value: Vec<u8>,
        expected_revision: i64,
        lease: i64,
    ) -> Result<Record> {
        let txn = Txn::new()
            .when([Compare::mod_revision(
                key,
                CompareOp::Equal,
                expected_revision,
            )])
            .and_then([TxnOp::put(
                key,
                value.clone(),
                Some(put_options(lease, true)),
            )])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.client().txn(txn).await.map_err(error)?;
        let rev = resp.header().map_or(0, |h| h.revision());
        if !resp.succeeded() {
            return Err(Error::Conflict {
                key: key.to_vec(),
                current: fallback_current(&resp.op_responses()),
            });
        }
        let prev = resp.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Put(p) => p.prev_key().map(record),
            _ => None,
        });
        Ok(Record::written(key, value, rev, lease, prev.as_ref()))
    }

    async fn delete(&self, key: &[u8], expected_revision: Option<i64>) -> Result<(Record, i64)> {
        let compares: Vec<Compare> = expected_revision
            .map(|r| Compare::mod_revision(key, CompareOp::Equal, r))
            .into_iter()
            .collect();
        let txn = Txn::new()
            .when(compares)
            .and_then([TxnOp::delete(
                key,
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.client().txn(txn).await.map_err(error)?;
        let rev = resp.header().map_or(0, |h| h.revision());
        let ops = resp.op_responses();
        if !resp.succeeded() {
            return match fallback_current(&ops) {
                Some(current) => Err(Error::Conflict {
                    key: key.to_vec(),
                    current: Some(current),
                }),
                None => Err(Error::NotFound { key: key.to_vec() }),
            };
        }
        let prev = ops.iter().find_map(|r| match r {
            TxnOpResponse::Delete(d) => d.prev_kvs().first().map(record),
            _ => None,
        });
        prev.map(|p| (p, rev))
            .ok_or(Error::NotFound { key: key.to_vec() })
    }

    async fn watch(&self, req: WatchRequest) -> Result<WatchStream> {
        let mut opts = WatchOptions::new().with_range(prefix_end(&req.prefix));
        if req.start_revision > 0 {
            opts = opts.with_start_revision(req.start_revision);
        }
        if req.prev {
            opts = opts.with_prev_key();
        }
        if req.progress {
            opts = opts.with_progress_notify();
        }
        let (mut sender, mut stream) = self
            .client()
            .watch(req.prefix, Some(opts))
            .await
            .map_err(error)?
            .split();
        let requests = req.progress_requests.clone().unwrap_or_default();
        let out = async_stream::stream! {
            loop {
                let message = tokio::select! {
                    message = stream.next() => message.transpose(),
                    _ = requests.notified() => {
                        if let Err(e) = sender.request_progress().await {
                            yield Err(error(e));
                            break;
                        }
                        continue;
                    }
                };
                match message {
                    Ok(Some(resp)) => {
                        if resp.compact_revision() > 0 {
                            yield Err(Error::Compacted { revision: resp.compact_revision() });
                            break;
                        }
                        if resp.canceled() {
                            yield Err(Error::Unavailable(format!("watch canceled: {}", resp.cancel_reason())));
                            break;
                        }
                        if resp.created() && resp.events().is_empty() {
                            continue;
                        }
                        if resp.events().is_empty() {
                            yield Ok(WatchMessage::Progress(resp.header().map_or(0, |h| h.revision())));
                            continue;
                        }
                        yield Ok(WatchMessage::Events(resp.events().iter().map(|e| Event {
                            kind: if e.event_type() == EventType::Delete { EventKind::Delete } else { EventKind::Put },
                            record: e.kv().map(record).unwrap_or_default(),
                            prev: e.prev_kv().map(record),
                        }).collect()));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        yield Err(error(e));
                        break;
                    }
                }
            }
        };
        Ok(out.boxed())
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.client().compact(revision, None).await.map_err(error)?;
        Ok(())
    }

    async fn revision(&self) -> Result<i64> {
        let resp = self
            .client()
            .get("/", Some(GetOptions::new().with_count_only()))
            .await
            .map_err(error)?;
        Ok(resp.header().map_or(0, |h| h.revision()))
    }

    async fn grant_lease(&self, ttl: i64) -> Result<i64> {
        Ok(self
            .client()
            .lease_grant(ttl, None)
            .await
            .map_err(error)?
            .id())
    }
}
