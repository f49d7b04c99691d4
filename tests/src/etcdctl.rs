//! Runs the real `etcdctl` (API v3; Debian's etcd-client) against test endpoints, for tests.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// Environment variables that would redirect etcdctl's connections or change its defaults.
const SCRUBBED_ENV_PREFIXES: [&str; 2] = ["ETCDCTL_", "ETCD_"];
const SCRUBBED_ENV: [&str; 6] = [
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// Where `etcdctl` is: `$ETCDCTL_BIN`, else the first `etcdctl` on `PATH`, else `/usr/bin`.
pub fn find_etcdctl() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("ETCDCTL_BIN") {
        return Some(PathBuf::from(bin)).filter(|p| p.is_file());
    }
    find_on_path("etcdctl")
}

/// The first executable file called `name` on `PATH`, then in `/usr/bin`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A command for `bin` with a clean environment for an etcd client: API v3, and no proxy or
/// `ETCD*` variable inherited from whoever runs the tests.
pub fn clean_command(bin: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if SCRUBBED_ENV_PREFIXES.iter().any(|p| key.starts_with(p)) || SCRUBBED_ENV.contains(&key) {
            cmd.env_remove(key);
        }
    }
    cmd.env("ETCDCTL_API", "3")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null());
    cmd
}

/// What one etcdctl invocation did.
#[derive(Debug, Clone)]
pub struct CtlOutput {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CtlOutput {
    /// The last line etcdctl printed to stderr that starts with `Error:`, or all of stderr.
    pub fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("Error:"))
            .unwrap_or(self.stderr.trim())
    }
}

/// etcdctl pointed at one set of endpoints.
#[derive(Debug, Clone)]
pub struct Etcdctl {
    bin: PathBuf,
    endpoints: String,
    command_timeout: Duration,
}

impl Etcdctl {
    /// etcdctl for `endpoints` (comma-separated URLs), or `None` if etcdctl is not installed.
    pub fn new(endpoints: &str) -> Option<Self> {
        Some(Self {
            bin: find_etcdctl()?,
            endpoints: endpoints.to_string(),
            command_timeout: Duration::from_secs(15),
        })
    }

    /// The same etcdctl, pointed at other endpoints.
    pub fn with_endpoints(&self, endpoints: &str) -> Self {
        Self {
            endpoints: endpoints.to_string(),
            ..self.clone()
        }
    }

    /// The same etcdctl, giving up on each command after `timeout` (default 15s).
    pub fn with_command_timeout(&self, timeout: Duration) -> Self {
        Self {
            command_timeout: timeout,
            ..self.clone()
        }
    }

    pub fn endpoints(&self) -> &str {
        &self.endpoints
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = clean_command(&self.bin);
        cmd.arg(format!("--endpoints={}", self.endpoints))
            .arg("--dial-timeout=3s")
            .arg(format!(
                "--command-timeout={}ms",
                self.command_timeout.as_millis()
            ))
            .args(args);
        cmd
    }

    /// Runs `etcdctl ARGS` to completion.
    ///
    /// # Panics
    /// If etcdctl cannot be started at all.
    pub fn run(&self, args: &[&str]) -> CtlOutput {
        self.run_with_stdin(args, None)
    }

    /// Runs `etcdctl ARGS` with `input` on its standard input.
    ///
    /// # Panics
    /// If etcdctl cannot be started or fed.
    pub fn run_with_stdin(&self, args: &[&str], input: Option<&[u8]>) -> CtlOutput {
        let mut cmd = self.command(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        if input.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {}: {e}", self.bin.display()));
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            // etcdctl may refuse early and close its stdin; its exit status tells the story.
            let _ = stdin.write_all(input);
        }
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("failed to wait for etcdctl: {e}"));
        CtlOutput {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs `etcdctl ARGS` and returns its stdout.
    ///
    /// # Panics
    /// If it fails, showing the command, its exit code and its output.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with_stdin(args, None)
    }

    /// Runs `etcdctl ARGS` with `input` on stdin and returns its stdout.
    ///
    /// # Panics
    /// If it fails, showing the command, its exit code and its output.
    pub fn ok_with_stdin(&self, args: &[&str], input: Option<&[u8]>) -> String {
        let out = self.run_with_stdin(args, input);
        assert!(
            out.success,
            "`etcdctl {}` against {} failed (exit {:?})\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            self.endpoints,
            out.code,
            out.stdout,
            out.stderr
        );
        out.stdout
    }

    /// Runs `etcdctl ARGS`, expecting failure, and returns its output.
    ///
    /// # Panics
    /// If it succeeds.
    pub fn fails(&self, args: &[&str]) -> CtlOutput {
        let out = self.run(args);
        assert!(
            !out.success,
            "`etcdctl {}` should have failed but printed:\n{}",
            args.join(" "),
            out.stdout
        );
        out
    }

    /// Starts a long-running `etcdctl ARGS` (a watch) whose stdout is read line by line.
    ///
    /// # Panics
    /// If etcdctl cannot be started.
    pub fn spawn_lines(&self, args: &[&str]) -> LineStream {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {}: {e}", self.bin.display()));
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(Line::Out(line)).is_err() {
                        break;
                    }
                }
            });
        }
        if let Some(stderr) = child.stderr.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(Line::Err(line)).is_err() {
                        break;
                    }
                }
            });
        }
        LineStream {
            child,
            rx,
            stderr: Vec::new(),
        }
    }
}

enum Line {
    Out(String),
    Err(String),
}

/// A running etcdctl whose stdout lines arrive as they are printed; killed on drop.
#[derive(Debug)]
pub struct LineStream {
    child: Child,
    rx: Receiver<Line>,
    stderr: Vec<String>,
}

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Line::Out(l) => write!(f, "stdout: {l}"),
            Line::Err(l) => write!(f, "stderr: {l}"),
        }
    }
}

impl LineStream {
    /// The next stdout line, or `None` if none came within `timeout` (stderr lines are kept).
    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Line::Out(line)) => return Some(line),
                Ok(Line::Err(line)) => self.stderr.push(line),
                Err(_) => return None,
            }
        }
    }

    /// The next `n` stdout lines.
    ///
    /// # Panics
    /// If they do not all arrive within `timeout`, showing what did and what etcdctl said.
    pub fn expect_lines(&mut self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + timeout;
        let mut lines = Vec::with_capacity(n);
        while lines.len() < n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.next_line(left) {
                Some(line) => lines.push(line),
                None => panic!(
                    "expected {n} lines within {timeout:?}, got {}: {lines:?}\netcdctl stderr: {:?}",
                    lines.len(),
                    self.stderr
                ),
            }
        }
        lines
    }

    /// The first line, on stdout or stderr, that contains `needle`.
    ///
    /// # Panics
    /// If none arrives within `timeout`, showing what did.
    pub fn any_line_containing(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        if let Some(line) = self.stderr.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Line::Out(line) | Line::Err(line)) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("no line containing {needle:?} within {timeout:?}; saw {seen:?}"),
            }
        }
    }

    /// Stderr lines seen so far.
    pub fn stderr(&self) -> &[String] {
        &self.stderr
    }
}

impl Drop for LineStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
