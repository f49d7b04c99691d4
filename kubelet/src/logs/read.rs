//! Parsing CRI log entries and serving a log request from a container's log file.

use std::collections::VecDeque;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt};

use super::LogOptions;

/// How often a followed log looks for new entries.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// Which output of the container an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One entry of a CRI log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub time: Timestamp,
    pub stream: Stream,
    /// Part of a line whose end is in a later entry.
    pub partial: bool,
    /// The bytes the container wrote, without the line's newline.
    pub content: &'a [u8],
}

/// Why a log could not be served.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("failed to open log file {path:?}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading log file {path:?}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The client went away; not worth reporting.
    #[error("writing the log to the client: {0}")]
    Write(#[source] std::io::Error),
    #[error("malformed log entry: {0}")]
    Malformed(&'static str),
}

/// Parses one line of a CRI log file (without its trailing newline).
pub fn parse_entry(line: &[u8]) -> Result<Entry<'_>, LogError> {
    let mut fields = line.splitn(4, |b| *b == b' ');
    let time = fields.next().ok_or(LogError::Malformed("no time"))?;
    let time = std::str::from_utf8(time)
        .ok()
        .and_then(|t| t.parse::<Timestamp>().ok())
        .ok_or(LogError::Malformed("the time is not RFC 3339"))?;
    let stream = match fields.next() {
        Some(b"stdout") => Stream::Stdout,
        Some(b"stderr") => Stream::Stderr,
        _ => {
            return Err(LogError::Malformed(
                "the stream is neither stdout nor stderr",
            ))
        }
    };
    let partial = match fields.next() {
        Some(b"P") => true,
        Some(b"F") => false,
        _ => return Err(LogError::Malformed("the tag is neither P nor F")),
    };
    Ok(Entry {
        time,
        stream,
        partial,
        content: fields.next().unwrap_or_default(),
    })
}

/// Renders entries into whole lines of output, honouring `since` and `timestamps`.
struct Lines<'o> {
    options: &'o LogOptions,
    /// The line being assembled from partial entries.
    current: Vec<u8>,
}

impl<'o> Lines<'o> {
    fn new(options: &'o LogOptions) -> Self {
        Lines {
            options,
            current: Vec::new(),
        }
    }

    /// Adds one raw line of the file; returns a finished output line when the entry ends one.
    fn push(&mut self, raw: &[u8]) -> Option<Vec<u8>> {
        let entry = match parse_entry(raw) {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(error = %e, "skipping a malformed log entry");
                return None;
            }
        };
        if self.options.since.is_some_and(|since| entry.time < since) {
            return None;
        }
        if self.current.is_empty() && self.options.timestamps {
            self.current
                .extend_from_slice(format!("{} ", rfc3339_nano(entry.time)).as_bytes());
        }
        self.current.extend_from_slice(entry.content);
        if entry.partial {
            return None;
        }
        self.current.push(b'\n');
        Some(std::mem::take(&mut self.current))
    }
}

/// A time as Kubernetes prints log timestamps: UTC with nanoseconds.
fn rfc3339_nano(t: Timestamp) -> String {
    format!("{t:.9}")
}

/// Where the output stops: after `limitBytes`.
struct Limited<'w, W> {
    out: &'w mut W,
    left: Option<u64>,
}

impl<W: AsyncWrite + Unpin> Limited<'_, W> {
    /// Writes a line (or what the limit leaves of it); false once the limit is reached.
    async fn write(&mut self, bytes: &[u8]) -> Result<bool, LogError> {
        let take = match self.left {
            Some(left) => usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len()),
            None => bytes.len(),
        };
        self.out
            .write_all(&bytes[..take])
            .await
            .map_err(LogError::Write)?;
        if let Some(left) = self.left.as_mut() {
            *left -= take as u64;
            if *left == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn flush(&mut self) -> Result<(), LogError> {
        self.out.flush().await.map_err(LogError::Write)
    }
}

/// Serves a log request from the file at `path` into `out`. With `follow`, keeps reading what is
/// appended (and the new file after a rotation) until `running()` says the container has exited
/// and everything it wrote has been sent.
pub async fn read<W, F>(
    path: &Path,
    options: &LogOptions,
    out: &mut W,
    running: F,
) -> Result<(), LogError>
where
    W: AsyncWrite + Unpin,
    F: Fn() -> bool,
{
    let open_err = |source| LogError::Open {
        path: path.to_owned(),
        source,
    };
    let read_err = |source| LogError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = tokio::fs::File::open(path).await.map_err(open_err)?;
    let mut inode = file.metadata().await.map_err(read_err)?.ino();
    let mut lines = Lines::new(options);
    let mut out = Limited {
        out,
        left: options.limit_bytes,
    };
    if options.limit_bytes == Some(0) {
        return Ok(());
    }

    // What is in the file now: all of it, or the last `tailLines` lines.
    let mut pending = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut tail: VecDeque<Vec<u8>> = VecDeque::new();
    loop {
        let n = file.read(&mut chunk).await.map_err(read_err)?;
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&chunk[..n]);
        for line in drain_lines(&mut pending) {
            let Some(rendered) = lines.push(&line) else {
                continue;
            };
            match options.tail_lines {
                Some(0) => {}
                Some(keep) => {
                    if tail.len() as u64 == keep {
                        tail.pop_front();
                    }
                    tail.push_back(rendered);
                }
                None => {
                    if !out.write(&rendered).await? {
                        return out.flush().await;
                    }
                }
            }
        }
    }
    for rendered in tail {
        if !out.write(&rendered).await? {
            return out.flush().await;
        }
    }
    out.flush().await?;
    if !options.follow {
        return Ok(());
    }

    // Following: poll for appended bytes; a rotated file is reopened from its start.
    loop {
        let exited = !running();
        let n = file.read(&mut chunk).await.map_err(read_err)?;
        if n > 0 {
            pending.extend_from_slice(&chunk[..n]);
            for line in drain_lines(&mut pending) {
                if let Some(rendered) = lines.push(&line) {
                    if !out.write(&rendered).await? {
                        return out.flush().await;
                    }
                }
            }
            out.flush().await?;
            continue;
        }
        match tokio::fs::metadata(path).await {
            Ok(meta) if meta.ino() != inode => {
                file = tokio::fs::File::open(path).await.map_err(open_err)?;
                inode = meta.ino();
                pending.clear();
                continue;
            }
            Ok(meta) => {
                let pos = file.stream_position().await.map_err(read_err)?;
                if meta.len() < pos {
                    // Truncated in place: start again from the beginning.
                    file.seek(std::io::SeekFrom::Start(0))
                        .await
                        .map_err(read_err)?;
                    pending.clear();
                    continue;
                }
            }
            Err(_) => {}
        }
        if exited {
            return Ok(());
        }
        tokio::time::sleep(FOLLOW_POLL).await;
    }
}

