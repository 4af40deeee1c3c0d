//! OAuth 2.0 / OIDC protocol endpoints: discovery, JWKS, the token endpoint.

pub mod authorize;
pub mod client_auth;
pub mod code;
pub mod discovery;
pub mod introspect;
pub mod logout;
pub mod mint;
pub mod pages;
pub mod password;
mod realm;
pub mod session;
pub mod token;
pub mod userinfo;

use axum::Router;
use axum::routing::{get, post};

pub use realm::enabled_realm;

use crate::routes;
use crate::state::SharedState;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route(routes::OIDC_DISCOVERY, get(discovery::openid_configuration))
        .route(
            routes::OIDC_DISCOVERY_ROOT,
            get(discovery::openid_configuration),
        )
        .route(routes::OAUTH_DISCOVERY, get(discovery::oauth_metadata))
        .route(routes::OAUTH_DISCOVERY_ROOT, get(discovery::oauth_metadata))
        .route(routes::CERTS, get(discovery::certs))
        .route(routes::TOKEN, post(token::token))
        .route(
            routes::AUTH,
            get(authorize::authorize).post(authorize::authorize),
        )
        .route(routes::LOGIN_ACTION, post(authorize::login))
        .route(routes::CONSENT_ACTION, post(authorize::consent))
        .route(routes::LOGOUT, get(logout::logout).post(logout::logout))
        .route(routes::LOGOUT_CONFIRM, post(logout::logout_confirm))
        .route(routes::INTROSPECT, post(introspect::introspect))
        .route(routes::REVOKE, post(introspect::revoke))
        .route(
            routes::USERINFO,
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
}
