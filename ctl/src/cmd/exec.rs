//! `rkctl exec` and `rkctl attach`: a process in a container, its streams joined to this
//! terminal over the remote-command WebSocket protocol (`v5.channel.k8s.io`, else `v4`).
//!
//! Every message carries a channel byte: 0 stdin, 1 stdout, 2 stderr, 3 the final status, 4
//! terminal size; with v5, `255 0` tells the server that stdin has ended. With `-t` the local
//! terminal is put in raw mode and its size follows window changes.

use std::io::IsTerminal as _;

use clap::Args;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::io::AsyncReadExt as _;
use tokio_tungstenite::tungstenite::Message;

use super::{err, out, query, Ctx, ExitWith};

/// What `exec` and `attach` share.
#[derive(Debug, Args)]
pub struct StreamFlags {
    /// Container name; defaults to the pod's default container.
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// Pass stdin to the container.
    #[arg(short = 'i', long)]
    stdin: bool,
    /// Stdin is a TTY.
    #[arg(short = 't', long)]
    tty: bool,
    /// Only print output from the remote session.
    #[arg(short = 'q', long)]
    quiet: bool,
}

/// Flags of `rkctl exec`.
#[derive(Debug, Args)]
pub struct Opts {
    /// POD or TYPE/NAME (the first pod of a workload), then `--` and the command.
    #[arg(required = true)]
    args: Vec<String>,
    #[command(flatten)]
    flags: StreamFlags,
}

/// Flags of `rkctl attach`.
#[derive(Debug, Args)]
pub struct AttachOpts {
    /// POD or TYPE/NAME.
    target: String,
    #[command(flatten)]
    flags: StreamFlags,
}

const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// The pod and container a stream is for, checked as kubectl checks them.
async fn resolve(
    ctx: &Ctx,
    target: &str,
    container: Option<&str>,
    quiet: bool,
    verb: &str,
) -> anyhow::Result<(String, String)> {
    let client = ctx.client().await?;
    let pod_name = super::logs::pods_of(ctx, target)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no pods found for {target}"))?;
    let pod = client
        .get(&format!(
            "/api/v1/namespaces/{}/pods/{pod_name}",
            client.namespace
        ))
        .await?;
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if matches!(phase, "Succeeded" | "Failed") {
        anyhow::bail!(
            "cannot {verb} into a container in a completed pod; current phase is {phase}"
        );
    }
    let container = match container {
        Some(c) => c.to_owned(),
        None => super::logs::default_container(&pod, quiet)
            .ok_or_else(|| anyhow::anyhow!("pod {pod_name} has no containers"))?,
    };
    Ok((pod_name, container))
}

/// Runs `rkctl exec`.
///
/// # Errors
/// Unknown pods, completed pods, refused streams; a command that exits non-zero ends rkctl
/// with the same code.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let (target, command) = o.args.split_first().ok_or_else(|| {
        anyhow::anyhow!("you must specify at least one command for the container")
    })?;
    if command.is_empty() {
        anyhow::bail!("you must specify at least one command for the container");
    }
    let f = &o.flags;
    let (pod, container) = resolve(ctx, target, f.container.as_deref(), f.quiet, "exec").await?;
    let mut q: Vec<(&str, &str)> = vec![("container", &container)];
    for c in command {
        q.push(("command", c));
    }
    session(ctx, &pod, "exec", q, f.stdin, f.tty, f.quiet).await
}

/// Runs `rkctl attach`.
///
/// # Errors
/// As [`run`].
pub async fn attach(ctx: &Ctx, o: AttachOpts) -> anyhow::Result<()> {
    let f = &o.flags;
    let (pod, container) =
        resolve(ctx, &o.target, f.container.as_deref(), f.quiet, "attach").await?;
    if f.tty && f.stdin && !f.quiet {
        err("If you don't see a command prompt, try pressing enter.\n");
    }
    let q: Vec<(&str, &str)> = vec![("container", &container)];
    session(ctx, &pod, "attach", q, f.stdin, f.tty, f.quiet).await
}

/// Puts the local terminal in raw mode for the life of the value.
struct RawMode {
    saved: Option<rustix::termios::Termios>,
}

impl RawMode {
    fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok();
        if let Some(orig) = &saved {
            let mut raw = orig.clone();
            raw.make_raw();
            let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw);
        }
        RawMode { saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(orig) = &self.saved {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                orig,
            );
        }
    }
}

/// The local terminal's size as the resize channel carries it.
fn terminal_size() -> Option<Vec<u8>> {
    let size = rustix::termios::tcgetwinsize(std::io::stdout()).ok()?;
    let mut msg = vec![4u8];
    msg.extend_from_slice(
        serde_json::json!({"Width": size.ws_col, "Height": size.ws_row})
            .to_string()
            .as_bytes(),
    );
    Some(msg)
}

