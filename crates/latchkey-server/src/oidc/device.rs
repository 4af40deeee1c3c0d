//! The device authorization grant (RFC 8628) at Keycloak's paths: the device authorization
//! endpoint, the device's polls at the token endpoint, the state a flow keeps between
//! them, and the end of the user's part in the browser ([`answered`], called by
//! `authorize.rs` for a request the verification page, `device_page.rs`, began).
//!
//! State lives in the store's transient table, so any node continues a flow another
//! began: the flow by hash of its device code (`device-code`), the user code by a keyed
//! hash under the master key (`device-user-code`: eight letters would be found again from
//! a plain hash), and the last poll (`device-poll`). A device code is spent exactly once:
//! the approved flow is taken out of the table by one `DELETE … RETURNING`, and the user
//! code is taken the same way before a flow is approved or denied, so it answers once.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_core::Millis;
use latchkey_core::crypto::{hash_token, new_row_id, new_uuid, random_token};
use latchkey_core::device::{self, Timing};
use latchkey_core::store::{ClientRecord, EventRecord, RealmRecord, StoreError, UserRecord};
use serde_json::{Value, json};

use super::client_auth::{Params, authenticated_client};
use super::mint::{Grant, Session, issue, resolve_scope};
use super::pages;
use super::realm::enabled_realm;
use super::resource;
use super::session::{AUTH_REQ_COOKIE, add_cookie, internal, text};
use crate::error::{OAuthCode, OAuthError, no_store};
use crate::extract::ClientAddr;
use crate::routes::{self, for_realm};
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

/// A flow, by hash of its device code.
const DEVICE_CODE: &str = "device-code";
/// A user code (keyed hash, bound to the realm) → the flow's device code hash.
const USER_CODE: &str = "device-user-code";
/// A device's last poll, by device code hash; present while the interval runs.
const DEVICE_POLL: &str = "device-poll";

const PENDING: &str = "pending";
const APPROVED: &str = "approved";
const DENIED: &str = "denied";

/// Keycloak's event types of the grant.
pub(super) const EVENT_AUTH: &str = "OAUTH2_DEVICE_AUTH";
pub(super) const EVENT_VERIFY: &str = "OAUTH2_DEVICE_VERIFY_USER_CODE";
const EVENT_TO_TOKEN: &str = "OAUTH2_DEVICE_CODE_TO_TOKEN";

/// The stored key of a user code in a realm.
pub(super) fn user_code_key(state: &SharedState, realm: &RealmRecord, code: &str) -> String {
    state
        .sealer
        .keyed_hash(code, &format!("device-user-code:{}", realm.id))
}

/// How long the flow's rows outlive the flow: a device polling just after the end still
/// learns `expired_token` rather than `invalid_grant` (Keycloak keeps them the interval and
/// ten seconds more).
fn kept_until(data: &Value) -> Millis {
    let expires = data.get("expires_at").and_then(Value::as_i64).unwrap_or(0);
    let interval = data.get("interval").and_then(Value::as_i64).unwrap_or(0);
    expires + (interval + 10) * 1000
}

fn expired(data: &Value, now: Millis) -> bool {
    data.get("expires_at")
        .and_then(Value::as_i64)
        .is_none_or(|e| e <= now)
}

fn status(data: &Value) -> &str {
    data.get("status").and_then(Value::as_str).unwrap_or("")
}

/// Records one of the grant's events where the realm records login events
/// (`eventsEnabled`, and `enabledEventTypes` when it names any). Failures are stored up to
/// the per-address bound refused registrations use, so strangers cannot grow the table.
pub(super) async fn record(
    state: &SharedState,
    realm: &RealmRecord,
    kind: &str,
    error: Option<&str>,
    who: (Option<&str>, Option<&str>),
    ip: Option<&str>,
) {
    let kind = match error {
        Some(_) => format!("{kind}_ERROR"),
        None => kind.to_string(),
    };
    if realm.rep.events_enabled != Some(true)
        || realm
            .rep
            .enabled_event_types
            .as_ref()
            .is_some_and(|t| !t.is_empty() && !t.contains(&kind))
    {
        return;
    }
    if error.is_some()
        && state
            .refused_events
            .hit(&crate::limits::address_key(ip))
            .is_err()
    {
        state.metrics.event_not_stored(&kind);
        return;
    }
    let (client_id, user_id) = who;
    let event = EventRecord {
        id: new_row_id(),
        realm_id: realm.id.clone(),
        time: now_millis(),
        kind,
        client_id: client_id.map(str::to_string),
        user_id: user_id.map(str::to_string),
        ip_address: ip.map(str::to_string),
        error: error.map(str::to_string),
        details: BTreeMap::from([("grant_type".to_string(), device::GRANT_TYPE.to_string())]),
    };
    if let Err(e) = state.store.insert_event(&event).await {
        tracing::warn!(error = %e, "could not record a device grant event");
    }
}

