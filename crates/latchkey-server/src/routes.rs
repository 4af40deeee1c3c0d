//! Route paths, shared by the router and the discovery documents so the two cannot drift.
//! All are relative to `--http-relative-path`.

pub const HEALTH_LIVE: &str = "/health/live";
pub const HEALTH_READY: &str = "/health/ready";
pub const METRICS: &str = "/metrics";
/// The OpenAPI document of the registration and admin APIs (`openapi.rs`).
pub const OPENAPI: &str = "/openapi.json";

pub const OIDC_DISCOVERY: &str = "/realms/{realm}/.well-known/openid-configuration";
pub const OAUTH_DISCOVERY: &str = "/realms/{realm}/.well-known/oauth-authorization-server";
/// RFC 8414 §3.1: the well-known segment inserted before the issuer's path.
pub const OAUTH_DISCOVERY_ROOT: &str = "/.well-known/oauth-authorization-server/realms/{realm}";
/// OIDC discovery at the same path-insertion location, which MCP clients try second.
pub const OIDC_DISCOVERY_ROOT: &str = "/.well-known/openid-configuration/realms/{realm}";
pub const CERTS: &str = "/realms/{realm}/protocol/openid-connect/certs";
pub const TOKEN: &str = "/realms/{realm}/protocol/openid-connect/token";
pub const INTROSPECT: &str = "/realms/{realm}/protocol/openid-connect/token/introspect";
pub const REVOKE: &str = "/realms/{realm}/protocol/openid-connect/revoke";
pub const USERINFO: &str = "/realms/{realm}/protocol/openid-connect/userinfo";
pub const AUTH: &str = "/realms/{realm}/protocol/openid-connect/auth";
pub const LOGOUT: &str = "/realms/{realm}/protocol/openid-connect/logout";
/// Where the logout confirmation page posts (Keycloak's path).
pub const LOGOUT_CONFIRM: &str = "/realms/{realm}/protocol/openid-connect/logout/logout-confirm";
pub const LOGIN_ACTION: &str = "/realms/{realm}/login-actions/authenticate";
pub const CONSENT_ACTION: &str = "/realms/{realm}/login-actions/consent";

pub const REGISTRATION_OIDC: &str = "/realms/{realm}/clients-registrations/openid-connect";
pub const REGISTRATION_OIDC_CLIENT: &str =
    "/realms/{realm}/clients-registrations/openid-connect/{client_id}";
pub const REGISTRATION_DEFAULT: &str = "/realms/{realm}/clients-registrations/default";
pub const REGISTRATION_DEFAULT_CLIENT: &str =
    "/realms/{realm}/clients-registrations/default/{client_id}";
pub const REGISTRATION_INSTALL_CLIENT: &str =
    "/realms/{realm}/clients-registrations/install/{client_id}";

/// The path of a realm-scoped route for one realm: `{realm}` filled in.
pub fn for_realm(route: &str, realm: &str) -> String {
    route.replace("{realm}", realm)
}
