//! `rkube shim`: the per-container process the kubelet starts (not for people to run). It runs
//! before any async runtime exists, so the container library's clone happens in a
//! single-threaded process.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Flags of `rkube shim` (set by the kubelet).
#[derive(Debug, Args)]
pub struct ShimArgs {
    /// The container library's state directory.
    #[arg(long)]
    pub root: PathBuf,
    /// The container's bundle (config.json and rootfs).
    #[arg(long)]
    pub bundle: PathBuf,
    /// The container's id.
    #[arg(long)]
    pub id: String,
    /// The container's log file (CRI format).
    #[arg(long)]
    pub log: PathBuf,
}

/// Runs one container to its end.
pub fn run(args: &ShimArgs) -> ExitCode {
    let code =
        rkube_kubelet::runtime::container::shim::run(&args.root, &args.bundle, &args.id, &args.log);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Flags of `rkube shim-exec` (set by the kubelet).
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The container library's state directory.
    #[arg(long)]
    pub root: PathBuf,
    /// The running container to enter.
    #[arg(long)]
    pub id: String,
    /// Environment entries, KEY=VALUE (repeatable).
    #[arg(long)]
    pub env: Vec<String>,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Runs a command in a running container, passing its exit code on.
pub fn exec(args: &ExecArgs) -> ExitCode {
    let code = rkube_kubelet::runtime::container::shim::exec(
        &args.root,
        &args.id,
        args.command.clone(),
        args.env.clone(),
    );
    ExitCode::from(u8::try_from(code).unwrap_or(255))
}

/// Flags of `rkube shim-sandbox` (set by the kubelet).
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Where the namespace files are bound.
    #[arg(long)]
    pub dir: PathBuf,
    /// The pod's hostname.
    #[arg(long)]
    pub hostname: String,
}

/// Creates a pod's namespaces and binds them into `dir`.
pub fn sandbox(args: &SandboxArgs) -> ExitCode {
    match rkube_kubelet::runtime::sandbox::hold_namespaces(&args.dir, &args.hostname) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
