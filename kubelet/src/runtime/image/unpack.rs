//! Safe layer unpacking into overlayfs form.
//!
//! A layer (tar, plain or gzip- or zstd-compressed) is written into its own empty directory. Entries with `..`
//! or absolute paths are rejected; nothing is ever written through a symlink (an entry whose parent
//! is a symlink is rejected; an existing symlink at the target is replaced, not followed). Whiteouts
//! (`.wh.name`) become character devices 0/0 and opaque markers (`.wh..wh..opq`) the
//! `trusted.overlay.opaque=y` xattr, which is how overlayfs expects them when layers are stacked.
//! Ownership, modes, mtimes, hard links, symlinks and (as root) device nodes are kept.

use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, Timespec, Timestamps};

use super::digest::{Digest, HashingReader};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Why a layer could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// Reading the archive or writing the files failed.
    #[error("failed to unpack layer: {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An entry's path is absolute or contains `..`.
    #[error("failed to unpack layer: entry {0:?} has an unsafe path (absolute or with ..)")]
    UnsafePath(String),
    /// An entry would be written through a symlink.
    #[error("failed to unpack layer: entry {0:?} is below a symlink")]
    ThroughSymlink(String),
    /// A hard link points outside the layer or at something missing.
    #[error("failed to unpack layer: hard link {path:?} to {target:?} is invalid")]
    BadHardLink {
        /// The link.
        path: String,
        /// Its target.
        target: String,
    },
    /// Whiteouts need root (device nodes, trusted.* xattrs).
    #[error("failed to unpack layer: {0} requires root")]
    NeedsRoot(String),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> UnpackError {
    let context = context.into();
    move |source| UnpackError::Io { context, source }
}

/// How to unpack.
#[derive(Debug, Clone, Copy)]
pub struct UnpackOptions {
    /// Running as root: keep ownership, create device nodes and whiteouts, set trusted.* xattrs.
    /// Without root, ownership and device nodes are skipped, and whiteouts are an error.
    pub as_root: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        Self {
            as_root: rustix::process::geteuid().is_root(),
        }
    }
}

/// What unpacking produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// The sha256 of the uncompressed tar (the layer's diff ID in the image config).
    pub diff_id: Digest,
    /// Size of the uncompressed tar.
    pub uncompressed_size: u64,
}

/// Unpacks the layer read from `input` (plain tar, gzip or zstd; detected by magic bytes) into `dest`,
/// which must exist and be empty.
///
/// # Errors
/// [`UnpackError`] on unsafe entries and I/O failures (corrupt compressed data included).
pub fn unpack_layer(
    input: impl Read,
    dest: &Path,
    opts: UnpackOptions,
) -> Result<Unpacked, UnpackError> {
    let mut input = BufReader::new(input);
    let magic = {
        input
            .fill_buf()
            .map_err(io_err("reading the layer"))?
            .to_vec()
    };
    if magic.starts_with(&ZSTD_MAGIC) {
        let mut hashing = HashingReader::new(ZstdFrames::new(input));
        apply_tar(&mut hashing, dest, opts)?;
        io::copy(&mut hashing, &mut io::sink()).map_err(io_err("reading the layer"))?;
        let (diff_id, uncompressed_size) = hashing.finish();
        return Ok(Unpacked {
            diff_id,
            uncompressed_size,
        });
    }
    if magic.starts_with(&[0x1f, 0x8b]) {
        let mut hashing = HashingReader::new(flate2::read::MultiGzDecoder::new(input));
        apply_tar(&mut hashing, dest, opts)?;
        io::copy(&mut hashing, &mut io::sink()).map_err(io_err("reading the layer"))?;
        let (diff_id, uncompressed_size) = hashing.finish();
        Ok(Unpacked {
            diff_id,
            uncompressed_size,
        })
    } else {
        let mut hashing = HashingReader::new(input);
        apply_tar(&mut hashing, dest, opts)?;
        io::copy(&mut hashing, &mut io::sink()).map_err(io_err("reading the layer"))?;
        let (diff_id, uncompressed_size) = hashing.finish();
        Ok(Unpacked {
            diff_id,
            uncompressed_size,
        })
    }
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

type ZstdDecoder<R> = ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>;

/// Decodes a zstd stream of one or more frames (writers may split layers into several frames).
enum ZstdFrames<R: BufRead> {
    /// Between frames: the raw input.
    Between(R),
    /// Inside a frame.
    Frame(Box<ZstdDecoder<R>>),
    /// After a decoding error.
    Failed,
}

impl<R: BufRead> ZstdFrames<R> {
    fn new(input: R) -> Self {
        Self::Between(input)
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match std::mem::replace(self, Self::Failed) {
                Self::Failed => return Err(io::Error::other("zstd stream already failed")),
                Self::Between(mut input) => {
                    if input.fill_buf()?.is_empty() {
                        *self = Self::Between(input);
                        return Ok(0);
                    }
                    let decoder = ZstdDecoder::new(input)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                    *self = Self::Frame(Box::new(decoder));
                }
                Self::Frame(mut decoder) => {
                    let n = decoder.read(buf)?;
                    if n == 0 && !buf.is_empty() {
                        *self = Self::Between((*decoder).into_inner());
                        continue;
                    }
                    *self = Self::Frame(decoder);
                    return Ok(n);
                }
            }
        }
    }
}

