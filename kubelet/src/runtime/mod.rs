//! The embedded container runtime: images now; root filesystems and the container shim later.

pub mod container;
pub mod image;
pub mod sandbox;
