//! The authorization code flow (RFC 6749 §4.1, OIDC Core §3.1, OAuth 2.1): the
//! authorization endpoint, the login and consent forms and browser sessions (codes are
//! redeemed in `code.rs`, logout is `logout.rs`).
//!
//! Server-side state lives in the store's transient table, so any node can continue a
//! flow another began: pending requests (`auth-req`, by random id, bound to the browser by
//! a cookie and a CSRF token), sessions (`session`, by cookie hash), codes (`code`, by
//! hash, taken once) and consents (`consent`). A pending request may be a device's
//! (RFC 8628, begun on the verification page, `device_page.rs`): it always asks for
//! consent, and ends on a page instead of a redirect (`device.rs` records the answer).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::client_uris;
use latchkey_core::crypto::{ct_eq, hash_token, new_uuid, random_token};
use latchkey_core::messages::display;
use latchkey_core::store::{ClientRecord, RealmRecord, UserRecord};
use serde_json::{Value, json};

use super::code::CODE;
use super::mint::resolve_scope;
use super::pages::{self, ConsentPage, LoginPage};
use super::password::password_user;
use super::resource;
use super::session::{
    AUTH_REQ_COOKIE, AUTH_REQ_SECS, SESSION, SESSION_COOKIE, add_cookie, cookie, csrf_matches,
    form_action, internal, page_form, page_realm, put_transient, query_map, session, text,
    with_params,
};
use crate::error::OAuthError;
use crate::extract::ClientAddr;
use crate::routes;
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

const AUTH_REQ: &str = "auth-req";
const CONSENT: &str = "consent";

/// RFC 6749 §3.1.2.3: the redirect URI must be registered, matched exactly, except that a
/// loopback IP redirect URI matches any port (RFC 8252 §7.3) (`client_uris::redirect_matches`,
/// which logout's post-logout redirect URIs share). Without one, a client with
/// exactly one registered URI uses it. As in Keycloak, a registered URI may be relative to
/// the server's base URL (`/admin/*`, the built-in console client) and may end in `*`
/// (a prefix match); registration never stores either (wildcards are refused there).
/// Defence in depth: a registered URI that breaks `client_uris::check` (one
/// stored before the rule, or behind its back) is ignored, and the URI redirected to must
/// pass it too, so a prefix match can never reach `https://app.example@evil.example`.
fn resolve_redirect(
    client: &ClientRecord,
    given: Option<&str>,
    base: &BaseUrl,
) -> Result<(String, bool), &'static str> {
    let registered: Vec<String> = client
        .rep
        .redirect_uris
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| client_uris::check(r).is_ok())
        .map(|r| if r.starts_with('/') { base.join(&r) } else { r })
        .collect();
    if given.is_some_and(|g| client_uris::check(g).is_err()) {
        return Err("Invalid parameter: redirect_uri");
    }
    let Some(given) = given else {
        return match registered.as_slice() {
            [only] if !only.ends_with('*') => Ok((only.clone(), false)),
            [] => Err("The client has no redirect URI registered."),
            _ => Err("Missing parameter: redirect_uri"),
        };
    };
    if registered
        .iter()
        .any(|r| client_uris::redirect_matches(r, given))
    {
        Ok((given.to_string(), true))
    } else {
        Err("Invalid parameter: redirect_uri")
    }
}

/// RFC 6749 §4.1.2.1: an error sent back to a trusted redirect URI, with `state` and `iss`.
fn redirect_error(
    uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
    iss: &str,
) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", iss));
    Redirect::to(&with_params(uri, &params)).into_response()
}

