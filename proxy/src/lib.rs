//! rkube's service proxy: Services made real in the node's kernel with nftables, as
//! kube-proxy's nftables mode does (a table of its own, `ip rkube`; verdict maps keyed on
//! address, protocol and port; one chain per Service port and per endpoint; changes applied as
//! one atomic transaction holding only what changed).
//!
//! - [`model`]: Service ports and their endpoints, read from Services and EndpointSlices;
//! - [`rules`]: the table wanted for them, a pure function;
//! - [`transaction`]: the nft script from what is programmed to what is wanted;
//! - [`nft`]: applying a script;
//! - [`sync`]: the loop watching Services and EndpointSlices and programming the table;
//! - [`dns`]: the cluster DNS server.

pub mod dns;
pub mod model;
pub mod nft;
pub mod rules;
pub mod sync;
pub mod transaction;

pub use sync::{run, Config, Error};
