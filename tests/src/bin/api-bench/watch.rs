//! Watch delivery latency: W watches on one namespace, a writer updating its objects at a fixed
//! rate, and for every (write, watcher) pair the time from the write's response (and from its
//! request) to the watcher reading the event.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use http::Method;
use http_body_util::BodyExt;
use serde::Deserialize;
use tokio::sync::watch as signal;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::client::Conn;
use crate::objects;
use crate::scenarios::{collection, ensure_namespace, fill};
use crate::stats::{ms, Samples, Table};

pub const WATCH_NS: &str = "bench-watch";

/// Settings of the watch scenario.
#[derive(Debug, Clone)]
pub struct WatchPlan {
    pub watchers: usize,
    /// Updates per second.
    pub rate: f64,
    pub duration: Duration,
    /// ConfigMaps the writer updates in turn.
    pub objects: usize,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "resourceVersion", default)]
    resource_version: String,
}

#[derive(Deserialize)]
struct Object {
    metadata: Meta,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    object: Object,
}

#[derive(Deserialize)]
struct ListMeta {
    metadata: Meta,
}

fn parse_rv(s: &str) -> Result<u64> {
    s.parse()
        .with_context(|| format!("resourceVersion {s:?} is not a number"))
}

/// The resourceVersions of the events in the complete lines of `buf`, which keeps the rest.
fn drain_events(buf: &mut Vec<u8>) -> Result<Vec<u64>> {
    let mut rvs = Vec::new();
    let mut start = 0;
    while let Some(len) = buf[start..].iter().position(|&b| b == b'\n') {
        let line = &buf[start..start + len];
        start += len + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let event: Event = serde_json::from_slice(line).context("watch event is not JSON")?;
        if event.kind != "BOOKMARK" && event.kind != "ERROR" {
            rvs.push(parse_rv(&event.object.metadata.resource_version)?);
        }
    }
    buf.drain(..start);
    Ok(rvs)
}

/// One write: when it was sent and when its response arrived.
#[derive(Debug, Clone, Copy)]
struct Write {
    sent: Instant,
    answered: Instant,
}

