//! The official Kubernetes Python client, for tests that drive rkube with it.
//!
//! The client lives in a virtualenv that `.ci/run` creates (`target/pyvenv`); `$RKUBE_PYTHON`
//! names another interpreter. Tests skip (and say so) when neither has the client.

use std::path::PathBuf;
use std::process::Command;

/// An interpreter that can `import kubernetes`, if there is one.
pub fn interpreter() -> Option<PathBuf> {
    let candidate = std::env::var_os("RKUBE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pyvenv/bin/python")
        });
    let has_client = Command::new(&candidate)
        .args(["-c", "import kubernetes"])
        .output()
        .is_ok_and(|o| o.status.success());
    has_client.then_some(candidate)
}

/// The path of a script in `tests/python/`.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}