/// The client as the login and consent pages name it: its name in words (a built-in
/// client's is a message key), else its client id.
fn client_name(client: &ClientRecord) -> String {
    match client.rep.name.as_deref().map(display) {
        Some(name) if !name.is_empty() => name.into_owned(),
        _ => client.client_id.clone(),
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn authorize(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path(realm_name): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = crate::limits::address_key(ip.as_deref());
    if let Err(wait) = state.authorization_requests.hit(&key) {
        let mut resp = pages::error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in requests from this address. Try again later.",
        );
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from(crate::limits::retry_after_secs(wait)),
        );
        return resp;
    }
    let params = if method == Method::POST {
        query_map(std::str::from_utf8(&body).ok())
    } else {
        query_map(query.as_deref())
    };
    let realm = match page_realm(&state, &realm_name).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let get = |k: &str| params.get(k).map(String::as_str);
    // RFC 6749 §3.1: no parameter may be sent twice (`resource` may: RFC 8707 §2). Two
    // client ids or redirect URIs leave no client or target to trust: a page, no redirect.
    let repeat = params.first_repeat();
    if let Some(name @ ("client_id" | "redirect_uri")) = repeat {
        return pages::error(
            StatusCode::BAD_REQUEST,
            &format!("duplicate parameter: {name}"),
        );
    }
    // Before anything is shown: the client and its redirect URI (never redirect elsewhere).
    let client = match get("client_id") {
        Some(id) => match super::cimd::lookup_client(&state, &realm, id, ip.as_deref()).await {
            Ok(Some(c)) if c.rep.is_enabled() && !c.rep.is_bearer_only() => c,
            Ok(_) => return pages::error(StatusCode::BAD_REQUEST, "Client not found."),
            Err(r) if r.is_internal() => return internal(r.description),
            Err(r) => return pages::error(StatusCode::BAD_REQUEST, &r.description),
        },
        None => return pages::error(StatusCode::BAD_REQUEST, "Missing parameter: client_id"),
    };
    let (redirect_uri, redirect_sent) = match resolve_redirect(&client, get("redirect_uri"), &base)
    {
        Ok(r) => r,
        Err(msg) => return pages::error(StatusCode::BAD_REQUEST, msg),
    };
    state.client_used(&client, now_millis());
    let iss = base.issuer(&realm.name);
    let st = get("state");
    let fail = |error: &str, description: &str| {
        redirect_error(&redirect_uri, error, description, st, &iss)
    };
    // Any other repeat is the client's invalid_request (RFC 6749 §4.1.2.1), without a
    // `state` when it is `state` that came twice: neither value is the client's for sure.
    if let Some(name) = repeat {
        let description = format!("duplicate parameter: {name}");
        let st = st.filter(|_| name != "state");
        return redirect_error(&redirect_uri, "invalid_request", &description, st, &iss);
    }
    match get("response_type") {
        Some("code") => {}
        Some(_) => {
            return fail(
                "unsupported_response_type",
                "Only the code response type is supported",
            );
        }
        None => return fail("invalid_request", "Missing parameter: response_type"),
    }
    if !client.rep.standard_flow_enabled.unwrap_or(true) {
        return fail(
            "unauthorized_client",
            "Client is not allowed to initiate browser login",
        );
    }
    if get("request").is_some() || get("request_uri").is_some() {
        return fail("request_not_supported", "Request objects are not supported");
    }
    let challenge = get("code_challenge");
    match (challenge, get("code_challenge_method")) {
        (None, Some(_)) => return fail("invalid_request", "Missing parameter: code_challenge"),
        (Some(_), Some(m)) if m != "S256" => {
            return fail(
                "invalid_request",
                "Invalid parameter: code_challenge_method must be S256",
            );
        }
        (Some(_), None) => {
            return fail(
                "invalid_request",
                "Missing parameter: code_challenge_method (S256)",
            );
        }
        (None, None) if client.rep.is_public() => {
            return fail(
                "invalid_request",
                "Missing parameter: code_challenge (PKCE is required for public clients)",
            );
        }
        _ => {}
    }
    if challenge.is_some_and(|c| c.len() < 43 || c.len() > 128) {
        return fail("invalid_request", "Invalid parameter: code_challenge");
    }
    let scope = match resolve_scope(&state, &realm, &client, get("scope")).await {
        Ok(s) => s,
        Err(OAuthError::Protocol { description, .. }) => {
            return fail("invalid_scope", &description);
        }
        Err(e) => return e.into_response(),
    };
    // RFC 8707 §2: an unacceptable resource is `invalid_target`, sent to the client.
    let resources = match resource::check(&state, &realm, &client, params.all("resource")).await {
        Ok(r) => r,
        Err(OAuthError::Protocol { description, .. }) => {
            return fail("invalid_target", &description);
        }
        Err(e) => return e.into_response(),
    };
    let prompt = get("prompt").unwrap_or("");
    if prompt
        .split(' ')
        .any(|p| !matches!(p, "" | "none" | "login" | "consent"))
    {
        return fail("invalid_request", "Invalid parameter: prompt");
    }
    // Keycloak reads max_age as a Java int; a larger value is refused like a malformed one
    // (it would overflow the comparison with the session's age in milliseconds).
    let max_age = match get("max_age").map(str::parse::<i32>) {
        Some(Ok(n)) if n >= 0 => Some(i64::from(n)),
        Some(_) => return fail("invalid_request", "Invalid parameter: max_age"),
        None => None,
    };
    // The pending request is stored until the user signs in (or for the login timeout):
    // what the client sends to be echoed back is bounded, so a stranger's request cannot
    // store tens of kilobytes at a time.
    for (name, max) in [("state", 2048), ("nonce", 2048), ("login_hint", 255)] {
        if get(name).is_some_and(|v| v.len() > max) {
            return fail(
                "invalid_request",
                &format!("Invalid parameter: {name} is longer than {max} bytes"),
            );
        }
    }
    let now = now_millis();
    let mut pending = json!({
        "client": client.id, "redirect_uri": redirect_uri, "redirect_sent": redirect_sent,
        "state": st, "nonce": get("nonce"), "scope": scope.stored(), "challenge": challenge,
        "prompt": prompt, "login_hint": get("login_hint"), "csrf": random_token::<32>(),
        "resources": resources,
    });
    let live = session(&state, &realm, &headers, Some(&client.id), now)
        .await
        .filter(|s| {
            let auth_time = s.get("auth_time").and_then(Value::as_i64).unwrap_or(0);
            !prompt.split(' ').any(|p| p == "login")
                && max_age.is_none_or(|m| now - auth_time <= m * 1000)
        });
    let Some(live) = live else {
        if prompt.split(' ').any(|p| p == "none") {
            return fail("login_required", "The user is not signed in");
        }
        return show_login(&state, &realm, &client, &pending, None, StatusCode::OK).await;
    };
    let Some(user) = enabled_user(&state, &realm, text(&live, "user")).await else {
        return show_login(&state, &realm, &client, &pending, None, StatusCode::OK).await;
    };
    pending["user"] = json!(user.id);
    pending["session"] = live.get("id").cloned().unwrap_or(Value::Null);
    pending["auth_time"] = live.get("auth_time").cloned().unwrap_or(Value::Null);
    continue_flow(&state, &base, &realm, &client, &user, &pending, true).await
}

