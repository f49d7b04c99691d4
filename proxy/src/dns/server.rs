//! The DNS server: queries over UDP and TCP, the cluster domain answered from the [`Zone`],
//! everything else forwarded as is to the node's resolvers (and their answer relayed).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::zone::{Lookup, Zone};

/// How long an upstream resolver gets to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the server listens and where it forwards.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Resolvers for names outside the cluster domain (the node's `/etc/resolv.conf`).
    pub upstreams: Vec<SocketAddr>,
}

/// The `nameserver` lines of a resolv.conf, on port 53.
pub fn resolv_conf_upstreams(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// What to do with a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answer with these bytes (the zone's answer, or an error).
    Answer(Vec<u8>),
    /// Outside the cluster domain: ask the upstream resolvers.
    Forward,
    /// Not even a DNS header: nothing to answer.
    Ignore,
}

/// The reply to a query: answered from the zone when inside the cluster domain.
pub fn answer(zone: &Zone, query: &[u8]) -> Reply {
    let (Some(&hi), Some(&lo)) = (query.first(), query.get(1)) else {
        return Reply::Ignore;
    };
    let id = u16::from_be_bytes([hi, lo]);
    let error = |code| {
        Message::error_msg(id, OpCode::Query, code)
            .to_vec()
            .map_or(Reply::Ignore, Reply::Answer)
    };
    let Ok(request) = Message::from_vec(query) else {
        return error(ResponseCode::FormErr);
    };
    if request.metadata.message_type != MessageType::Query {
        return Reply::Ignore;
    }
    let Some(q) = request.queries.first() else {
        return error(ResponseCode::FormErr);
    };
    if !zone.contains(q.name()) {
        return Reply::Forward;
    }
    let mut response = Message::response(id, request.metadata.op_code);
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.add_query(q.clone());
    match zone.lookup(q.name(), q.query_type()) {
        Lookup::Answers(records) => {
            response.add_answers(records);
        }
        Lookup::NoData => response.authorities.extend(zone.soa()),
        Lookup::NxDomain => {
            response.metadata.response_code = ResponseCode::NXDomain;
            response.authorities.extend(zone.soa());
        }
    }
    response
        .to_vec()
        .map_or_else(|_| error(ResponseCode::ServFail), Reply::Answer)
}

/// Sends a query to the first upstream that answers (over UDP).
async fn forward_udp(upstreams: &[SocketAddr], query: &[u8]) -> Option<Vec<u8>> {
    for upstream in upstreams {
        let bind: SocketAddr = if upstream.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let Ok(socket) = UdpSocket::bind(bind).await else {
            continue;
        };
        if socket.connect(upstream).await.is_err() || socket.send(query).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        if let Ok(Ok(n)) = tokio::time::timeout(UPSTREAM_TIMEOUT, socket.recv(&mut buf)).await {
            buf.truncate(n);
            return Some(buf);
        }
        debug!(%upstream, "upstream resolver did not answer");
    }
    None
}

/// A SERVFAIL answer to `query` (nothing upstream answered).
fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    let id = u16::from_be_bytes([*query.first()?, *query.get(1)?]);
    Message::error_msg(id, OpCode::Query, ResponseCode::ServFail)
        .to_vec()
        .ok()
}

async fn resolve(zone: &RwLock<Zone>, upstreams: &[SocketAddr], query: &[u8]) -> Option<Vec<u8>> {
    let reply = answer(&*zone.read().await, query);
    match reply {
        Reply::Answer(a) => Some(a),
        Reply::Ignore => None,
        Reply::Forward => match forward_udp(upstreams, query).await {
            Some(a) => Some(a),
            None => servfail(query),
        },
    }
}

/// Serves DNS on `config.listen` (UDP and TCP) from `zone` until `shutdown`.
///
/// # Errors
/// When the address cannot be listened on.
pub async fn serve(
    config: ServerConfig,
    zone: Arc<RwLock<Zone>>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let udp = Arc::new(UdpSocket::bind(config.listen).await?);
    let tcp = TcpListener::bind(config.listen).await?;
    let upstreams = Arc::new(config.upstreams);
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            received = udp.recv_from(&mut buf) => {
                let Ok((n, peer)) = received else { continue };
                let query = buf[..n].to_vec();
                let (udp, zone, upstreams) = (udp.clone(), zone.clone(), upstreams.clone());
                tokio::spawn(async move {
                    if let Some(reply) = resolve(&zone, &upstreams, &query).await {
                        let _ = udp.send_to(&reply, peer).await;
                    }
                });
            }
            accepted = tcp.accept() => {
                let Ok((conn, _)) = accepted else { continue };
                let (zone, upstreams) = (zone.clone(), upstreams.clone());
                tokio::spawn(serve_tcp(conn, zone, upstreams));
            }
        }
    }
}

/// One TCP connection: length-prefixed queries, answered in turn.
async fn serve_tcp(mut conn: TcpStream, zone: Arc<RwLock<Zone>>, upstreams: Arc<Vec<SocketAddr>>) {
    loop {
        let mut len = [0u8; 2];
        if tokio::time::timeout(Duration::from_secs(10), conn.read_exact(&mut len))
            .await
            .is_err()
        {
            return;
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if conn.read_exact(&mut query).await.is_err() {
            return;
        }
        let Some(reply) = resolve(&zone, &upstreams, &query).await else {
            return;
        };
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            return;
        };
        if conn.write_all(&reply_len.to_be_bytes()).await.is_err()
            || conn.write_all(&reply).await.is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_not_forwarded() {
        let zone = Zone::build("cluster.local", &[], &[]);
        assert_eq!(answer(&zone, &[]), Reply::Ignore);
        let Reply::Answer(bytes) = answer(&zone, &[0x12, 0x34, 0xff]) else {
            panic!("expected FORMERR");
        };
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    }

    #[test]
    fn reads_resolv_conf() {
        let text = "search example.test\nnameserver 127.0.0.53\nnameserver ::1\noptions ndots:5\n";
        assert_eq!(
            resolv_conf_upstreams(text),
            vec![
                "127.0.0.53:53".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
    }
}
