//! The embedded container runtime for real: containers from a busybox layer, each run by its
//! `rkube shim`, with their output in the CRI log, their exit codes and signals, cgroup limits
//! applied, and nothing left behind (mounts, cgroups, bundles) once deleted.
//!
//! Needs root, Debian's busybox-static (/bin/busybox) and `target/debug/rkube`; says SKIPPED
//! otherwise.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::path::{Path, PathBuf};

use rkube_kubelet::runtime::container::{
    ContainerConfig, ContainerState, JoinNamespaces, Resources, Runtime,
};
use rkube_kubelet::runtime::sandbox::Sandbox;
use rkube_tests::rootfs::{busybox_layer, remove_cgroup_parent};
use rkube_tests::store_proc::rkube_binary;

fn prerequisites() -> Result<PathBuf, String> {
    if !rustix::process::geteuid().is_root() {
        return Err("not root".into());
    }
    if !Path::new("/bin/busybox").exists() {
        return Err("no /bin/busybox (apt-get install busybox-static)".into());
    }
    rkube_binary().map_err(|e| e.to_string())
}

const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "sleep", "hostname", "id", "ls", "true", "stat",
];

/// A temp dir with a busybox layer, and a runtime keeping its containers there; `None` (and
/// SKIPPED said) when the test cannot run here.
fn setup() -> Option<(PathBuf, tempfile::TempDir, PathBuf, Runtime)> {
    let rkube = match prerequisites() {
        Ok(bin) => bin,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            return None;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let layer = busybox_layer(dir.path(), APPLETS).unwrap();
    let runtime = Runtime::new(dir.path().join("containers"), &rkube).unwrap();
    Some((rkube, dir, layer, runtime))
}

fn mounts_under(dir: &Path) -> usize {
    let dir = dir.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&dir))
        .count()
}

fn config(id: &str, layer: &Path, dir: &Path, args: &[&str]) -> ContainerConfig {
    ContainerConfig {
        id: id.into(),
        layers: vec![layer.to_owned()],
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env: vec!["PATH=/bin".into(), "GREETING=hi".into()],
        cwd: "/tmp".into(),
        hostname: "web-0".into(),
        log_path: dir.join("logs").join(format!("{id}.log")),
        cgroup_path: Some(format!("/rkube-test-{}/{id}", std::process::id())),
        ..Default::default()
    }
}

#[tokio::test]
async fn containers_run_log_exit_and_leave_nothing() {
    let Some((_, dir, layer, runtime)) = setup() else {
        return;
    };

    // Output, environment, working directory, hostname and exit code.
    let c = config(
        "c1",
        &layer,
        dir.path(),
        &[
            "sh",
            "-c",
            "echo $GREETING from $(pwd) on $(hostname); echo oops >&2; exit 3",
        ],
    );
    runtime.run(&c).await.unwrap();
    let exit = runtime.wait("c1").await.unwrap();
    assert_eq!(exit.exit_code, 3);
    let log = std::fs::read_to_string(&c.log_path).unwrap();
    assert!(log.contains(" stdout F hi from /tmp on web-0\n"), "{log}");
    assert!(log.contains(" stderr F oops\n"), "{log}");

    // A memory limit lands in the container's cgroup; SIGKILL ends it with 137.
    let mut c2 = config("c2", &layer, dir.path(), &["sleep", "1000"]);
    c2.resources = Resources {
        memory_limit: Some(64 << 20),
        ..Default::default()
    };
    runtime.run(&c2).await.unwrap();
    assert!(matches!(
        runtime.state("c2").unwrap(),
        ContainerState::Running { .. }
    ));
    let cgroup = format!("/sys/fs/cgroup/memory/rkube-test-{}/c2", std::process::id());
    let unified = format!("/sys/fs/cgroup/rkube-test-{}/c2", std::process::id());
    let limit = std::fs::read_to_string(format!("{cgroup}/memory.limit_in_bytes"))
        .or_else(|_| std::fs::read_to_string(format!("{unified}/memory.max")))
        .unwrap();
    assert_eq!(limit.trim(), (64u64 << 20).to_string());
    // exec: a command inside the running container, its streams piped, its exit code kept.
    let mut child = runtime
        .exec(
            "c2",
            &[
                "sh".into(),
                "-c".into(),
                "echo $X; hostname; cat; exit 4".into(),
            ],
            &["X=from-exec".into(), "PATH=/bin".into()],
        )
        .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"piped\n").await.unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "from-exec\nweb-0\npiped\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(4));
    runtime.kill("c2", rustix::process::Signal::KILL).unwrap();
    let exit = runtime.wait("c2").await.unwrap();
    assert_eq!((exit.exit_code, exit.signal), (137, Some(9)));

    // A command that does not exist fails to start, with the reason.
    let bad = config("c3", &layer, dir.path(), &["nosuchcmd"]);
    let err = runtime.run(&bad).await;
    let failed = match err {
        Err(e) => e.to_string(),
        Ok(_) => format!("{:?}", runtime.wait("c3").await.unwrap()),
    };
    assert!(failed.contains("nosuchcmd"), "{failed}");

    // Deleting leaves no mount, no cgroup, no bundle.
    for id in ["c1", "c2", "c3"] {
        runtime.delete(id).await.unwrap();
        runtime.delete(id).await.unwrap();
    }
    assert_eq!(mounts_under(dir.path()), 0);
    assert!(!Path::new(&cgroup).exists());
    assert!(!dir.path().join("containers/c1").exists());
    remove_cgroup_parent("rkube-test");
}

/// Two containers of one pod share its sandbox: the pod's hostname, network and IPC namespaces.
#[tokio::test]
async fn a_pods_containers_share_its_sandbox() {
    use std::os::unix::fs::MetadataExt;
    let Some((rkube, dir, layer, runtime)) = setup() else {
        return;
    };
    let run_root = dir.path().join("run");
    let sandbox = Sandbox::create(&run_root, "uid-1", "pod-host", &rkube).unwrap();
    assert_eq!(Sandbox::list(&run_root), vec![sandbox.clone()]);
    let join = JoinNamespaces {
        network: Some(sandbox.path("net")),
        ipc: Some(sandbox.path("ipc")),
        uts: Some(sandbox.path("uts")),
        pid: None,
    };
    let mut first = config("s1", &layer, dir.path(), &["sleep", "1000"]);
    first.join = join.clone();
    runtime.run(&first).await.unwrap();
    let mut second = config(
        "s2",
        &layer,
        dir.path(),
        &[
            "sh",
            "-c",
            "hostname; stat -L -c %i /proc/self/ns/net /proc/self/ns/ipc",
        ],
    );
    second.join = join;
    runtime.run(&second).await.unwrap();
    assert_eq!(runtime.wait("s2").await.unwrap().exit_code, 0);
    let log = std::fs::read_to_string(&second.log_path).unwrap();
    let lines: Vec<&str> = log
        .lines()
        .map(|l| l.splitn(4, ' ').nth(3).unwrap_or_default())
        .collect();
    let inode = |kind: &str| {
        std::fs::metadata(sandbox.path(kind))
            .unwrap()
            .ino()
            .to_string()
    };
    assert_eq!(
        lines,
        vec!["pod-host".to_owned(), inode("net"), inode("ipc")],
        "{log}"
    );
    for id in ["s1", "s2"] {
        runtime.delete(id).await.unwrap();
    }
    sandbox.remove().unwrap();
    sandbox.remove().unwrap();
    assert_eq!(mounts_under(dir.path()), 0);
    assert!(Sandbox::list(&run_root).is_empty());
    remove_cgroup_parent("rkube-test");
}
