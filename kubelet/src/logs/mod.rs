//! Container logs: the CRI log files the container shims write, and what `kubectl logs` reads.
//!
//! Each container attempt writes one file, `<pod-logs-dir>/<container>/<restart-count>.log`, where
//! every line is one entry in the CRI format:
//!
//! ```text
//! 2026-11-23T22:54:26.123456789Z stdout F hello
//! 2026-11-23T22:54:26.223456789Z stderr P a long line cut in two...
//! 2026-11-23T22:54:26.223456790Z stderr F ...and its end
//! ```
//!
//! (`F` ends a line of the container's output; `P` is part of a line that goes on in the next
//! entry.) [`read`] serves the options of a pod `log` request as the kubelet does: `tailLines`
//! counts whole lines from the end, `sinceTime`/`sinceSeconds` drop earlier entries, `timestamps`
//! prefixes each line with its time, `limitBytes` stops after that many bytes, and `follow` keeps
//! reading what is appended until the container has exited.

mod options;
mod read;

pub use options::{LogOptions, OptionsError};
pub use read::{parse_entry, read, Entry, LogError, Stream};

use std::path::{Path, PathBuf};

/// The directory of one pod's logs: `<root>/<namespace>_<name>_<uid>`, as Kubernetes lays out
/// `/var/log/pods`.
pub fn pod_dir(root: &Path, namespace: &str, name: &str, uid: &str) -> PathBuf {
    root.join(format!("{namespace}_{name}_{uid}"))
}

/// The log file of one attempt of a container: `<pod-dir>/<container>/<restart-count>.log`.
pub fn container_file(pod_dir: &Path, container: &str, restart_count: u32) -> PathBuf {
    pod_dir.join(container).join(format!("{restart_count}.log"))
}
