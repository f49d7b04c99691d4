//! Watchers: clients following changes to a key or range from some revision on.
//!
//! Like etcd's watchable store, watchers are either *synced* (caught up: every newly applied
//! change is pushed to them as it is published) or *unsynced* (behind: a background task
//! reads their missing history from the backend, then moves them to synced). A synced
//! watcher whose stream cannot keep up falls back to unsynced instead of blocking the apply
//! path. All of this happens under one lock, and `publish` advances the published revision
//! under it, so no change is ever skipped or delivered twice.

mod hub;

pub use hub::{Filters, WatchHub, WatchItem, WatchSpec};
