//! Runs `rkube store` (or real etcd, for comparison) as child processes on loopback ports.
//!
//! Every address is 127.0.0.1. Which server runs is chosen by `RKUBE_STORE_UNDER_TEST`:
//! `rkube` (default) or `etcd`; both take the same flags. The `rkube` binary is found next to
//! the test executable (`target/<profile>/rkube`, built by `cargo build --bin rkube`) or at
//! `$RKUBE_BIN`. Each process writes its stdout and stderr to `<name>.log` beside its data dir;
//! set `RKUBE_KEEP_TEST_DIRS=1` to keep those directories after the test.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};

use crate::etcdctl::{clean_command, find_on_path, Etcdctl};

/// How long a freshly started member (or cluster) gets to answer `endpoint health`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a start is retried when a port picked as free was taken meanwhile.
const START_ATTEMPTS: usize = 3;

/// Which server the harness starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// `rkube store`.
    Rkube,
    /// Debian's etcd, to check that the tests themselves match etcd's behaviour.
    Etcd,
}

impl StoreKind {
    /// From `RKUBE_STORE_UNDER_TEST` (`rkube`, the default, or `etcd`).
    ///
    /// # Panics
    /// On any other value.
    pub fn from_env() -> Self {
        match std::env::var("RKUBE_STORE_UNDER_TEST").as_deref() {
            Err(_) | Ok("") | Ok("rkube") => Self::Rkube,
            Ok("etcd") => Self::Etcd,
            Ok(other) => panic!("RKUBE_STORE_UNDER_TEST={other:?}: expected `rkube` or `etcd`"),
        }
    }

    /// The command that starts one member, before its flags.
    fn command(self) -> anyhow::Result<Command> {
        match self {
            Self::Rkube => {
                let mut cmd = clean_command(&rkube_binary()?);
                cmd.arg("store");
                Ok(cmd)
            }
            Self::Etcd => {
                let etcd = find_on_path("etcd").context(
                    "RKUBE_STORE_UNDER_TEST=etcd but no etcd binary is installed \
                     (apt-get install etcd-server)",
                )?;
                Ok(clean_command(&etcd))
            }
        }
    }
}

/// The `rkube` binary: `$RKUBE_BIN`, or `rkube` in a directory above the running test
/// executable (`target/debug/deps/x` finds `target/debug/rkube`).
///
/// # Errors
/// If there is none, saying how to build it.
pub fn rkube_binary() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("RKUBE_BIN") {
        let bin = PathBuf::from(bin);
        if bin.is_file() {
            return Ok(bin);
        }
        bail!("RKUBE_BIN={} is not a file", bin.display());
    }
    let exe = std::env::current_exe().context("failed to find the test executable's path")?;
    let found = exe
        .ancestors()
        .skip(1)
        .take(3)
        .map(|dir| dir.join("rkube"))
        .find(|p| p.is_file());
    found.with_context(|| {
        format!(
            "the rkube binary was not found in the directories above {}; build it first with \
             `cargo build --bin rkube` (.ci/run does), or point RKUBE_BIN at it",
            exe.display()
        )
    })
}

/// Raft timing and extra flags for the members the harness starts.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub heartbeat_ms: u64,
    pub election_ms: u64,
    /// More flags, appended as given (e.g. `--max-request-bytes`, `--snapshot-count`).
    pub extra_args: Vec<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            heartbeat_ms: 100,
            election_ms: 1000,
            extra_args: Vec::new(),
        }
    }
}

/// A scratch directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    /// Creates a new, empty, uniquely named directory.
    ///
    /// # Errors
    /// If it cannot be created.
    pub fn new() -> anyhow::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "rkube-test-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&path)
            .with_context(|| format!("failed to create {}", path.display()))?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::env::var_os("RKUBE_KEEP_TEST_DIRS").is_none() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Free loopback ports, all distinct: each is bound at once and released together.
///
/// # Errors
/// If the system hands out no port.
pub fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .context("failed to reserve a free port on 127.0.0.1")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect::<std::io::Result<_>>()
        .context("failed to read a reserved port")
}

/// The etcd-style flags of one member of a new cluster (rkube store and etcd take the same).
#[derive(Debug)]
pub struct MemberFlags<'a> {
    pub name: &'a str,
    pub data_dir: &'a Path,
    pub client_url: &'a str,
    pub peer_url: &'a str,
    pub initial_cluster: &'a str,
    pub token: &'a str,
    pub options: &'a StoreOptions,
}

