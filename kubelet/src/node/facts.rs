//! What the machine is: cores, memory, disk, identity and operating system, read as the kubelet
//! reads them (`/proc`, `/etc/os-release`, `/etc/machine-id`, `statvfs` of the data dir).

use std::path::Path;

/// The architecture in Go's names (`amd64`, `arm64`), as Kubernetes labels nodes.
pub const ARCH: &str = match std::env::consts::ARCH.as_bytes() {
    b"x86_64" => "amd64",
    b"aarch64" => "arm64",
    _ => std::env::consts::ARCH,
};

/// The machine's facts the node status reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineFacts {
    pub cpus: usize,
    pub memory_bytes: u64,
    /// Size of the file system holding the data dir.
    pub storage_bytes: u64,
    pub machine_id: String,
    pub system_uuid: String,
    pub boot_id: String,
    pub kernel_version: String,
    pub os_image: String,
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// `MemTotal` of a `/proc/meminfo`, in bytes.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    let kib: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// `PRETTY_NAME` of an os-release file.
pub fn pretty_name(os_release: &str) -> Option<String> {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
}

impl MachineFacts {
    /// Reads this machine; `data_dir` is where pods' data lives (for ephemeral storage).
    pub fn read(data_dir: &Path) -> MachineFacts {
        let storage_bytes = rustix::fs::statvfs(data_dir)
            .map(|s| s.f_blocks.saturating_mul(s.f_frsize))
            .unwrap_or(0);
        MachineFacts {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            memory_bytes: mem_total(&read_trimmed("/proc/meminfo")).unwrap_or(0),
            storage_bytes,
            machine_id: read_trimmed("/etc/machine-id"),
            system_uuid: read_trimmed("/sys/class/dmi/id/product_uuid"),
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
            kernel_version: read_trimmed("/proc/sys/kernel/osrelease"),
            os_image: pretty_name(&read_trimmed("/etc/os-release"))
                .unwrap_or_else(|| "Linux".into()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    #[test]
    fn parses_proc_and_os_release() {
        assert_eq!(
            mem_total("MemTotal:       16384 kB\nMemFree: 1 kB\n"),
            Some(16384 * 1024)
        );
        assert_eq!(
            pretty_name("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n")
                .as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        let facts = MachineFacts::read(Path::new("/"));
        assert!(facts.cpus >= 1 && facts.memory_bytes > 0 && facts.storage_bytes > 0);
        assert!(!facts.kernel_version.is_empty());
    }
}
