//! The logout endpoint: RP-initiated logout (OIDC RP-Initiated Logout 1.0), its
//! confirmation page and the end of a browser session; and Keycloak's logout of a client's
//! own refresh token (a POST with `refresh_token`). A logout awaiting confirmation is
//! kept in the store's transient table (`logout-req`, by hash of the id in its cookie,
//! taken once), so any node can finish it; the session and cookie helpers are shared with
//! the authorization flow (`session.rs`).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::client_uris;
use latchkey_core::crypto::{ct_eq, hash_token, random_token};
use latchkey_core::store::{RealmRecord, SessionsOf};
use serde_json::{Value, json};

use super::client_auth::{Params, authenticated_client};
use super::mint::revoked_until;
use super::pages::{self, LogoutConfirmPage};
use super::realm::enabled_realm;
use super::session::{
    AUTH_REQ_SECS, SESSION, SESSION_COOKIE, add_cookie, cookie, csrf_matches, end_browser_sessions,
    form_action, internal, page_form, page_realm, put_transient, query_map, session, text,
    with_params,
};
use crate::error::{OAuthCode, OAuthError, no_store};
use crate::extract::ClientAddr;
use crate::routes;
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

/// A logout waiting for the user's confirmation (by hash of the id in its cookie).
const LOGOUT_REQ: &str = "logout-req";
const LOGOUT_REQ_COOKIE: &str = "LATCHKEY_LOGOUT_REQ";

