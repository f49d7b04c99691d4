//! `rkctl port-forward`: local ports forwarded to a pod's ports through the API server.
//!
//! Each accepted local connection gets a WebSocket of its own on the pod's `portforward`
//! subresource, speaking the channel protocol (`v4.channel.k8s.io`): channel 0 carries the data
//! and channel 1 the errors, each opened by the server with the port number (two bytes).

use clap::Args;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use super::{err, out, Ctx};
use crate::client::Client;

/// Flags of `rkctl port-forward`.
#[derive(Debug, Args)]
pub struct Opts {
    /// TYPE/NAME or POD, then one or more [LOCAL_PORT:]REMOTE_PORT.
    #[arg(required = true, num_args = 2..)]
    args: Vec<String>,
    /// Addresses to listen on (comma separated); `localhost` means 127.0.0.1 and ::1.
    #[arg(long, default_value = "localhost", value_delimiter = ',')]
    address: Vec<String>,
}

/// One forwarded port: where it listens and the pod port it reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PortSpec {
    local: u16,
    remote: u16,
}

/// Reads `8080`, `9000:8080`, `:8080` (a random local port), with `remote` resolved by `name`.
fn parse_port(spec: &str, resolve: &dyn Fn(&str) -> Option<u16>) -> anyhow::Result<PortSpec> {
    let (local, remote) = match spec.split_once(':') {
        Some((l, r)) => (l, r),
        None => (spec, spec),
    };
    let remote_port = remote
        .parse::<u16>()
        .ok()
        .or_else(|| resolve(remote))
        .filter(|p| *p != 0)
        .ok_or_else(|| anyhow::anyhow!("Error parsing remote port '{remote}'"))?;
    let local_port = if local.is_empty() {
        0
    } else if local == remote && remote.parse::<u16>().is_err() {
        remote_port
    } else {
        local
            .parse::<u16>()
            .map_err(|_| anyhow::anyhow!("Error parsing local port '{local}'"))?
    };
    Ok(PortSpec {
        local: local_port,
        remote: remote_port,
    })
}

/// A container port of the pod by name.
fn named_port(pod: &Value, name: &str) -> Option<u16> {
    pod.pointer("/spec/containers")?
        .as_array()?
        .iter()
        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
        .find(|p| p["name"] == name)
        .and_then(|p| p["containerPort"].as_u64())
        .and_then(|p| u16::try_from(p).ok())
}

/// A Service port translated to the pod port it targets.
fn service_target(service: &Value, pod: &Value, port: &str) -> Option<u16> {
    let ports = service.pointer("/spec/ports")?.as_array()?;
    let entry = ports.iter().find(|p| {
        p["port"].as_u64().map(|n| n.to_string()).as_deref() == Some(port) || p["name"] == port
    })?;
    match &entry["targetPort"] {
        Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Value::String(name) => named_port(pod, name),
        _ => entry["port"].as_u64().and_then(|p| u16::try_from(p).ok()),
    }
}

/// Runs `rkctl port-forward` until interrupted.
///
/// # Errors
/// Unknown pods, pods not running, ports that cannot be parsed or listened on.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let client = ctx.client().await?;
    let (target, ports) = o.args.split_first().ok_or_else(|| {
        anyhow::anyhow!("TYPE/NAME and list of ports are required for port-forward")
    })?;
    let pod_name = super::logs::pods_of(ctx, target)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no pods found for {target}"))?;
    let ns = client.namespace.clone();
    let pod = client
        .get(&format!("/api/v1/namespaces/{ns}/pods/{pod_name}"))
        .await?;
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if phase != "Running" {
        anyhow::bail!("unable to forward port because pod is not running. Current status={phase}");
    }
    let service = match target.split_once('/') {
        Some(("svc" | "service" | "services", name)) => Some(
            client
                .get(&format!("/api/v1/namespaces/{ns}/services/{name}"))
                .await?,
        ),
        _ => None,
    };
    let resolve = |name: &str| match &service {
        Some(svc) => service_target(svc, &pod, name),
        None => named_port(&pod, name),
    };
    let specs: Vec<PortSpec> = ports
        .iter()
        .map(|p| match &service {
            // A service's numeric port is translated too.
            Some(svc) => {
                let (local, remote) = p.split_once(':').unwrap_or((p, p));
                let spec = parse_port(remote, &resolve)?;
                let remote_port = service_target(svc, &pod, remote).unwrap_or(spec.remote);
                let local_port = if local.is_empty() {
                    0
                } else {
                    local.parse().unwrap_or(remote_port)
                };
                Ok(PortSpec {
                    local: local_port,
                    remote: remote_port,
                })
            }
            None => parse_port(p, &resolve),
        })
        .collect::<anyhow::Result<_>>()?;

    let mut addresses = Vec::new();
    for a in &o.address {
        match a.as_str() {
            "localhost" => addresses.extend(["127.0.0.1", "::1"]),
            other => addresses.push(other),
        }
    }
    let mut listeners = Vec::new();
    for spec in specs {
        let mut local = spec.local;
        let before = listeners.len();
        for addr in &addresses {
            let listener = match TcpListener::bind((*addr, local)).await {
                Ok(l) => l,
                // No IPv6 loopback here: listening on IPv4 is enough.
                Err(_) if *addr == "::1" => continue,
                Err(e) => anyhow::bail!("unable to listen on port {local}: {e}"),
            };
            // The first listener fixes a random port for the other addresses.
            local = listener.local_addr()?.port();
            let shown = if addr.contains(':') {
                format!("[{addr}]")
            } else {
                (*addr).to_owned()
            };
            out(&format!(
                "Forwarding from {shown}:{local} -> {}\n",
                spec.remote
            ));
            listeners.push((listener, local, spec.remote));
        }
        if listeners.len() == before {
            anyhow::bail!(
                "unable to listen on any of the requested ports: {}",
                spec.local
            );
        }
    }
    let serving = listeners.into_iter().map(|(listener, local, remote)| {
        let path = format!("/api/v1/namespaces/{ns}/pods/{pod_name}/portforward?ports={remote}");
        serve_listener(client, listener, path, local, remote)
    });
    futures::future::join_all(serving).await;
    Ok(())
}

