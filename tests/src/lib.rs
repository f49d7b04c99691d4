//! rkube end-to-end harness, history checkers and benchmarks.
//!
//! Layout:
//! - [`linearizability`]: a checker for histories recorded by concurrent key-value clients.
//! - [`store_proc`]: starts `rkube store` (or etcd) members and clusters on loopback ports.
//! - [`netns`]: a store cluster in network namespaces, with kill, pause and partition faults.
//! - [`server_proc`]: starts `rkube server` on loopback ports and runs the real kubectl on it.
//! - [`fake`]: fake nodes (Node objects and leases, no kubelet) and pod status set on command,
//!   for tests of the scheduler and the controllers.
//! - [`etcdctl`]: runs the real `etcdctl` against them and reads what it prints.
//! - `src/bin/etcd-bench.rs`: a load generator for any etcd v3 endpoint (rkube's store or etcd).
//! - `bench/`: scripts that start stores on loopback and drive the load generator.

pub mod etcdctl;
pub mod fake;
pub mod linearizability;
pub mod netns;
pub mod python;
pub mod rootfs;
pub mod server_proc;
pub mod store_proc;
