//! rkube's store: a raft-replicated, durable, MVCC key-value store served over the etcd v3
//! gRPC API.
//!
//! # Layout
//! - `db`: the one redb database per member (raft log and state machine) and its tables.
//! - `mvcc`: revisions, the key index, and reads and writes of keys.
//! - `lease`: leases, their attached keys, and expiry.
//! - `watch`: watchers, fed from applied changes and from history.
//! - `raft`: the raft log storage, the member's raft loop, and the peer transport.
//! - `apply`: the state machine applying committed commands.
//! - `member`: one member: proposes commands, serves reads, forwards lease renewals.
//! - `server`: `run`, serving a member to clients and peers until shutdown.
//! - `grpc`: the etcd v3 services over tonic.
//! - `backend`: the storage interface the API server uses, embedded or over etcd.

pub mod apply;
pub mod backend;
pub mod config;
pub mod db;
pub mod grpc;
pub mod lease;
pub mod member;
pub mod membership;
pub mod mvcc;
pub mod proto;
pub mod raft;
pub mod server;
pub mod watch;

pub use config::{
    parse_initial_cluster, ClusterState, InitialMember, ParseClusterError, StoreConfig,
};
pub use server::{run, start, Error, Listeners, Running};
