//! Unit tests of layer unpacking, with tar files built in the test.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::*;

fn header(path: &str, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_700_000_000);
    h.set_uid(1234);
    h.set_gid(4321);
    // set_path refuses `..`; write the raw name bytes so the unpacker sees hostile paths.
    let name = &mut h.as_old_mut().name;
    name.fill(0);
    name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_cksum();
    h
}

fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let h = header(path, tar::EntryType::Regular, 0o640, data.len() as u64);
    b.append(&h, data).unwrap();
}

fn link(b: &mut tar::Builder<Vec<u8>>, path: &str, kind: tar::EntryType, target: &str) {
    let mut h = header(path, kind, 0o777, 0);
    h.set_link_name(target).unwrap();
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
}

fn unpack(tar: Vec<u8>, root: bool) -> (tempfile::TempDir, Result<Unpacked, UnpackError>) {
    let dir = tempfile::tempdir().unwrap();
    let r = unpack_layer(&tar[..], dir.path(), UnpackOptions { as_root: root });
    (dir, r)
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[test]
fn files_dirs_links_modes_and_mtimes() {
    let mut b = tar::Builder::new(Vec::new());
    b.append(
        &header("./etc/", tar::EntryType::Directory, 0o750, 0),
        &[][..],
    )
    .unwrap();
    file(&mut b, "./etc/hostname", b"box\n");
    link(
        &mut b,
        "etc/alias",
        tar::EntryType::Symlink,
        "/etc/hostname",
    );
    link(&mut b, "etc/hard", tar::EntryType::Link, "./etc/hostname");
    let data = b.into_inner().unwrap();
    let expected = Digest::of(&data);
    let (dir, r) = unpack(data, false);
    let r = r.unwrap();
    assert_eq!(r.diff_id, expected);
    let d = dir.path();
    assert_eq!(fs::read(d.join("etc/hostname")).unwrap(), b"box\n");
    let m = fs::metadata(d.join("etc/hostname")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o640);
    assert_eq!(m.mtime(), 1_700_000_000);
    assert_eq!(m.nlink(), 2);
    let dm = fs::metadata(d.join("etc")).unwrap();
    assert_eq!(dm.permissions().mode() & 0o7777, 0o750);
    assert_eq!(dm.mtime(), 1_700_000_000);
    assert_eq!(
        fs::read_link(d.join("etc/alias")).unwrap().to_str(),
        Some("/etc/hostname")
    );
}

#[test]
fn gzip_layers_give_the_uncompressed_diff_id() {
    let mut b = tar::Builder::new(Vec::new());
    file(&mut b, "a", b"x");
    let data = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &data).unwrap();
    let (dir, r) = unpack(gz.finish().unwrap(), false);
    assert_eq!(r.unwrap().diff_id, Digest::of(&data));
    assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"x");
}

#[test]
fn zstd_layers_of_several_frames() {
    let mut b = tar::Builder::new(Vec::new());
    file(&mut b, "a", &[b'z'; 5000]);
    file(&mut b, "b", b"second");
    let data = b.into_inner().unwrap();
    // Two frames back to back, as some writers produce.
    let (first, second) = data.split_at(1536);
    let mut zst = Vec::new();
    for part in [first, second] {
        zst.extend(ruzstd::encoding::compress_to_vec(
            part,
            ruzstd::encoding::CompressionLevel::Fastest,
        ));
    }
    let (dir, r) = unpack(zst, false);
    assert_eq!(r.unwrap().diff_id, Digest::of(&data));
    assert_eq!(fs::read(dir.path().join("a")).unwrap().len(), 5000);
    assert_eq!(fs::read(dir.path().join("b")).unwrap(), b"second");
}

#[test]
fn rejects_parent_and_absolute_paths() {
    for bad in ["../evil", "a/../../evil", "/etc/evil"] {
        let mut b = tar::Builder::new(Vec::new());
        file(&mut b, bad, b"x");
        let (_dir, r) = unpack(b.into_inner().unwrap(), false);
        assert!(matches!(r, Err(UnpackError::UnsafePath(_))), "{bad}: {r:?}");
    }
}

#[test]
fn never_writes_through_a_symlink() {
    let outside = tempfile::tempdir().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    link(
        &mut b,
        "esc",
        tar::EntryType::Symlink,
        outside.path().to_str().unwrap(),
    );
    file(&mut b, "esc/pwned", b"x");
    let (_dir, r) = unpack(b.into_inner().unwrap(), false);
    assert!(matches!(r, Err(UnpackError::ThroughSymlink(_))), "{r:?}");
    assert!(!outside.path().join("pwned").exists());

    // A file entry over an existing symlink replaces the link instead of writing to its target.
    let target = outside.path().join("victim");
    fs::write(&target, b"safe").unwrap();
    let mut b = tar::Builder::new(Vec::new());
    link(
        &mut b,
        "f",
        tar::EntryType::Symlink,
        target.to_str().unwrap(),
    );
    file(&mut b, "f", b"new");
    let (dir, r) = unpack(b.into_inner().unwrap(), false);
    r.unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"safe");
    assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"new");

    // Hard links may not point outside the layer.
    let mut b = tar::Builder::new(Vec::new());
    link(&mut b, "h", tar::EntryType::Link, "../victim");
    let (_dir, r) = unpack(b.into_inner().unwrap(), false);
    assert!(matches!(r, Err(UnpackError::BadHardLink { .. })), "{r:?}");
}

#[test]
fn whiteouts_need_root_without_it() {
    let mut b = tar::Builder::new(Vec::new());
    file(&mut b, "dir/.wh.gone", b"");
    let (_dir, r) = unpack(b.into_inner().unwrap(), false);
    assert!(matches!(r, Err(UnpackError::NeedsRoot(_))), "{r:?}");
}

#[test]
fn whiteouts_opaque_dirs_owners_and_devices_as_root() {
    if !is_root() {
        println!("SKIPPED: whiteouts, trusted.* xattrs, chown and device nodes need root");
        return;
    }
    let mut b = tar::Builder::new(Vec::new());
    file(&mut b, "dir/.wh.gone", b"");
    file(&mut b, "opq/.wh..wh..opq", b"");
    file(&mut b, "opq/kept", b"k");
    b.append_pax_extensions([("SCHILY.xattr.user.rkube", &b"kept"[..])])
        .unwrap();
    file(&mut b, "withattr", b"a");
    let mut h = header("dev/null", tar::EntryType::Char, 0o666, 0);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
    let (dir, r) = unpack(b.into_inner().unwrap(), true);
    r.unwrap();
    let d = dir.path();
    let w = fs::symlink_metadata(d.join("dir/gone")).unwrap();
    assert_eq!(FileType::from_raw_mode(w.mode()), FileType::CharacterDevice);
    assert_eq!(w.rdev(), 0);
    assert!(!d.join("dir/.wh.gone").exists());
    let mut buf = [0u8; 4];
    let n = rustix::fs::lgetxattr(d.join("opq"), OPAQUE_XATTR, &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"y");
    assert_eq!(fs::read(d.join("opq/kept")).unwrap(), b"k");
    let dev = fs::symlink_metadata(d.join("dev/null")).unwrap();
    assert_eq!(dev.rdev(), rustix::fs::makedev(1, 3));
    let n = rustix::fs::lgetxattr(d.join("withattr"), "user.rkube", &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"kept");
    let f = fs::metadata(d.join("opq/kept")).unwrap();
    assert_eq!((f.uid(), f.gid()), (1234, 4321));
}
