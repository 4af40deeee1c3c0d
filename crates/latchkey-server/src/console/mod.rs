//! The admin console: server-rendered HTML pages at `/admin/console/`, over the
//! same authorization and the same operations (`service/`) as the admin REST API.
//!
//! - Login is the authorization code flow with PKCE as the realm's `security-admin-console`
//!   client (master by default, `?realm=` for a realm's own admins), in `session.rs`. The
//!   code is redeemed in process; the console session is then an AEAD-sealed, HttpOnly,
//!   SameSite=Lax cookie naming the realm and the user. Rights are read from the store at
//!   each request and checked with the same `AdminRights` as the REST API, so a realm
//!   admin sees only their realm and a revoked role stops working at once.
//! - Every change is a POST through `form::ConsolePost`, which refuses (403) a missing or wrong
//!   per-session CSRF token and an `Origin` other than the server's own before any handler
//!   runs.
//! - Pages call the operations in `service/` with the right the REST API checks for the
//!   same operation, so validation, error texts and admin events are the API's.

mod client_list;
mod clients;
mod events;
mod form;
mod keys;
mod page;
mod policies;
mod realms;
mod registration;
mod resource_servers;
mod session;
mod tokens;
mod user;

use crate::routes::{Route, route};

pub use user::CONSOLE;

/// The console's pages, left out of the OpenAPI document.
pub fn routes() -> Vec<Route> {
    const PAGE: &str = "an admin console page";
    vec![
        // Keycloak sends its root to the admin console.
        route!(GET "/" => session::to_console, hidden PAGE),
        route!(GET "/admin" => session::to_console, hidden PAGE),
        route!(GET "/admin/" => session::to_console, hidden PAGE),
        route!(GET CONSOLE => session::to_console, hidden PAGE),
        route!(GET "/admin/console/" => realms::list, hidden PAGE),
        route!(GET "/admin/console/console.css" => page::stylesheet, hidden PAGE),
        route!(GET "/admin/console/login" => session::login, hidden PAGE),
        route!(GET "/admin/console/callback" => session::callback, hidden PAGE),
        route!(POST "/admin/console/logout" => session::logout, hidden PAGE),
        route!(POST "/admin/console/realms" => realms::create, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}" => realms::home, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}/client-registration" => registration::page, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/client-registration/switches" => registration::save_switches, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/client-registration/policies" => policies::create_policy, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}/client-registration/policies/{id}" => policies::edit_policy, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/client-registration/policies/{id}" => policies::update_policy, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/client-registration/policies/{id}/delete" => policies::delete_policy, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/client-registration/evaluate" => registration::evaluate, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}/clients" => client_list::list, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/clients/bulk" => client_list::bulk, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}/clients/{id}" => clients::detail, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/clients/{id}/enabled" => clients::set_enabled, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/clients/{id}/secret" => clients::regenerate_secret, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/clients/{id}/registration-access-token" => clients::registration_access_token, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/clients/{id}/delete" => clients::delete, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}/initial-access" => tokens::list, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/initial-access" => tokens::create, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/initial-access/{id}/delete" => tokens::delete, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}/resource-servers" => resource_servers::list, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/resource-servers" => resource_servers::create, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/resource-servers/{id}/delete" => resource_servers::delete, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}/keys" => keys::list, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/keys/{id}/rotate" => keys::rotate, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/keys/{id}/delete" => keys::delete, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}/events" => events::list, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/events/settings" => events::save_settings, hidden PAGE),
    ]
}