/// Stores the pending request under a new id, bound to this browser by a cookie, and shows
/// the form `page` draws for that id.
pub(super) async fn show_pending(
    state: &SharedState,
    realm: &RealmRecord,
    pending: &Value,
    page: impl FnOnce(&str) -> Response,
) -> Response {
    let id = random_token::<32>();
    let expires_at = now_millis() + AUTH_REQ_SECS * 1000;
    if let Err(page) = put_transient(state, AUTH_REQ, &id, &realm.id, pending, expires_at).await {
        return page;
    }
    let mut resp = page(&id);
    add_cookie(
        &mut resp,
        state,
        &realm.name,
        AUTH_REQ_COOKIE,
        &id,
        AUTH_REQ_SECS,
    );
    resp
}

/// The login form for the pending request.
pub(super) async fn show_login(
    state: &SharedState,
    realm: &RealmRecord,
    client: &ClientRecord,
    pending: &Value,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let action = form_action(state, routes::LOGIN_ACTION, &realm.name);
    show_pending(state, realm, pending, |id| {
        pages::login(
            status,
            &LoginPage {
                realm: realm.rep.display_name.as_deref().unwrap_or(&realm.name),
                client_name: &client_name(client),
                action: &action,
                auth_request: id,
                csrf: text(pending, "csrf").unwrap_or(""),
                username: text(pending, "login_hint").unwrap_or(""),
                error,
            },
        )
    })
    .await
}

