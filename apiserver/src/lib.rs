//! rkube's API server: the Kubernetes REST API over the store.
//!
//! # Layout
//!
//! - [`server`]: TLS listener, authentication, routing of every path.
//! - `rest/`: the verbs on resources (get, list, watch, create, update, patch, delete,
//!   deletecollection) and the subresources, with Kubernetes' semantics.
//! - [`cache`]: the watch cache that serves lists and watches from one store watch per resource.
//! - [`compaction`]: the store's history compacted every five minutes, as Kubernetes does.
//! - [`discovery`], [`openapi`]: the documents clients read to learn what is served.
//! - [`admission`], [`structural`]: unknown fields, defaults and validation of every write.
//! - [`managed`]: `managedFields` and server-side apply.
//! - [`alloc`]: Service cluster IPs and node ports; [`storageclass`]: claims get the default
//!   StorageClass.
//! - [`crd`]: CustomResourceDefinitions and the custom resources they define.
//! - [`body`], [`protobuf`]: request bodies (JSON, YAML, Kubernetes protobuf) and responses.
//! - [`tls`], [`kubeconfig`], [`auth`]: the cluster CA, the admin kubeconfig, identities.
//! - [`satoken`]: service-account tokens: the signer, the TokenRequest subresource, bearer
//!   authentication with them.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod admission;
pub mod alloc;
pub mod auth;
pub mod body;
pub mod cache;
pub mod compaction;
pub mod crd;
pub mod discovery;
pub mod endpoints;
pub mod filter;
pub mod kubeconfig;
pub mod kubelet;
pub mod managed;
pub mod object;
pub mod openapi;
pub mod patch;
pub mod priority;
pub mod protobuf;
pub mod request;
pub mod resources;
pub(crate) mod rest;
pub mod satoken;
pub mod server;
pub mod status;
pub mod storageclass;
pub mod structural;
#[cfg(test)]
mod testing;
pub mod tls;

pub use server::{ApiServer, Config, ServerError};
