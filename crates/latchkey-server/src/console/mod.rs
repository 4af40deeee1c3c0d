//! The admin console: server-rendered HTML pages at `/admin/console/`, over the
//! same authorization and the same handlers as the admin REST API.
//!
//! - Login is the authorization code flow with PKCE as the realm's `security-admin-console`
//!   client (master by default, `?realm=` for a realm's own admins). The code is redeemed
//!   in process; the console session is then an AEAD-sealed, HttpOnly, SameSite=Lax cookie
//!   naming the realm and the user. Rights are read from the store at each request and
//!   checked with the same `AdminRights` as the REST API, so a realm admin sees only their
//!   realm and a revoked role stops working at once.
//! - Every change is a POST through [`ConsolePost`], which refuses (403) a missing or wrong
//!   per-session CSRF token and an `Origin` other than the server's own before any handler
//!   runs.
//! - Changes call the admin REST handlers themselves (`crate::admin::*`), so validation and
//!   error texts are the API's; reads go to the store after the same rights check.

mod clients;
mod events;
mod page;
mod realms;
mod registration;
mod tokens;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_core::clients::ADMIN_CONSOLE;
use latchkey_core::crypto::{ct_eq, random_token};
use latchkey_core::roles::{AdminRights, MASTER_REALM, Right, expand};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::admin::AdminAuth;
use crate::admin::audit::{self, AuditCaller};
use crate::bearer::verify_access_token;
use crate::error::AdminError;
use crate::oidc::client_auth::Params;
use crate::routes::{self, Route, for_realm, route};
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

pub use page::escape;

/// Where the console lives, under the relative path.
pub const CONSOLE: &str = "/admin/console";
const SESSION_COOKIE: &str = "LATCHKEY_CONSOLE";
const LOGIN_COOKIE: &str = "LATCHKEY_CONSOLE_LOGIN";
const SESSION_CONTEXT: &str = "console-session";
const LOGIN_CONTEXT: &str = "console-login";
/// A console session lasts at most this long (Keycloak's default SSO maximum: 10 hours).
const SESSION_MS: i64 = 10 * 3_600_000;
const LOGIN_MS: i64 = 10 * 60_000;

