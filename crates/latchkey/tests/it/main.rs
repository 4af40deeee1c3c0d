//! Latchkey's one integration-test binary (one binary: each extra one costs link time).
//! Scenario tests run on SQLite always and on PostgreSQL whenever it is reachable; in CI
//! (`CI` set) an unreachable PostgreSQL fails the run instead of skipping.

#![allow(clippy::unwrap_used)]

mod support;

mod admin_api;
mod admin_event_paths;
mod admin_events;
mod assertions;
mod at_rest;
mod backup;
mod boundary;
mod brute_force;
mod cimd;
mod client_uris;
mod code_flow;
mod console;
mod crash;
mod device;
mod discovery;
mod e2e;
mod first_run;
mod https;
mod import_export;
mod introspect;
mod isolation;
mod key_rotation;
mod last_used;
mod limits;
mod node;
mod outbound;
mod policies;
mod racing;
mod reg_cli;
mod registration;
mod resource_indicators;
mod shipping;
mod slow_clients;
mod token;
