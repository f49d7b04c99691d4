//! The official Kubernetes Python client (`kubernetes` 32.x from PyPI) against `rkube server`:
//! CRUD, selectors, conflicts, scale, and watches that resume from a resourceVersion
//! (tests/python/client_crud.py).
//!
//! The client lives in a virtualenv that `.ci/run` creates (`target/pyvenv`); `$RKUBE_PYTHON`
//! names another interpreter. Without one the test says it skipped.

use std::path::PathBuf;
use std::process::Command;

use rkube_tests::server_proc::ServerProcess;

fn python() -> Option<PathBuf> {
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

#[test]
fn python_client_crud_and_watch() {
    let Some(python) = python() else {
        eprintln!(
            "SKIPPED: no Python with the `kubernetes` client (run .ci/run, or set RKUBE_PYTHON)"
        );
        return;
    };
    let s = ServerProcess::start().expect("rkube server starts");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/client_crud.py");
    let out = Command::new(python)
        .arg(script)
        .env("KUBECONFIG", s.kubeconfig())
        .env("HOME", s.scratch())
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python client checks failed:\n{}{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
}
