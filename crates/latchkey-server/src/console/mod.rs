//! The admin console: server-rendered HTML pages at `/admin/console/`, over the
//! same authorization and the same operations (`service/`) as the admin REST API.
//!
//! - Login is the authorization code flow with PKCE as the realm's `security-admin-console`
//!   client (master by default, `?realm=` for a realm's own admins), in `session.rs`. The
//!   code is redeemed in process; the console session is then an AEAD-sealed, HttpOnly,
//!   SameSite=Lax cookie naming the realm and the user. Rights are read from the store at
//!   each request and checked with the same `AdminRights` as the REST API, so a realm
//!   admin sees only their realm and a revoked role stops working at once.
//! - Every change is a POST through [`ConsolePost`], which refuses (403) a missing or wrong
//!   per-session CSRF token and an `Origin` other than the server's own before any handler
//!   runs.
//! - Pages call the operations in `service/` with the right the REST API checks for the
//!   same operation, so validation, error texts and admin events are the API's.

mod clients;
mod events;
mod page;
mod policies;
mod realms;
mod registration;
mod session;
mod tokens;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::crypto::ct_eq;
use latchkey_core::roles::Right;

use crate::error::AdminError;
use crate::routes::{Route, route};
use crate::service::{AdminAuth, RealmAdmin};
use crate::state::SharedState;
use crate::urls::BaseUrl;

pub use page::escape;
use session::NoConsole;

/// Where the console lives, under the relative path.
pub const CONSOLE: &str = "/admin/console";

/// A console answer: the page or redirect, or the page saying why not.
pub type Answer = Result<Response, Response>;

/// The console's pages, left out of the OpenAPI document.
pub fn routes() -> Vec<Route> {
    const PAGE: &str = "an admin console page";
    vec![
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
        route!(GET "/admin/console/realms/{realm}/clients" => clients::list, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}/clients/{id}" => clients::detail, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/clients/{id}/enabled" => clients::set_enabled, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/clients/{id}/secret" => clients::regenerate_secret, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/clients/{id}/registration-access-token" => clients::registration_access_token, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/clients/{id}/delete" => clients::delete, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}/initial-access" => tokens::list, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/initial-access" => tokens::create, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/initial-access/{id}/delete" => tokens::delete, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}/events" => events::list, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/events/settings" => events::save_settings, hidden PAGE),
    ]
}

/// A signed-in console user: the admin operations' caller plus the session's CSRF token.
pub struct Console {
    pub auth: AdminAuth,
    pub csrf: String,
    pub base: BaseUrl,
    pub state: SharedState,
}

impl Console {
    /// The user cleared for the target realm, if they may do `right` there (the REST
    /// API's check); else the page saying why not.
    pub async fn realm(&self, name: &str, right: Right) -> Result<RealmAdmin<'_>, Response> {
        self.auth
            .realm(&self.state, name, right)
            .await
            .map_err(self.fail())
    }

    /// A console URL under the base (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        self.base.join(&format!("{CONSOLE}{path}"))
    }

    pub fn realm_url(&self, realm: &str, path: &str) -> String {
        self.url(&format!(
            "/realms/{}{path}",
            crate::urls::encode_segment(realm)
        ))
    }

    /// The redirect to a page of the realm that follows a change.
    pub fn redirect(&self, realm: &str, path: &str) -> Response {
        Redirect::to(&self.realm_url(realm, path)).into_response()
    }

    /// A whole page for an error the REST API would answer.
    pub fn error_page(&self, e: AdminError) -> Response {
        let (status, message) = describe(e);
        self.page_for(status, &message)
    }

    /// `error_page`, as a function for `map_err`.
    pub fn fail(&self) -> impl Fn(AdminError) -> Response + '_ {
        |e| self.error_page(e)
    }

    /// A whole page for a refusal with `status` and `message`.
    pub fn page_for(&self, status: StatusCode, message: &str) -> Response {
        page::Page::new(self, "Error", None)
            .status(status)
            .body(format!(
                "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"{}\">Back to the realms</a></p>",
                status.canonical_reason().unwrap_or("Error"),
                escape(message),
                escape(&self.url("/"))
            ))
            .render()
    }
}

/// The status and message an `AdminError` stands for, for showing next to a field.
pub fn describe(e: AdminError) -> (StatusCode, String) {
    match e {
        AdminError::Unauthorized => (StatusCode::UNAUTHORIZED, "Please sign in again.".into()),
        AdminError::Forbidden => (
            StatusCode::FORBIDDEN,
            "You do not have the rights for this in this realm.".into(),
        ),
        AdminError::NotFound(m) => (StatusCode::NOT_FOUND, m.into()),
        AdminError::Conflict(m) => (StatusCode::CONFLICT, m),
        AdminError::Invalid(m) | AdminError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
        AdminError::Described(s, _, d) => (s, d),
        e @ AdminError::Internal(_) => {
            // Logged by the REST error mapping; the text never reaches the page.
            let _ = e.into_response();
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on the server; see its log.".into(),
            )
        }
    }
}

/// A console change: a signed-in user, a same-origin request, the session's CSRF token in
/// the form's `csrf` field. Anything else is refused with 403 before the handler runs.
pub struct ConsolePost {
    pub console: Console,
    pub form: Form,
}

/// An `application/x-www-form-urlencoded` body, repeated fields kept in order.
#[derive(Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    /// A field, trimmed; `""` when absent.
    pub fn text(&self, k: &str) -> String {
        self.get(k).unwrap_or("").trim().to_string()
    }

    pub fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn checked(&self, k: &str) -> bool {
        self.get(k).is_some_and(|v| v == "true" || v == "on")
    }
}

/// Splits a textarea into its non-empty lines (and commas).
pub fn lines(s: &str) -> Vec<String> {
    s.split(['\n', '\r', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn forbidden(message: &str) -> Response {
    page::bare(StatusCode::FORBIDDEN, "Refused", message)
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

impl FromRequest<SharedState> for ConsolePost {
    type Rejection = Response;

    async fn from_request(req: Request, state: &SharedState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let base = crate::urls::base_url(&state.settings, &parts.headers);
        if let Some(origin) = parts.headers.get(header::ORIGIN)
            && origin.to_str().ok() != Some(origin_of(&base))
        {
            return Err(forbidden(
                "This change came from another site (its Origin is not this server); it was refused.",
            ));
        }
        let console = match Console::from_request_parts(&mut parts, state).await {
            Ok(c) => c,
            Err(NoConsole::Login(_)) => {
                return Err(forbidden(
                    "Your console session has ended; sign in again and repeat the change.",
                ));
            }
            Err(e) => return Err(e.into_response()),
        };
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| {
                page::bare(
                    e.status(),
                    "Refused",
                    "The form could not be read (too large or malformed).",
                )
            })?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|_| {
            page::bare(
                StatusCode::BAD_REQUEST,
                "Refused",
                "The form could not be read.",
            )
        })?;
        let form = Form(pairs);
        let sent = form.get("csrf").unwrap_or("");
        if sent.is_empty() || !ct_eq(sent.as_bytes(), console.csrf.as_bytes()) {
            return Err(forbidden(
                "This form is stale or forged (its CSRF token does not match your session); reload the page and try again.",
            ));
        }
        Ok(ConsolePost { console, form })
    }
}

/// Query parameters as a map (first value wins).
pub type QueryMap = Query<HashMap<String, String>>;
