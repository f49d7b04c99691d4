//! Root file systems for the runtime's tests and benchmarks, from Debian's busybox-static.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A directory usable as an image layer under `dir`: `/bin/busybox` with `applets` linked to
/// it, and the empty directories a container's mounts need.
///
/// # Errors
/// When busybox-static is not installed, or the directory cannot be written.
pub fn busybox_layer(dir: &Path, applets: &[&str]) -> anyhow::Result<PathBuf> {
    let layer = dir.join("layer");
    std::fs::create_dir_all(layer.join("bin"))?;
    for d in ["proc", "dev", "sys", "etc", "tmp"] {
        std::fs::create_dir_all(layer.join(d))?;
    }
    std::fs::copy("/bin/busybox", layer.join("bin/busybox"))
        .context("/bin/busybox (apt-get install busybox-static)")?;
    for applet in applets {
        symlink("busybox", layer.join("bin").join(applet))?;
    }
    Ok(layer)
}

/// Removes the per-process cgroup parents (`/<prefix>-<pid>`) tests and benchmarks leave in
/// every hierarchy once their containers are gone.
pub fn remove_cgroup_parent(prefix: &str) {
    let name = format!("{prefix}-{}", std::process::id());
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for h in hierarchies.flatten() {
        let _ = std::fs::remove_dir(h.path().join(&name));
    }
    let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&name));
}
