//! Applying a script with the `nft` command (Debian's nftables), in one transaction.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// nft refused a script or could not be run.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("running nft: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("nft refused the transaction: {0}")]
    Refused(String),
}

/// Applies `script` atomically (`nft -f -`): all of it, or none of it.
pub fn apply(script: &str) -> Result<(), NftError> {
    apply_in(script, None)
}

/// As [`apply`], in the network namespace at `netns` (through `nsenter`) when given.
pub fn apply_in(script: &str, netns: Option<&Path>) -> Result<(), NftError> {
    if script.is_empty() {
        return Ok(());
    }
    let mut command = match netns {
        Some(path) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net={}", path.display())).arg("nft");
            c
        }
        None => Command::new("nft"),
    };
    let mut child = command
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NftError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(NftError::Spawn)?;
    }
    let out = child.wait_with_output().map_err(NftError::Spawn)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NftError::Refused(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ))
    }
}
