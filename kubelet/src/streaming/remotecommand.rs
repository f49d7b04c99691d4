//! The remote-command protocol over WebSocket: how `kubectl exec` and `kubectl attach` talk to a
//! process in a container.
//!
//! The client offers subprotocols (`v5.channel.k8s.io`, `v4.channel.k8s.io`, ...) and the server
//! picks the newest it knows. Every binary message starts with a channel byte: 0 stdin, 1 stdout,
//! 2 stderr, 3 the error channel (a `Status` object once the process ends), 4 terminal resize
//! (`{"Width":80,"Height":24}`); `v5` adds 255, "close", whose second byte names a stream the
//! client has finished writing (stdin's end of file). When the process exits the server writes
//! its status on the error channel and closes the connection.

use std::future::Future;
use std::pin::Pin;

use futures::{Sink, SinkExt, Stream, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// The subprotocols served, newest first.
pub const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// Which streams a request asks for (`stdin`, `stdout`, `stderr`, `tty` query flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl StreamOptions {
    /// Reads the flags and the `command` arguments of an exec or attach query.
    pub fn from_query(query: &str) -> (StreamOptions, Vec<String>) {
        let mut out = StreamOptions::default();
        let mut command = Vec::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let on = matches!(value.as_ref(), "true" | "1" | "True");
            match key.as_ref() {
                "stdin" | "input" => out.stdin = on,
                "stdout" | "output" => out.stdout = on,
                "stderr" | "error" => out.stderr = on,
                "tty" => out.tty = on,
                "command" => command.push(value.into_owned()),
                _ => {}
            }
        }
        // With a terminal, standard error is the terminal too.
        if out.tty {
            out.stderr = false;
        }
        (out, command)
    }

    /// The error a request with no stream at all gets, in Kubernetes' words.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.stdin || self.stdout || self.stderr {
            Ok(())
        } else {
            Err("you must specify at least 1 of stdin, stdout, stderr")
        }
    }
}

/// The subprotocol to answer with, from a `Sec-WebSocket-Protocol` request header.
pub fn negotiate(offered: &str) -> Option<&'static str> {
    let offered: Vec<&str> = offered.split(',').map(str::trim).collect();
    PROTOCOLS.iter().copied().find(|p| offered.contains(p))
}

/// A terminal size sent by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct TermSize {
    #[serde(rename = "Width")]
    pub width: u16,
    #[serde(rename = "Height")]
    pub height: u16,
}

/// How a process ended, as the error channel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exited with this code (0 is success).
    Exited(i32),
    /// Could not be run or followed, with the reason.
    Failed(String),
}

type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// The process the streams are joined to: an exec'd command or a container's own process.
pub struct Process {
    pub stdin: Option<BoxWrite>,
    pub stdout: Option<BoxRead>,
    pub stderr: Option<BoxRead>,
    /// Terminal resizes go here (when a terminal was asked for).
    pub resize: Option<mpsc::UnboundedSender<TermSize>>,
    /// Resolves when the process has ended.
    pub done: Pin<Box<dyn Future<Output = Outcome> + Send>>,
    /// What `Exited(code)` was running, for the failure message (`[sh -c exit 3]`).
    pub command: Vec<String>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("command", &self.command)
            .finish_non_exhaustive()
    }
}

/// The `Status` written on the error channel when the process ends.
pub fn status_of(outcome: &Outcome, command: &[String]) -> Value {
    match outcome {
        Outcome::Exited(0) => json!({"metadata": {}, "status": "Success"}),
        Outcome::Exited(code) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!(
                "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
                command.join(" ")
            ),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}
        }),
        Outcome::Failed(message) => json!({
            "metadata": {},
            "status": "Failure",
            "message": message,
        }),
    }
}

