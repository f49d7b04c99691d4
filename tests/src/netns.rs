//! Store clusters in network namespaces on one host, with kill, pause and partition faults.
//!
//! One cluster is a set of namespaces whose names all start with `rkt-<pid>-<n>-`, so parallel
//! test processes never meet and [`NetnsCluster::start`] can sweep what a killed run left behind:
//! - `<prefix>-world`: a bridge `br0` holding 10.99.0.1/24 and nothing else; its only route is
//!   the bridge's own subnet, so nothing sent from it can leave the machine. Clients run here, on
//!   threads that entered it ([`World`]).
//! - `<prefix>-m<i>`: member `m<i>`, whose `eth0` (10.99.0.1<i>/24) is a veth with its peer
//!   `vm<i>` on the bridge. The member runs as `ip netns exec <ns> rkube store ...`.
//!
//! Nothing is ever created in the host's namespace: every link is made inside a namespace of the
//! cluster, and no address or route is added outside them. Faults are signals to a member's
//! process ([`NetnsCluster::kill9`], [`NetnsCluster::pause`]) and nftables drop rules inside a
//! member's namespace ([`NetnsCluster::partition`]). [`NetnsCluster::teardown`] (also run on
//! drop) kills every process and deletes every namespace, then checks `ip netns list`.
//!
//! Needs root, `ip` (iproute2) and `nft` (nftables): see [`check_prerequisites`].

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use etcd_client::{Client, ConnectOptions};
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::etcdctl::{clean_command, find_on_path};
use crate::store_proc::{
    member_flags, rkube_binary, MemberFlags, StoreKind, StoreOptions, TestDir,
};

/// How long a started cluster, or a healed one, gets until every member serves.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Every namespace this module creates starts with this.
const NAME_PREFIX: &str = "rkt-";
/// The cluster's private subnet; it exists only inside the cluster's namespaces.
const SUBNET: [u8; 3] = [10, 99, 0];
/// The world's address on the bridge (host part).
const WORLD_HOST: u8 = 1;
/// Member `i` (0-based) gets host part `FIRST_MEMBER_HOST + i`.
const FIRST_MEMBER_HOST: u8 = 11;
const CLIENT_PORT: u16 = 2379;
const PEER_PORT: u16 = 2380;
/// The nftables table (family `inet`) holding a member's partition rules.
const PARTITION_TABLE: &str = "rkt";
/// How long one readiness or status request may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why these tests cannot run here, or `Ok` if they can: they need root, `ip` and `nft`.
///
/// # Errors
/// A sentence naming what is missing.
pub fn check_prerequisites() -> Result<(), String> {
    let mut missing = Vec::new();
    if effective_uid() != Some(0) {
        missing.push("root");
    }
    if find_tool("ip").is_none() {
        missing.push("ip (iproute2)");
    }
    if find_tool("nft").is_none() {
        missing.push("nft (nftables)");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("missing: {}", missing.join(", ")))
    }
}

/// The effective user id, from `/proc/self/status`.
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// A system tool on `PATH` or in the sbin directories (which a non-login root shell may lack).
fn find_tool(name: &str) -> Option<PathBuf> {
    find_on_path(name).or_else(|| {
        ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .map(|dir| Path::new(dir).join(name))
            .find(|p| p.is_file())
    })
}

/// Runs `cmd` to completion and returns its stdout.
fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `ip ARGS...`.
fn ip(args: &[&str]) -> anyhow::Result<String> {
    let tool = find_tool("ip").context("`ip` is not installed (apt-get install iproute2)")?;
    run(Command::new(tool).args(args))
}

