//! Containers: each run by its own shim process (see [`shim`]) driving the container library
//! (youki's libcontainer), from a bundle the kubelet prepares.
//!
//! Layout under the runtime's root (`<data-dir>/agent/containers`):
//!
//! - `<id>/config.json`: the OCI runtime spec ([`spec::runtime_spec`]);
//! - `<id>/rootfs`: the overlay of the image's layers and `<id>/upper` (the container's writes),
//!   mounted by the kubelet before the shim starts;
//! - `<id>/pid`, `<id>/started`, `<id>/exit.json`, `<id>/error`: what the shim reports;
//! - `state/`: the container library's own state.
//!
//! Everything the kubelet needs to find a container again after a restart is on disk.

pub mod shim;
pub mod spec;

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub use shim::ExitRecord;
pub use spec::{runtime_spec, BindMount, ContainerConfig, JoinNamespaces, Resources};

/// What went wrong running a container.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mounting the root file system of {id}: {source}")]
    Mount {
        id: String,
        #[source]
        source: rustix::io::Errno,
    },
    #[error("starting container {id}: {message}")]
    Start { id: String, message: String },
    #[error("no container {0}")]
    NotFound(String),
    #[error("signalling container {id}: {source}")]
    Signal {
        id: String,
        #[source]
        source: rustix::io::Errno,
    },
    #[error("removing container {id}: {message}")]
    Delete { id: String, message: String },
}

type Result<T, E = RuntimeError> = std::result::Result<T, E>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RuntimeError + '_ {
    move |source| RuntimeError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A container's state, read from its bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    /// Being created (or the shim failed before starting it: see [`RuntimeError::Start`]).
    Created,
    Running {
        pid: i32,
        started_at: String,
    },
    Exited(ExitRecord),
}

/// The containers of one node.
#[derive(Debug, Clone)]
pub struct Runtime {
    root: PathBuf,
    shim_exe: PathBuf,
}

impl Runtime {
    /// A runtime keeping its containers under `root`, starting `shim_exe shim ...` for each.
    pub fn new(root: impl Into<PathBuf>, shim_exe: impl Into<PathBuf>) -> Result<Runtime> {
        let root = root.into();
        std::fs::create_dir_all(root.join("state")).map_err(io(&root))?;
        Ok(Runtime {
            root,
            shim_exe: shim_exe.into(),
        })
    }

    fn bundle(&self, id: &str) -> PathBuf {
        shim::bundle_dir(&self.root, id)
    }

