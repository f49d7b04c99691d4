//! The shim: one small process per container (the `rkube` binary re-executed as `rkube shim`),
//! so that the container library's clone never happens in the kubelet's multi-threaded async
//! runtime, and containers outlive kubelet restarts.
//!
//! The shim makes itself the child subreaper, creates and starts the container from its bundle
//! with its standard output and error on pipes, writes the container's pid (`pid`), copies the
//! output into the container's log file in the CRI format, reaps the container's init process
//! and records how it ended (`exit.json`, written atomically), then exits.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use rustix::process::WaitOptions;
use serde::{Deserialize, Serialize};

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// The exit code; 128 + signal when killed by a signal, as runtimes report it.
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub started_at: String,
    pub finished_at: String,
}

/// `__WALL`: wait for children whatever signal their exit sends (the container library clones
/// its processes without one).
const WALL: u32 = 0x4000_0000;

/// Files of a bundle the shim and the kubelet share.
pub const PID_FILE: &str = "pid";
pub const EXIT_FILE: &str = "exit.json";
pub const ERROR_FILE: &str = "error";
pub const STARTED_FILE: &str = "started";

fn now() -> String {
    format!("{:.9}", jiff::Timestamp::now())
}

/// Writes `bytes` to `dir/name` atomically (a temporary file renamed into place).
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))
}

/// Copies one output of the container into the log, one CRI entry per line.
fn copy_output(reader: File, stream: &'static str, log: Arc<Mutex<File>>) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (content, tag) = match line.strip_suffix(b"\n") {
            Some(c) => (c, "F"),
            None => (line.as_slice(), "P"),
        };
        let mut entry = format!("{} {stream} {tag} ", now()).into_bytes();
        entry.extend_from_slice(content);
        entry.push(b'\n');
        if let Ok(mut log) = log.lock() {
            let _ = log.write_all(&entry);
        }
    }
}

/// Runs one container to its end. `state_root` is the container library's state directory,
/// `bundle` holds `config.json` and `rootfs`; the log goes to `log_path`. Returns the process
/// exit code for the shim.
pub fn run(state_root: &Path, bundle: &Path, id: &str, log_path: &Path) -> i32 {
    match supervise(state_root, bundle, id, log_path) {
        Ok(()) => 0,
        Err(message) => {
            let _ = write_atomic(bundle, ERROR_FILE, message.as_bytes());
            1
        }
    }
}

fn supervise(state_root: &Path, bundle: &Path, id: &str, log_path: &Path) -> Result<(), String> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| format!("becoming the child subreaper: {e}"))?;
    if let Some(parent) = log_path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log = Arc::new(Mutex::new(log));
    let (out_r, out_w) = rustix::pipe::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (err_r, err_w) = rustix::pipe::pipe().map_err(|e| format!("pipe: {e}"))?;
    let mut container = ContainerBuilder::new(id.to_owned(), SyscallType::default())
        .with_root_path(state_root)
        .map_err(|e| e.to_string())?
        .with_stdout(out_w)
        .with_stderr(err_w)
        .as_init(bundle)
        .with_systemd(false)
        .with_detach(true)
        .build()
        .map_err(|e| e.to_string())?;
    let readers = [(out_r, "stdout"), (err_r, "stderr")].map(|(fd, stream)| {
        let log = log.clone();
        std::thread::spawn(move || copy_output(File::from(fd), stream, log))
    });
    container.start().map_err(|e| e.to_string())?;
    let started_at = now();
    let pid = container
        .pid()
        .ok_or_else(|| "the container has no process".to_owned())?;
    // Nothing of the container library may keep the output pipes open in the shim.
    drop(container);

    let _ = write_atomic(bundle, PID_FILE, pid.as_raw().to_string().as_bytes());
    let _ = write_atomic(bundle, STARTED_FILE, started_at.as_bytes());
    // Reap everything that comes our way until the container's init has ended. The init is
    // cloned without an exit signal (a sibling of the library's intermediate process), so it
    // is only seen with `__WALL`.
    let status = loop {
        match rustix::process::wait(WaitOptions::from_bits_retain(WALL)) {
            Ok(Some((reaped, status))) if reaped.as_raw_nonzero().get() == pid.as_raw() => {
                break status
            }
            Ok(_) => continue,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(format!("waiting for the container: {e}")),
        }
    };
    let signal = status.terminating_signal();
    let exit_code = match (status.exit_status(), signal) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 255,
    };
    for r in readers {
        let _ = r.join();
    }
    let record = ExitRecord {
        exit_code,
        signal,
        started_at,
        finished_at: now(),
    };
    let json = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
    write_atomic(bundle, EXIT_FILE, &json).map_err(|e| format!("recording the exit: {e}"))
}

/// Runs `args` inside the running container `id` (its namespaces, root and cgroup) with this
/// process's standard input, output and error, and returns its exit code (128 + signal when
/// killed), or 126 with a message on stderr when it cannot be started.
pub fn exec(state_root: &Path, id: &str, args: Vec<String>, env: Vec<String>) -> i32 {
    let env = env
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect();
    let built = ContainerBuilder::new(id.to_owned(), SyscallType::default())
        .with_root_path(state_root)
        .map(|b| {
            b.as_tenant()
                .with_container_args(args)
                .with_env(env)
                .with_detach(false)
                .build()
        });
    let pid = match built {
        Ok(Ok(pid)) => pid,
        Ok(Err(e)) | Err(e) => {
            eprintln!("{e}");
            return 126;
        }
    };
    loop {
        match rustix::process::wait(WaitOptions::from_bits_retain(WALL)) {
            Ok(Some((reaped, status))) if reaped.as_raw_nonzero().get() == pid.as_raw() => {
                return match (status.exit_status(), status.terminating_signal()) {
                    (Some(code), _) => code,
                    (None, Some(sig)) => 128 + sig,
                    (None, None) => 255,
                };
            }
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                eprintln!("waiting for the process: {e}");
                return 255;
            }
        }
    }
}

/// Where the shim keeps a container's files, given the runtime's root.
pub fn bundle_dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}
