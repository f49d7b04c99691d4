//! SPDY/3.1, the stream multiplexing Kubernetes clients use for port-forward (plainly after an
//! `Upgrade: SPDY/3.1`, or carried inside a WebSocket): frames and header compression in
//! [`frame`], the server side of a connection in [`conn`].

pub mod conn;
pub mod frame;

pub use conn::{serve, IncomingStream, StreamWriter};
