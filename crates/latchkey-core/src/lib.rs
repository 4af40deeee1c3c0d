//! Latchkey's domain: Keycloak representations, realm defaults, roles, keys, tokens and the
//! `Store` trait. This crate does no IO of its own: storage goes through `Store`, time
//! through the `now` the caller passes in.

pub mod client_secrets;
pub mod client_uris;
pub mod clients;
pub mod crypto;
pub mod device;
pub mod form;
pub mod ident;
pub mod import;
pub mod jwt;
pub mod key_providers;
pub mod keycloak_hash;
pub mod keys;
pub mod last_used;
pub mod merge;
pub mod messages;
pub mod policies;
pub mod realm_setup;
pub mod registration;
pub mod rep;
pub mod resource;
pub mod roles;
pub mod store;

/// Milliseconds since the Unix epoch; every timestamp the domain handles is one of these.
pub type Millis = i64;
