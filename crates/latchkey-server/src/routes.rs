//! Every route the server serves, as data: the path constants (shared with the discovery
//! documents, so the two cannot drift) and the [`Route`] entries each area lists in its
//! `routes()`. The router mounts the [`Table`] and `/openapi.json` is built from the same
//! entries, so the document can neither omit nor invent a route.
//! All paths are relative to `--http-relative-path`.

use axum::Router;
use axum::http::Method;
use axum::routing::MethodRouter;

use crate::state::SharedState;

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
/// RFC 8628 §3.1 device authorization, at Keycloak's path.
pub const DEVICE_AUTH: &str = "/realms/{realm}/protocol/openid-connect/auth/device";
/// The page where a user enters a device's user code (RFC 8628 §3.3, Keycloak's path).
pub const DEVICE_VERIFY: &str = "/realms/{realm}/device";
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
    route.replace("{realm}", &crate::urls::encode_segment(realm))
}

/// One route: a method on a path, its handler, and what the OpenAPI document says of it.
pub struct Route {
    pub method: Method,
    /// The router's syntax: `{param}` for a whole segment.
    pub path: &'static str,
    pub doc: Doc,
    /// The handler, for `method` only; the router merges the entries of one path.
    pub handler: MethodRouter<SharedState>,
}

/// Whether the OpenAPI document describes a route.
pub enum Doc {
    /// An operation of the registration or admin API.
    Api(Operation),
    /// Left out of the document, for the reason given (a browser page, a protocol endpoint
    /// with its own discovery, a CORS preflight, an operations probe).
    Hidden(&'static str),
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// An admin bearer token (master realm `admin-cli`, or realm-management roles).
    Admin,
    /// Registration: anonymous, an initial access token, or a bearer token.
    Register,
    /// A registration access token (or a bearer token with client rights).
    Client,
}

/// An API operation as the OpenAPI document describes it: id, tag, who may call it, request
/// body schema, success status and schema, the error statuses it may answer, its query
/// parameters. Path parameters are read from the path.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub id: &'static str,
    pub tag: &'static str,
    pub auth: Auth,
    /// Component schema name of the JSON body (`None`: no body).
    pub body: Option<&'static str>,
    pub ok: u16,
    /// Component schema name of the success body; `[Name]` is an array of it.
    pub ok_schema: Option<&'static str>,
    pub errors: &'static [u16],
    /// `(name, JSON type)`.
    pub query: &'static [(&'static str, &'static str)],
}

/// One table entry, one line:
/// `route!(GET path => handler, hidden "why")` for a route the document leaves out, or
/// `route!(GET path => handler, "operationId", "tag", Auth, body B, 200 S, errors, query)`
/// for an API operation (`B`, `S`: `Option` of a component schema name).
macro_rules! route {
    ($m:ident $p:expr => $h:expr, hidden $why:expr) => {
        $crate::routes::Route {
            method: ::axum::http::Method::$m,
            path: $p,
            doc: $crate::routes::Doc::Hidden($why),
            handler: ::axum::routing::on(::axum::routing::MethodFilter::$m, $h),
        }
    };
    ($m:ident $p:expr => $h:expr, $id:literal, $tag:literal, $auth:ident, body $b:expr, $ok:literal $s:expr, $e:expr, $q:expr) => {
        $crate::routes::Route {
            method: ::axum::http::Method::$m,
            path: $p,
            doc: $crate::routes::Doc::Api($crate::routes::Operation {
                id: $id,
                tag: $tag,
                auth: $crate::routes::Auth::$auth,
                body: $b,
                ok: $ok,
                ok_schema: $s,
                errors: $e,
                query: $q,
            }),
            handler: ::axum::routing::on(::axum::routing::MethodFilter::$m, $h),
        }
    };
}
pub(crate) use route;

/// Every route, area by area, each area's entries from its own `routes()`; built by
/// `latchkey_server::table`.
pub struct Table {
    pub ops: Vec<Route>,
    pub oidc: Vec<Route>,
    pub admin: Vec<Route>,
    pub console: Vec<Route>,
    pub registration: Vec<Route>,
    /// `/openapi.json`, built from the areas above.
    pub openapi: Vec<Route>,
}

impl Table {
    /// Every entry, area by area.
    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        let Table {
            ops,
            oidc,
            admin,
            console,
            registration,
            openapi,
        } = self;
        [ops, oidc, admin, console, registration, openapi]
            .into_iter()
            .flatten()
    }

    /// The documented entries: the operations of `/openapi.json`.
    pub fn operations(&self) -> impl Iterator<Item = (&Route, &Operation)> {
        self.iter().filter_map(|r| match &r.doc {
            Doc::Api(op) => Some((r, op)),
            Doc::Hidden(_) => None,
        })
    }
}

/// An area's entries as a router; entries on one path become one route with their methods
/// in table order.
pub fn mount(entries: Vec<Route>) -> Router<SharedState> {
    entries
        .into_iter()
        .fold(Router::new(), |router, r| router.route(r.path, r.handler))
}
