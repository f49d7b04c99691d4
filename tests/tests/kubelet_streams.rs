//! `kubectl logs`, `exec` and `port-forward` through the real API server to the kubelet's
//! streaming endpoints: the server forwards each request to the node's kubelet over TLS (client
//! certificate both ways), and kubectl speaks its real protocols (WebSocket remote-command,
//! SPDY port-forward) end to end.
//!
//! The node here is the kubelet's streaming server on 127.0.0.1, answering for one pod from host
//! resources: its log is a CRI log file, exec runs the command as a host process, and its port
//! 8080 is a TCP echo server on loopback. (The same endpoints over real containers are tested
//! with the runtime.) Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use rkube_kubelet::streaming::http::{self, LogSource, PodPorts, StreamBackend, StreamError};
use rkube_kubelet::streaming::remotecommand::{Outcome, Process, StreamOptions};
use rkube_tests::fake::{mark_pod_running, FakeNode};
use rkube_tests::server_proc::{expect_failure, expect_success, ServerProcess};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use tokio::net::TcpListener;

/// The node's view of its one pod `default/web` (container `app`).
struct HostNode {
    log: PathBuf,
    echo_port: u16,
}

#[async_trait::async_trait]
impl StreamBackend for HostNode {
    async fn log(
        &self,
        _ns: &str,
        pod: &str,
        container: &str,
        _previous: bool,
    ) -> Result<LogSource, StreamError> {
        if pod != "web" || container != "app" {
            return Err(StreamError::not_found(format!(
                "container {container} not found"
            )));
        }
        Ok(LogSource {
            path: self.log.clone(),
            running: Box::new(|| false),
        })
    }

    async fn exec(
        &self,
        _ns: &str,
        _pod: &str,
        _container: &str,
        command: Vec<String>,
        options: StreamOptions,
    ) -> Result<Process, StreamError> {
        let mut child = tokio::process::Command::new(&command[0])
            .args(&command[1..])
            .stdin(if options.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| StreamError::internal(e.to_string()))?;
        Ok(Process {
            stdin: child
                .stdin
                .take()
                .map(|w| Box::new(w) as Box<dyn tokio::io::AsyncWrite + Send + Unpin>),
            stdout: child
                .stdout
                .take()
                .map(|r| Box::new(r) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            stderr: child
                .stderr
                .take()
                .map(|r| Box::new(r) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            resize: None,
            command,
            done: Box::pin(async move {
                match child.wait().await {
                    Ok(status) => Outcome::Exited(status.code().unwrap_or(-1)),
                    Err(e) => Outcome::Failed(e.to_string()),
                }
            }),
        })
    }

    async fn attach(
        &self,
        _ns: &str,
        _pod: &str,
        _container: &str,
        _options: StreamOptions,
    ) -> Result<Process, StreamError> {
        Err(StreamError::bad_request("attach is not part of this test"))
    }

    async fn ports(&self, _ns: &str, _pod: &str) -> Result<PodPorts, StreamError> {
        let echo = self.echo_port;
        Ok(PodPorts {
            uid: "uid-1".into(),
            dial: Arc::new(move |port| {
                Box::pin(async move {
                    if port != 8080 {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionRefused,
                            "connection refused",
                        ));
                    }
                    tokio::net::TcpStream::connect(("127.0.0.1", echo)).await
                })
            }),
        })
    }
}

/// A TLS configuration for the kubelet: a serving certificate for 127.0.0.1 signed by the
/// cluster CA, and client certificates from that CA required.
fn kubelet_tls(server: &ServerProcess) -> Arc<rustls::ServerConfig> {
    let tls = server.data_dir().join("tls");
    let ca_cert = std::fs::read_to_string(tls.join("ca.crt")).unwrap();
    let ca_key = std::fs::read_to_string(tls.join("ca.key")).unwrap();
    let issuer =
        rcgen::Issuer::from_ca_cert_pem(&ca_cert, rcgen::KeyPair::from_pem(&ca_key).unwrap())
            .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    let cert = params.signed_by(&key, &issuer).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_cert.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap(),
        )
        .unwrap();
    Arc::new(config)
}

