//! `rkctl version`: the client's version and the server's `/version`.

use clap::Args;
use serde_json::{json, Value};

use super::{out, Ctx};
use crate::output;

/// The version rkctl reports for itself.
pub const CLIENT_VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// Flags of `rkctl version`.
#[derive(Debug, Args)]
pub struct Opts {
    /// If true, shows client version only (no server required).
    #[arg(long)]
    client: bool,
    /// One of 'yaml' or 'json'.
    #[arg(short = 'o', long)]
    output: Option<String>,
}

fn client_info() -> Value {
    json!({
        "major": "0",
        "minor": env!("CARGO_PKG_VERSION").split('.').nth(1).unwrap_or("1"),
        "gitVersion": CLIENT_VERSION,
        "platform": format!("{}/{}", std::env::consts::OS, match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }),
    })
}

/// Runs `rkctl version`.
///
/// # Errors
/// Bad `-o`; the server's version is optional in text output as in kubectl.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let mut doc = serde_json::Map::new();
    doc.insert("clientVersion".into(), client_info());
    let mut server_error = None;
    if !o.client {
        match async {
            ctx.client()
                .await?
                .get("/version")
                .await
                .map_err(anyhow::Error::from)
        }
        .await
        {
            Ok(v) => {
                doc.insert("serverVersion".into(), v);
            }
            Err(e) => server_error = Some(e),
        }
    }
    let doc = Value::Object(doc);
    match o.output.as_deref() {
        Some("json") => out(&output::to_json(&doc)),
        Some("yaml") => out(&output::yaml::to_yaml(&doc)),
        Some(other) => anyhow::bail!("--output must be 'yaml' or 'json', not {other:?}"),
        None => {
            out(&format!("Client Version: {CLIENT_VERSION}\n"));
            if let Some(v) = doc
                .pointer("/serverVersion/gitVersion")
                .and_then(Value::as_str)
            {
                out(&format!("Server Version: {v}\n"));
            }
        }
    }
    match server_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
