//! The admin REST API: Keycloak's shapes, statuses and error bodies, and who may do what;
//! one file per resource: realms (`realms.rs`), clients and client scopes (`clients.rs`),
//! users, roles and their mappings (`users.rs`), user sessions (`sessions.rs`), rights
//! through `realm-management` roles (`rights.rs`), and the remaining endpoints' success and
//! error paths (`remaining_endpoints.rs`).

mod clients;
mod keys;
mod realms;
mod remaining_endpoints;
mod rights;
mod sessions;
mod users;