/// Joins `process` to a WebSocket connection speaking `protocol` (one of [`PROTOCOLS`]) until the
/// process ends; then writes its status and closes the connection.
pub async fn serve<W, E>(ws: W, protocol: &str, options: StreamOptions, process: Process)
where
    W: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Send + Unpin + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let v5 = protocol.starts_with("v5.");
    let (mut sink, mut source) = ws.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(16);
    let Process {
        stdin,
        stdout,
        stderr,
        resize,
        done,
        command,
    } = process;

    // Readers of the process's outputs, each forwarding chunks tagged with its channel.
    let mut pumps = Vec::new();
    for (channel, reader, wanted) in [
        (STDOUT, stdout, options.stdout),
        (STDERR, stderr, options.stderr),
    ] {
        if let (Some(mut reader), true) = (reader, wanted) {
            let tx = out_tx.clone();
            pumps.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match reader.read(&mut buf[1..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            buf[0] = channel;
                            if tx.send(buf[..=n].to_vec()).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            }));
        }
    }
    drop(out_tx);

    // The client's messages: stdin, resizes, and stdin's close.
    let client = tokio::spawn(async move {
        let mut stdin = if options.stdin { stdin } else { None };
        while let Some(Ok(message)) = source.next().await {
            let data = match message {
                Message::Binary(b) => b.to_vec(),
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Close(_) => break,
                _ => continue,
            };
            let Some((&channel, payload)) = data.split_first() else {
                continue;
            };
            match channel {
                STDIN => {
                    if let Some(w) = stdin.as_mut() {
                        if w.write_all(payload).await.is_err() || w.flush().await.is_err() {
                            stdin = None;
                        }
                    }
                }
                RESIZE => {
                    if let (Some(tx), Ok(size)) =
                        (resize.as_ref(), serde_json::from_slice::<TermSize>(payload))
                    {
                        let _ = tx.send(size);
                    }
                }
                CLOSE if v5 && payload.first() == Some(&STDIN) => {
                    if let Some(mut w) = stdin.take() {
                        let _ = w.shutdown().await;
                    }
                }
                _ => {}
            }
        }
    });

    // Tell the client the streams are open, as the kubelet does, with an empty message on the
    // first output channel.
    let first = if options.stdout { STDOUT } else { STDERR };
    let mut healthy = sink.send(Message::Binary(vec![first].into())).await.is_ok();
    tokio::pin!(done);
    let mut outcome = None;
    loop {
        tokio::select! {
            chunk = out_rx.recv() => match chunk {
                Some(chunk) if healthy => {
                    healthy = sink.send(Message::Binary(chunk.into())).await.is_ok();
                }
                Some(_) => {}
                None if outcome.is_some() => break,
                None => {
                    // All outputs closed; wait for the process itself.
                    outcome = Some((&mut done).await);
                    break;
                }
            },
            o = &mut done, if outcome.is_none() => {
                outcome = Some(o);
                // Outputs still buffered are sent before the status.
            }
        }
    }
    for pump in pumps {
        let _ = pump.await;
    }
    while let Ok(chunk) = out_rx.try_recv() {
        if healthy {
            healthy = sink.send(Message::Binary(chunk.into())).await.is_ok();
        }
    }
    if let Some(outcome) = outcome {
        if healthy {
            let status = status_of(&outcome, &command);
            let mut frame = vec![ERROR];
            frame.extend_from_slice(status.to_string().as_bytes());
            let _ = sink.send(Message::Binary(frame.into())).await;
        }
    }
    // A close without a status code reads as an error to Kubernetes clients: say "normal".
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        })))
        .await;
    let _ = sink.close().await;
    client.abort();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;
    use std::process::Stdio;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::WebSocketStream;

    #[test]
    fn options_and_negotiation() {
        let (o, cmd) = StreamOptions::from_query(
            "command=sh&command=-c&command=echo+hi&stdin=true&stdout=true&stderr=true&tty=true",
        );
        assert_eq!(cmd, ["sh", "-c", "echo hi"]);
        assert!(o.stdin && o.stdout && o.tty && !o.stderr);
        assert_eq!(
            negotiate("v4.channel.k8s.io, v5.channel.k8s.io"),
            Some("v5.channel.k8s.io")
        );
        assert_eq!(negotiate("channel.k8s.io"), None);
        let none = StreamOptions::default();
        assert_eq!(
            none.check().unwrap_err(),
            "you must specify at least 1 of stdin, stdout, stderr"
        );
    }

    #[test]
    fn failure_status_is_worded_as_kubernetes_does() {
        let cmd = vec!["sh".to_owned(), "-c".to_owned(), "exit 3".to_owned()];
        let s = status_of(&Outcome::Exited(3), &cmd);
        assert_eq!(
            s["message"],
            "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3"
        );
        assert_eq!(s["details"]["causes"][0]["message"], "3");
        assert_eq!(status_of(&Outcome::Exited(0), &cmd)["status"], "Success");
    }

    /// A real child process (`cat` then exit 3) joined over a real WebSocket pair.
    #[tokio::test]
    async fn a_process_round_trip_over_websocket() {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let server_ws = WebSocketStream::from_raw_socket(a, Role::Server, None).await;
        let mut client = WebSocketStream::from_raw_socket(b, Role::Client, None).await;
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", "cat; echo oops >&2; exit 3"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let process = Process {
            stdin: child.stdin.take().map(|w| Box::new(w) as BoxWrite),
            stdout: child.stdout.take().map(|r| Box::new(r) as BoxRead),
            stderr: child.stderr.take().map(|r| Box::new(r) as BoxRead),
            resize: None,
            command: vec!["sh".into(), "-c".into(), "cat".into()],
            done: Box::pin(async move {
                Outcome::Exited(child.wait().await.unwrap().code().unwrap_or(-1))
            }),
        };
        let options = StreamOptions {
            stdin: true,
            stdout: true,
            stderr: true,
            tty: false,
        };
        let server = tokio::spawn(serve(server_ws, "v5.channel.k8s.io", options, process));
        client
            .send(Message::Binary(b"\x00hello\n".to_vec().into()))
            .await
            .unwrap();
        client
            .send(Message::Binary(vec![CLOSE, STDIN].into()))
            .await
            .unwrap();
        let (mut stdout, mut stderr, mut status) = (Vec::new(), Vec::new(), Vec::new());
        while let Some(Ok(m)) = client.next().await {
            let Message::Binary(b) = m else { continue };
            match b.first() {
                Some(&STDOUT) => stdout.extend_from_slice(&b[1..]),
                Some(&STDERR) => stderr.extend_from_slice(&b[1..]),
                Some(&ERROR) => status.extend_from_slice(&b[1..]),
                _ => {}
            }
        }
        server.await.unwrap();
        assert_eq!(stdout, b"hello\n");
        assert_eq!(stderr, b"oops\n");
        let status: Value = serde_json::from_slice(&status).unwrap();
        assert_eq!(status["reason"], "NonZeroExitCode");
        assert_eq!(status["details"]["causes"][0]["message"], "3");
    }
}