/// The OAuth error code of a refusal, for its event.
fn error_name(e: &OAuthError) -> Option<&'static str> {
    match e {
        OAuthError::Protocol { code, .. } => Some(code.as_str()),
        _ => None,
    }
}

/// `POST /realms/{realm}/protocol/openid-connect/auth/device` (RFC 8628 §3.1, §3.2).
pub async fn device_authorization(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path(realm_name): Path<String>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Every request stores a flow until it expires: a stranger (a public client needs no
    // secret) must not be able to store them at will.
    let key = crate::limits::address_key(addr.as_deref());
    if let Err(wait) = state.authorization_requests.hit(&key) {
        return crate::limits::too_many_requests(
            wait,
            "too many device authorization requests from this address",
        );
    }
    match start(&state, &base, &realm_name, addr, &headers, &body).await {
        Ok(v) => {
            let mut resp = axum::Json(v).into_response();
            no_store(&mut resp);
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn start(
    state: &SharedState,
    base: &BaseUrl,
    realm_name: &str,
    addr: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, OAuthError> {
    let realm = enabled_realm(state, realm_name)
        .await
        .map_err(OAuthError::Internal)?
        .ok_or(OAuthError::UnknownRealm)?;
    let p = Params::parse(headers, body)?;
    let client = authenticated_client(state, base, &realm, headers, &p, addr.as_deref()).await?;
    let now = now_millis();
    let who = (Some(client.client_id.as_str()), None);
    let result = flow(state, base, &realm, &client, &p, now).await;
    let error = result.as_ref().err().and_then(error_name);
    record(state, &realm, EVENT_AUTH, error, who, addr.as_deref()).await;
    result
}

/// Refused unless the client has the grant (Keycloak's attribute); RFC 6749 §5.2 names
/// the error `unauthorized_client` (Keycloak answers `invalid_grant` with this text).
fn allowed(client: &ClientRecord, description: &str) -> Result<(), OAuthError> {
    if device::enabled(&client.rep) {
        Ok(())
    } else {
        Err(OAuthError::new(OAuthCode::UnauthorizedClient, description))
    }
}

/// Checks the request, stores the flow and answers with its codes (RFC 8628 §3.2).
async fn flow(
    state: &SharedState,
    base: &BaseUrl,
    realm: &RealmRecord,
    client: &ClientRecord,
    p: &Params,
    now: Millis,
) -> Result<Value, OAuthError> {
    allowed(
        client,
        "Client not allowed for OAuth 2.0 Device Authorization Grant",
    )?;
    let scope = resolve_scope(state, realm, client, p.get("scope")).await?;
    // RFC 8707 §2: the same rules as at the authorization endpoint.
    let resources = resource::check(state, realm, client, p.all("resource")).await?;
    if p.get("nonce").is_some_and(|n| n.len() > 2048) {
        return Err(OAuthError::new(
            OAuthCode::InvalidRequest,
            "Invalid parameter: nonce is longer than 2048 bytes",
        ));
    }
    let timing = Timing::of(&realm.rep, &client.rep);
    let device_code = random_token::<32>();
    let hash = hash_token(&device_code);
    let data = json!({
        "client": client.id, "scope": scope.stored(), "resources": resources,
        "nonce": p.get("nonce"), "status": PENDING,
        "expires_at": now + timing.lifespan * 1000, "interval": timing.interval,
    });
    let until = kept_until(&data);
    // A new user code nobody holds: with 20^8 codes a clash is rare, but it would send
    // one user's approval to another's device.
    let mut user_code = None;
    for _ in 0..5 {
        let code = device::new_user_code();
        let key = user_code_key(state, realm, &code);
        if state
            .store
            .get_transient(USER_CODE, &key, now)
            .await?
            .is_none()
        {
            user_code = Some((code, key));
            break;
        }
    }
    let Some((user_code, key)) = user_code else {
        return Err(OAuthError::Internal(
            "no free user code after 5 tries".into(),
        ));
    };
    state
        .store
        .put_transient(DEVICE_CODE, &hash, &realm.id, &data, until)
        .await?;
    state
        .store
        .put_transient(USER_CODE, &key, &realm.id, &json!({"device": hash}), until)
        .await?;
    let shown = device::display(&user_code);
    let verification_uri = base.join(&for_realm(routes::DEVICE_VERIFY, &realm.name));
    Ok(json!({
        "device_code": device_code,
        "user_code": shown,
        "verification_uri": verification_uri,
        "verification_uri_complete": format!("{verification_uri}?user_code={shown}"),
        "expires_in": timing.lifespan,
        "interval": timing.interval,
    }))
}

/// The user code of a pending browser request, sealed: the request is stored until the
/// user answers, and the code is shown again on the consent page.
pub(super) fn seal_code(state: &SharedState, device: &str, code: &str) -> String {
    state
        .sealer
        .seal(code.as_bytes(), &format!("device-user-code:{device}"))
}

/// The user code a pending device request was begun with (`None` for other requests).
pub(super) fn pending_code(state: &SharedState, pending: &Value) -> Option<String> {
    let device = pending.get("device").and_then(Value::as_str)?;
    let sealed = pending.get("user_code").and_then(Value::as_str)?;
    let plain = state
        .sealer
        .open(sealed, &format!("device-user-code:{device}"))
        .ok()?;
    String::from_utf8(plain).ok().map(|c| device::display(&c))
}

/// A flow found by its user code, for the verification page.
pub(super) struct Found {
    /// The flow's key (hash of its device code).
    pub device: String,
    pub data: Value,
}

/// The pending flow a user code names, if any: unknown, expired and already answered codes
/// all give `None`, so the page tells a guesser nothing.
pub(super) async fn lookup(
    state: &SharedState,
    realm: &RealmRecord,
    code: &str,
    now: Millis,
) -> Result<Option<Found>, StoreError> {
    let key = user_code_key(state, realm, code);
    let Some(entry) = state.store.get_transient(USER_CODE, &key, now).await? else {
        return Ok(None);
    };
    let Some(device) = entry.get("device").and_then(Value::as_str) else {
        return Ok(None);
    };
    let Some(data) = state.store.get_transient(DEVICE_CODE, device, now).await? else {
        return Ok(None);
    };
    if expired(&data, now) || status(&data) != PENDING {
        return Ok(None);
    }
    Ok(Some(Found {
        device: device.to_string(),
        data,
    }))
}

/// The user's answer, once: the user code is taken, then the flow records the answer.
/// `false` when the code was already used or the flow has expired.
async fn answer(
    state: &SharedState,
    realm: &RealmRecord,
    device: &str,
    code: &str,
    answer: Value,
) -> Result<bool, StoreError> {
    let now = now_millis();
    let Some(code) = device::normalize(code) else {
        return Ok(false);
    };
    let key = user_code_key(state, realm, &code);
    let Some(entry) = state.store.take_transient(USER_CODE, &key, now).await? else {
        return Ok(false);
    };
    if entry.get("device").and_then(Value::as_str) != Some(device) {
        return Ok(false);
    }
    let Some(mut data) = state.store.get_transient(DEVICE_CODE, device, now).await? else {
        return Ok(false);
    };
    if expired(&data, now) || status(&data) != PENDING {
        return Ok(false);
    }
    if let (Some(d), Some(a)) = (data.as_object_mut(), answer.as_object()) {
        d.extend(a.clone());
    }
    let until = kept_until(&data);
    state
        .store
        .put_transient(DEVICE_CODE, device, &realm.id, &data, until)
        .await?;
    Ok(true)
}

/// The user signed in and allowed the device: its next poll gets tokens for this user and
/// browser session.
async fn approve(
    state: &SharedState,
    realm: &RealmRecord,
    device: &str,
    code: &str,
    user: &str,
    session: &Value,
    auth_time: &Value,
) -> Result<bool, StoreError> {
    let approval =
        json!({"status": APPROVED, "user": user, "session": session, "auth_time": auth_time});
    answer(state, realm, device, code, approval).await
}

/// The user refused the device: its polls get `access_denied` until the flow expires.
async fn deny(
    state: &SharedState,
    realm: &RealmRecord,
    device: &str,
    code: &str,
) -> Result<bool, StoreError> {
    answer(state, realm, device, code, json!({"status": DENIED})).await
}

/// The device code grant at the token endpoint (RFC 8628 §3.4, §3.5), in Keycloak's order
/// of checks and with its descriptions.
pub async fn poll(
    state: &SharedState,
    base: &BaseUrl,
    realm: &RealmRecord,
    client: &ClientRecord,
    p: &Params,
    addr: Option<String>,
    now: Millis,
) -> Result<Value, OAuthError> {
    let result = redeem(state, base, realm, client, p, addr.clone(), now).await;
    // The polls that only say "not yet" are not events (Keycloak records none either).
    let quiet = matches!(
        &result,
        Err(OAuthError::Protocol {
            code: OAuthCode::AuthorizationPending,
            ..
        })
    );
    if !quiet {
        let user = result.as_ref().ok().and_then(|(_, u)| u.as_deref());
        let error = result.as_ref().err().and_then(error_name);
        let who = (Some(client.client_id.as_str()), user);
        record(state, realm, EVENT_TO_TOKEN, error, who, addr.as_deref()).await;
    }
    result.map(|(v, _)| v)
}

async fn redeem(
    state: &SharedState,
    base: &BaseUrl,
    realm: &RealmRecord,
    client: &ClientRecord,
    p: &Params,
    addr: Option<String>,
    now: Millis,
) -> Result<(Value, Option<String>), OAuthError> {
    // Keycloak's text at the token endpoint (without the "for" of its device endpoint).
    allowed(
        client,
        "Client not allowed OAuth 2.0 Device Authorization Grant",
    )?;
    let code = p.require("device_code")?;
    let hash = hash_token(code);
    let invalid = || OAuthError::new(OAuthCode::InvalidGrant, "Device code not valid");
    let error = |code, d: &str| OAuthError::new(code, d);
    // Another client's code is refused without touching the flow.
    let data = match state.store.get_transient(DEVICE_CODE, &hash, now).await? {
        Some(d) if d.get("client").and_then(Value::as_str) == Some(client.id.as_str()) => d,
        _ => return Err(invalid()),
    };
    if expired(&data, now) {
        return Err(error(OAuthCode::ExpiredToken, "Device code is expired"));
    }
    // RFC 8628 §3.5: polling again within the interval is `slow_down`. The mark lives for
    // one interval from the poll that set it (Keycloak's rule), so a device that adds the
    // five seconds §3.5 asks for is never slowed down again.
    let interval = data.get("interval").and_then(Value::as_i64).unwrap_or(0);
    if interval > 0 {
        if state
            .store
            .get_transient(DEVICE_POLL, &hash, now)
            .await?
            .is_some()
        {
            return Err(error(OAuthCode::SlowDown, "Slow down"));
        }
        state
            .store
            .put_transient(
                DEVICE_POLL,
                &hash,
                &realm.id,
                &json!({}),
                now + interval * 1000,
            )
            .await?;
    }
    match status(&data) {
        DENIED => {
            return Err(error(
                OAuthCode::AccessDenied,
                "The end user denied the authorization request",
            ));
        }
        APPROVED => {}
        _ => {
            return Err(error(
                OAuthCode::AuthorizationPending,
                "The authorization request is still pending",
            ));
        }
    }
    // A resource the flow was not granted is refused before the code is spent.
    let granted = resource::stored(&data);
    let resources = resource::narrowed(state, realm, client, &granted, p.all("resource")).await?;
    // Spent here: of concurrent polls, one takes the flow, the others find nothing.
    let Some(data) = state.store.take_transient(DEVICE_CODE, &hash, now).await? else {
        return Err(invalid());
    };
    if status(&data) != APPROVED
        || data.get("client").and_then(Value::as_str) != Some(client.id.as_str())
    {
        return Err(invalid());
    }
    let _ = state.store.delete_transient(DEVICE_POLL, &hash).await;
    let field = |k: &str| data.get(k).and_then(Value::as_str);
    let user = state
        .store
        .user(&realm.id, field("user").unwrap_or(""))
        .await?
        .filter(|u| u.rep.enabled.unwrap_or(false))
        .ok_or_else(|| OAuthError::new(OAuthCode::InvalidGrant, "User disabled"))?;
    let scope = resolve_scope(state, realm, client, field("scope")).await?;
    let grant = Grant {
        grant_type: device::GRANT_TYPE,
        realm,
        client,
        user: &user,
        scope,
        session: Some(Session {
            id: field("session")
                .map(str::to_string)
                .unwrap_or_else(new_uuid),
            auth_time: data.get("auth_time").and_then(Value::as_i64).unwrap_or(now),
        }),
        client_address: addr,
        nonce: field("nonce").map(str::to_string),
        resources,
    };
    let issued = issue(state, base, grant, now).await?;
    Ok((issued.response, Some(user.id.clone())))
}

/// The end of a device flow in the browser: the user's answer recorded, the page that
/// says so; the pending request's cookie removed.
pub(super) async fn answered(
    state: &SharedState,
    realm: &RealmRecord,
    user: &UserRecord,
    pending: &Value,
    allowed: bool,
) -> Response {
    let device = text(pending, "device").unwrap_or("");
    let code = pending_code(state, pending).unwrap_or_default();
    let answered = if allowed {
        approve(
            state,
            realm,
            device,
            &code,
            &user.id,
            &pending["session"],
            &pending["auth_time"],
        )
        .await
    } else {
        deny(state, realm, device, &code).await
    };
    let mut resp = match answered {
        Ok(true) if allowed => pages::device_done(
            true,
            "Your device is connected. You may close this window and return to it.",
        ),
        Ok(true) => pages::device_done(
            false,
            "You denied access: the device was not connected. You may close this window.",
        ),
        Ok(false) => pages::device_done(
            false,
            "This code has expired or was already used. Start again on your device.",
        ),
        Err(e) => return internal(e.to_string()),
    };
    add_cookie(&mut resp, state, &realm.name, AUTH_REQ_COOKIE, "", 0);
    resp
}
