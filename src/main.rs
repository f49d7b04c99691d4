//! The `rkube` binary: parses flags and composes components; each subcommand is one module.
//!
//! Subcommands today: `server` (the control plane: embedded store and API server) and `store`
//! (a standalone store member speaking the etcd v3 API). `agent` joins as the kubelet lands.

mod scheduler_cmd;
mod server_cmd;
mod shim_cmd;
mod shutdown;
mod store_cmd;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// The store allocates per request on every hot path (gRPC frames, protobufs, B-tree pages);
/// mimalloc's thread-local pools cost far less there than glibc's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tracing_subscriber::EnvFilter;

/// rkube: a Kubernetes-compatible cluster orchestrator.
#[derive(Debug, Parser)]
#[command(name = "rkube", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the control plane: the embedded store (or an external etcd) and the Kubernetes API
    /// server on :6443.
    Server(server_cmd::ServerArgs),
    /// Run a standalone store member that speaks the etcd v3 API (takes etcd's flags).
    Store(store_cmd::StoreArgs),
    /// Run the scheduler alone against a cluster's API (through a kubeconfig).
    Scheduler(scheduler_cmd::SchedulerArgs),
    /// The kubelet's per-container process (started by the kubelet).
    #[command(hide = true)]
    Shim(shim_cmd::ShimArgs),
    /// The kubelet's exec into a running container (started by the kubelet).
    #[command(hide = true)]
    ShimExec(shim_cmd::ExecArgs),
    /// The kubelet's maker of pod namespaces (started by the kubelet).
    #[command(hide = true)]
    ShimSandbox(shim_cmd::SandboxArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The shim runs before any thread exists: it clones containers.
    match &cli.command {
        Command::Shim(args) => return shim_cmd::run(args),
        Command::ShimExec(args) => return shim_cmd::exec(args),
        Command::ShimSandbox(args) => return shim_cmd::sandbox(args),
        _ => {}
    }
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole "failed to ...: cause" chain on one line, and no backtrace
            // even when RUST_BACKTRACE is set: these messages are for the operator.
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("failed to start the async runtime: {e}"))?;
    let result = match cli.command {
        Command::Server(args) => runtime.block_on(server_cmd::run(args)),
        Command::Store(args) => runtime.block_on(store_cmd::run(args)),
        Command::Scheduler(args) => runtime.block_on(scheduler_cmd::run(args)),
        Command::Shim(_) | Command::ShimExec(_) | Command::ShimSandbox(_) => Ok(()),
    };
    // Blocking tasks still running after the drain must not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `info`).
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
