//! The `rkube store` command line: etcd's flags, clear refusals before binding, clean exits on signals.

mod common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{get_json, kvs, pairs, put};
use rkube_tests::etcdctl::clean_command;
use rkube_tests::store_proc::{free_ports, rkube_binary, StoreKind, StoreProcess, TestDir};

/// These tests are about rkube's own binary; against etcd they do nothing.
fn rkube_or_skip() -> bool {
    if StoreKind::from_env() == StoreKind::Rkube {
        true
    } else {
        println!("SKIPPED: tests of the rkube binary itself");
        false
    }
}

/// Runs `rkube ARGS`, killing it if it runs longer than `timeout`.
fn rkube(args: &[&str], cwd: &Path, timeout: Duration) -> Output {
    let bin = rkube_binary().expect("rkube binary");
    let mut child = clean_command(&bin)
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rkube");
    let deadline = Instant::now() + timeout;
    while child.try_wait().expect("poll rkube").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("reap rkube");
            panic!(
                "`rkube {}` still running after {timeout:?}; stderr:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("collect rkube output")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_lists_etcds_flags() {
    if !rkube_or_skip() {
        return;
    }
    let dir = TestDir::new().expect("temp dir");
    let out = rkube(&["store", "--help"], dir.path(), Duration::from_secs(20));
    assert!(out.status.success(), "{}", stderr(&out));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--name",
        "--data-dir",
        "--listen-client-urls",
        "--advertise-client-urls",
        "--listen-peer-urls",
        "--initial-advertise-peer-urls",
        "--initial-cluster",
        "--initial-cluster-state",
        "--initial-cluster-token",
        "--heartbeat-interval",
        "--election-timeout",
        "--snapshot-count",
        "--max-request-bytes",
        "--max-txn-ops",
        "ETCD_NAME",
    ] {
        assert!(
            help.contains(flag),
            "`rkube store --help` lacks {flag}:\n{help}"
        );
    }
}

#[test]
fn bad_flags_fail_clearly_before_anything_is_bound_or_written() {
    if !rkube_or_skip() {
        return;
    }
    let dir = TestDir::new().expect("temp dir");
    let ports = free_ports(2).expect("ports");
    let client = format!("127.0.0.1:{}", ports[0]);
    let peer = format!("http://127.0.0.1:{}", ports[1]);
    let cases: [(&[&str], &str); 4] = [
        (
            &["--listen-client-urls", &format!("https://{client}")],
            "https://",
        ),
        (&["--listen-client-urls", &client], "not a URL"),
        (
            &["--initial-cluster", "other=http://127.0.0.1:1"],
            "does not list",
        ),
        (&["--election-timeout", "100"], "5 times"),
    ];
    for (bad, why) in cases {
        let mut args = vec!["store", "--data-dir", "d", "--listen-peer-urls", &peer];
        if !bad.contains(&"--listen-client-urls") {
            args.extend(["--listen-client-urls", "http://127.0.0.1:1"]);
        }
        args.extend_from_slice(bad);
        let out = rkube(&args, dir.path(), Duration::from_secs(20));
        assert!(
            !out.status.success(),
            "`rkube {}` succeeded",
            args.join(" ")
        );
        let err = stderr(&out);
        assert!(err.contains(why), "`rkube {}`: {err}", args.join(" "));
        assert!(
            !dir.path().join("d").exists(),
            "a refused start must not create the data dir"
        );
    }
}

#[test]
fn a_taken_port_is_reported_before_the_data_dir_is_created() {
    if !rkube_or_skip() {
        return;
    }
    let dir = TestDir::new().expect("temp dir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let peer = free_ports(1).expect("port")[0];
    let out = rkube(
        &[
            "store",
            "--data-dir",
            "d",
            "--listen-client-urls",
            &format!("http://127.0.0.1:{port}"),
            "--listen-peer-urls",
            &format!("http://127.0.0.1:{peer}"),
        ],
        dir.path(),
        Duration::from_secs(20),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--listen-client-urls") && err.contains("another etcd or rkube store"),
        "{err}"
    );
    assert!(!dir.path().join("d").exists());
}

#[test]
fn sigterm_and_sigint_drain_and_exit_zero() {
    if !rkube_or_skip() {
        return;
    }
    let mut store = StoreProcess::start().expect("store starts");
    let ctl = store.etcdctl();
    if let Some(ctl) = &ctl {
        put(ctl, "graceful", "yes");
    }
    let status = store
        .terminate(Duration::from_secs(15))
        .expect("exits after SIGTERM");
    assert!(
        status.success(),
        "exit after SIGTERM: {status}\n{}",
        store.log_tail()
    );

    store.restart().expect("restart after a clean stop");
    if let Some(ctl) = &ctl {
        assert_eq!(
            kvs(&get_json(ctl, &["graceful"])),
            pairs(&[("graceful", "yes")])
        );
    }
    let status = store
        .interrupt(Duration::from_secs(15))
        .expect("exits after SIGINT");
    assert!(
        status.success(),
        "exit after SIGINT: {status}\n{}",
        store.log_tail()
    );
}

#[test]
fn version_flag_works() {
    if !rkube_or_skip() {
        return;
    }
    let dir = TestDir::new().expect("temp dir");
    let out = rkube(&["--version"], dir.path(), Duration::from_secs(20));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("rkube "));
    // An unknown subcommand is refused with usage, not ignored.
    let out = rkube(&["frobnicate"], dir.path(), Duration::from_secs(20));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand"));
}

#[test]
fn foreign_or_corrupt_data_dirs_are_refused_naming_the_file() {
    if !rkube_or_skip() {
        return;
    }
    let dir = TestDir::new().expect("temp dir");
    let ports = free_ports(2).expect("ports");
    let client = format!("http://127.0.0.1:{}", ports[0]);
    let peer = format!("http://127.0.0.1:{}", ports[1]);
    let run = |data: &Path| {
        let data = data.to_str().expect("utf-8 path").to_string();
        rkube(
            &[
                "store",
                "--data-dir",
                &data,
                "--listen-client-urls",
                &client,
                "--listen-peer-urls",
                &peer,
            ],
            dir.path(),
            Duration::from_secs(20),
        )
    };

    // An etcd data dir is not ours: refuse it rather than start an empty store beside it.
    let etcd_dir = dir.path().join("etcd-data");
    std::fs::create_dir_all(etcd_dir.join("member/snap")).expect("mkdir");
    let out = run(&etcd_dir);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("member") && err.contains("refusing"), "{err}");
    assert!(etcd_dir.join("member/snap").is_dir(), "nothing was removed");

    // A damaged database file: refuse, name the file, leave it alone.
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).expect("mkdir");
    std::fs::write(broken.join("store.redb"), b"this is not a database").expect("write");
    let out = run(&broken);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("store.redb"), "{err}");
    let kept = std::fs::read(broken.join("store.redb")).expect("read");
    assert_eq!(
        kept, b"this is not a database",
        "the damaged file is left as it was"
    );
}