/// The scopes a pending request was granted.
fn pending_scopes(pending: &Value) -> Vec<String> {
    text(pending, "scope")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// An error sent back to the pending request's redirect URI (RFC 6749 §4.1.2.1).
fn pending_error(
    base: &BaseUrl,
    realm: &RealmRecord,
    pending: &Value,
    error: &str,
    description: &str,
) -> Response {
    redirect_error(
        text(pending, "redirect_uri").unwrap_or(""),
        error,
        description,
        text(pending, "state"),
        &base.issuer(&realm.name),
    )
}

/// After authentication: consent if the client requires it (and the user has not given
/// it for these scopes), then the code. A device flow always asks (RFC 8628 §5.4: the user
/// must see what they connect, as Keycloak always shows its consent page there), then
/// records the approval.
pub(super) async fn continue_flow(
    state: &SharedState,
    base: &BaseUrl,
    realm: &RealmRecord,
    client: &ClientRecord,
    user: &UserRecord,
    pending: &Value,
    may_prompt: bool,
) -> Response {
    let scopes = pending_scopes(pending);
    let prompt = text(pending, "prompt").unwrap_or("");
    let consent_key = format!("{}:{}", user.id, client.id);
    let now = now_millis();
    let given: Vec<String> = match state.store.get_transient(CONSENT, &consent_key, now).await {
        Ok(Some(v)) => serde_json::from_value(v.get("scopes").cloned().unwrap_or(json!([])))
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let device_code = super::device::pending_code(state, pending);
    let is_device = text(pending, "device").is_some();
    let needs_consent = is_device
        || (client.rep.consent_required.unwrap_or(false)
            && (prompt.split(' ').any(|p| p == "consent")
                || !scopes.iter().all(|s| given.contains(s))));
    if needs_consent && may_prompt {
        if prompt.split(' ').any(|p| p == "none") {
            return pending_error(
                base,
                realm,
                pending,
                "consent_required",
                "The user has not consented",
            );
        }
        let host = reqwest::Url::parse(text(pending, "redirect_uri").unwrap_or(""))
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let action = form_action(state, routes::CONSENT_ACTION, &realm.name);
        return show_pending(state, realm, pending, |id| {
            pages::consent(&ConsentPage {
                client_name: &client_name(client),
                document: super::cimd::consent_facts(client),
                redirect_host: &host,
                scopes: &scopes,
                action: &action,
                auth_request: id,
                csrf: text(pending, "csrf").unwrap_or(""),
                device_code: device_code.as_deref(),
            })
        })
        .await;
    }
    if is_device {
        return super::device::answered(state, realm, user, pending, true).await;
    }
    issue_code(state, base, realm, client, user, pending).await
}

/// The authorization response: a single-use code (RFC 6749 §4.1.2) with `state` and
/// `iss` (RFC 9207).
async fn issue_code(
    state: &SharedState,
    base: &BaseUrl,
    realm: &RealmRecord,
    client: &ClientRecord,
    user: &UserRecord,
    pending: &Value,
) -> Response {
    let code = random_token::<32>();
    let lifespan = realm.rep.access_code_lifespan.unwrap_or(60).max(1);
    let data = json!({
        "client": client.id, "user": user.id, "redirect_uri": pending["redirect_uri"],
        "redirect_sent": pending["redirect_sent"], "scope": pending["scope"], "nonce": pending["nonce"],
        "challenge": pending["challenge"], "session": pending["session"], "auth_time": pending["auth_time"],
        "resources": pending["resources"],
    });
    let expires_at = now_millis() + lifespan * 1000;
    let key = hash_token(&code);
    if let Err(page) = put_transient(state, CODE, &key, &realm.id, &data, expires_at).await {
        return page;
    }
    let iss = base.issuer(&realm.name);
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = text(pending, "state") {
        params.push(("state", s));
    }
    params.push(("iss", iss.as_str()));
    let uri = text(pending, "redirect_uri").unwrap_or("");
    let mut resp = Redirect::to(&with_params(uri, &params)).into_response();
    add_cookie(&mut resp, state, &realm.name, AUTH_REQ_COOKIE, "", 0);
    resp
}

/// Loads the pending request a form posts back, checking the browser cookie and the CSRF
/// token bound to it.
async fn pending_from_form(
    state: &SharedState,
    headers: &HeaderMap,
    form: &latchkey_core::form::Fields,
) -> Result<(String, Value), Response> {
    let expired = || {
        pages::error(
            StatusCode::BAD_REQUEST,
            "This sign-in page has expired. Go back to the application and start again.",
        )
    };
    let id = form.get("auth_request").ok_or_else(expired)?;
    let cookie_id = cookie(headers, AUTH_REQ_COOKIE).ok_or_else(expired)?;
    if !ct_eq(id.as_bytes(), cookie_id.as_bytes()) {
        return Err(expired());
    }
    let pending = state
        .store
        .get_transient(AUTH_REQ, id, now_millis())
        .await
        .ok()
        .flatten()
        .ok_or_else(expired)?;
    if !csrf_matches(&pending, form) {
        return Err(pages::error(
            StatusCode::FORBIDDEN,
            "The form could not be verified. Start again.",
        ));
    }
    Ok((id.clone(), pending))
}

async fn pending_client(
    state: &SharedState,
    realm: &RealmRecord,
    pending: &Value,
) -> Option<ClientRecord> {
    let id = text(pending, "client")?;
    state
        .store
        .client(&realm.id, id)
        .await
        .ok()
        .flatten()
        .filter(|c| c.rep.is_enabled())
}

/// The user by id, if it exists and is enabled.
pub(super) async fn enabled_user(
    state: &SharedState,
    realm: &RealmRecord,
    id: Option<&str>,
) -> Option<UserRecord> {
    state
        .store
        .user(&realm.id, id?)
        .await
        .ok()
        .flatten()
        .filter(|u| u.rep.enabled.unwrap_or(false))
}

pub async fn login(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path(realm_name): Path<String>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (realm, form) = match page_form(&state, &realm_name, &body).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let (id, mut pending) = match pending_from_form(&state, &headers, &form).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Some(client) = pending_client(&state, &realm, &pending).await else {
        return pages::error(StatusCode::BAD_REQUEST, "Client not found.");
    };
    let username = form.get("username").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    // Password guessing is limited in `password_user`, as at the password grant.
    let user = match password_user(&state, &realm, &username, password, ip.as_deref()).await {
        Ok(u) => u,
        Err(e) => {
            let (message, status) = match e {
                OAuthError::Throttled(_) => (
                    "Too many failed sign-in attempts. Wait a few minutes and try again.",
                    StatusCode::TOO_MANY_REQUESTS,
                ),
                OAuthError::Internal(e) => return internal(e),
                _ => ("Invalid username or password.", StatusCode::OK),
            };
            pending["login_hint"] = json!(username);
            return show_login(&state, &realm, &client, &pending, Some(message), status).await;
        }
    };
    let _ = state.store.delete_transient(AUTH_REQ, &id).await;
    // A new browser session.
    let now = now_millis();
    let cookie_value = random_token::<32>();
    let session_id = new_uuid();
    let max = realm.rep.sso_session_max_lifespan.unwrap_or(36000).max(60);
    let record = json!({"id": session_id, "realm": realm.id, "user": user.id, "auth_time": now});
    let key = hash_token(&cookie_value);
    if let Err(page) =
        put_transient(&state, SESSION, &key, &realm.id, &record, now + max * 1000).await
    {
        return page;
    }
    pending["user"] = json!(user.id);
    pending["session"] = json!(session_id);
    pending["auth_time"] = json!(now);
    let mut resp = continue_flow(&state, &base, &realm, &client, &user, &pending, true).await;
    add_cookie(
        &mut resp,
        &state,
        &realm.name,
        SESSION_COOKIE,
        &cookie_value,
        max,
    );
    resp
}

pub async fn consent(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path(realm_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (realm, form) = match page_form(&state, &realm_name, &body).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let (id, pending) = match pending_from_form(&state, &headers, &form).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let _ = state.store.delete_transient(AUTH_REQ, &id).await;
    let (Some(client), Some(user)) = (
        pending_client(&state, &realm, &pending).await,
        enabled_user(&state, &realm, text(&pending, "user")).await,
    ) else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "This sign-in page has expired. Start again.",
        );
    };
    if form.get("consent").map(String::as_str) != Some("accept") {
        if text(&pending, "device").is_some() {
            return super::device::answered(&state, &realm, &user, &pending, false).await;
        }
        return pending_error(
            &base,
            &realm,
            &pending,
            "access_denied",
            "The user denied access",
        );
    }
    let key = format!("{}:{}", user.id, client.id);
    let given = json!({"scopes": pending_scopes(&pending)});
    let ten_years = 10 * 365 * 86_400_000;
    let expires_at = now_millis() + ten_years;
    if let Err(page) = put_transient(&state, CONSENT, &key, &realm.id, &given, expires_at).await {
        return page;
    }
    continue_flow(&state, &base, &realm, &client, &user, &pending, false).await
}