/// A validated relative path inside the layer.
fn clean_path(raw: &Path) -> Result<PathBuf, UnpackError> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(UnpackError::UnsafePath(raw.display().to_string()));
            }
        }
    }
    Ok(out)
}

/// Creates the parents of `rel` under `dest` as real directories, refusing to pass through
/// symlinks or non-directories. Returns the full path.
fn prepare_parent(dest: &Path, rel: &Path) -> Result<PathBuf, UnpackError> {
    let mut cur = dest.to_path_buf();
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            cur.push(c);
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() || !m.is_dir() => {
                    return Err(UnpackError::ThroughSymlink(rel.display().to_string()));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&cur).map_err(io_err(format!("creating {}", cur.display())))?;
                }
                Err(e) => return Err(io_err(format!("inspecting {}", cur.display()))(e)),
            }
        }
    }
    Ok(dest.join(rel))
}

/// Removes whatever is at `path` unless it is a directory and `keep_dir` is set.
fn clear_target(path: &Path, keep_dir: bool) -> Result<(), UnpackError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() && !m.file_type().is_symlink() => {
            if keep_dir {
                Ok(())
            } else {
                fs::remove_dir_all(path).map_err(io_err(format!("replacing {}", path.display())))
            }
        }
        Ok(_) => fs::remove_file(path).map_err(io_err(format!("replacing {}", path.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(format!("inspecting {}", path.display()))(e)),
    }
}

struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
}

fn apply_tar(input: impl Read, dest: &Path, opts: UnpackOptions) -> Result<(), UnpackError> {
    let mut archive = tar::Archive::new(input);
    // Directory mtimes are set last: creating their children changes them.
    let mut dirs: Vec<(PathBuf, Meta)> = Vec::new();
    let entries = archive.entries().map_err(io_err("reading the tar"))?;
    for entry in entries {
        let mut entry = entry.map_err(io_err("reading a tar entry"))?;
        let raw = entry
            .path()
            .map_err(io_err("reading an entry path"))?
            .into_owned();
        let rel = clean_path(&raw)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let header = entry.header();
        let meta = Meta {
            mode: header.mode().unwrap_or(0o644) & 0o7777,
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            mtime: header.mtime().unwrap_or(0),
        };
        let kind = header.entry_type();
        let xattrs = if opts.as_root {
            pax_xattrs(&mut entry)?
        } else {
            Vec::new()
        };
        let header = entry.header();
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let full = prepare_parent(dest, &rel)?;

        if name == OPAQUE_MARKER {
            let dir = full.parent().unwrap_or(dest);
            if !opts.as_root {
                return Err(UnpackError::NeedsRoot(format!(
                    "opaque directory {}",
                    raw.display()
                )));
            }
            rustix::fs::lsetxattr(dir, OPAQUE_XATTR, b"y", rustix::fs::XattrFlags::empty())
                .map_err(|e| io_err(format!("marking {} opaque", dir.display()))(e.into()))?;
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.starts_with(WHITEOUT_PREFIX) {
                // Other .wh..wh. metadata (aufs hard-link dirs) has no overlayfs meaning.
                continue;
            }
            if !opts.as_root {
                return Err(UnpackError::NeedsRoot(format!(
                    "whiteout {}",
                    raw.display()
                )));
            }
            let target = full.with_file_name(hidden);
            clear_target(&target, false)?;
            rustix::fs::mknodat(
                rustix::fs::CWD,
                &target,
                FileType::CharacterDevice,
                Mode::empty(),
                rustix::fs::makedev(0, 0),
            )
            .map_err(|e| io_err(format!("creating whiteout {}", target.display()))(e.into()))?;
            continue;
        }

        match kind {
            tar::EntryType::Directory => {
                clear_target(&full, true)?;
                if !full.exists() {
                    fs::create_dir(&full)
                        .map_err(io_err(format!("creating {}", full.display())))?;
                }
                set_owner(&full, &meta, opts)?;
                fs::set_permissions(&full, fs::Permissions::from_mode(meta.mode))
                    .map_err(io_err(format!("chmod {}", full.display())))?;
                set_xattrs(&full, &xattrs)?;
                dirs.push((full, meta));
                continue;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                clear_target(&full, false)?;
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&full)
                    .map_err(io_err(format!("creating {}", full.display())))?;
                io::copy(&mut entry, &mut f)
                    .map_err(io_err(format!("writing {}", full.display())))?;
                drop(f);
                set_owner(&full, &meta, opts)?;
                fs::set_permissions(&full, fs::Permissions::from_mode(meta.mode))
                    .map_err(io_err(format!("chmod {}", full.display())))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(io_err("reading a symlink target"))?
                    .unwrap_or_default()
                    .into_owned();
                clear_target(&full, false)?;
                // A symlink may point anywhere: it is only data, never followed while unpacking.
                symlink(&target, &full)
                    .map_err(io_err(format!("symlinking {}", full.display())))?;
                set_owner(&full, &meta, opts)?;
            }
            tar::EntryType::Link => {
                let target_raw = entry
                    .link_name()
                    .map_err(io_err("reading a hard link target"))?
                    .unwrap_or_default()
                    .into_owned();
                let bad = || UnpackError::BadHardLink {
                    path: raw.display().to_string(),
                    target: target_raw.display().to_string(),
                };
                let target_rel = clean_path(&target_raw).map_err(|_| bad())?;
                let target_full = prepare_parent(dest, &target_rel).map_err(|_| bad())?;
                if fs::symlink_metadata(&target_full).is_err() {
                    return Err(bad());
                }
                clear_target(&full, false)?;
                fs::hard_link(&target_full, &full)
                    .map_err(io_err(format!("linking {}", full.display())))?;
                continue;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let ft = match kind {
                    tar::EntryType::Char => FileType::CharacterDevice,
                    tar::EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                if ft != FileType::Fifo && !opts.as_root {
                    tracing::debug!(path = %raw.display(), "skipping device node: not root");
                    continue;
                }
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                clear_target(&full, false)?;
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &full,
                    ft,
                    Mode::from_raw_mode(meta.mode),
                    rustix::fs::makedev(major, minor),
                )
                .map_err(|e| io_err(format!("creating {}", full.display()))(e.into()))?;
                set_owner(&full, &meta, opts)?;
                fs::set_permissions(&full, fs::Permissions::from_mode(meta.mode))
                    .map_err(io_err(format!("chmod {}", full.display())))?;
            }
            other => {
                // PAX/GNU long-name headers are consumed by the tar reader; anything else unknown
                // is skipped, as containerd does.
                tracing::debug!(path = %raw.display(), kind = ?other, "skipping tar entry");
                continue;
            }
        }
        set_xattrs(&full, &xattrs)?;
        set_mtime(&full, meta.mtime)?;
    }
    for (dir, meta) in dirs.iter().rev() {
        set_mtime(dir, meta.mtime)?;
    }
    Ok(())
}

