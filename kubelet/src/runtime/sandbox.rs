//! Pod sandboxes: the network, IPC and UTS namespaces a pod's containers share, held without a
//! process. A short-lived `rkube shim-sandbox` process (single-threaded, like the container
//! shim) unshares the three namespaces, sets the pod's hostname, and bind-mounts its namespace
//! files to `<run-root>/sandboxes/<pod-uid>/{net,ipc,uts}`, as `ip netns add` does; the mounts
//! keep the namespaces alive after it exits. Containers join them by path, and the pod network
//! is configured in `net`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The namespaces held for a pod.
pub const KINDS: [&str; 3] = ["net", "ipc", "uts"];

/// What went wrong making or removing a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("creating the sandbox of pod {uid}: {message}")]
    Create { uid: String, message: String },
    #[error("removing {path}: {source}")]
    Unmount {
        path: PathBuf,
        #[source]
        source: rustix::io::Errno,
    },
}

/// One pod's namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    pub uid: String,
    pub dir: PathBuf,
}

impl Sandbox {
    fn dir_of(run_root: &Path, uid: &str) -> PathBuf {
        run_root.join("sandboxes").join(uid)
    }

    /// The bind-mounted namespace file of `kind` (`net`, `ipc`, `uts`).
    pub fn path(&self, kind: &str) -> PathBuf {
        self.dir.join(kind)
    }

    /// Creates the pod's namespaces (idempotent: an existing sandbox is returned as is).
    pub fn create(
        run_root: &Path,
        uid: &str,
        hostname: &str,
        shim_exe: &Path,
    ) -> Result<Sandbox, SandboxError> {
        let sandbox = Sandbox {
            uid: uid.to_owned(),
            dir: Self::dir_of(run_root, uid),
        };
        if sandbox.exists() {
            return Ok(sandbox);
        }
        std::fs::create_dir_all(&sandbox.dir).map_err(|source| SandboxError::Io {
            path: sandbox.dir.clone(),
            source,
        })?;
        let out = Command::new(shim_exe)
            .arg("shim-sandbox")
            .arg("--dir")
            .arg(&sandbox.dir)
            .arg("--hostname")
            .arg(hostname)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|source| SandboxError::Io {
                path: shim_exe.to_owned(),
                source,
            })?;
        if !out.status.success() {
            let _ = sandbox.remove();
            return Err(SandboxError::Create {
                uid: uid.to_owned(),
                message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(sandbox)
    }

    /// The sandbox of `uid` if it exists (after a kubelet restart).
    pub fn open(run_root: &Path, uid: &str) -> Option<Sandbox> {
        let sandbox = Sandbox {
            uid: uid.to_owned(),
            dir: Self::dir_of(run_root, uid),
        };
        sandbox.exists().then_some(sandbox)
    }

    /// Every sandbox under `run_root` (for cleaning up after pods that are gone).
    pub fn list(run_root: &Path) -> Vec<Sandbox> {
        let Ok(entries) = std::fs::read_dir(run_root.join("sandboxes")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter_map(|uid| Self::open(run_root, &uid))
            .collect()
    }

    fn exists(&self) -> bool {
        KINDS.iter().all(|k| self.path(k).exists())
    }

    /// Unmounts the namespace files (the namespaces go once no process is in them) and removes
    /// the directory. Idempotent.
    pub fn remove(&self) -> Result<(), SandboxError> {
        for kind in KINDS {
            let path = self.path(kind);
            match rustix::mount::unmount(&path, rustix::mount::UnmountFlags::DETACH) {
                Ok(()) | Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOENT) => {}
                Err(source) => return Err(SandboxError::Unmount { path, source }),
            }
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(SandboxError::Io {
                path: self.dir.clone(),
                source,
            }),
        }
    }
}

/// The body of `rkube shim-sandbox`: unshare, set the hostname, bind the namespace files into
/// `dir`. Runs in a fresh single-threaded process.
pub fn hold_namespaces(dir: &Path, hostname: &str) -> Result<(), String> {
    use nix::sched::{unshare, CloneFlags};
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS)
        .map_err(|e| format!("unshare: {e}"))?;
    rustix::system::sethostname(hostname.as_bytes())
        .map_err(|e| format!("setting the hostname {hostname:?}: {e}"))?;
    for kind in KINDS {
        let target = dir.join(kind);
        std::fs::File::create(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        let source = format!("/proc/self/ns/{kind}");
        rustix::mount::mount_bind(source.as_str(), &target)
            .map_err(|e| format!("binding {source} to {}: {e}", target.display()))?;
    }
    Ok(())
}
