//! `rkctl cp`: files and directories to and from containers, as kubectl copies them: a tar
//! stream through `exec` (`tar cf -` in the container to download, `tar -xmf -` to upload), so
//! the container needs a `tar` binary.

use std::path::{Component, Path, PathBuf};

use clap::Args;
use serde_json::Value;

use super::exec::{capture, Captured};
use super::{err, Ctx};

/// Flags of `rkctl cp`.
#[derive(Debug, Args)]
pub struct Opts {
    /// Source: a local path or [NAMESPACE/]POD:PATH.
    src: String,
    /// Destination: a local path or [NAMESPACE/]POD:PATH.
    dest: String,
    /// Container name; defaults to the pod's default container.
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// Do not keep ownership and permissions of copied files in the container.
    #[arg(long)]
    no_preserve: bool,
}

/// One side of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Spec {
    Local(PathBuf),
    Remote {
        namespace: Option<String>,
        pod: String,
        path: String,
    },
}

fn parse_spec(s: &str) -> anyhow::Result<Spec> {
    let Some((pod, path)) = s.split_once(':') else {
        return Ok(Spec::Local(PathBuf::from(s)));
    };
    if pod.is_empty() || pod.starts_with('/') || pod.starts_with('.') {
        return Ok(Spec::Local(PathBuf::from(s)));
    }
    if path.is_empty() {
        anyhow::bail!("filepath can not be empty");
    }
    let (namespace, pod) = match pod.split_once('/') {
        Some((ns, p)) => (Some(ns.to_owned()), p.to_owned()),
        None => (None, pod.to_owned()),
    };
    Ok(Spec::Remote {
        namespace,
        pod,
        path: path.to_owned(),
    })
}

/// Runs `rkctl cp`.
///
/// # Errors
/// Both or neither side in a pod, a missing `tar` or path in the container, local I/O.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    match (parse_spec(&o.src)?, parse_spec(&o.dest)?) {
        (
            Spec::Remote {
                namespace,
                pod,
                path,
            },
            Spec::Local(dest),
        ) => {
            check_namespace(ctx, namespace.as_deref()).await?;
            let container = container(ctx, &pod, o.container.as_deref()).await?;
            download(ctx, &pod, &container, &path, &dest).await
        }
        (
            Spec::Local(src),
            Spec::Remote {
                namespace,
                pod,
                path,
            },
        ) => {
            check_namespace(ctx, namespace.as_deref()).await?;
            let container = container(ctx, &pod, o.container.as_deref()).await?;
            upload(ctx, &pod, &container, &src, &path, o.no_preserve).await
        }
        (Spec::Local(_), Spec::Local(_)) => {
            anyhow::bail!("one of src or dest must be a remote file specification")
        }
        (Spec::Remote { .. }, Spec::Remote { .. }) => {
            anyhow::bail!("one of src or dest must be a local file specification")
        }
    }
}

/// A namespace given in the spec must be the one the client uses (`-n`).
async fn check_namespace(ctx: &Ctx, namespace: Option<&str>) -> anyhow::Result<()> {
    let client = ctx.client().await?;
    match namespace {
        Some(ns) if ns != client.namespace => anyhow::bail!(
            "the namespace of the file specification ({ns}) must match the namespace of the command ({}); use -n {ns}",
            client.namespace
        ),
        _ => Ok(()),
    }
}

async fn container(ctx: &Ctx, pod: &str, named: Option<&str>) -> anyhow::Result<String> {
    if let Some(c) = named {
        return Ok(c.to_owned());
    }
    let client = ctx.client().await?;
    let obj: Value = client
        .get(&format!(
            "/api/v1/namespaces/{}/pods/{pod}",
            client.namespace
        ))
        .await?;
    super::logs::default_container(&obj, false)
        .ok_or_else(|| anyhow::anyhow!("pod {pod} has no containers"))
}

/// The error a failed remote command means, with what it printed.
fn failed(captured: &Captured) -> Option<String> {
    let status: Value = serde_json::from_slice(&captured.status).ok()?;
    if status["status"] == "Success" {
        return None;
    }
    let stderr = String::from_utf8_lossy(&captured.stderr).trim().to_owned();
    Some(if stderr.is_empty() {
        status["message"]
            .as_str()
            .unwrap_or("command failed")
            .to_owned()
    } else {
        stderr
    })
}