/// Takes the complete lines (without newlines) off the front of `pending`.
fn drain_lines(pending: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let Some(last) = pending.iter().rposition(|b| *b == b'\n') else {
        return Vec::new();
    };
    let rest = pending.split_off(last + 1);
    let done = std::mem::replace(pending, rest);
    done[..last]
        .split(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    const LOG: &str = "\
2026-11-23T10:00:00.000000001Z stdout F one
2026-11-23T10:00:01.000000000Z stderr P tw
2026-11-23T10:00:01.500000000Z stderr F o
2026-11-23T10:00:02Z stdout F three
not a log line
2026-11-23T10:00:03Z stdout F 
";

    async fn serve(text: &str, options: LogOptions) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, text).unwrap();
        let mut out = Vec::new();
        read(&path, &options, &mut out, || false).await.unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn parses_entries() {
        let e = parse_entry(b"2026-11-23T10:00:00.5Z stderr P a b c").unwrap();
        assert_eq!(e.stream, Stream::Stderr);
        assert!(e.partial);
        assert_eq!(e.content, b"a b c");
        assert_eq!(e.time, "2026-11-23T10:00:00.5Z".parse().unwrap());
        assert!(parse_entry(b"yesterday stdout F x").is_err());
        assert!(parse_entry(b"2026-11-23T10:00:00Z stdin F x").is_err());
        assert_eq!(
            parse_entry(b"2026-11-23T10:00:00Z stdout F")
                .unwrap()
                .content,
            b""
        );
    }

    #[tokio::test]
    async fn whole_lines_partials_joined() {
        assert_eq!(
            serve(LOG, LogOptions::default()).await,
            "one\ntwo\nthree\n\n"
        );
    }

    #[tokio::test]
    async fn tail_since_timestamps_limit() {
        let tail = LogOptions {
            tail_lines: Some(2),
            ..Default::default()
        };
        assert_eq!(serve(LOG, tail).await, "three\n\n");
        let since = LogOptions {
            since: Some("2026-11-23T10:00:01.2Z".parse().unwrap()),
            ..Default::default()
        };
        // The first half of "two" is older than sinceTime, so only its end is shown.
        assert_eq!(serve(LOG, since).await, "o\nthree\n\n");
        let stamped = LogOptions {
            timestamps: true,
            tail_lines: Some(3),
            ..Default::default()
        };
        assert_eq!(
            serve(LOG, stamped).await,
            "2026-11-23T10:00:01.000000000Z two\n2026-11-23T10:00:02.000000000Z three\n2026-11-23T10:00:03.000000000Z \n"
        );
        let limited = LogOptions {
            limit_bytes: Some(6),
            ..Default::default()
        };
        assert_eq!(serve(LOG, limited).await, "one\ntw");
        let none = LogOptions {
            tail_lines: Some(0),
            ..Default::default()
        };
        assert_eq!(serve(LOG, none).await, "");
    }

    async fn expect(client: &mut tokio::io::DuplexStream, got: &mut String, want: &str) {
        let mut buf = [0u8; 256];
        while !got.ends_with(want) {
            let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf))
                .await
                .expect("the followed log went quiet")
                .unwrap();
            got.push_str(std::str::from_utf8(&buf[..n]).unwrap());
        }
    }

    #[tokio::test]
    async fn follow_reads_appends_and_rotation_until_exit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, "2026-11-23T10:00:00Z stdout F first\n").unwrap();
        let running = Arc::new(AtomicBool::new(true));
        let options = LogOptions {
            follow: true,
            ..Default::default()
        };
        let (mut client, mut server) = tokio::io::duplex(4096);
        let reader = {
            let path = path.clone();
            let running = running.clone();
            tokio::spawn(async move {
                read(&path, &options, &mut server, || {
                    running.load(Ordering::SeqCst)
                })
                .await
            })
        };
        let mut got = String::new();
        expect(&mut client, &mut got, "first\n").await;
        // An entry written in two pieces is sent once complete.
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"2026-11-23T10:00:01Z stdout F sec").unwrap();
        f.flush().unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        f.write_all(b"ond\n").unwrap();
        expect(&mut client, &mut got, "second\n").await;
        // Rotation: the file is renamed away and a new one appears.
        std::fs::rename(&path, dir.path().join("0.log.1")).unwrap();
        std::fs::write(&path, "2026-11-23T10:00:02Z stdout F third\n").unwrap();
        expect(&mut client, &mut got, "third\n").await;
        running.store(false, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("follow did not end after the container exited")
            .unwrap()
            .unwrap();
        assert_eq!(got, "first\nsecond\nthird\n");
    }
}
