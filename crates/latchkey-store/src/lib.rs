//! The `Store` on SQLite and PostgreSQL. One implementation over sqlx's `Any` driver: the
//! schema and every query are portable SQL (`schema.rs`), so both backends run exactly
//! the same statements and there is no per-backend branch inside a query (multi-row
//! inserts and the batched refresh token read spell SQLite's placeholders `?`: `rows`).
//! The backend is chosen once, from the URL, at start-up.
//!
//! Modules import downward only: `store_impl` hands the `Store` trait's methods to one file
//! per aggregate (`realms`, `clients`, `users`, `roles`, `scopes`, `components`,
//! `initial_access`, `events`, `tokens`, `transient`); they read and write through
//! `sql_store` (`SqlStore`: connecting, migrating, cached reads, `SqlStore::write`), the
//! hot writes' path `write/` and the refresh tokens' coalesced reads `refresh_reads`; below
//! those, `notify` (cross-node cache invalidation), `cache`, `touched` (the last-used days
//! this node queued) and `sql` (the helpers every statement uses). Beside them, `backup`:
//! the online copy of a SQLite file.

mod backup;
pub mod cache;
mod notify;
mod refresh_reads;
mod schema;
mod sql;
mod sql_store;
mod touched;
mod write;

mod clients;
mod components;
mod events;
mod initial_access;
mod realms;
mod resource_servers;
mod roles;
mod scopes;
mod store_impl;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;
mod transient;
mod users;

pub use backup::sqlite_vacuum_into;
pub use sql::{Backend, sqlite_file};
pub use sql_store::SqlStore;
pub use write::Stats;