/// Accepts local connections on one listener and forwards each.
async fn serve_listener(
    client: &Client,
    listener: TcpListener,
    path: String,
    local: u16,
    remote: u16,
) {
    let mut active = futures::stream::FuturesUnordered::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((conn, _)) = accepted else { return };
                out(&format!("Handling connection for {local}\n"));
                let path = path.as_str();
                active.push(async move {
                    if let Err(e) = forward(client, path, conn).await {
                        err(&format!("E an error occurred forwarding {local} -> {remote}: {e}\n"));
                    }
                });
            }
            Some(()) = active.next(), if !active.is_empty() => {}
        }
    }
}

/// Joins one local connection to the pod port over a WebSocket of its own.
async fn forward(client: &Client, path: &str, conn: TcpStream) -> anyhow::Result<()> {
    let (ws, _) = client.websocket(path, &["v4.channel.k8s.io"]).await?;
    let (mut sink, mut source) = ws.split();
    let _ = conn.set_nodelay(true);
    let (mut from_local, mut to_local) = conn.into_split();
    let up = tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match from_local.read(&mut buf[1..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf[0] = 0;
                    if sink
                        .send(Message::Binary(buf[..=n].to_vec().into()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    // The first message of each channel is the port number; what follows is data or an error.
    let mut opened = [false; 2];
    let mut error = Vec::new();
    while let Some(message) = source.next().await {
        let data = match message {
            Ok(Message::Binary(b)) => b,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let Some((&channel, mut payload)) = data.split_first() else {
            continue;
        };
        let index = usize::from(channel.min(1));
        if !opened[index] {
            opened[index] = true;
            payload = payload.get(2..).unwrap_or_default();
        }
        if payload.is_empty() {
            continue;
        }
        match channel {
            0 => {
                if to_local.write_all(payload).await.is_err() {
                    break;
                }
            }
            _ => error.extend_from_slice(payload),
        }
    }
    up.abort();
    let _ = to_local.shutdown().await;
    if error.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{}", String::from_utf8_lossy(&error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ports_parse_as_kubectl_reads_them() {
        let pod =
            json!({"spec": {"containers": [{"ports": [{"name": "http", "containerPort": 8000}]}]}});
        let resolve = |n: &str| named_port(&pod, n);
        assert_eq!(
            parse_port("8080", &resolve).unwrap(),
            PortSpec {
                local: 8080,
                remote: 8080
            }
        );
        assert_eq!(
            parse_port("9000:8080", &resolve).unwrap(),
            PortSpec {
                local: 9000,
                remote: 8080
            }
        );
        assert_eq!(
            parse_port(":8080", &resolve).unwrap(),
            PortSpec {
                local: 0,
                remote: 8080
            }
        );
        assert_eq!(
            parse_port("http", &resolve).unwrap(),
            PortSpec {
                local: 8000,
                remote: 8000
            }
        );
        assert_eq!(
            parse_port("x:80", &resolve).unwrap_err().to_string(),
            "Error parsing local port 'x'"
        );
        assert!(parse_port("nope", &resolve).is_err());
        let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": "http"}]}});
        assert_eq!(service_target(&svc, &pod, "80"), Some(8000));
    }
}
