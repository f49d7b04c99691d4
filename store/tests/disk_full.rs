//! A full disk: writes fail with a clear error, reads keep working, and writes resume once
//! space returns. Needs root (it mounts a small tmpfs as the member's data dir).

mod common;

use common::start_member;

use std::process::Command;
use std::time::Duration;

use rkube_store::backend::{Backend, Embedded};
use rkube_store::proto::etcd::PutRequest;

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn free_bytes(path: &std::path::Path) -> u64 {
    let st = rustix::fs::statvfs(path).expect("statvfs");
    st.f_bavail * st.f_frsize
}

#[tokio::test]
async fn full_disk_refuses_writes_and_recovers() {
    if !rustix::process::geteuid().is_root() {
        println!("SKIPPED: needs root to mount a tmpfs");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=96m", "tmpfs"])
        .arg(dir.path())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("SKIPPED: cannot mount a tmpfs here");
        return;
    }
    let _mount = Mount(dir.path().to_path_buf());
    let data = dir.path().join("member");

    let (running, _url, shutdown) = start_member(&data, |c| c.min_free_bytes = 48 << 20).await;
    let member = running.member.clone();
    let backend = Embedded::new(member.clone());
    backend
        .create(b"/a", b"before".to_vec(), 0)
        .await
        .expect("write with space");

    // Leave less free space than the member demands.
    let filler = dir.path().join("filler");
    let leave = 40u64 << 20;
    let size = free_bytes(dir.path()).saturating_sub(leave);
    std::fs::write(&filler, vec![0u8; size as usize]).expect("fill the disk");

    let put = PutRequest {
        key: b"/b".to_vec(),
        value: b"x".to_vec(),
        ..Default::default()
    };
    let err = member
        .put(put.clone())
        .await
        .expect_err("a write on a full disk must fail");
    assert!(err.to_string().contains("database space exceeded"), "{err}");
    let (got, _) = backend.get(b"/a", 0).await.expect("reads keep working");
    assert_eq!(got.map(|r| r.value), Some(b"before".to_vec()));

    std::fs::remove_file(&filler).expect("free space");
    let mut last = None;
    for _ in 0..50 {
        match member.put(put.clone()).await {
            Ok(_) => {
                last = None;
                break;
            }
            Err(e) => last = Some(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last, None, "writes must resume once space returns");
    shutdown.cancel();
    running.done.await.expect("join").expect("clean stop");
}
