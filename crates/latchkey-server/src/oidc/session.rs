//! What the browser pages (authorization, login, consent, logout) share: their parameters,
//! cookies, the browser session, the form actions they post to, the page's realm, and the
//! error page for a failure of the server's own. A browser session is a `session` entry in
//! the store's transient table, by hash of the cookie that names it.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use latchkey_core::Millis;
use latchkey_core::crypto::{ct_eq, hash_token};
use latchkey_core::form::Fields;
use latchkey_core::store::{RealmRecord, Revocable, SessionsOf, StoreResult};
use serde_json::Value;

use super::pages;
use super::realm::enabled_realm;
use crate::routes::for_realm;
use crate::state::SharedState;

pub(super) const SESSION: &str = "session";
pub(super) const SESSION_COOKIE: &str = "LATCHKEY_SESSION";
/// Binds a pending request (login or consent form) to the browser that began it.
pub(super) const AUTH_REQ_COOKIE: &str = "LATCHKEY_AUTH_REQ";
/// How long a page awaiting the user's answer (a login or consent form, a logout
/// confirmation) stays usable.
pub(super) const AUTH_REQ_SECS: i64 = 1800;

/// A page's query or form body (`form::parse_query`: lenient, `resource` kept whole).
pub(super) fn query_map(raw: Option<&str>) -> Fields {
    latchkey_core::form::parse_query(raw.unwrap_or(""))
}

/// The value of the request's cookie `name`.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value scoped to `path`: HttpOnly, SameSite=Lax, Secure outside start-dev.
pub(crate) fn cookie_header(
    state: &SharedState,
    path: &str,
    name: &str,
    value: &str,
    max_age_secs: i64,
) -> HeaderValue {
    let secure = if state.settings.dev_mode {
        ""
    } else {
        "; Secure"
    };
    let v = format!(
        "{name}={value}; Path={path}; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}"
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// Adds to `resp` a cookie scoped to the realm's paths (`max_age` 0 removes it).
pub(super) fn add_cookie(
    resp: &mut Response,
    state: &SharedState,
    realm: &str,
    name: &str,
    value: &str,
    max_age: i64,
) {
    let path = format!(
        "{}/realms/{}/",
        state.settings.relative_path,
        crate::urls::encode_segment(realm)
    );
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(state, &path, name, value, max_age),
    );
}

/// A browser session from the cookie, if live, and, with `client` (its id), if that
/// client's part of it was not revoked either: a client whose refresh token was revoked
/// signs in again to a new login session, whose tokens the revocation does not cover
/// (Keycloak starts a new client session; here a token's client and `sid` are what a
/// revocation names).
pub(super) async fn session(
    state: &SharedState,
    realm: &RealmRecord,
    headers: &HeaderMap,
    client: Option<&str>,
    now: Millis,
) -> Option<Value> {
    let cookie = cookie(headers, SESSION_COOKIE)?;
    let s = state
        .store
        .get_transient(SESSION, &hash_token(&cookie), now)
        .await
        .ok()??;
    if text(&s, "realm") != Some(realm.id.as_str()) {
        return None;
    }
    // A login session revoked by a replay or by a logout naming it without this cookie
    // (`Store::revoke_session`) is over: tokens it went on issuing would be refused; so
    // is, for its client, one whose client's part was revoked.
    let revoked = Revocable {
        jti: None,
        session: text(&s, "id"),
        client,
        offline: false,
    };
    match state.store.is_revoked(&revoked).await {
        Ok(false) => Some(s),
        _ => None,
    }
}

/// Ends the browser sessions of a user, or the one of a login session (the members `user`
/// and `id` of the record `authorize.rs` stores): the next authorization request asks for
/// the password again. Returns how many were live.
pub(crate) async fn end_browser_sessions(
    state: &SharedState,
    realm_id: &str,
    of: SessionsOf<'_>,
) -> StoreResult<u64> {
    let (member, value) = match of {
        SessionsOf::User(user) => ("user", user),
        SessionsOf::Id(id) => ("id", id),
    };
    state
        .store
        .delete_transient_matching(SESSION, realm_id, member, value)
        .await
}

/// A string member of stored browser-flow state.
pub(super) fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Whether a posted form carries the CSRF token stored with its pending request (compared
/// in constant time; a request stored without one matches nothing).
pub(super) fn csrf_matches(pending: &Value, form: &Fields) -> bool {
    let csrf = text(pending, "csrf").unwrap_or("");
    let given = form.get("csrf").map(String::as_str).unwrap_or("");
    !csrf.is_empty() && ct_eq(csrf.as_bytes(), given.as_bytes())
}

/// Appends query parameters to a (trusted) redirect URI.
pub(super) fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
    match reqwest::Url::parse(uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => uri.to_string(),
    }
}

/// Where a page's form posts: the realm's `route` under the server's relative path.
pub(super) fn form_action(state: &SharedState, route: &str, realm: &str) -> String {
    format!(
        "{}{}",
        state.settings.relative_path,
        for_realm(route, realm)
    )
}

/// The path's realm for a browser page: enabled, or the error page to show instead.
pub(super) async fn page_realm(state: &SharedState, name: &str) -> Result<RealmRecord, Response> {
    match enabled_realm(state, name).await {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(pages::error(StatusCode::NOT_FOUND, "Realm does not exist.")),
        Err(e) => Err(internal(e)),
    }
}

/// A browser page's POST: its realm (`page_realm`) and its form fields.
pub(super) async fn page_form(
    state: &SharedState,
    realm: &str,
    body: &[u8],
) -> Result<(RealmRecord, Fields), Response> {
    let realm = page_realm(state, realm).await?;
    Ok((realm, query_map(std::str::from_utf8(body).ok())))
}

pub(super) fn internal(e: String) -> Response {
    tracing::error!(error = %e, "internal error");
    pages::error(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.")
}

/// Keeps browser-flow state in the store's transient table; a failure is the internal-error
/// page.
pub(super) async fn put_transient(
    state: &SharedState,
    kind: &str,
    id: &str,
    realm_id: &str,
    data: &Value,
    expires_at: Millis,
) -> Result<(), Response> {
    state
        .store
        .put_transient(kind, id, realm_id, data, expires_at)
        .await
        .map_err(|e| internal(e.to_string()))
}
