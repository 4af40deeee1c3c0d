//! OAuth 2.0 / OIDC protocol endpoints: discovery, JWKS, the token endpoint, the device
//! authorization grant (`device`, `device_page`); clients known by their metadata
//! document's URL (`cimd`).

pub mod authorize;
pub mod cimd;
pub mod client_auth;
pub mod code;
pub mod device;
pub mod device_page;
pub mod discovery;
pub mod introspect;
pub mod logout;
pub mod mint;
pub mod pages;
pub mod password;
mod realm;
pub mod resource;
pub mod session;
pub mod token;
pub mod userinfo;

pub use realm::enabled_realm;

use crate::routes::{self, Route, route};

/// Protocol endpoints and browser pages, described by the discovery documents rather than
/// the OpenAPI document.
pub fn routes() -> Vec<Route> {
    const PROTOCOL: &str = "an OAuth/OIDC endpoint, described by discovery";
    const PAGE: &str = "a browser page";
    vec![
        route!(GET routes::OIDC_DISCOVERY => discovery::openid_configuration, hidden PROTOCOL),
        route!(GET routes::OIDC_DISCOVERY_ROOT => discovery::openid_configuration, hidden PROTOCOL),
        route!(GET routes::OAUTH_DISCOVERY => discovery::oauth_metadata, hidden PROTOCOL),
        route!(GET routes::OAUTH_DISCOVERY_ROOT => discovery::oauth_metadata, hidden PROTOCOL),
        route!(GET routes::CERTS => discovery::certs, hidden PROTOCOL),
        route!(POST routes::TOKEN => token::token, hidden PROTOCOL),
        route!(GET routes::AUTH => authorize::authorize, hidden PAGE),
        route!(POST routes::AUTH => authorize::authorize, hidden PAGE),
        route!(POST routes::DEVICE_AUTH => device::device_authorization, hidden PROTOCOL),
        route!(GET routes::DEVICE_VERIFY => device_page::verify, hidden PAGE),
        route!(POST routes::DEVICE_VERIFY => device_page::verify, hidden PAGE),
        route!(POST routes::LOGIN_ACTION => authorize::login, hidden PAGE),
        route!(POST routes::CONSENT_ACTION => authorize::consent, hidden PAGE),
        route!(GET routes::LOGOUT => logout::logout, hidden PAGE),
        route!(POST routes::LOGOUT => logout::logout, hidden PAGE),
        route!(POST routes::LOGOUT_CONFIRM => logout::logout_confirm, hidden PAGE),
        route!(POST routes::INTROSPECT => introspect::introspect, hidden PROTOCOL),
        route!(POST routes::REVOKE => introspect::revoke, hidden PROTOCOL),
        route!(GET routes::USERINFO => userinfo::userinfo, hidden PROTOCOL),
        route!(POST routes::USERINFO => userinfo::userinfo, hidden PROTOCOL),
    ]
}
