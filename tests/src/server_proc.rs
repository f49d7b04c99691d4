//! Runs `rkube server` as a child process on loopback ports, and the real kubectl against it.
//!
//! The kubectl used is `$KUBECTL`, else kubectl 1.32 where the machine has it
//! (`/usr/lib/google-cloud-sdk/bin/kubectl.1.32`), else `kubectl` on the PATH.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::etcdctl::{clean_command, find_on_path};
use crate::store_proc::{free_ports, rkube_binary, StoreKind, StoreOptions, StoreProcess, TestDir};

/// How long a fresh server gets to answer.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the server under test keeps its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datastore {
    /// Its embedded store member.
    Embedded,
    /// A separate `rkube store`, over the etcd API.
    RkubeStore,
    /// Debian's etcd 3.4.
    Etcd,
}

/// A running `rkube server` (and the store it uses, when that is a separate process).
#[derive(Debug)]
pub struct ServerProcess {
    dir: TestDir,
    port: u16,
    child: Option<Child>,
    store: Option<StoreProcess>,
}

impl ServerProcess {
    /// Starts a server on its embedded store.
    ///
    /// # Errors
    /// If it does not start or does not answer in time (with its log).
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(None)
    }

    /// Starts a server on `datastore`, starting that store first when it is a separate one.
    ///
    /// # Errors
    /// As [`ServerProcess::start`], or when the store does not start (e.g. etcd missing).
    pub fn on(datastore: Datastore) -> anyhow::Result<Self> {
        let kind = match datastore {
            Datastore::Embedded => return Self::start(),
            Datastore::RkubeStore => StoreKind::Rkube,
            Datastore::Etcd => StoreKind::Etcd,
        };
        let store = StoreProcess::start_kind(kind, StoreOptions::default())?;
        let mut server = Self::start_with(Some(&store.client_url()))?;
        server.store = Some(store);
        Ok(server)
    }

    /// Starts a server, on `datastore` (etcd client URLs) when given.
    ///
    /// # Errors
    /// As [`ServerProcess::start`].
    pub fn start_with(datastore: Option<&str>) -> anyhow::Result<Self> {
        Self::launch(datastore, &[], |_| Ok(()))
    }

    /// Starts a server on its embedded store with extra `rkube server` flags, e.g.
    /// `--disable-controller-manager`.
    ///
    /// # Errors
    /// As [`ServerProcess::start`].
    pub fn start_args(args: &[&str]) -> anyhow::Result<Self> {
        Self::launch(None, args, |_| Ok(()))
    }

    /// Starts a server on its embedded store after `seed` has written files into its data
    /// directory (which exists, empty, when `seed` runs), e.g. `tokens.csv`.
    ///
    /// # Errors
    /// What `seed` returns, or as [`ServerProcess::start`].
    pub fn start_seeded(seed: impl FnOnce(&Path) -> anyhow::Result<()>) -> anyhow::Result<Self> {
        Self::launch(None, &[], seed)
    }

    fn launch(
        datastore: Option<&str>,
        extra_args: &[&str],
        seed: impl FnOnce(&Path) -> anyhow::Result<()>,
    ) -> anyhow::Result<Self> {
        let [port, client, peer] = free_ports(3)?[..] else {
            bail!("free_ports returned the wrong count");
        };
        let dir = TestDir::new()?;
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("failed to create {}", data_dir.display()))?;
        seed(&data_dir).context("failed to seed the data directory")?;
        let log_path = dir.path().join("server.log");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("failed to open {}", log_path.display()))?;
        let mut cmd = clean_command(&rkube_binary()?);
        cmd.arg("server")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--bind-address", "127.0.0.1"])
            .args(["--https-listen-port", &port.to_string()])
            .args(["--store-client-address", &format!("127.0.0.1:{client}")])
            .args(["--store-peer-address", &format!("127.0.0.1:{peer}")])
            .args(extra_args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(endpoints) = datastore {
            cmd.args(["--datastore-endpoint", endpoints]);
        }
        let child = cmd.spawn().context("failed to start rkube server")?;
        let mut server = Self {
            dir,
            port,
            child: Some(child),
            store: None,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!("rkube server exited with {status}; log:\n{}", self.log());
                }
            }
            if self.kubeconfig().exists() {
                let out = self.kubectl(&["get", "--raw", "/readyz"])?;
                if out.status.success() {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "rkube server did not become ready in {READY_TIMEOUT:?}; log:\n{}",
            self.log()
        )
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(std::process::Child::id)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir().join("admin.kubeconfig")
    }

    /// A kube-rs client for this server (as the admin).
    ///
    /// # Errors
    /// When the kubeconfig cannot be loaded.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        Ok(rkube_api::client::from_kubeconfig(&self.kubeconfig(), "rkube-tests").await?)
    }

    /// A scratch directory beside the server's, for manifests.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs kubectl against this server.
    ///
    /// # Errors
    /// If kubectl cannot be run at all.
    pub fn kubectl(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.kubectl_with_stdin(args, None)
    }

    /// Runs kubectl with `stdin` as its standard input.
    ///
    /// # Errors
    /// If kubectl cannot be run at all.
    pub fn kubectl_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<Output> {
        let mut cmd = self.kubectl_command();
        cmd.args(args);
        run_with_stdin(cmd, stdin)
    }

    /// A kubectl command with this server's kubeconfig and a clean environment.
    ///
    /// # Panics
    /// Never; a missing kubectl shows when the command runs.
    pub fn kubectl_command(&self) -> Command {
        let mut cmd = clean_command(&kubectl_binary());
        cmd.env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.dir.path())
            .env_remove("KUBECTL_EXTERNAL_DIFF");
        cmd
    }

    /// Runs rkctl (`target/debug/rkctl`, or `$RKCTL_BIN`) against this server.
    ///
    /// # Errors
    /// If rkctl cannot be found or run.
    pub fn rkctl(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.rkctl_with_stdin(args, None)
    }

    /// Runs rkctl with `stdin` as its standard input.
    ///
    /// # Errors
    /// If rkctl cannot be found or run.
    pub fn rkctl_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<Output> {
        let mut cmd = self.rkctl_command()?;
        cmd.args(args);
        run_with_stdin(cmd, stdin)
    }

    /// An rkctl command with this server's kubeconfig and a clean environment.
    ///
    /// # Errors
    /// If the rkctl binary is not built.
    pub fn rkctl_command(&self) -> anyhow::Result<Command> {
        let mut cmd = clean_command(&rkctl_binary()?);
        cmd.env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.dir.path());
        Ok(cmd)
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The kubectl binary the tests drive.
pub fn kubectl_binary() -> PathBuf {
    if let Some(k) = std::env::var_os("KUBECTL") {
        return PathBuf::from(k);
    }
    let pinned = Path::new("/usr/lib/google-cloud-sdk/bin/kubectl.1.32");
    if pinned.is_file() {
        return pinned.to_owned();
    }
    find_on_path("kubectl").unwrap_or_else(|| PathBuf::from("kubectl"))
}

