//! Helpers shared by the workload controllers: label selectors, pod readiness and
//! availability, controller ownerReferences, expectations and owner-indexed caches.

pub mod backoff;
pub mod cache;
pub mod events;
pub mod expectations;
pub mod index;
pub mod owner;
pub mod pods;
pub mod runner;
pub mod selector;