/// Extended attributes carried as PAX `SCHILY.xattr.*` records (file capabilities, for example).
fn pax_xattrs<R: Read>(
    entry: &mut tar::Entry<'_, R>,
) -> Result<Vec<(String, Vec<u8>)>, UnpackError> {
    let mut out = Vec::new();
    if let Some(exts) = entry
        .pax_extensions()
        .map_err(io_err("reading PAX records"))?
    {
        for ext in exts {
            let ext = ext.map_err(io_err("reading PAX records"))?;
            if let Some(name) = ext.key().ok().and_then(|k| k.strip_prefix("SCHILY.xattr.")) {
                out.push((name.to_string(), ext.value_bytes().to_vec()));
            }
        }
    }
    Ok(out)
}

fn set_xattrs(path: &Path, xattrs: &[(String, Vec<u8>)]) -> Result<(), UnpackError> {
    for (name, value) in xattrs {
        rustix::fs::lsetxattr(path, name.as_str(), value, rustix::fs::XattrFlags::empty())
            .map_err(|e| io_err(format!("setting xattr {name} on {}", path.display()))(e.into()))?;
    }
    Ok(())
}

fn set_owner(path: &Path, meta: &Meta, opts: UnpackOptions) -> Result<(), UnpackError> {
    if !opts.as_root {
        return Ok(());
    }
    let (Ok(uid), Ok(gid)) = (u32::try_from(meta.uid), u32::try_from(meta.gid)) else {
        return Ok(());
    };
    let uid = rustix::fs::Uid::from_raw(uid);
    let gid = rustix::fs::Gid::from_raw(gid);
    rustix::fs::chownat(
        rustix::fs::CWD,
        path,
        Some(uid),
        Some(gid),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| io_err(format!("chown {}", path.display()))(e.into()))
}

fn set_mtime(path: &Path, mtime: u64) -> Result<(), UnpackError> {
    let t = Timespec {
        tv_sec: i64::try_from(mtime).unwrap_or(0),
        tv_nsec: 0,
    };
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &times,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| io_err(format!("setting mtime of {}", path.display()))(e.into()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
#[path = "unpack_tests.rs"]
mod tests;