/// RP-initiated logout (OIDC RP-Initiated Logout 1.0): ends the browser session and its
/// refresh tokens; redirects only to a registered `post_logout_redirect_uri`. With a valid
/// `id_token_hint` (an ID token of this realm whose session is the browser's) it does so at
/// once; without one it shows Keycloak's confirmation page first (RP-Initiated Logout §2:
/// the OP should ask the user), so that no other site can sign the user out, or bounce
/// them through a registered URI, by linking here (`LogoutEndpoint`: `confirmationNeeded`).
#[allow(clippy::too_many_arguments)]
pub async fn logout(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path(realm_name): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    body: Bytes,
) -> Response {
    let params = if method == Method::POST {
        query_map(std::str::from_utf8(&body).ok())
    } else {
        query_map(query.as_deref())
    };
    // Keycloak's `LogoutEndpoint` reads a POST carrying `refresh_token` as a client's
    // back-channel logout (what python-keycloak's `logout(refresh_token)` sends), before
    // anything of the browser's.
    if method == Method::POST && params.get("refresh_token").is_some() {
        return match logout_token(&state, &base, &realm_name, addr, &headers, &body).await {
            Ok(()) => {
                let mut resp = StatusCode::NO_CONTENT.into_response();
                no_store(&mut resp);
                resp
            }
            Err(e) => e.into_response(),
        };
    }
    let realm = match page_realm(&state, &realm_name).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    // The client: from id_token_hint (an ID token signed by this realm) or client_id.
    let mut client_id = params.get("client_id").cloned();
    let mut hint_session: Option<String> = None;
    let hinted = params.contains_key("id_token_hint");
    if let Some(hint) = params.get("id_token_hint") {
        let keys = match state.realm_keys(&realm).await {
            Ok(k) => k,
            Err(e) => return internal(e),
        };
        match latchkey_core::jwt::parse(hint)
            .ok()
            .and_then(|t| t.verify(&keys.jwks).ok())
        {
            Some(claims)
                if claims.get("iss").and_then(Value::as_str)
                    == Some(base.issuer(&realm.name).as_str())
                    && claims.get("typ").and_then(Value::as_str) == Some("ID") =>
            {
                let aud = claims
                    .get("aud")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                if client_id.is_some() && client_id != aud {
                    return pages::error(
                        StatusCode::BAD_REQUEST,
                        "id_token_hint and client_id do not match.",
                    );
                }
                client_id = aud;
                hint_session = claims
                    .get("sid")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            _ => return pages::error(StatusCode::BAD_REQUEST, "Invalid id_token_hint."),
        }
    }
    let target = match params.get("post_logout_redirect_uri") {
        Some(uri) => {
            let client = match &client_id {
                Some(id) => state
                    .store
                    .client_by_client_id(&realm.id, id)
                    .await
                    .ok()
                    .flatten(),
                None => None,
            };
            let Some(client) = client else {
                return pages::error(
                    StatusCode::BAD_REQUEST,
                    "post_logout_redirect_uri needs id_token_hint or client_id.",
                );
            };
            // Registered metadata and Keycloak's attribute alike, matched as redirect URIs.
            if !client_uris::post_logout_allowed(&client.rep, uri, &base.join("")) {
                return pages::error(
                    StatusCode::BAD_REQUEST,
                    "Invalid parameter: post_logout_redirect_uri",
                );
            }
            Some(uri.clone())
        }
        None => None,
    };
    let st = params.get("state").cloned();
    let now = now_millis();
    // A hint for another session than the browser's asks for confirmation too (Keycloak's
    // `forcedConfirmation`): the hint may be an old token replayed by someone else.
    let browser_session = session(&state, &realm, &headers, None, now)
        .await
        .and_then(|s| text(&s, "id").map(str::to_string));
    let same_session = match (&hint_session, &browser_session) {
        (Some(h), Some(b)) => h == b,
        _ => true,
    };
    if hinted && same_session {
        return end_session(
            &state,
            &realm,
            &headers,
            hint_session.as_deref(),
            target,
            st.as_deref(),
        )
        .await;
    }
    // Ask first: the request waits in the store, bound to this browser by a cookie and to
    // the page by a CSRF token; only the confirmation's POST carries both.
    let id = random_token::<32>();
    let csrf = random_token::<32>();
    let pending = json!({"realm": realm.id, "target": target, "state": st, "csrf": csrf});
    let expires_at = now + AUTH_REQ_SECS * 1000;
    let key = hash_token(&id);
    if let Err(page) =
        put_transient(&state, LOGOUT_REQ, &key, &realm.id, &pending, expires_at).await
    {
        return page;
    }
    let action = form_action(&state, routes::LOGOUT_CONFIRM, &realm.name);
    let mut resp = pages::logout_confirm(&LogoutConfirmPage {
        realm: realm.rep.display_name.as_deref().unwrap_or(&realm.name),
        action: &action,
        logout_request: &id,
        csrf: &csrf,
    });
    add_cookie(
        &mut resp,
        &state,
        &realm.name,
        LOGOUT_REQ_COOKIE,
        &id,
        AUTH_REQ_SECS,
    );
    resp
}

/// A client ends the login session of one of its refresh tokens (Keycloak's
/// `LogoutEndpoint.logoutToken`): the client authenticates as at the token endpoint, the
/// token must be its own (else `invalid_grant`, and nothing ends). A refresh token ends
/// its online session (tokens and browser sign-in), offline tokens kept, as browser
/// logout; an offline token ends the offline session, which the store ends with every
/// token of that login (as the admin API's `DELETE sessions/{id}?isOffline=true`). As in
/// Keycloak, an expired token still names its session.
async fn logout_token(
    state: &SharedState,
    base: &BaseUrl,
    realm_name: &str,
    addr: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), OAuthError> {
    let realm = enabled_realm(state, realm_name)
        .await
        .map_err(OAuthError::Internal)?
        .ok_or(OAuthError::UnknownRealm)?;
    let p = Params::parse(headers, body)?;
    let client = authenticated_client(state, base, &realm, headers, &p, addr.as_deref()).await?;
    let hash = hash_token(p.require("refresh_token")?);
    let now = now_millis();
    let Some(stored) = state.store.refresh_token(&hash).await? else {
        // A token this client rotated away before is a replay, as at the revocation
        // endpoint: its session ends (OAuth 2.1 §4.3.1), which is what the logout asked
        // for (a logout racing the client's own refresh presents the token the refresh
        // spent): done, 204, as Keycloak, whose refresh tokens stay valid when used.
        return match super::token::replayed(state, &realm, &client, &hash, now).await? {
            super::token::Spent::ByThisClient => Ok(()),
            _ => Err(OAuthError::new(
                OAuthCode::InvalidGrant,
                "Invalid refresh token",
            )),
        };
    };
    if stored.client_uuid != client.id || stored.realm_id != realm.id {
        return Err(OAuthError::new(
            OAuthCode::InvalidGrant,
            "Unmatching clients",
        ));
    }
    let offline = stored.scope.split(' ').any(|s| s == "offline_access");
    let until = revoked_until(&realm, now, offline);
    state
        .store
        .revoke_session(&realm.id, &stored.session_id, !offline, until)
        .await?;
    if !offline {
        end_browser_sessions(state, &realm.id, SessionsOf::Id(&stored.session_id)).await?;
    }
    Ok(())
}

/// The confirmation page's POST: the logout request named by the form must be the one
/// this browser's cookie names, with the page's CSRF token; it is used once.
pub async fn logout_confirm(
    State(state): State<SharedState>,
    Path(realm_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (realm, form) = match page_form(&state, &realm_name, &body).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let expired = || {
        pages::error(
            StatusCode::BAD_REQUEST,
            "This sign-out page has expired or was opened elsewhere. Sign out again from the application.",
        )
    };
    let (Some(id), Some(cookie_id)) = (
        form.get("logout_request"),
        cookie(&headers, LOGOUT_REQ_COOKIE),
    ) else {
        return expired();
    };
    if !ct_eq(id.as_bytes(), cookie_id.as_bytes()) {
        return expired();
    }
    let key = hash_token(id);
    let now = now_millis();
    let Some(pending) = state
        .store
        .get_transient(LOGOUT_REQ, &key, now)
        .await
        .ok()
        .flatten()
        .filter(|p| text(p, "realm") == Some(realm.id.as_str()))
    else {
        return expired();
    };
    if !csrf_matches(&pending, &form) {
        return pages::error(
            StatusCode::FORBIDDEN,
            "The form could not be verified. Sign out again from the application.",
        );
    }
    // Taken once: a second POST of the same page finds nothing.
    if !matches!(
        state.store.take_transient(LOGOUT_REQ, &key, now).await,
        Ok(Some(_))
    ) {
        return expired();
    }
    let target = text(&pending, "target").map(str::to_string);
    let st = text(&pending, "state");
    let mut resp = end_session(&state, &realm, &headers, None, target, st).await;
    add_cookie(&mut resp, &state, &realm.name, LOGOUT_REQ_COOKIE, "", 0);
    resp
}

/// Ends the browser's session and its tokens, and the tokens of the session an
/// `id_token_hint` named (the same one when the browser has a session; without a cookie,
/// as Keycloak, the hint's session alone), offline tokens excepted (`Store::revoke_session`), then redirects to `target` (already
/// checked against the client's registered post-logout redirect URIs) with `state`, or
/// shows the signed-out page.
async fn end_session(
    state: &SharedState,
    realm: &RealmRecord,
    headers: &HeaderMap,
    hint_session: Option<&str>,
    target: Option<String>,
    st: Option<&str>,
) -> Response {
    let until = revoked_until(realm, now_millis(), false);
    if let Some(id) = hint_session {
        let _ = state.store.revoke_session(&realm.id, id, true, until).await;
    }
    if let Some(cookie_value) = cookie(headers, SESSION_COOKIE) {
        let hash = hash_token(&cookie_value);
        if let Ok(Some(s)) = state
            .store
            .take_transient(SESSION, &hash, now_millis())
            .await
            && let Some(id) = text(&s, "id")
        {
            let _ = state.store.revoke_session(&realm.id, id, true, until).await;
        }
    }
    let mut resp = match target {
        Some(uri) => {
            let with_state = match st {
                Some(s) => with_params(&uri, &[("state", s)]),
                None => uri,
            };
            Redirect::to(&with_state).into_response()
        }
        None => pages::logged_out(),
    };
    add_cookie(&mut resp, state, &realm.name, SESSION_COOKIE, "", 0);
    resp
}