/// The rkctl binary: `$RKCTL_BIN`, else `rkctl` beside `rkube` (built with
/// `cargo build --bin rkctl`).
///
/// # Errors
/// When neither exists.
pub fn rkctl_binary() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("RKCTL_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let rkube = rkube_binary()?;
    let rkctl = rkube.with_file_name("rkctl");
    if rkctl.is_file() {
        return Ok(rkctl);
    }
    bail!(
        "the rkctl binary was not found at {}; build it first with `cargo build --bin rkctl`",
        rkctl.display()
    )
}

fn run_with_stdin(mut cmd: Command, stdin: Option<&str>) -> anyhow::Result<Output> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let program = cmd.get_program().to_owned();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("failed to run {}", program.to_string_lossy()))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())?;
    }
    child
        .wait_with_output()
        .with_context(|| format!("failed to wait for {}", program.to_string_lossy()))
}

/// Both streams of a finished command, for failure messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The stdout of `program args` that must have succeeded.
///
/// # Panics
/// When it failed, with everything it printed.
pub fn expect_success(program: &str, args: &[&str], out: &Output) -> String {
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}",
        output_text(out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The stderr of `program args` that must have failed.
///
/// # Panics
/// When it succeeded, with everything it printed.
pub fn expect_failure(program: &str, args: &[&str], out: &Output) -> String {
    assert!(
        !out.status.success(),
        "{program} {args:?} should fail:\n{}",
        output_text(out)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}