/// Appends `flags` to `cmd`.
pub fn member_flags(cmd: &mut Command, flags: &MemberFlags<'_>) {
    cmd.args(["--name", flags.name])
        .arg("--data-dir")
        .arg(flags.data_dir)
        .args(["--listen-client-urls", flags.client_url])
        .args(["--advertise-client-urls", flags.client_url])
        .args(["--listen-peer-urls", flags.peer_url])
        .args(["--initial-advertise-peer-urls", flags.peer_url])
        .args(["--initial-cluster", flags.initial_cluster])
        .args(["--initial-cluster-state", "new"])
        .args(["--initial-cluster-token", flags.token])
        .arg("--heartbeat-interval")
        .arg(flags.options.heartbeat_ms.to_string())
        .arg("--election-timeout")
        .arg(flags.options.election_ms.to_string())
        .args(&flags.options.extra_args);
}

/// How one member is started; kept so it can be started again on the same data dir.
#[derive(Debug, Clone)]
struct MemberSpec {
    name: String,
    client_port: u16,
    peer_port: u16,
    initial_cluster: String,
    token: String,
    options: StoreOptions,
}

impl MemberSpec {
    fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }
}

/// One running (or stopped) store member; killed with SIGKILL on drop.
#[derive(Debug)]
pub struct StoreProcess {
    kind: StoreKind,
    spec: MemberSpec,
    dir: Arc<TestDir>,
    child: Option<Child>,
}

impl StoreProcess {
    /// Starts a one-member store with default options and waits until it serves.
    ///
    /// # Errors
    /// If it does not start or does not become healthy in time (with its log).
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(StoreOptions::default())
    }

    /// Starts a one-member store with `options` and waits until it serves.
    ///
    /// # Errors
    /// If it does not start or does not become healthy in time (with its log).
    pub fn start_with(options: StoreOptions) -> anyhow::Result<Self> {
        Self::start_kind(StoreKind::from_env(), options)
    }

    /// Starts a one-member store of `kind` (rkube or etcd, whatever the environment says).
    ///
    /// # Errors
    /// As [`StoreProcess::start`].
    pub fn start_kind(kind: StoreKind, options: StoreOptions) -> anyhow::Result<Self> {
        retry_port_clash(|| {
            let [client_port, peer_port] = free_ports(2)?[..] else {
                bail!("free_ports returned the wrong count");
            };
            let spec = MemberSpec {
                name: "s1".into(),
                client_port,
                peer_port,
                initial_cluster: format!("s1=http://127.0.0.1:{peer_port}"),
                token: "rkube-test".into(),
                options: options.clone(),
            };
            let mut member = Self {
                kind,
                spec,
                dir: Arc::new(TestDir::new()?),
                child: None,
            };
            member.spawn()?;
            member.wait_ready(READY_TIMEOUT)?;
            Ok(member)
        })
    }

    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// `http://127.0.0.1:PORT`, the client URL.
    pub fn client_url(&self) -> String {
        self.spec.client_url()
    }

    pub fn peer_url(&self) -> String {
        self.spec.peer_url()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join(format!("{}.data", self.spec.name))
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("{}.log", self.spec.name))
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// etcdctl pointed at this member alone, or `None` if etcdctl is not installed.
    pub fn etcdctl(&self) -> Option<Etcdctl> {
        Etcdctl::new(&self.client_url())
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("member {} is already running", self.spec.name);
        }
        let log_path = self.log_path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("failed to open {}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .with_context(|| format!("failed to reopen {}", log_path.display()))?;
        let s = &self.spec;
        let mut cmd = self.kind.command()?;
        member_flags(
            &mut cmd,
            &MemberFlags {
                name: &s.name,
                data_dir: &self.data_dir(),
                client_url: &s.client_url(),
                peer_url: &s.peer_url(),
                initial_cluster: &s.initial_cluster,
                token: &s.token,
                options: &s.options,
            },
        );
        cmd.stdout(Stdio::from(log)).stderr(Stdio::from(log_err));
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("failed to start member {}", s.name))?;
        self.child = Some(child);
        Ok(())
    }

    /// Whether the process is still running (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_)) | Err(_)) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// Waits until the member answers `etcdctl endpoint health` (or, without etcdctl, accepts
    /// a TCP connection).
    ///
    /// # Errors
    /// If the process exits or `timeout` passes first; the error carries the log's tail.
    pub fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let ctl = self.etcdctl();
        let addr = SocketAddr::from(([127, 0, 0, 1], self.spec.client_port));
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                bail!(
                    "member {} exited during startup ({status}); its log ends:\n{}",
                    self.spec.name,
                    self.log_tail()
                );
            }
            if self.child.is_none() {
                bail!("member {} is not running", self.spec.name);
            }
            let connected = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok();
            let healthy = connected
                && ctl
                    .as_ref()
                    .is_none_or(|ctl| ctl.run(&["endpoint", "health"]).success);
            if healthy {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "member {} did not become healthy within {timeout:?}; its log ends:\n{}",
                    self.spec.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the process with SIGKILL (no chance to flush anything) and reaps it.
    ///
    /// # Errors
    /// If it was not running or cannot be killed.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        let mut child = self
            .child
            .take()
            .with_context(|| format!("member {} is not running", self.spec.name))?;
        child.kill().context("failed to send SIGKILL")?;
        child.wait().context("failed to reap the killed member")?;
        Ok(())
    }

    /// Sends SIGTERM and waits up to `timeout` for the process to exit.
    ///
    /// # Errors
    /// If it was not running, or did not exit in time (it is then killed).
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        self.signal_and_wait("TERM", timeout)
    }

    /// Sends SIGINT (as Ctrl-C would) and waits up to `timeout` for the process to exit.
    ///
    /// # Errors
    /// If it was not running, or did not exit in time (it is then killed).
    pub fn interrupt(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        self.signal_and_wait("INT", timeout)
    }

    fn signal_and_wait(&mut self, signal: &str, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let mut child = self
            .child
            .take()
            .with_context(|| format!("member {} is not running", self.spec.name))?;
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .context("failed to run kill")?;
        if !sent.success() {
            bail!("kill -{signal} {} failed", child.id());
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().context("failed to wait for the member")? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "member {} did not exit within {timeout:?} of SIGTERM; killed it. Log ends:\n{}",
                    self.spec.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the member again on the same data dir and ports, and waits until it serves.
    ///
    /// # Errors
    /// If it is still running, or does not come back in time.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.spawn()?;
        self.wait_ready(READY_TIMEOUT)
    }

    /// Starts the member again without waiting (for clusters, where health needs a quorum).
    ///
    /// # Errors
    /// If it is still running or cannot be started.
    pub fn restart_no_wait(&mut self) -> anyhow::Result<()> {
        self.spawn()
    }

    /// The last 8 KiB of the member's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let read = || -> std::io::Result<String> {
            let mut file = File::open(self.log_path())?;
            let len = file.metadata()?.len();
            file.seek(SeekFrom::Start(len.saturating_sub(8192)))?;
            let mut buf = Vec::new();
            file.read_to_end(&mut buf)?;
            Ok(String::from_utf8_lossy(&buf).into_owned())
        };
        read().unwrap_or_else(|e| format!("(no log: {e})"))
    }
}

