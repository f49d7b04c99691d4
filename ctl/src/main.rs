//! `rkctl`: rkube's command-line tool. It reads kubeconfig like kubectl and speaks the
//! Kubernetes API, so it drives rkube and any Kubernetes cluster alike.
//!
//! # Layout
//!
//! - [`kubeconfig`]: loading, merging and resolving kubeconfig files.
//! - [`client`]: HTTPS to the API server and its error statuses.
//! - [`discovery`]: what the server serves, and kubectl's resource name resolution.
//! - [`manifest`]: reading `-f` files, directories and stdin into objects, with file and line
//!   in every error.
//! - [`output`]: tables, YAML, JSON, names, JSONPath and custom columns as kubectl prints them.
//! - [`cmd`]: one module per verb.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod client;
mod cmd;
mod describe;
mod discovery;
mod kubeconfig;
mod manifest;
mod output;
mod validate;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: failed to start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cmd::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            cmd::report(&e);
            match e.downcast_ref::<cmd::ExitWith>() {
                Some(code) => ExitCode::from(code.0),
                None => ExitCode::FAILURE,
            }
        }
    }
}