/// The names in `ip netns list`.
///
/// # Errors
/// If `ip` cannot be run.
pub fn list_namespaces() -> anyhow::Result<Vec<String>> {
    Ok(ip(&["netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// Kills every process inside namespace `ns` and deletes it.
fn destroy_namespace(ns: &str) -> anyhow::Result<()> {
    if let Ok(pids) = ip(&["netns", "pids", ns]) {
        for pid in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    ip(&["netns", "delete", ns]).map(drop)
}

/// Deletes the namespaces of clusters whose test process is gone (a run killed before its
/// teardown), so they do not pile up.
fn sweep_stale() {
    let Ok(names) = list_namespaces() else { return };
    for name in names {
        let Some(pid) = name
            .strip_prefix(NAME_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = destroy_namespace(&name);
        }
    }
}

/// The world namespace: where clients run. Cheap to clone.
#[derive(Debug, Clone)]
pub struct World {
    name: String,
}

impl World {
    /// The namespace's name (for `ip netns exec`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Moves the calling thread into the world's network namespace. Sockets the thread opens
    /// afterwards, and threads it spawns afterwards, live there.
    ///
    /// # Errors
    /// If the namespace does not exist or `setns` fails.
    pub fn enter(&self) -> anyhow::Result<()> {
        let path = format!("/run/netns/{}", self.name);
        let ns = File::open(&path).with_context(|| format!("failed to open {path}"))?;
        setns(&ns, CloneFlags::CLONE_NEWNET)
            .with_context(|| format!("failed to enter network namespace {}", self.name))
    }

    /// Runs `f` to completion on a new thread inside the world, with a current-thread tokio
    /// runtime of its own (so every socket of the future is in the world).
    ///
    /// # Errors
    /// If the thread cannot enter the world or build its runtime.
    ///
    /// # Panics
    /// If `f` or its future panics (the panic is passed on).
    pub fn block_on<T, Fut, F>(&self, f: F) -> anyhow::Result<T>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = T>,
        T: Send,
    {
        std::thread::scope(|s| {
            let thread = s.spawn(|| -> anyhow::Result<T> {
                self.enter()?;
                Ok(current_thread_runtime()?.block_on(f()))
            });
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// As [`World::block_on`], but returns at once with the thread's handle.
    pub fn spawn<T, Fut, F>(&self, f: F) -> JoinHandle<anyhow::Result<T>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
        T: Send + 'static,
    {
        let world = self.clone();
        std::thread::spawn(move || {
            world.enter()?;
            Ok(current_thread_runtime()?.block_on(f()))
        })
    }
}

fn current_thread_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to build a tokio runtime")
}

/// One member: its namespace, address and process.
#[derive(Debug)]
struct NsMember {
    name: String,
    netns: String,
    ip: Ipv4Addr,
    child: Option<Child>,
    paused: bool,
    partitioned: bool,
}

/// A store cluster whose members each live in a network namespace of their own, reachable from
/// the [`World`]. Torn down on drop.
#[derive(Debug)]
pub struct NetnsCluster {
    prefix: String,
    world: World,
    members: Vec<NsMember>,
    /// Namespaces created so far, in creation order (deleted in reverse).
    created: Vec<String>,
    kind: StoreKind,
    options: StoreOptions,
    initial_cluster: String,
    /// Raft member id to member index.
    ids: HashMap<u64, usize>,
    dir: TestDir,
    torn_down: bool,
}

impl NetnsCluster {
    /// Builds the namespaces, starts `size` members (at most 9) with `options`, and waits until
    /// each serves a linearizable read from the world.
    ///
    /// # Errors
    /// If a prerequisite is missing, a namespace or link cannot be made, or a member does not
    /// become ready in time (with its log). What was built is torn down.
    pub fn start(size: usize, options: StoreOptions) -> anyhow::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        check_prerequisites().map_err(|e| anyhow!("cannot build namespaces: {e}"))?;
        if !(1..=9).contains(&size) {
            bail!("a cluster has 1 to 9 members, not {size}");
        }
        sweep_stale();
        let prefix = format!(
            "{NAME_PREFIX}{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let members: Vec<NsMember> = (0..size)
            .map(|i| NsMember {
                name: format!("m{}", i + 1),
                netns: format!("{prefix}-m{}", i + 1),
                ip: member_ip(i),
                child: None,
                paused: false,
                partitioned: false,
            })
            .collect();
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}=http://{}:{PEER_PORT}", m.name, m.ip))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = Self {
            world: World {
                name: format!("{prefix}-world"),
            },
            prefix,
            members,
            created: Vec::new(),
            kind: StoreKind::from_env(),
            options,
            initial_cluster,
            ids: HashMap::new(),
            dir: TestDir::new()?,
            torn_down: false,
        };
        cluster.build_network()?;
        for i in 0..size {
            cluster.restart(i)?;
        }
        cluster.wait_ready(READY_TIMEOUT)?;
        cluster.learn_ids()?;
        Ok(cluster)
    }

    /// Creates the world with its bridge, and each member's namespace with its veth.
    fn build_network(&mut self) -> anyhow::Result<()> {
        let world = self.world.name.clone();
        self.add_namespace(&world)?;
        let world_ip = format!(
            "{}/24",
            Ipv4Addr::new(SUBNET[0], SUBNET[1], SUBNET[2], WORLD_HOST)
        );
        ip(&["-n", &world, "link", "set", "lo", "up"])?;
        ip(&["-n", &world, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &world, "addr", "add", &world_ip, "dev", "br0"])?;
        ip(&["-n", &world, "link", "set", "br0", "up"])?;
        for i in 0..self.members.len() {
            let ns = self.members[i].netns.clone();
            let port = format!("v{}", self.members[i].name);
            let addr = format!("{}/24", self.members[i].ip);
            self.add_namespace(&ns)?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            // Both ends are made inside the cluster's namespaces: the host's never sees them.
            ip(&[
                "-n", &ns, "link", "add", "eth0", "type", "veth", "peer", "name", &port, "netns",
                &world,
            ])?;
            ip(&["-n", &world, "link", "set", &port, "master", "br0"])?;
            ip(&["-n", &world, "link", "set", &port, "up"])?;
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        }
        // The network rule: no default route anywhere in the cluster.
        for ns in &self.created {
            let routes = ip(&["-n", ns, "route", "show", "default"])?;
            if !routes.trim().is_empty() {
                bail!("namespace {ns} has a default route ({routes}); refusing to go on");
            }
        }
        Ok(())
    }

    fn add_namespace(&mut self, ns: &str) -> anyhow::Result<()> {
        ip(&["netns", "add", ns])?;
        self.created.push(ns.to_string());
        Ok(())
    }

    /// Reads the raft member ids (from the member list) so that status answers can be mapped to
    /// members.
    fn learn_ids(&mut self) -> anyhow::Result<()> {
        let urls = self.client_urls();
        let names: Vec<String> = self.members.iter().map(|m| m.name.clone()).collect();
        let list = self.world.block_on(|| async move {
            let mut client = Client::connect(&urls, Some(connect_options())).await?;
            let resp = tokio::time::timeout(Duration::from_secs(5), client.member_list())
                .await
                .context("member list timed out")??;
            anyhow::Ok(
                resp.members()
                    .iter()
                    .map(|m| (m.id(), m.name().to_string()))
                    .collect::<Vec<_>>(),
            )
        })??;
        for (id, name) in list {
            if let Some(i) = names.iter().position(|n| *n == name) {
                self.ids.insert(id, i);
            }
        }
        if self.ids.len() != self.members.len() {
            bail!("the member list names {:?}, expected {names:?}", self.ids);
        }
        Ok(())
    }

    /// The world namespace, where clients must run.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// How many members the cluster has.
    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// Member `i`'s name (`m1`, `m2`, ...).
    ///
    /// # Panics
    /// If there is no member `i` (as do the other methods taking a member index).
    pub fn name(&self, i: usize) -> &str {
        &self.members[i].name
    }

    /// Member `i`'s address on the cluster subnet.
    pub fn ip(&self, i: usize) -> Ipv4Addr {
        self.members[i].ip
    }

    /// Member `i`'s client URL (reachable from the world only).
    pub fn client_url(&self, i: usize) -> String {
        format!("http://{}:{CLIENT_PORT}", self.members[i].ip)
    }

    /// Every member's client URL.
    pub fn client_urls(&self) -> Vec<String> {
        (0..self.members.len())
            .map(|i| self.client_url(i))
            .collect()
    }

    /// Member `i`'s process id, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.members[i].child.as_ref().map(Child::id)
    }

    /// Whether member `i`'s process runs (stopped by [`NetnsCluster::pause`] counts as running).
    pub fn is_running(&mut self, i: usize) -> bool {
        let member = &mut self.members[i];
        match member.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_)) | Err(_)) => {
                member.child = None;
                member.paused = false;
                false
            }
            None => false,
        }
    }

    pub fn is_paused(&self, i: usize) -> bool {
        self.members[i].paused
    }

    pub fn is_partitioned(&self, i: usize) -> bool {
        self.members[i].partitioned
    }

    fn data_dir(&self, i: usize) -> PathBuf {
        self.dir
            .path()
            .join(format!("{}.data", self.members[i].name))
    }

    /// Member `i`'s log (stdout and stderr of every run, appended).
    pub fn log_path(&self, i: usize) -> PathBuf {
        self.dir
            .path()
            .join(format!("{}.log", self.members[i].name))
    }

    /// The last `bytes` of member `i`'s log.
    pub fn log_tail(&self, i: usize, bytes: u64) -> String {
        let read = || -> std::io::Result<String> {
            let mut file = File::open(self.log_path(i))?;
            let len = file.metadata()?.len();
            file.seek(SeekFrom::Start(len.saturating_sub(bytes)))?;
            let mut buf = Vec::new();
            file.read_to_end(&mut buf)?;
            Ok(String::from_utf8_lossy(&buf).into_owned())
        };
        read().unwrap_or_else(|e| format!("(no log: {e})"))
    }

    /// Starts member `i` (again, on the same data dir and address) without waiting for it.
    ///
    /// # Errors
    /// If it is running, or cannot be started.
    pub fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        if self.is_running(i) {
            bail!("member {} is already running", self.members[i].name);
        }
        let log_path = self.log_path(i);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("failed to open {}", log_path.display()))?;
        let log_err = log.try_clone().context("failed to reopen the log")?;
        let ip_tool = find_tool("ip").context("`ip` is not installed")?;
        let m = &self.members[i];
        let client_url = format!("http://{}:{CLIENT_PORT}", m.ip);
        let peer_url = format!("http://{}:{PEER_PORT}", m.ip);
        let mut cmd = clean_command(&ip_tool);
        cmd.args(["netns", "exec", &m.netns]);
        match self.kind {
            StoreKind::Rkube => {
                cmd.arg(rkube_binary()?).arg("store");
            }
            StoreKind::Etcd => {
                cmd.arg(find_on_path("etcd").context("RKUBE_STORE_UNDER_TEST=etcd but no etcd")?);
            }
        }
        // `ip netns exec` execs the store in place: the child's pid is the store's.
        member_flags(
            &mut cmd,
            &MemberFlags {
                name: &m.name,
                data_dir: &self.data_dir(i),
                client_url: &client_url,
                peer_url: &peer_url,
                initial_cluster: &self.initial_cluster,
                token: &self.prefix,
                options: &self.options,
            },
        );
        cmd.stdout(Stdio::from(log)).stderr(Stdio::from(log_err));
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("failed to start member {}", m.name))?;
        let m = &mut self.members[i];
        m.child = Some(child);
        m.paused = false;
        Ok(())
    }

    /// Kills member `i` with SIGKILL (no chance to flush anything) and reaps it.
    ///
    /// # Errors
    /// If it was not running.
    pub fn kill9(&mut self, i: usize) -> anyhow::Result<()> {
        let m = &mut self.members[i];
        let mut child = m
            .child
            .take()
            .with_context(|| format!("member {} is not running", m.name))?;
        m.paused = false;
        child.kill().context("failed to send SIGKILL")?;
        child.wait().context("failed to reap the killed member")?;
        Ok(())
    }

    /// Stops member `i` with SIGSTOP: it keeps its sockets but answers nothing.
    ///
    /// # Errors
    /// If it is not running or the signal fails.
    pub fn pause(&mut self, i: usize) -> anyhow::Result<()> {
        self.signal(i, Signal::SIGSTOP)?;
        self.members[i].paused = true;
        Ok(())
    }

    /// Lets a paused member `i` go on with SIGCONT.
    ///
    /// # Errors
    /// If it is not running or the signal fails.
    pub fn resume(&mut self, i: usize) -> anyhow::Result<()> {
        self.signal(i, Signal::SIGCONT)?;
        self.members[i].paused = false;
        Ok(())
    }

    fn signal(&mut self, i: usize, signal: Signal) -> anyhow::Result<()> {
        let pid = self
            .pid(i)
            .with_context(|| format!("member {} is not running", self.members[i].name))?;
        let pid = i32::try_from(pid).context("pid out of range")?;
        kill(Pid::from_raw(pid), signal)
            .with_context(|| format!("failed to send {signal} to member {i}"))
    }

    /// Cuts member `i` off from `others` in both directions: inside `i`'s namespace, nftables
    /// drops every packet from or to their addresses. Clients in the world still reach `i`.
    /// Replaces any partition `i` already had.
    ///
    /// # Errors
    /// If `nft` fails.
    pub fn partition(&mut self, i: usize, others: &[usize]) -> anyhow::Result<()> {
        self.heal(i)?;
        if others.is_empty() {
            return Ok(());
        }
        let addrs = others
            .iter()
            .map(|&o| self.members[o].ip.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let t = PARTITION_TABLE;
        // One nft invocation is one transaction: the rules appear together.
        let script = format!(
            "add table inet {t}; \
             add chain inet {t} input {{ type filter hook input priority 0; policy accept; }}; \
             add chain inet {t} output {{ type filter hook output priority 0; policy accept; }}; \
             add rule inet {t} input ip saddr {{ {addrs} }} drop; \
             add rule inet {t} output ip daddr {{ {addrs} }} drop"
        );
        self.nft(i, &[&script])?;
        self.members[i].partitioned = true;
        Ok(())
    }

    /// Removes member `i`'s partition rules, if any.
    ///
    /// # Errors
    /// If `nft` fails.
    pub fn heal(&mut self, i: usize) -> anyhow::Result<()> {
        if self.members[i].partitioned {
            self.nft(i, &["delete", "table", "inet", PARTITION_TABLE])?;
            self.members[i].partitioned = false;
        }
        Ok(())
    }

    fn nft(&self, i: usize, args: &[&str]) -> anyhow::Result<String> {
        let nft = find_tool("nft").context("`nft` is not installed (apt-get install nftables)")?;
        let nft = nft.to_string_lossy().into_owned();
        let mut all = vec!["netns", "exec", &self.members[i].netns, nft.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Undoes every fault: resumes paused members, removes partitions, restarts killed members.
    ///
    /// # Errors
    /// The first fault that could not be undone.
    pub fn heal_all(&mut self) -> anyhow::Result<()> {
        for i in 0..self.members.len() {
            self.heal(i)?;
            if self.is_running(i) {
                if self.members[i].paused {
                    self.resume(i)?;
                }
            } else {
                self.restart(i)?;
            }
        }
        Ok(())
    }

    /// Waits until every running member answers a linearizable read from the world.
    ///
    /// # Errors
    /// If a member exits, or `timeout` passes first (with the log tail of each member not ready).
    pub fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut pending: Vec<usize> = (0..self.members.len()).collect();
        loop {
            for &i in &pending {
                if !self.is_running(i) {
                    bail!(
                        "member {} is not running; its log ends:\n{}",
                        self.members[i].name,
                        self.log_tail(i, 8192)
                    );
                }
            }
            let urls: Vec<String> = pending.iter().map(|&i| self.client_url(i)).collect();
            let ready = self.world.block_on(|| async move {
                let probes = urls.iter().map(|url| async move {
                    let mut client = Client::connect([url], Some(connect_options())).await.ok()?;
                    let get = client.get("rkt-ready-probe", None);
                    tokio::time::timeout(PROBE_TIMEOUT, get).await.ok()?.ok()
                });
                futures::future::join_all(probes).await
            })?;
            pending = pending
                .into_iter()
                .zip(ready)
                .filter(|(_, answered)| answered.is_none())
                .map(|(i, _)| i)
                .collect();
            if pending.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let logs = pending
                    .iter()
                    .map(|&i| {
                        format!(
                            "--- {} log ends:\n{}",
                            self.members[i].name,
                            self.log_tail(i, 8192)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                bail!("members {pending:?} did not serve within {timeout:?}\n{logs}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The member the reachable members name as leader (the most named one), if any.
    ///
    /// # Errors
    /// If the world cannot be entered.
    pub fn leader(&mut self) -> anyhow::Result<Option<usize>> {
        let urls: Vec<String> = (0..self.members.len())
            .filter(|&i| self.members[i].child.is_some() && !self.members[i].paused)
            .map(|i| self.client_url(i))
            .collect();
        let leaders = self.world.block_on(|| async move {
            let asks = urls.iter().map(|url| async move {
                let mut client = Client::connect([url], Some(connect_options())).await.ok()?;
                let status = tokio::time::timeout(PROBE_TIMEOUT, client.status()).await;
                status.ok()?.ok().map(|s| s.leader())
            });
            futures::future::join_all(asks).await
        })?;
        let mut votes: HashMap<usize, usize> = HashMap::new();
        for id in leaders.into_iter().flatten() {
            if let Some(&i) = self.ids.get(&id) {
                *votes.entry(i).or_default() += 1;
            }
        }
        Ok(votes
            .into_iter()
            .max_by_key(|&(i, n)| (n, usize::MAX - i))
            .map(|(i, _)| i))
    }

    /// Kills every member, deletes every namespace of the cluster, and checks with
    /// `ip netns list` that none is left. Runs once; later calls do nothing.
    ///
    /// # Errors
    /// If a namespace could not be deleted or is still listed.
    pub fn teardown(&mut self) -> anyhow::Result<()> {
        if self.torn_down {
            return Ok(());
        }
        self.torn_down = true;
        for m in &mut self.members {
            if let Some(mut child) = m.child.take() {
                // SIGKILL ends a stopped process too.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let mut errors = Vec::new();
        for ns in self.created.iter().rev() {
            if let Err(e) = destroy_namespace(ns) {
                errors.push(format!("{e:#}"));
            }
        }
        let prefix = format!("{}-", self.prefix);
        let left: Vec<String> = list_namespaces()?
            .into_iter()
            .filter(|n| n.starts_with(&prefix))
            .collect();
        if !left.is_empty() || !errors.is_empty() {
            bail!("teardown left namespaces {left:?}; errors: {errors:?}");
        }
        Ok(())
    }
}

impl Drop for NetnsCluster {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("netns cluster {}: {e:#}", self.prefix);
        }
    }
}

/// Member `i`'s address.
fn member_ip(i: usize) -> Ipv4Addr {
    let host = FIRST_MEMBER_HOST + u8::try_from(i).unwrap_or(u8::MAX - FIRST_MEMBER_HOST);
    Ipv4Addr::new(SUBNET[0], SUBNET[1], SUBNET[2], host)
}

/// Short timeouts, so that probes of a dead or cut-off member fail fast.
fn connect_options() -> ConnectOptions {
    ConnectOptions::new()
        .with_connect_timeout(PROBE_TIMEOUT)
        .with_timeout(PROBE_TIMEOUT)
}

/// A network namespace of a test's own (`ip netns add`), deleted (with every process in it)
/// when dropped.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `rkube-test-<pid>-<label>-<n>` with its loopback up.
    ///
    /// # Errors
    /// If a prerequisite is missing or `ip` fails.
    pub fn create(label: &str) -> anyhow::Result<Netns> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        check_prerequisites().map_err(|e| anyhow!("cannot build namespaces: {e}"))?;
        sweep_stale();
        let name = format!(
            "{NAME_PREFIX}{}-{label}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip ARGS...` inside the namespace.
    ///
    /// # Errors
    /// If the command fails (with its stderr).
    pub fn ip(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// Runs a command inside the namespace (`ip netns exec`), returning its stdout.
    ///
    /// # Errors
    /// If it cannot run or fails.
    pub fn exec(&self, program: &str, args: &[&str]) -> anyhow::Result<String> {
        let tool = find_tool("ip").context("`ip` is not installed (apt-get install iproute2)")?;
        run(Command::new(tool)
            .args(["netns", "exec", &self.name, program])
            .args(args))
    }

    /// Runs `f` on a thread inside the namespace (its sockets and child processes live there).
    ///
    /// # Errors
    /// If the thread cannot enter the namespace.
    ///
    /// # Panics
    /// If `f` panics (the panic is passed on).
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
        std::thread::scope(|s| {
            s.spawn(|| {
                let path = format!("/run/netns/{}", self.name);
                let ns = File::open(&path).with_context(|| format!("failed to open {path}"))?;
                setns(&ns, CloneFlags::CLONE_NEWNET)
                    .with_context(|| format!("failed to enter network namespace {}", self.name))?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = destroy_namespace(&self.name);
    }
}
