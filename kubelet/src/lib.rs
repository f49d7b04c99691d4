//! rkube's kubelet: the node agent with an embedded container runtime.
//!
//! The kubelet runs inside `rkube agent` (and `rkube server` unless its agent is disabled). When
//! complete it will hold, per the design's crate table:
//!
//! - node registration and the Lease heartbeat in `kube-node-lease`;
//! - pod workers driving each pod's state machine from the pods bound to this node;
//! - `runtime/`: the embedded container runtime (image store and pull, layer unpacking, overlayfs
//!   root filesystems, the shim process driving the container library);
//! - `network/` (bridge, veth, IPAM, routes), volumes, probes, streaming (logs, exec, attach,
//!   port-forward) and stats from cgroups.
//!
//! # Layout
//!
//! - [`runtime::image`]: image references, the content-addressed image store on disk, pulling from
//!   registries, safe layer unpacking into overlayfs form, and importing image archives.

pub mod logs;
pub mod network;
pub mod node;
pub mod runtime;
pub mod streaming;
