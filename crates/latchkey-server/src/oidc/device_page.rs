//! The device verification page (RFC 8628 §3.3) at Keycloak's `/realms/{realm}/device`:
//! the user types the code their device shows (or follows `verification_uri_complete`),
//! then signs in and consents through the authorization flow's forms (`authorize.rs`).
//! Wrong codes are counted per address (`limits.rs`): a guesser of user codes is stopped
//! after a few tries, and every wrong, expired or used code looks the same.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use latchkey_core::crypto::random_token;
use latchkey_core::device;
use latchkey_core::store::RealmRecord;
use serde_json::{Value, json};

use super::authorize::{continue_flow, enabled_user, show_login};
use super::device::{EVENT_VERIFY, Found, lookup, record, seal_code};
use super::pages;
use super::session::{form_action, internal, page_realm, query_map, session, text};
use crate::extract::ClientAddr;
use crate::routes;
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

const WRONG_CODE: &str = "Invalid or expired code. Check the code on your device and try again.";

/// `GET` (optionally with `?user_code=`, the complete verification URI) and `POST` (the
/// form) of `/realms/{realm}/device`.
#[allow(clippy::too_many_arguments)]
pub async fn verify(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path(realm_name): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let realm = match page_realm(&state, &realm_name).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let params = if method == Method::POST {
        query_map(std::str::from_utf8(&body).ok())
    } else {
        query_map(query.as_deref())
    };
    let action = form_action(&state, routes::DEVICE_VERIFY, &realm.name);
    let shown_name = realm
        .rep
        .display_name
        .clone()
        .unwrap_or_else(|| realm.name.clone());
    let form = |status, error| pages::device_code_form(status, &shown_name, &action, error);
    // Keycloak's form names the field `device_user_code`; the URI's query `user_code`.
    let typed = params
        .get("user_code")
        .or_else(|| params.get("device_user_code"))
        .map(|s| s.trim())
        .filter(|s| !s.is_empty());
    let Some(typed) = typed else {
        return form(StatusCode::OK, None);
    };
    // Counted before the outcome is known, so concurrent guesses cannot all pass the
    // check; a right code takes its count back.
    let key = crate::limits::address_key(ip.as_deref());
    if let Err(wait) = state.failed_user_codes.hit(&key) {
        let mut resp = form(
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many wrong codes from this address. Wait a few minutes and try again."),
        );
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(crate::limits::retry_after_secs(wait)),
        );
        return resp;
    }
    let now = now_millis();
    let found = match device::normalize(typed) {
        Some(code) => match lookup(&state, &realm, &code, now).await {
            Ok(found) => found.map(|f| (f, code)),
            Err(e) => return internal(e.to_string()),
        },
        None => None,
    };
    let Some((found, code)) = found else {
        // Keycloak's error name for this event.
        record(
            &state,
            &realm,
            EVENT_VERIFY,
            Some("invalid_oauth2_user_code"),
            (None, None),
            ip.as_deref(),
        )
        .await;
        return form(StatusCode::OK, Some(WRONG_CODE));
    };
    state.failed_user_codes.uncount(&key);
    begin(&state, &base, &realm, found, &code, ip.as_deref(), &headers).await
}

/// A right code: the device's request becomes a pending request of the browser flow,
/// continued by the login form, or at once when the browser is signed in.
async fn begin(
    state: &SharedState,
    base: &BaseUrl,
    realm: &RealmRecord,
    found: Found,
    code: &str,
    ip: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    let client_id = text(&found.data, "client").unwrap_or("");
    let client = match state.store.client(&realm.id, client_id).await {
        Ok(Some(c)) if c.rep.is_enabled() && device::enabled(&c.rep) => c,
        Ok(_) => return pages::device_done(false, "The device's application is not enabled."),
        Err(e) => return internal(e.to_string()),
    };
    record(
        state,
        realm,
        EVENT_VERIFY,
        None,
        (Some(client.client_id.as_str()), None),
        ip,
    )
    .await;
    let mut pending = json!({
        "client": client.id, "device": found.device, "user_code": seal_code(state, &found.device, code),
        "scope": found.data["scope"], "resources": found.data["resources"], "nonce": found.data["nonce"],
        "prompt": "", "csrf": random_token::<32>(),
    });
    let now = now_millis();
    let live = session(state, realm, headers, Some(&client.id), now).await;
    let user = match &live {
        Some(s) => enabled_user(state, realm, text(s, "user")).await,
        None => None,
    };
    match (live, user) {
        (Some(live), Some(user)) => {
            pending["user"] = json!(user.id);
            pending["session"] = live.get("id").cloned().unwrap_or(Value::Null);
            pending["auth_time"] = live.get("auth_time").cloned().unwrap_or(Value::Null);
            continue_flow(state, base, realm, &client, &user, &pending, true).await
        }
        _ => show_login(state, realm, &client, &pending, None, StatusCode::OK).await,
    }
}
