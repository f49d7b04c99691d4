//! Generated protobuf types: etcd's wire API (`etcd`, `mvcc`) and rkube's own records
//! (`internal`).

#![allow(missing_docs, clippy::all, missing_debug_implementations)]

/// etcd's `mvccpb` package: key-value records and watch events.
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

/// etcd's `etcdserverpb` package: requests, responses and the gRPC services.
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}

pub mod rkube {
    /// rkube's replicated commands, snapshots and the peer service.
    pub mod store {
        tonic::include_proto!("rkube.store");
    }
}

pub use etcdserverpb as etcd;
pub use mvccpb as mvcc;
pub use rkube::store as internal;
