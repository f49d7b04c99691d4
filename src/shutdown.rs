//! Process shutdown: one token cancelled on SIGINT or SIGTERM, then a drain with a deadline.

use std::future::Future;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How long components get to finish after the shutdown signal before the process exits anyway.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// Drives `work` to completion. On the first SIGINT or SIGTERM, cancels `shutdown` and gives
/// `work` up to `deadline` to return; a second signal stops waiting at once.
///
/// # Errors
/// The error `work` returns; or, if it has not returned in time after a signal, an error saying
/// so (the caller exits non-zero). Fails up front if the signal handlers cannot be installed.
pub async fn run_until_signal<F>(
    work: F,
    shutdown: CancellationToken,
    deadline: Duration,
) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>>,
{
    let mut signals = Signals::install()?;
    tokio::pin!(work);
    tokio::select! {
        result = &mut work => return result,
        name = signals.next() => {
            info!(signal = name, ?deadline, "shutting down: draining");
        }
    }
    shutdown.cancel();
    tokio::select! {
        result = &mut work => {
            result?;
            info!("stopped cleanly");
            Ok(())
        }
        () = tokio::time::sleep(deadline) => {
            bail!("did not stop within {deadline:?} of the shutdown signal; exiting without waiting further")
        }
        name = signals.next() => {
            warn!(signal = name, "second signal: not waiting for the drain to finish");
            bail!("interrupted by a second {name} while draining")
        }
    }
}

/// SIGINT and SIGTERM, installed once so a second signal is seen too.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())
                .context("failed to install the SIGINT handler")?,
            terminate: signal(SignalKind::terminate())
                .context("failed to install the SIGTERM handler")?,
        })
    }

    /// Waits for the next signal and names it.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_work_result_without_a_signal() {
        let token = CancellationToken::new();
        let ok = run_until_signal(async { Ok(()) }, token.clone(), DRAIN_DEADLINE).await;
        assert!(ok.is_ok());
        assert!(!token.is_cancelled(), "no signal, so no cancellation");

        let err = run_until_signal(
            async { Err(anyhow::anyhow!("boom")) },
            token,
            DRAIN_DEADLINE,
        )
        .await;
        assert_eq!(err.expect_err("work failed").to_string(), "boom");
    }
}