impl Drop for StoreProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A cluster of members on 127.0.0.1, each with its own ports and data dir.
#[derive(Debug)]
pub struct StoreCluster {
    members: Vec<StoreProcess>,
}

impl StoreCluster {
    /// Starts `size` members together and waits until each serves.
    ///
    /// # Errors
    /// If any member does not start or become healthy in time (with its log).
    pub fn start(size: usize) -> anyhow::Result<Self> {
        Self::start_with(size, StoreOptions::default())
    }

    /// Starts `size` members with `options` and waits until each serves.
    ///
    /// # Errors
    /// If any member does not start or become healthy in time (with its log).
    pub fn start_with(size: usize, options: StoreOptions) -> anyhow::Result<Self> {
        retry_port_clash(|| {
            let ports = free_ports(2 * size)?;
            let dir = Arc::new(TestDir::new()?);
            let specs: Vec<MemberSpec> = (0..size)
                .map(|i| MemberSpec {
                    name: format!("m{}", i + 1),
                    client_port: ports[2 * i],
                    peer_port: ports[2 * i + 1],
                    initial_cluster: String::new(),
                    token: "rkube-test-cluster".into(),
                    options: options.clone(),
                })
                .collect();
            let initial_cluster = specs
                .iter()
                .map(|s| format!("{}={}", s.name, s.peer_url()))
                .collect::<Vec<_>>()
                .join(",");
            let kind = StoreKind::from_env();
            let mut members = specs
                .into_iter()
                .map(|spec| StoreProcess {
                    kind,
                    spec: MemberSpec {
                        initial_cluster: initial_cluster.clone(),
                        ..spec
                    },
                    dir: dir.clone(),
                    child: None,
                })
                .collect::<Vec<_>>();
            for m in &mut members {
                m.spawn()?;
            }
            for m in &mut members {
                m.wait_ready(READY_TIMEOUT)?;
            }
            Ok(Self { members })
        })
    }

    pub fn members(&self) -> &[StoreProcess] {
        &self.members
    }

    /// Member `i` (0-based).
    ///
    /// # Panics
    /// If there is no such member.
    pub fn member(&mut self, i: usize) -> &mut StoreProcess {
        &mut self.members[i]
    }

    /// The client URLs of every member, comma-separated (for `--endpoints`).
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(StoreProcess::client_url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// etcdctl pointed at every member, or `None` if etcdctl is not installed.
    pub fn etcdctl(&self) -> Option<Etcdctl> {
        Etcdctl::new(&self.endpoints())
    }
}

/// Runs `start` again (up to [`START_ATTEMPTS`] times) when it failed because a port that was
/// free a moment ago got taken by someone else.
fn retry_port_clash<T>(mut start: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let mut attempt = 1;
    loop {
        match start() {
            Ok(v) => return Ok(v),
            Err(e) if attempt < START_ATTEMPTS && format!("{e:#}").contains("in use") => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}
