//! Replication: the raft log storage, the member's raft loop, and the peer transport.

mod logger;
pub use logger::logger;
pub mod node;
pub mod storage;
pub mod transport;