    /// Prepares the bundle, mounts the root file system and starts the container; returns once
    /// it runs (or failed to start).
    pub async fn run(&self, config: &ContainerConfig) -> Result<i32> {
        let bundle = self.bundle(&config.id);
        let rootfs = bundle.join("rootfs");
        let (upper, work) = (bundle.join("upper"), bundle.join("work"));
        for dir in [&rootfs, &upper, &work] {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let spec = serde_json::to_vec_pretty(&spec::runtime_spec(config)).unwrap_or_default();
        let config_path = bundle.join("config.json");
        std::fs::write(&config_path, spec).map_err(io(&config_path))?;
        mount_overlay(&config.id, &config.layers, &upper, &work, &rootfs)?;
        let shim_log = bundle.join("shim.log");
        let shim_log_file = std::fs::File::create(&shim_log).map_err(io(&shim_log))?;
        Command::new(&self.shim_exe)
            .arg("shim")
            .arg("--root")
            .arg(self.root.join("state"))
            .arg("--bundle")
            .arg(&bundle)
            .arg("--id")
            .arg(&config.id)
            .arg("--log")
            .arg(&config.log_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(shim_log_file)
            // Its own process group: signals to the kubelet's group do not reach it.
            .process_group(0)
            .spawn()
            .map_err(io(&self.shim_exe))?;
        loop {
            match self.state(&config.id)? {
                ContainerState::Running { pid, .. } => return Ok(pid),
                ContainerState::Exited(_) => {
                    return std::fs::read_to_string(bundle.join(shim::PID_FILE))
                        .ok()
                        .and_then(|p| p.trim().parse().ok())
                        .ok_or_else(|| RuntimeError::Start {
                            id: config.id.clone(),
                            message: "the container exited at once".into(),
                        })
                }
                ContainerState::Created => {}
            }
            if let Ok(message) = std::fs::read_to_string(bundle.join(shim::ERROR_FILE)) {
                return Err(RuntimeError::Start {
                    id: config.id.clone(),
                    message,
                });
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The container's state, from what its shim wrote.
    pub fn state(&self, id: &str) -> Result<ContainerState> {
        let bundle = self.bundle(id);
        if !bundle.exists() {
            return Err(RuntimeError::NotFound(id.to_owned()));
        }
        if let Ok(bytes) = std::fs::read(bundle.join(shim::EXIT_FILE)) {
            if let Ok(record) = serde_json::from_slice(&bytes) {
                return Ok(ContainerState::Exited(record));
            }
        }
        let pid = std::fs::read_to_string(bundle.join(shim::PID_FILE))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok());
        let started = std::fs::read_to_string(bundle.join(shim::STARTED_FILE)).ok();
        match (pid, started) {
            (Some(pid), Some(started_at)) => Ok(ContainerState::Running { pid, started_at }),
            _ => Ok(ContainerState::Created),
        }
    }

    /// Waits for the container to end.
    pub async fn wait(&self, id: &str) -> Result<ExitRecord> {
        loop {
            if let ContainerState::Exited(record) = self.state(id)? {
                return Ok(record);
            }
            // The shim gave up (it could not follow the container).
            if let Ok(message) = std::fs::read_to_string(self.bundle(id).join(shim::ERROR_FILE)) {
                return Err(RuntimeError::Start {
                    id: id.to_owned(),
                    message,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts `args` (with `env` as `KEY=VALUE`) inside the running container, through a
    /// `rkube shim-exec` process whose piped standard streams are the command's; its exit
    /// status is the command's.
    pub fn exec(&self, id: &str, args: &[String], env: &[String]) -> Result<tokio::process::Child> {
        if !matches!(self.state(id)?, ContainerState::Running { .. }) {
            return Err(RuntimeError::Start {
                id: id.to_owned(),
                message: "the container is not running".into(),
            });
        }
        let mut command = tokio::process::Command::new(&self.shim_exe);
        command
            .arg("shim-exec")
            .arg("--root")
            .arg(self.root.join("state"))
            .arg("--id")
            .arg(id);
        for kv in env {
            command.arg("--env").arg(kv);
        }
        command
            .arg("--")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(io(&self.shim_exe))
    }

    /// Sends `signal` to the container's init process.
    pub fn kill(&self, id: &str, signal: rustix::process::Signal) -> Result<()> {
        let ContainerState::Running { pid, .. } = self.state(id)? else {
            return Ok(());
        };
        let Some(pid) = rustix::process::Pid::from_raw(pid) else {
            return Ok(());
        };
        match rustix::process::kill_process(pid, signal) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(source) => Err(RuntimeError::Signal {
                id: id.to_owned(),
                source,
            }),
        }
    }

    /// Removes the container: its processes (killed if still running), its cgroup and state
    /// in the container library, its root file system and its bundle. Idempotent.
    pub async fn delete(&self, id: &str) -> Result<()> {
        let bundle = self.bundle(id);
        if !bundle.exists() {
            return Ok(());
        }
        if matches!(self.state(id)?, ContainerState::Running { .. }) {
            self.kill(id, rustix::process::Signal::KILL)?;
            let _ = tokio::time::timeout(Duration::from_secs(10), self.wait(id)).await;
        }
        let state_dir = self.root.join("state").join(id);
        if state_dir.exists() {
            let mut container =
                libcontainer::container::Container::load(state_dir).map_err(|e| {
                    RuntimeError::Delete {
                        id: id.to_owned(),
                        message: e.to_string(),
                    }
                })?;
            container.delete(true).map_err(|e| RuntimeError::Delete {
                id: id.to_owned(),
                message: e.to_string(),
            })?;
        }
        let rootfs = bundle.join("rootfs");
        match rustix::mount::unmount(&rootfs, rustix::mount::UnmountFlags::DETACH) {
            Ok(()) | Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => {
                return Err(RuntimeError::Delete {
                    id: id.to_owned(),
                    message: format!("unmounting {}: {e}", rootfs.display()),
                })
            }
        }
        std::fs::remove_dir_all(&bundle).map_err(io(&bundle))
    }
}

/// Mounts the overlay of `layers` (top-most first) with `upper` for the container's writes.
fn mount_overlay(
    id: &str,
    layers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<()> {
    let lower = layers
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let options = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        upper.display(),
        work.display()
    );
    let options = std::ffi::CString::new(options).map_err(|_| RuntimeError::Mount {
        id: id.to_owned(),
        source: rustix::io::Errno::INVAL,
    })?;
    rustix::mount::mount(
        "overlay",
        target,
        "overlay",
        rustix::mount::MountFlags::empty(),
        Some(options.as_c_str()),
    )
    .map_err(|source| RuntimeError::Mount {
        id: id.to_owned(),
        source,
    })
}