/// A remote-command session on the terminal: local stdin (raw when `-t`), output printed.
async fn session(
    ctx: &Ctx,
    pod: &str,
    verb: &str,
    q: Vec<(&str, &str)>,
    stdin: bool,
    tty: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let tty = tty && stdin && std::io::stdin().is_terminal();
    let _raw = tty.then(RawMode::enter);
    let input: Option<Input> = stdin.then(|| Box::new(tokio::io::stdin()) as Input);
    let status = stream(
        ctx,
        pod,
        verb,
        q,
        input,
        tty,
        &mut |channel, data| match channel {
            1 => out(&String::from_utf8_lossy(data)),
            _ => err(&String::from_utf8_lossy(data)),
        },
    )
    .await?;
    drop(_raw);
    finish(&status, quiet)
}

/// What a command printed, and its final status.
#[derive(Debug, Default)]
pub(super) struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The status on the error channel (empty if none was sent).
    pub status: Vec<u8>,
}

/// Runs `command` in a container with `input` on its stdin, collecting its output.
pub(super) async fn capture(
    ctx: &Ctx,
    pod: &str,
    container: &str,
    command: &[&str],
    input: Option<Vec<u8>>,
) -> anyhow::Result<Captured> {
    let mut q: Vec<(&str, &str)> = vec![("container", container)];
    for c in command {
        q.push(("command", c));
    }
    let input = input.map(|bytes| Box::new(std::io::Cursor::new(bytes)) as Input);
    let mut captured = Captured::default();
    let mut sink = |channel: u8, data: &[u8]| match channel {
        1 => captured.stdout.extend_from_slice(data),
        _ => captured.stderr.extend_from_slice(data),
    };
    let status = stream(ctx, pod, "exec", q, input, false, &mut sink).await?;
    captured.status = status;
    Ok(captured)
}

type Input = Box<dyn tokio::io::AsyncRead + Unpin + Send>;

/// Opens the stream and joins it to `input` and `output` (called with channel 1 or 2 and the
/// bytes); returns the final status the server sent.
async fn stream(
    ctx: &Ctx,
    pod: &str,
    verb: &str,
    mut q: Vec<(&str, &str)>,
    input: Option<Input>,
    tty: bool,
    output: &mut dyn FnMut(u8, &[u8]),
) -> anyhow::Result<Vec<u8>> {
    let client = ctx.client().await?;
    if input.is_some() {
        q.push(("stdin", "true"));
    }
    q.push(("stdout", "true"));
    if tty {
        q.push(("tty", "true"));
    } else {
        q.push(("stderr", "true"));
    }
    let path = format!(
        "/api/v1/namespaces/{}/pods/{pod}/{verb}{}",
        client.namespace,
        query(&q)
    );
    let (ws, protocol) = client.websocket(&path, PROTOCOLS).await?;
    let v5 = protocol.starts_with("v5.");
    let (mut sink, mut source) = ws.split();

    // Local input and window changes go up on their channels.
    let (up_tx, mut up_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    if tty {
        if let Some(size) = terminal_size() {
            let _ = up_tx.send(size).await;
        }
        let tx = up_tx.clone();
        tokio::spawn(async move {
            let Ok(mut changes) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
            else {
                return;
            };
            while changes.recv().await.is_some() {
                if let Some(size) = terminal_size() {
                    if tx.send(size).await.is_err() {
                        break;
                    }
                }
            }
        });
    }
    if let Some(mut input) = input {
        let tx = up_tx.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match input.read(&mut buf[1..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        buf[0] = 0;
                        if tx.send(buf[..=n].to_vec()).await.is_err() {
                            return;
                        }
                    }
                }
            }
            if v5 {
                let _ = tx.send(vec![255, 0]).await;
            }
        });
    }
    drop(up_tx);
    let writer = tokio::spawn(async move {
        while let Some(msg) = up_rx.recv().await {
            if sink.send(Message::Binary(msg.into())).await.is_err() {
                break;
            }
        }
    });

    let mut status = Vec::new();
    while let Some(message) = source.next().await {
        let data = match message {
            Ok(Message::Binary(b)) => b,
            Ok(Message::Close(_)) => break,
            Ok(_) => continue,
            Err(e) => {
                writer.abort();
                anyhow::bail!("error reading from the stream: {e}");
            }
        };
        match data.split_first() {
            Some((c @ (1 | 2), rest)) => output(*c, rest),
            Some((3, rest)) => status.extend_from_slice(rest),
            _ => {}
        }
    }
    writer.abort();
    Ok(status)
}

/// Reads the final status: success, a command's exit code, or an error.
fn finish(status: &[u8], quiet: bool) -> anyhow::Result<()> {
    if status.is_empty() {
        return Ok(());
    }
    let status: Value = serde_json::from_slice(status)
        .map_err(|e| anyhow::anyhow!("error reading the stream's status: {e}"))?;
    if status["status"] == "Success" {
        return Ok(());
    }
    if status["reason"] == "NonZeroExitCode" {
        let code: i32 = status
            .pointer("/details/causes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| c["reason"] == "ExitCode")
            .and_then(|c| c["message"].as_str())
            .and_then(|m| m.parse().ok())
            .unwrap_or(1);
        if !quiet {
            err(&format!("command terminated with exit code {code}\n"));
        }
        return Err(ExitWith(u8::try_from(code.clamp(0, 255)).unwrap_or(1)).into());
    }
    let message = status["message"].as_str().unwrap_or("the command failed");
    anyhow::bail!("{message}")
}