pub async fn watch(pool: &[Conn], plan: &WatchPlan) -> Result<Table> {
    ensure!(plan.rate > 0.0, "the watch write rate must be positive");
    ensure_namespace(&pool[0], WATCH_NS).await?;
    let path = collection(WATCH_NS, "configmaps");
    let objects = plan.objects.max(1);
    fill(pool, &path, objects, 8, |i| {
        objects::config_map(WATCH_NS, &format!("w-{i:05}"), 0)
    })
    .await?;
    let list: ListMeta =
        serde_json::from_slice(&pool[0].expect_ok(Method::GET, &path, None).await?)
            .context("LIST answer has no resourceVersion")?;
    let from = parse_rv(&list.metadata.resource_version)?;

    // Every watch is established (headers received) before the first write.
    let (stop_tx, stop_rx) = signal::channel(false);
    let delivered = Arc::new(AtomicU64::new(0));
    let timeout_s = plan.duration.as_secs() + 60;
    let mut watchers = JoinSet::new();
    for w in 0..plan.watchers {
        let conn = &pool[w % pool.len()];
        let url = format!("{path}?watch=true&resourceVersion={from}&timeoutSeconds={timeout_s}");
        let resp = conn.start(Method::GET, &url, None).await?;
        ensure!(
            resp.status().is_success(),
            "watch {w} answered {}",
            resp.status()
        );
        let mut body = resp.into_body();
        let (mut stop, delivered) = (stop_rx.clone(), delivered.clone());
        watchers.spawn(async move {
            let mut seen: Vec<(u64, Instant)> = Vec::new();
            let mut buf = Vec::new();
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    frame = body.frame() => {
                        let now = Instant::now();
                        let Some(frame) = frame else { break };
                        let Ok(data) = frame.context("watch stream failed")?.into_data() else { continue };
                        buf.extend_from_slice(&data);
                        let rvs = drain_events(&mut buf)?;
                        delivered.fetch_add(rvs.len() as u64, Ordering::Relaxed);
                        seen.extend(rvs.into_iter().map(|rv| (rv, now)));
                    }
                }
            }
            Ok::<_, anyhow::Error>(seen)
        });
    }
    info!(watchers = plan.watchers, "watches established");

    let count = (plan.rate * plan.duration.as_secs_f64()).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / plan.rate);
    let start = Instant::now() + Duration::from_millis(50);
    let mut writers = JoinSet::new();
    for i in 0..count {
        tokio::time::sleep_until((start + interval.mul_f64(i as f64)).into()).await;
        let conn = pool[i % pool.len()].clone();
        let url = format!("{path}/w-{:05}", i % objects);
        let body = serde_json::to_vec(&objects::config_map(
            WATCH_NS,
            &format!("w-{:05}", i % objects),
            i as u64 + 1,
        ))?;
        writers.spawn(async move {
            let sent = Instant::now();
            let reply = conn.expect_ok(Method::PUT, &url, Some(body.into())).await?;
            let answered = Instant::now();
            let obj: Object =
                serde_json::from_slice(&reply).context("update answer has no resourceVersion")?;
            Ok::<_, anyhow::Error>((
                parse_rv(&obj.metadata.resource_version)?,
                Write { sent, answered },
            ))
        });
    }
    let mut writes = HashMap::new();
    let mut write_latency = Samples::default();
    while let Some(done) = writers.join_next().await {
        match done.context("writer task panicked")? {
            Ok((rv, write)) => {
                write_latency.push(write.answered - write.sent);
                writes.insert(rv, write);
            }
            Err(err) => write_latency.fail(&err),
        }
    }
    let write_elapsed = start.elapsed();
    if let Some(err) = &write_latency.first_error {
        warn!(
            errors = write_latency.errors,
            "watch writer: first error: {err}"
        );
    }

    // Wait for every delivery, at most 10 s after the last write.
    let expected = (writes.len() * plan.watchers) as u64;
    let grace = Instant::now() + Duration::from_secs(10);
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < grace {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_tx.send_replace(true);

    let mut from_answer = Samples::default();
    let mut from_sent = Samples::default();
    let mut early = 0u64;
    let mut foreign = 0u64;
    while let Some(done) = watchers.join_next().await {
        for (rv, at) in done.context("watcher task panicked")?? {
            let Some(write) = writes.get(&rv) else {
                foreign += 1;
                continue;
            };
            if at < write.answered {
                early += 1;
            }
            from_answer.push(at.saturating_duration_since(write.answered));
            from_sent.push(at - write.sent);
        }
    }
    if foreign > 0 {
        warn!(foreign, "events for writes the writer did not see answered");
    }
    let missing = expected.saturating_sub(from_answer.len() as u64);
    let mut table = Table::new(&[
        "watchers",
        "writes",
        "writes/s",
        "write p99 ms",
        "deliveries",
        "missing",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "from request p50 / p99 ms",
        "before response",
    ]);
    let [p50, p90, p99, max] = from_answer.percentile_cells();
    table.row(vec![
        plan.watchers.to_string(),
        writes.len().to_string(),
        format!("{:.1}", write_latency.rate(write_elapsed)),
        ms(write_latency.percentile(99.0)),
        from_answer.len().to_string(),
        missing.to_string(),
        p50,
        p90,
        p99,
        max,
        format!(
            "{} / {}",
            ms(from_sent.percentile(50.0)),
            ms(from_sent.percentile(99.0))
        ),
        early.to_string(),
    ]);
    Ok(table)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    #[test]
    fn events_are_read_line_by_line() {
        let mut buf = br#"{"type":"MODIFIED","object":{"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"12"}}}
{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"13"}}}

{"type":"ADDED","object":{"metadata":{"resourceVersion":"14"}}}
{"type":"DEL"#
            .to_vec();
        assert_eq!(drain_events(&mut buf).unwrap(), vec![12, 14]);
        assert_eq!(buf, br#"{"type":"DEL"#);
        buf.extend_from_slice(b"ETED\",\"object\":{\"metadata\":{\"resourceVersion\":\"15\"}}}\n");
        assert_eq!(drain_events(&mut buf).unwrap(), vec![15]);
        assert!(buf.is_empty());
    }

    #[test]
    fn malformed_events_are_errors() {
        let mut buf = b"not json\n".to_vec();
        assert!(drain_events(&mut buf).is_err());
        let mut buf =
            b"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"x\"}}}\n"
                .to_vec();
        assert_eq!(
            drain_events(&mut buf).unwrap_err().to_string(),
            "resourceVersion \"x\" is not a number"
        );
    }
}
