//! The etcd v3 gRPC API over tonic: thin handlers that validate, delegate to the member,
//! and map errors to the status codes and messages etcd clients expect.

pub(crate) mod authority;
mod cluster;
mod kv;
mod lease;
mod maintenance;
mod watch;

use tonic::{Code, Status};

use crate::apply::Rejection;
use crate::member::{Error, Member};
use crate::mvcc;

pub use cluster::ClusterService;
pub use kv::KvService;
pub use lease::LeaseService;
pub use maintenance::MaintenanceService;
pub use watch::WatchService;

/// The version reported by Maintenance.Status; Kubernetes-style clients check the major and
/// minor of the etcd API they talk to.
pub const ETCD_API_VERSION: &str = "3.5.0";

/// Maps a member error to etcd's gRPC status.
pub fn status(e: Error) -> Status {
    let code = match &e {
        Error::Propose(_) | Error::Timeout => Code::Unavailable,
        Error::Rejected(r) => match r {
            Rejection::Compacted | Rejection::FutureRevision => Code::OutOfRange,
            Rejection::LeaseNotFound | Rejection::MemberNotFound => Code::NotFound,
            Rejection::LeaseExists | Rejection::MemberExists => Code::FailedPrecondition,
            Rejection::KeyNotFound | Rejection::LeaseTtlTooLarge => Code::InvalidArgument,
            Rejection::Mvcc(_) => Code::Internal,
        },
        Error::Mvcc(m) => match m {
            mvcc::Error::Compacted { .. } | mvcc::Error::FutureRevision => Code::OutOfRange,
            mvcc::Error::KeyNotFound => Code::InvalidArgument,
            mvcc::Error::LeaseNotFound => Code::NotFound,
            _ => Code::Internal,
        },
        Error::TooLarge | Error::TooManyOps | Error::DuplicateKey => Code::InvalidArgument,
        Error::NoSpace => Code::ResourceExhausted,
        Error::PeerUrlsExist => Code::FailedPrecondition,
        Error::MemberNotFound | Error::LeaseNotFound => Code::NotFound,
        Error::Forward(_) => Code::Unavailable,
        _ => Code::Internal,
    };
    Status::new(code, e.to_string())
}

/// Builds every client-facing service for `member`.
pub fn services(
    member: &Member,
) -> (
    KvService,
    WatchService,
    LeaseService,
    ClusterService,
    MaintenanceService,
) {
    (
        KvService::new(member.clone()),
        WatchService::new(member.clone()),
        LeaseService::new(member.clone()),
        ClusterService::new(member.clone()),
        MaintenanceService::new(member.clone()),
    )
}
