//! The official Kubernetes Python client (`kubernetes` 32.x from PyPI) against `rkube server`:
//! CRUD, selectors, conflicts, scale, and watches that resume from a resourceVersion
//! (tests/python/client_crud.py).
//!
//! The client lives in a virtualenv that `.ci/run` creates (`target/pyvenv`); `$RKUBE_PYTHON`
//! names another interpreter. Without one the test says it skipped.

use std::process::Command;

use rkube_tests::server_proc::ServerProcess;

#[test]
fn python_client_crud_and_watch() {
    let Some(python) = rkube_tests::python::interpreter() else {
        eprintln!(
            "SKIPPED: no Python with the `kubernetes` client (run .ci/run, or set RKUBE_PYTHON)"
        );
        return;
    };
    let s = ServerProcess::start().expect("rkube server starts");
    let script = rkube_tests::python::script("client_crud.py");
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
