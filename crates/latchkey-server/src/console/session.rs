//! The console session: sign-in with the authorization code flow and PKCE as the realm's
//! `security-admin-console` client (the code redeemed in process), the sealed HttpOnly
//! cookie that carries the session, the signed-in user it yields, and sign-out.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_core::clients::ADMIN_CONSOLE;
use latchkey_core::crypto::{ct_eq, random_token};
use latchkey_core::roles::{MASTER_REALM, expand};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::form::ConsolePost;
use super::page::{self, escape};
use super::user::{CONSOLE, Console, NoConsole};
use crate::bearer::verify_access_token;
use crate::error::AdminError;
use crate::extract::ClientAddr;
use crate::oidc::client_auth::Params;
use crate::oidc::session::{cookie, cookie_header};
use crate::routes::{self, for_realm};
use crate::service::AdminAuth;
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

const SESSION_COOKIE: &str = "LATCHKEY_CONSOLE";
const LOGIN_COOKIE: &str = "LATCHKEY_CONSOLE_LOGIN";
const SESSION_CONTEXT: &str = "console-session";
const LOGIN_CONTEXT: &str = "console-login";
/// A console session lasts at most this long (Keycloak's default SSO maximum: 10 hours).
const SESSION_MS: i64 = 10 * 3_600_000;
const LOGIN_MS: i64 = 10 * 60_000;

pub(super) async fn to_console(base: BaseUrl) -> Response {
    Redirect::to(&base.join(&format!("{CONSOLE}/"))).into_response()
}

/// A cookie scoped to the console's paths (`max_age_ms` 0 removes it).
fn set_cookie(state: &SharedState, name: &str, value: &str, max_age_ms: i64) -> HeaderValue {
    let path = format!("{}{CONSOLE}/", state.settings.relative_path);
    cookie_header(state, &path, name, value, max_age_ms / 1000)
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

impl FromRequestParts<SharedState> for Console {
    type Rejection = NoConsole;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let base = BaseUrl(crate::urls::request_base_url(&state.settings, parts));
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
        // The admin events name the console's own client as the caller's.
        let client = state
            .store
            .client_by_client_id(&realm.id, ADMIN_CONSOLE)
            .await
            .map_err(internal)?
            .map(|c| c.id)
            .unwrap_or_default();
        let Ok(ClientAddr(ip_address)) = ClientAddr::from_request_parts(parts, state).await;
        Ok(Console {
            auth: AdminAuth {
                realm: realm.name,
                user,
                effective: expand(&direct, &all),
                client,
                ip_address: ip_address.unwrap_or_default(),
            },
            csrf: data.csrf,
            base,
            state: state.clone(),
        })
    }
}

#[derive(Deserialize)]
pub(super) struct LoginQuery {
    realm: Option<String>,
}

fn callback_uri(base: &BaseUrl) -> String {
    base.join(&format!("{CONSOLE}/callback"))
}

/// Starts the authorization code flow as the realm's `security-admin-console` client.
pub(super) async fn login(
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
pub(super) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The authorization response: the code redeemed in process (PKCE), the access token
/// verified like any bearer token, then the console session cookie.
pub(super) async fn callback(
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
pub(super) async fn logout(
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
