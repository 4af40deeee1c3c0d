//! Dynamic client registration at Keycloak's endpoints (`clients-registrations/…`); this
//! file holds the routes. The providers are `oidc` (RFC 7591/7592, `openid-connect`) and
//! `keycloak` (`default`, `install`). What every handler starts from (`Registration`: the
//! realm, the caller's address and headers, the CORS origin) is `request`; the steps every
//! operation shares `steps`; who may register `auth`; refusals `error`; events `audit`;
//! writes `store`; the realm's policies `policies`; browsers `cors`. The realm switches are
//! `service::switches`.

pub mod keycloak;
pub mod oidc;

mod audit;
mod auth;
mod cors;
mod error;
mod policies;
mod request;
mod steps;
mod store;

use crate::routes::{self, Route, route};

/// Registration's routes: every one but the CORS preflights is an operation of the OpenAPI
/// document.
pub fn routes() -> Vec<Route> {
    const ERRORS: &[u16] = &[400, 401, 403, 404, 413, 429];
    const PREFLIGHT: &str = "a CORS preflight, not an API operation";
    vec![
        // RFC 7591/7592.
        route!(POST routes::REGISTRATION_OIDC => oidc::create, "oidcRegister", "registration", Register, body Some("ClientMetadata"), 201 Some("ClientInformation"), ERRORS, &[]),
        route!(OPTIONS routes::REGISTRATION_OIDC => oidc::preflight, hidden PREFLIGHT),
        route!(GET routes::REGISTRATION_OIDC_CLIENT => oidc::read, "oidcRead", "registration", Client, body None, 200 Some("ClientInformation"), ERRORS, &[]),
        route!(PUT routes::REGISTRATION_OIDC_CLIENT => oidc::update, "oidcUpdate", "registration", Client, body Some("ClientMetadata"), 200 Some("ClientInformation"), ERRORS, &[]),
        route!(DELETE routes::REGISTRATION_OIDC_CLIENT => oidc::delete, "oidcDelete", "registration", Client, body None, 204 None, ERRORS, &[]),
        route!(OPTIONS routes::REGISTRATION_OIDC_CLIENT => oidc::preflight, hidden PREFLIGHT),
        // Keycloak's `default` provider and adapter configuration.
        route!(POST routes::REGISTRATION_DEFAULT => keycloak::create, "defaultRegister", "registration", Register, body Some("ClientRepresentation"), 201 Some("ClientRepresentation"), ERRORS, &[]),
        route!(GET routes::REGISTRATION_DEFAULT_CLIENT => keycloak::read, "defaultRead", "registration", Client, body None, 200 Some("ClientRepresentation"), ERRORS, &[]),
        route!(PUT routes::REGISTRATION_DEFAULT_CLIENT => keycloak::update, "defaultUpdate", "registration", Client, body Some("ClientRepresentation"), 200 Some("ClientRepresentation"), ERRORS, &[]),
        route!(DELETE routes::REGISTRATION_DEFAULT_CLIENT => keycloak::delete, "defaultDelete", "registration", Client, body None, 204 None, ERRORS, &[]),
        route!(GET routes::REGISTRATION_INSTALL_CLIENT => keycloak::install, "installConfig", "registration", Client, body None, 200 Some("InstallConfig"), ERRORS, &[]),
    ]
}