/// The console's pages, left out of the OpenAPI document.
pub fn routes() -> Vec<Route> {
    const PAGE: &str = "an admin console page";
    vec![
        route!(GET "/admin" => to_console, hidden PAGE),
        route!(GET "/admin/" => to_console, hidden PAGE),
        route!(GET CONSOLE => to_console, hidden PAGE),
        route!(GET "/admin/console/" => realms::list, hidden PAGE),
        route!(GET "/admin/console/console.css" => page::stylesheet, hidden PAGE),
        route!(GET "/admin/console/login" => login, hidden PAGE),
        route!(GET "/admin/console/callback" => callback, hidden PAGE),
        route!(POST "/admin/console/logout" => logout, hidden PAGE),
        route!(POST "/admin/console/realms" => realms::create, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}" => realms::home, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}/client-registration" => registration::page, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/client-registration/switches" => registration::save_switches, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/client-registration/policies" => registration::create_policy, hidden PAGE),
        route!(GET "/admin/console/realms/{realm}/client-registration/policies/{id}" => registration::edit_policy, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/client-registration/policies/{id}" => registration::update_policy, hidden PAGE),
        route!(POST "/admin/console/realms/{realm}/client-registration/policies/{id}/delete" => registration::delete_policy, hidden PAGE),
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

async fn to_console(base: BaseUrl) -> Response {
    Redirect::to(&base.join(&format!("{CONSOLE}/"))).into_response()
}

// ------------------------------------------------------------------------- cookies

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// HttpOnly, SameSite=Lax, Secure outside start-dev, scoped to the console's paths.
fn set_cookie(state: &SharedState, name: &str, value: &str, max_age_ms: i64) -> HeaderValue {
    let path = format!("{}{CONSOLE}/", state.settings.relative_path);
    let secure = if state.settings.dev_mode {
        ""
    } else {
        "; Secure"
    };
    let v = format!(
        "{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        max_age_ms / 1000
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

fn seal<T: Serialize>(state: &SharedState, value: &T, context: &str) -> String {
    let json = serde_json::to_vec(value).unwrap_or_default();
    state.sealer.seal(&json, context)
}

fn open<T: for<'de> Deserialize<'de>>(
    state: &SharedState,
    sealed: &str,
    context: &str,
) -> Option<T> {
    let bytes = state.sealer.open(sealed, context).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The sealed session cookie's content.
#[derive(Serialize, Deserialize)]
struct SessionData {
    /// The realm the admin signed in to.
    realm: String,
    user: String,
    csrf: String,
    expires: i64,
    /// The ID token of the sign-in: the `id_token_hint` of the RP-initiated logout on
    /// sign-out, so the realm ends the session without asking (as Keycloak's console does).
    #[serde(default)]
    id_token: Option<String>,
}

/// The sealed login cookie: what the callback checks.
#[derive(Serialize, Deserialize)]
struct LoginData {
    realm: String,
    state: String,
    verifier: String,
    expires: i64,
}

// ------------------------------------------------------------------------ the session

/// A signed-in console user: the admin REST API's caller plus the session's CSRF token.
pub struct Console {
    pub auth: AdminAuth,
    pub csrf: String,
    pub base: BaseUrl,
    pub state: SharedState,
}

impl Console {
    /// The target realm, if the user may do `right` there (the REST API's check).
    pub async fn realm(
        &self,
        name: &str,
        right: Right,
    ) -> Result<(latchkey_core::store::RealmRecord, AdminRights), Response> {
        self.auth
            .realm(&self.state, name, right)
            .await
            .map_err(|e| self.error_page(e))
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

    /// A whole page for an error the REST API would answer.
    pub fn error_page(&self, e: AdminError) -> Response {
        let (status, message) = describe(e);
        page::Page::new(self, "Error", None)
            .status(status)
            .body(format!(
                "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"{}\">Back to the realms</a></p>",
                status.canonical_reason().unwrap_or("Error"),
                escape(&message),
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

/// The JSON body of an admin handler's answer (`Null` when empty).
pub async fn json_of(r: Result<Response, AdminError>) -> Result<(Response, Value), AdminError> {
    let resp = r?;
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 22)
        .await
        .map_err(AdminError::internal)?;
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((Response::from_parts(parts, axum::body::Body::empty()), v))
}

/// Why there is no console user: not signed in (go to the login), or a server error.
pub enum NoConsole {
    Login(String),
    Internal(String),
}

impl IntoResponse for NoConsole {
    fn into_response(self) -> Response {
        match self {
            NoConsole::Login(to) => Redirect::to(&to).into_response(),
            NoConsole::Internal(e) => AdminError::Internal(e).into_response(),
        }
    }
}

impl FromRequestParts<SharedState> for Console {
    type Rejection = NoConsole;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let base = BaseUrl(crate::urls::base_url(&state.settings, &parts.headers));
        let login = NoConsole::Login(base.join(&format!("{CONSOLE}/login")));
        let Some(data) = cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|c| open::<SessionData>(state, &c, SESSION_CONTEXT))
            .filter(|d| d.expires > now_millis())
        else {
            return Err(login);
        };
        let internal = |e: latchkey_core::store::StoreError| NoConsole::Internal(e.to_string());
        let Some(realm) = state
            .store
            .realm_by_name(&data.realm)
            .await
            .map_err(internal)?
            .filter(|r| r.rep.enabled.unwrap_or(false))
        else {
            return Err(login);
        };
        let Some(user) = state
            .store
            .user(&realm.id, &data.user)
            .await
            .map_err(internal)?
            .filter(|u| u.rep.enabled.unwrap_or(false))
        else {
            return Err(login);
        };
        let direct = state
            .store
            .user_role_ids(&user.id)
            .await
            .map_err(internal)?;
        let all = state.store.all_roles(&realm.id).await.map_err(internal)?;
        Ok(Console {
            auth: AdminAuth {
                realm: realm.name,
                user,
                effective: expand(&direct, &all),
            },
            csrf: data.csrf,
            base,
            state: state.clone(),
        })
    }
}

/// A console change: a signed-in user, a same-origin request, the session's CSRF token in
/// the form's `csrf` field. Anything else is refused with 403 before the handler runs.
pub struct ConsolePost {
    pub console: Console,
    pub form: Form,
    /// Who makes the change, for the admin events (as the admin API's `AdminAuth` records).
    caller: AuditCaller,
}

impl ConsolePost {
    /// Hands back the admin handler's answer, after recording a successful change as an
    /// admin event, exactly as the admin API's layer would for `method` on `path`.
    pub async fn audited(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        r: Result<Response, AdminError>,
    ) -> Result<Response, AdminError> {
        let done = match &r {
            Ok(resp) if resp.status().is_success() => Some(audit::location_of(resp)),
            _ => None,
        };
        if let Some(location) = done {
            let bytes = serde_json::to_vec(body).unwrap_or_default();
            audit::record_change(
                &self.console.state,
                &method,
                path,
                &bytes,
                self.caller.clone(),
                location,
            )
            .await;
        }
        r
    }
}

/// The admin API path of a realm's resource: `/admin/realms/{realm}{rest}`.
pub fn api_path(realm: &str, rest: &str) -> String {
    format!("/admin/realms/{}{rest}", crate::urls::encode_segment(realm))
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
        let headers = parts.headers.clone();
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
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
        let client_id = state
            .store
            .client_by_client_id(&console.auth.user.realm_id, ADMIN_CONSOLE)
            .await
            .ok()
            .flatten()
            .map(|c| c.id)
            .unwrap_or_default();
        let caller = AuditCaller {
            realm_id: console.auth.user.realm_id.clone(),
            realm_name: console.auth.realm.clone(),
            client_id,
            user_id: console.auth.user.id.clone(),
            ip_address: crate::urls::client_ip(&state.settings, &headers, peer)
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
        };
        Ok(ConsolePost {
            console,
            form,
            caller,
        })
    }
}

// -------------------------------------------------------------------- login, logout

#[derive(Deserialize)]
struct LoginQuery {
    realm: Option<String>,
}

fn callback_uri(base: &BaseUrl) -> String {
    base.join(&format!("{CONSOLE}/callback"))
}

/// Starts the authorization code flow as the realm's `security-admin-console` client.
async fn login(
    State(state): State<SharedState>,
    base: BaseUrl,
    Query(q): Query<LoginQuery>,
) -> Response {
    let realm = q
        .realm
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| MASTER_REALM.into());
    let data = LoginData {
        realm: realm.clone(),
        state: random_token::<16>(),
        verifier: random_token::<32>(),
        expires: now_millis() + LOGIN_MS,
    };
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        data.verifier.as_bytes(),
    ));
    let query = serde_urlencoded::to_string([
        ("client_id", ADMIN_CONSOLE),
        ("redirect_uri", &callback_uri(&base)),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", &data.state),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ])
    .unwrap_or_default();
    let to = format!(
        "{}?{query}",
        base.join(&for_realm(
            routes::AUTH,
            &crate::urls::encode_segment(&realm)
        ))
    );
    let mut resp = Redirect::to(&to).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            &state,
            LOGIN_COOKIE,
            &seal(&state, &data, LOGIN_CONTEXT),
            LOGIN_MS,
        ),
    );
    resp
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The authorization response: the code redeemed in process (PKCE), the access token
/// verified like any bearer token, then the console session cookie.
async fn callback(
    State(state): State<SharedState>,
    base: BaseUrl,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let again = format!(
        "<p><a href=\"{}\">Sign in again</a></p>",
        escape(&base.join(&format!("{CONSOLE}/login")))
    );
    let fail = |status: StatusCode, message: &str| {
        page::bare_html(
            status,
            "Sign-in failed",
            &format!(
                "<p class=\"error\" role=\"alert\">{}</p>{again}",
                escape(message)
            ),
        )
    };
    if let Some(e) = q.error {
        let d = q.error_description.unwrap_or_default();
        return fail(StatusCode::BAD_REQUEST, &format!("{e}: {d}"));
    }
    let Some(login) = cookie(&headers, LOGIN_COOKIE)
        .and_then(|c| open::<LoginData>(&state, &c, LOGIN_CONTEXT))
        .filter(|d| d.expires > now_millis())
    else {
        return fail(
            StatusCode::BAD_REQUEST,
            "The sign-in took too long or was started elsewhere.",
        );
    };
    let state_ok = q
        .state
        .as_deref()
        .is_some_and(|s| ct_eq(s.as_bytes(), login.state.as_bytes()));
    let (Some(code), true) = (q.code, state_ok) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "The sign-in answer does not match the request (state).",
        );
    };
    let realm = match state.store.realm_by_name(&login.realm).await {
        Ok(Some(r)) => r,
        Ok(None) => return fail(StatusCode::NOT_FOUND, "Realm not found."),
        Err(e) => return AdminError::from(e).into_response(),
    };
    let client = match state
        .store
        .client_by_client_id(&realm.id, ADMIN_CONSOLE)
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => {
            return fail(
                StatusCode::NOT_FOUND,
                "This realm has no security-admin-console client.",
            );
        }
        Err(e) => return AdminError::from(e).into_response(),
    };
    let body = serde_urlencoded::to_string([
        ("grant_type", "authorization_code"),
        ("client_id", ADMIN_CONSOLE),
        ("code", &code),
        ("redirect_uri", &callback_uri(&base)),
        ("code_verifier", &login.verifier),
    ])
    .unwrap_or_default();
    let mut form_headers = HeaderMap::new();
    form_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let params = match Params::parse(&form_headers, body.as_bytes()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let tokens = match crate::oidc::code::redeem_code(
        &state,
        &base,
        &realm,
        &client,
        &params,
        None,
        now_millis(),
    )
    .await
    {
        Ok(t) => t,
        Err(crate::error::OAuthError::Protocol { description, .. }) => {
            return fail(StatusCode::BAD_REQUEST, &description);
        }
        Err(e) => return e.into_response(),
    };
    let access = tokens
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or("");
    let verified = match verify_access_token(&state, access, Some(&realm)).await {
        Ok(v) => v,
        Err(_) => return fail(StatusCode::UNAUTHORIZED, "The access token was refused."),
    };
    // Anyone may sign in; a user without any admin right sees that and nothing else.
    let data = SessionData {
        realm: realm.name.clone(),
        user: verified.user.id.clone(),
        csrf: random_token::<32>(),
        expires: now_millis() + SESSION_MS,
        id_token: tokens
            .get("id_token")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    let mut resp = Redirect::to(&base.join(&format!("{CONSOLE}/"))).into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(
            &state,
            SESSION_COOKIE,
            &seal(&state, &data, SESSION_CONTEXT),
            SESSION_MS,
        ),
    );
    h.append(header::SET_COOKIE, set_cookie(&state, LOGIN_COOKIE, "", 0));
    resp
}

/// Ends the console session, then the single sign-on session (RP-initiated logout).
async fn logout(
    State(state): State<SharedState>,
    headers: HeaderMap,
    post: ConsolePost,
) -> Response {
    let c = &post.console;
    let hint = cookie(&headers, SESSION_COOKIE)
        .and_then(|v| open::<SessionData>(&state, &v, SESSION_CONTEXT))
        .and_then(|d| d.id_token);
    let mut query = vec![("client_id", ADMIN_CONSOLE.to_string())];
    if let Some(h) = hint {
        query.push(("id_token_hint", h));
    }
    let to = format!(
        "{}?{}",
        c.base.join(&for_realm(
            routes::LOGOUT,
            &crate::urls::encode_segment(&c.auth.realm)
        )),
        serde_urlencoded::to_string(&query).unwrap_or_default()
    );
    let mut resp = Redirect::to(&to).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, "", 0),
    );
    resp
}

/// Query parameters as a map (first value wins).
pub type QueryMap = Query<HashMap<String, String>>;