async fn download(
    ctx: &Ctx,
    pod: &str,
    container: &str,
    src: &str,
    dest: &Path,
) -> anyhow::Result<()> {
    let captured = capture(ctx, pod, container, &["tar", "cf", "-", src], None).await?;
    if let Some(message) = failed(&captured) {
        anyhow::bail!("{message}");
    }
    // Entries are named like the source path without its leading `/`: what follows that
    // prefix goes under `dest`.
    let prefix = src.trim_start_matches('/').trim_end_matches('/').to_owned();
    let mut archive = tar::Archive::new(captured.stdout.as_slice());
    let entries = archive
        .entries()
        .map_err(|e| anyhow::anyhow!("reading the archive from the container: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| anyhow::anyhow!("reading the archive: {e}"))?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let name = name.trim_end_matches('/');
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let rest = rest.trim_start_matches('/');
        let target = if rest.is_empty() {
            dest.to_path_buf()
        } else {
            let relative = Path::new(rest);
            if relative
                .components()
                .any(|c| !matches!(c, Component::Normal(_)))
            {
                err(&format!(
                    "warning: file {name:?} is outside target destination, skipping\n"
                ));
                continue;
            }
            dest.join(relative)
        };
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            err(&format!("warning: skipping symlink: {name:?}\n"));
            continue;
        }
        if kind.is_dir() {
            std::fs::create_dir_all(&target)
                .map_err(|e| anyhow::anyhow!("{}: {e}", target.display()))?;
            continue;
        }
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow::anyhow!("{}: {e}", parent.display()))?;
        }
        entry
            .unpack(&target)
            .map_err(|e| anyhow::anyhow!("{}: {e}", target.display()))?;
    }
    Ok(())
}

async fn upload(
    ctx: &Ctx,
    pod: &str,
    container: &str,
    src: &Path,
    dest: &str,
    no_preserve: bool,
) -> anyhow::Result<()> {
    let meta = std::fs::metadata(src).map_err(|e| anyhow::anyhow!("{}: {e}", src.display()))?;
    let base = src
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A destination that is a directory in the container receives the source by its name.
    let mut dest = dest.to_owned();
    if dest.ends_with('/') {
        dest.push_str(&base);
    } else {
        let probe = capture(ctx, pod, container, &["test", "-d", &dest], None).await?;
        if failed(&probe).is_none() {
            dest = format!("{dest}/{base}");
        }
    }
    let (dir, name) = match dest.rsplit_once('/') {
        Some(("", name)) => ("/".to_owned(), name.to_owned()),
        Some((dir, name)) => (dir.to_owned(), name.to_owned()),
        None => (".".to_owned(), dest.clone()),
    };
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    if meta.is_dir() {
        builder.append_dir_all(&name, src)?;
    } else {
        builder.append_path_with_name(src, &name)?;
    }
    let archive = builder.into_inner()?;
    let mut command = vec!["tar"];
    if no_preserve {
        command.extend(["--no-same-permissions", "--no-same-owner"]);
    }
    command.extend(["-xmf", "-", "-C", &dir]);
    let captured = capture(ctx, pod, container, &command, Some(archive)).await?;
    if let Some(message) = failed(&captured) {
        anyhow::bail!("{message}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_read_as_kubectl_reads_them() {
        assert_eq!(parse_spec("./a:b").unwrap(), Spec::Local("./a:b".into()));
        assert_eq!(parse_spec("/tmp/x").unwrap(), Spec::Local("/tmp/x".into()));
        assert_eq!(
            parse_spec("web:/etc/hosts").unwrap(),
            Spec::Remote {
                namespace: None,
                pod: "web".into(),
                path: "/etc/hosts".into()
            }
        );
        assert_eq!(
            parse_spec("demo/web:data").unwrap(),
            Spec::Remote {
                namespace: Some("demo".into()),
                pod: "web".into(),
                path: "data".into()
            }
        );
        assert_eq!(
            parse_spec("web:").unwrap_err().to_string(),
            "filepath can not be empty"
        );
    }
}