async fn serve_kubelet(
    tls: Arc<rustls::ServerConfig>,
    backend: Arc<dyn StreamBackend>,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let backend = backend.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| {
                    let backend = backend.clone();
                    async move { Ok::<_, std::convert::Infallible>(http::handle(req, backend).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

async fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = conn.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    port
}

fn ok(s: &ServerProcess, args: &[&str]) -> String {
    expect_success("kubectl", args, &s.kubectl(args).unwrap())
}

/// What `exec` shows a user, through `tool` (kubectl or rkctl): both streams, the remote exit
/// code as the tool's own, and stdin passed through.
fn exec_checks(tool: &str, run: &dyn Fn(&[&str], Option<&str>) -> std::process::Output) {
    let out = run(
        &[
            "exec",
            "web",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("err\n"), "{tool}: {stderr}");
    assert!(
        stderr.contains("command terminated with exit code 3"),
        "{tool}: {stderr}"
    );
    assert_eq!(out.status.code(), Some(3), "{tool}");
    let out = run(&["exec", "-i", "web", "--", "cat"], Some("piped through\n"));
    assert_eq!(
        expect_success(tool, &["exec", "-i"], &out),
        "piped through\n"
    );
}

fn rkctl_ok(s: &ServerProcess, args: &[&str]) -> String {
    expect_success("rkctl", args, &s.rkctl(args).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_exec_and_port_forward_reach_the_kubelet() {
    let s = ServerProcess::start_args(&["--disable-scheduler", "--disable-controller-manager"])
        .expect("rkube server starts");
    let client = s.client().await.unwrap();

    let log = s.scratch().join("0.log");
    std::fs::write(
        &log,
        "2026-11-23T10:00:00.000000001Z stdout F hello\n2026-11-23T10:00:01Z stderr F world\n",
    )
    .unwrap();
    let backend = Arc::new(HostNode {
        log,
        echo_port: echo_server().await,
    });
    let kubelet = serve_kubelet(kubelet_tls(&s), backend).await;

    FakeNode::new("n1").create(&client).await.unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .patch_status(
            "n1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port()}},
            }})),
        )
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (name, containers) in [
        ("web", json!([{"name": "app", "image": "busybox"}])),
        (
            "pair",
            json!([{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}]),
        ),
    ] {
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"nodeName": "n1", "containers": containers},
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        mark_pod_running(&client, "default", name, true)
            .await
            .unwrap();
    }

    // Logs: whole, tail, timestamps; the container checked by the API server.
    assert_eq!(ok(&s, &["logs", "web"]), "hello\nworld\n");
    assert_eq!(ok(&s, &["logs", "web", "--tail=1"]), "world\n");
    assert_eq!(
        ok(&s, &["logs", "web", "--timestamps", "--tail=1"]),
        "2026-11-23T10:00:01.000000000Z world\n"
    );
    let err = expect_failure(
        "kubectl",
        &["logs"],
        &s.kubectl(&["logs", "web", "-c", "nope"]).unwrap(),
    );
    assert!(
        err.contains("container nope is not valid for pod web"),
        "{err}"
    );
    // (kubectl picks a container itself; a raw request shows the server's own answer.)
    let raw = ["get", "--raw", "/api/v1/namespaces/default/pods/pair/log"];
    let err = expect_failure("kubectl", &raw, &s.kubectl(&raw).unwrap());
    assert!(
        err.contains("a container name must be specified for pod pair, choose one of: [a b]"),
        "{err}"
    );

    // Exec: output on both streams, the exit code, and stdin.
    exec_checks("kubectl", &|args, stdin| {
        s.kubectl_with_stdin(args, stdin).unwrap()
    });

    // Port-forward: a local port reaches the pod's port 8080, with SPDY inside a WebSocket
    // (kubectl's default) and with SPDY alone (its fallback).
    port_forward(&s, true);
    port_forward(&s, false);

    // rkctl speaks the same protocols (WebSocket remote-command and channel port-forward).
    assert_eq!(rkctl_ok(&s, &["logs", "web", "--tail=1"]), "world\n");
    exec_checks("rkctl", &|args, stdin| {
        s.rkctl_with_stdin(args, stdin).unwrap()
    });
    let err = expect_failure(
        "rkctl",
        &["exec"],
        &s.rkctl(&["exec", "web", "-c", "nope", "--", "true"])
            .unwrap(),
    );
    assert!(
        err.contains("container nope is not valid for pod web"),
        "{err}"
    );
    forward_and_echo(
        s.rkctl_command()
            .unwrap()
            .args(["port-forward", "pod/web", ":8080"]),
    );

    // cp both ways, over exec and tar (the "container" here is the host's filesystem).
    let remote = s.scratch().join("remote");
    std::fs::create_dir_all(remote.join("sub")).unwrap();
    std::fs::write(remote.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(remote.join("sub/b.txt"), "beta\n").unwrap();
    for (tool, local) in [("rkctl", "down-rkctl"), ("kubectl", "down-kubectl")] {
        let local = s.scratch().join(local);
        let args = [
            "cp",
            &format!("web:{}", remote.display()),
            local.to_str().unwrap(),
        ];
        let out = match tool {
            "rkctl" => s.rkctl(&args).unwrap(),
            _ => s.kubectl(&args).unwrap(),
        };
        expect_success(tool, &args, &out);
        assert_eq!(
            std::fs::read_to_string(local.join("a.txt")).unwrap(),
            "alpha\n"
        );
        assert_eq!(
            std::fs::read_to_string(local.join("sub/b.txt")).unwrap(),
            "beta\n"
        );
    }
    let upload = s.scratch().join("up.txt");
    std::fs::write(&upload, "uploaded\n").unwrap();
    let dest = format!("web:{}", remote.display());
    rkctl_ok(&s, &["cp", upload.to_str().unwrap(), &dest]);
    assert_eq!(
        std::fs::read_to_string(remote.join("up.txt")).unwrap(),
        "uploaded\n"
    );
    let renamed = format!("web:{}/renamed.txt", remote.display());
    rkctl_ok(&s, &["cp", upload.to_str().unwrap(), &renamed]);
    assert!(remote.join("renamed.txt").exists());

    // The Python client speaks the WebSocket channel protocols for both.
    let Some(python) = rkube_tests::python::interpreter() else {
        eprintln!("SKIPPED (python part): no Python with the `kubernetes` client");
        return;
    };
    let out = std::process::Command::new(python)
        .arg(rkube_tests::python::script("pod_streams.py"))
        .env("KUBECONFIG", s.kubeconfig())
        .env("HOME", s.scratch())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("exec: from-exec"), "{stdout}");
    assert!(stdout.contains("port-forward: ping-python"), "{stdout}");
}

/// Runs `kubectl port-forward pod/web :8080` and echoes a few messages through it.
fn port_forward(s: &ServerProcess, websockets: bool) {
    forward_and_echo(
        s.kubectl_command()
            .env("KUBECTL_PORT_FORWARD_WEBSOCKETS", websockets.to_string())
            .args(["port-forward", "pod/web", ":8080"]),
    );
}

/// Starts a port-forward command, reads the local port it prints, and echoes a few messages
/// through it.
fn forward_and_echo(command: &mut std::process::Command) {
    let mut pf = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(pf.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    // "Forwarding from 127.0.0.1:41234 -> 8080"
    let local: u16 = first
        .split_once("127.0.0.1:")
        .and_then(|(_, rest)| rest.split_once(' '))
        .map(|(port, _)| port.parse().unwrap())
        .unwrap_or_else(|| panic!("unexpected port-forward output: {first}"));
    for round in 0..3 {
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", local)).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let msg = format!("ping {round}\n");
        conn.write_all(msg.as_bytes()).unwrap();
        let mut got = vec![0u8; msg.len()];
        conn.read_exact(&mut got).unwrap();
        assert_eq!(String::from_utf8_lossy(&got), msg);
    }
    let _ = pf.kill();
    let _ = pf.wait();
}
