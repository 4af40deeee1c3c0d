//! The storage suite: the `Store` contract, run against SQLite and PostgreSQL alike, with
//! no server in front. PostgreSQL is `LATCHKEY_TEST_PG_URL` (or the machine's local one);
//! unreachable, its tests skip, except in CI (`CI` set), where that fails the run.

#![allow(clippy::unwrap_used)]

mod support;

mod fixtures;

mod cache;
mod client_kinds;
mod group_commit;
mod key_providers;
mod records;
mod resource_servers;
mod secrets;
mod sessions;
