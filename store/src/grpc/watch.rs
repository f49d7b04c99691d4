//! The Watch service: one bidirectional stream carries many watchers.

use std::collections::HashSet;
use std::pin::Pin;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::member::Member;
use crate::proto::etcd::watch_create_request::FilterType;
use crate::proto::etcd::watch_request::RequestUnion;
use crate::proto::etcd::watch_server::Watch;
use crate::proto::etcd::{WatchCreateRequest, WatchRequest, WatchResponse};
use crate::watch::{Filters, WatchItem, WatchSpec};

/// Items buffered per stream before its watchers fall back to catching up from history.
const STREAM_BUFFER: usize = 1024;

#[derive(Debug)]
pub struct WatchService {
    member: Member,
}

impl WatchService {
    pub fn new(member: Member) -> Self {
        Self { member }
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send>>;

/// The per-stream state: which watchers exist and what they asked for.
#[derive(Debug)]
struct StreamState {
    member: Member,
    id: u64,
    next_watch_id: i64,
    ids: HashSet<i64>,
    prev_kv: HashSet<i64>,
    progress: HashSet<i64>,
    /// A periodic progress round is on its way through the hub.
    periodic_pending: bool,
}

impl StreamState {
    fn header(&self, rev: i64) -> Option<crate::proto::etcd::ResponseHeader> {
        Some(self.member.header(rev))
    }

    fn create(&mut self, c: WatchCreateRequest, hub_tx: &mpsc::Sender<WatchItem>) -> WatchResponse {
        let hub = &self.member.state().hub;
        let rev = hub.revision();
        let id = if c.watch_id != 0 {
            if self.ids.contains(&c.watch_id) {
                return WatchResponse {
                    header: self.header(rev),
                    watch_id: c.watch_id,
                    created: true,
                    canceled: true,
                    cancel_reason: "etcdserver: duplicate watch ID".into(),
                    ..Default::default()
                };
            }
            c.watch_id
        } else {
            while self.ids.contains(&self.next_watch_id) {
                self.next_watch_id += 1;
            }
            self.next_watch_id
        };
        self.ids.insert(id);
        if c.prev_kv {
            self.prev_kv.insert(id);
        }
        if c.progress_notify {
            self.progress.insert(id);
        }
        let filters = Filters {
            no_put: c.filters.contains(&(FilterType::Noput as i32)),
            no_delete: c.filters.contains(&(FilterType::Nodelete as i32)),
        };
        let spec = WatchSpec {
            key: c.key,
            range_end: c.range_end,
            start_revision: c.start_revision,
            filters,
        };
        hub.watch(self.id, id, spec, hub_tx.clone());
        WatchResponse {
            header: self.header(rev),
            watch_id: id,
            created: true,
            ..Default::default()
        }
    }

    fn cancel(&mut self, watch_id: i64) -> WatchResponse {
        self.member.state().hub.cancel(self.id, watch_id);
        self.ids.remove(&watch_id);
        self.prev_kv.remove(&watch_id);
        self.progress.remove(&watch_id);
        WatchResponse {
            header: self.header(self.member.state().hub.revision()),
            watch_id,
            canceled: true,
            ..Default::default()
        }
    }

    /// Turns a hub item into responses.
    fn render(&mut self, item: WatchItem) -> Vec<WatchResponse> {
        match item {
            WatchItem::Events {
                watch_id,
                mut events,
                revision,
            } => {
                if self.prev_kv.contains(&watch_id) {
                    self.member.state().hub.fill_prev(&mut events);
                }
                vec![WatchResponse {
                    header: self.header(revision),
                    watch_id,
                    events,
                    ..Default::default()
                }]
            }
            WatchItem::Compacted {
                watch_id,
                compact_revision,
            } => {
                self.ids.remove(&watch_id);
                vec![WatchResponse {
                    header: self.header(self.member.state().hub.revision()),
                    watch_id,
                    canceled: true,
                    compact_revision,
                    cancel_reason: "etcdserver: mvcc: required revision has been compacted".into(),
                    ..Default::default()
                }]
            }
            WatchItem::Progress { revision } => {
                if std::mem::take(&mut self.periodic_pending) {
                    self.progress
                        .iter()
                        .map(|id| WatchResponse {
                            header: self.header(revision),
                            watch_id: *id,
                            ..Default::default()
                        })
                        .collect()
                } else {
                    vec![WatchResponse {
                        header: self.header(revision),
                        watch_id: -1,
                        ..Default::default()
                    }]
                }
            }
        }
    }
}

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = WatchStream;

    async fn watch(
        &self,
        req: Request<Streaming<WatchRequest>>,
    ) -> Result<Response<WatchStream>, Status> {
        let mut input = req.into_inner();
        let (out_tx, out_rx) = mpsc::channel::<Result<WatchResponse, Status>>(STREAM_BUFFER);
        let (hub_tx, mut hub_rx) = mpsc::channel::<WatchItem>(STREAM_BUFFER);
        let mut st = StreamState {
            member: self.member.clone(),
            id: self.member.state().hub.new_stream_id(),
            next_watch_id: 0,
            ids: HashSet::new(),
            prev_kv: HashSet::new(),
            progress: HashSet::new(),
            periodic_pending: false,
        };
        let interval = self.member.config().progress_notify_interval;
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.tick().await;
            loop {
                let responses = tokio::select! {
                    req = input.message() => match req {
                        Ok(Some(WatchRequest { request_union: Some(RequestUnion::CreateRequest(c)) })) => {
                            vec![st.create(c, &hub_tx)]
                        }
                        Ok(Some(WatchRequest { request_union: Some(RequestUnion::CancelRequest(c)) })) => {
                            vec![st.cancel(c.watch_id)]
                        }
                        Ok(Some(WatchRequest { request_union: Some(RequestUnion::ProgressRequest(_)) })) => {
                            st.member.state().hub.request_progress(st.id, &hub_tx);
                            Vec::new()
                        }
                        Ok(Some(_)) => Vec::new(),
                        Ok(None) | Err(_) => break,
                    },
                    item = hub_rx.recv() => match item {
                        Some(item) => st.render(item),
                        None => break,
                    },
                    _ = ticker.tick() => {
                        if !st.progress.is_empty() && !st.periodic_pending {
                            st.periodic_pending = st.member.state().hub.request_progress(st.id, &hub_tx);
                        }
                        Vec::new()
                    }
                    _ = out_tx.closed() => break,
                };
                for r in responses {
                    if out_tx.send(Ok(r)).await.is_err() {
                        break;
                    }
                }
            }
            st.member.state().hub.close_stream(st.id);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(out_rx))))
    }
}
