//! The token endpoint (RFC 6749 §3.2): client authentication and the grants
//! `client_credentials`, `password` and `refresh_token` (codes in `code.rs`, device codes
//! in `device.rs`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_core::Millis;
use latchkey_core::crypto::{hash_token, new_uuid};
use latchkey_core::store::{ClientRecord, RealmRecord, TransientRecord};

use super::client_auth::{Params, authenticated_client};
use super::mint::{
    Grant, GrantedScope, Session, issue, issue_rotating, resolve_scope, revoked_until,
};
use super::password::password_user;
use super::realm::enabled_realm;
use super::resource;
use crate::error::{OAuthCode, OAuthError, no_store};
use crate::extract::ClientAddr;
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

pub async fn token(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path(realm_name): Path<String>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&state, &base, &realm_name, addr, &headers, &body).await {
        Ok(v) => {
            let mut resp = axum::Json(v).into_response();
            no_store(&mut resp);
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn handle(
    state: &SharedState,
    base: &BaseUrl,
    realm_name: &str,
    addr: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, OAuthError> {
    let realm = enabled_realm(state, realm_name)
        .await
        .map_err(OAuthError::Internal)?
        .ok_or(OAuthError::UnknownRealm)?;
    let p = Params::parse(headers, body)?;
    let grant_type = p.require("grant_type")?.to_string();
    let client = authenticated_client(state, base, &realm, headers, &p, addr.as_deref()).await?;
    let now = now_millis();
    match grant_type.as_str() {
        "client_credentials" => {
            if client.rep.is_public() {
                return Err(OAuthError::new(
                    OAuthCode::UnauthorizedClient,
                    "Public client not allowed to retrieve service account",
                ));
            }
            if !client.rep.service_accounts() {
                return Err(OAuthError::new(
                    OAuthCode::UnauthorizedClient,
                    "Client not enabled to retrieve service account",
                ));
            }
            let user = state
                .store
                .service_account_user(&realm.id, &client.id)
                .await?
                .ok_or_else(|| {
                    OAuthError::new(
                        OAuthCode::UnauthorizedClient,
                        "Service account user not found",
                    )
                })?;
            let scope = resolve_scope(state, &realm, &client, p.get("scope")).await?;
            let resources = resource::requested(state, &realm, &client, p.all("resource")).await?;
            let grant = Grant {
                grant_type: "client_credentials",
                realm: &realm,
                client: &client,
                user: &user,
                scope,
                session: None,
                client_address: addr,
                nonce: None,
                resources,
            };
            Ok(issue(state, base, grant, now).await?.response)
        }
        "password" => {
            if !client.rep.direct_access_grants() {
                return Err(OAuthError::new(
                    OAuthCode::UnauthorizedClient,
                    "Client not allowed for direct access grants",
                ));
            }
            // The user never sees a consent page in a direct grant, so a client that
            // requires consent may not use it (Keycloak: 400 invalid_client).
            if client.rep.consent_required.unwrap_or(false) {
                return Err(OAuthError::new(
                    OAuthCode::InvalidClient,
                    "Client requires user consent",
                ));
            }
            let username = p.require("username")?;
            let password = p.require("password")?.to_string();
            let user = password_user(state, &realm, username, password, addr.as_deref()).await?;
            let scope = resolve_scope(state, &realm, &client, p.get("scope")).await?;
            let resources = resource::requested(state, &realm, &client, p.all("resource")).await?;
            let grant = Grant {
                grant_type: "password",
                realm: &realm,
                client: &client,
                user: &user,
                scope,
                session: Some(Session {
                    id: new_uuid(),
                    auth_time: now,
                }),
                client_address: addr,
                nonce: None,
                resources,
            };
            Ok(issue(state, base, grant, now).await?.response)
        }
        "refresh_token" => {
            let presented = p.require("refresh_token")?;
            let invalid = || OAuthError::new(OAuthCode::InvalidGrant, "Invalid refresh token");
            let hash = hash_token(presented);
            // Everything is checked before anything is spent: a token of another client or
            // realm is refused without rotating it away from its owner or counting it as a
            // replay (a third party must not be able to revoke someone else's session), and
            // so is a request for a wider scope or other resources. Stored tokens never
            // change, so what is read here is what the rotation takes.
            let Some(stored) = state
                .store
                .refresh_token(&hash)
                .await?
                .filter(|t| t.expires_at > now)
            else {
                replayed(state, &realm, &client, &hash, now).await?;
                return Err(invalid());
            };
            if stored.client_uuid != client.id || stored.realm_id != realm.id {
                return Err(OAuthError::new(
                    OAuthCode::InvalidGrant,
                    "Invalid refresh token. Token client and authorized client don't match",
                ));
            }
            let resources =
                resource::narrowed(state, &realm, &client, &stored.resources, p.all("resource"))
                    .await?;
            let scope =
                refresh_scope(state, &realm, &client, &stored.scope, p.get("scope")).await?;
            let user = state
                .store
                .user(&realm.id, &stored.user_id)
                .await?
                .filter(|u| u.rep.enabled.unwrap_or(false))
                .ok_or_else(invalid)?;
            // Taking the token out of the store is the rotation: the old one is spent, and a
            // tombstone remembers it, in the transaction that stores the next one.
            let tombstone = TransientRecord {
                kind: SPENT_REFRESH.into(),
                id: hash.clone(),
                realm_id: realm.id.clone(),
                data: serde_json::json!({
                    "session": stored.session_id, "realm": realm.id, "client": client.id,
                }),
                expires_at: stored.expires_at,
            };
            let grant = Grant {
                grant_type: "refresh_token",
                realm: &realm,
                client: &client,
                user: &user,
                scope,
                session: Some(Session {
                    id: stored.session_id,
                    auth_time: stored.auth_time,
                }),
                client_address: addr,
                nonce: None,
                resources,
            };
            match issue_rotating(state, base, grant, now, &hash, &tombstone).await? {
                Some(issued) => Ok(issued.response),
                None => {
                    replayed(state, &realm, &client, &hash, now).await?;
                    Err(invalid())
                }
            }
        }
        "authorization_code" => {
            super::code::redeem_code(state, base, &realm, &client, &p, addr, now).await
        }
        latchkey_core::device::GRANT_TYPE => {
            super::device::poll(state, base, &realm, &client, &p, addr, now).await
        }
        other => Err(OAuthError::new(
            OAuthCode::UnsupportedGrantType,
            format!("Unsupported grant_type: {other}"),
        )),
    }
}

/// A refresh token that was not there to spend: if a tombstone says `client` rotated it
/// before, it leaked, and its login session is revoked, every token of it (OAuth 2.1
/// §4.3.1). The tombstone is taken, so one replay revokes once. Only the token's own
/// client can set this off, at the token endpoint as at the revocation endpoint (RFC 7009
/// §2.1: a client revokes only its own tokens; Keycloak checks the token's client before
/// anything else): another client of the realm, public and secretless perhaps, presenting
/// someone's spent token must not end their session. A tombstone that names no client
/// revokes nothing: it can only be one written before tombstones recorded their client,
/// and it dies with the token it stands for, so the window where a replay goes unpunished
/// is short, while honouring it would leave that window open to anyone in the realm.
///
/// Answers whether the tombstone names another client of the realm (the revocation
/// endpoint refuses that client, as Keycloak refuses a token issued for another).
pub(super) async fn replayed(
    state: &SharedState,
    realm: &RealmRecord,
    client: &ClientRecord,
    hash: &str,
    now: Millis,
) -> Result<Spent, OAuthError> {
    let Some(spent) = state.store.get_transient(SPENT_REFRESH, hash, now).await? else {
        return Ok(Spent::Unknown);
    };
    if spent
        .get("realm")
        .and_then(|v| v.as_str())
        .is_some_and(|r| r != realm.id)
    {
        return Ok(Spent::Unknown);
    }
    match spent.get("client").and_then(|v| v.as_str()) {
        Some(owner) if owner != client.id => return Ok(Spent::ByAnotherClient),
        Some(_) => {}
        None => return Ok(Spent::Unknown),
    }
    if state
        .store
        .take_transient(SPENT_REFRESH, hash, now)
        .await?
        .is_some()
        && let Some(session) = spent.get("session").and_then(|v| v.as_str())
    {
        tracing::warn!(%session, "refresh token replayed; revoking its session's tokens");
        let until = revoked_until(realm, now, true);
        state
            .store
            .revoke_session(&realm.id, session, false, until)
            .await?;
    }
    Ok(Spent::ByThisClient)
}

/// What `replayed` found of a refresh token that was not there to spend.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Spent {
    /// No tombstone of this realm that names a client: an unknown, expired or foreign token.
    Unknown,
    /// Rotated by another client of the realm: left alone.
    ByAnotherClient,
    /// Rotated by this client: its session is revoked (once; a second replay finds the
    /// tombstone taken).
    ByThisClient,
}

/// The scope of a refresh (RFC 6749 §6): the requested scope, which may narrow the
/// original grant but never widen it, or the original one.
async fn refresh_scope(
    state: &SharedState,
    realm: &RealmRecord,
    client: &ClientRecord,
    original: &str,
    requested: Option<&str>,
) -> Result<GrantedScope, OAuthError> {
    let granted = original.split(' ').collect::<Vec<_>>();
    if let Some(extra) = requested
        .unwrap_or_default()
        .split(' ')
        .find(|x| !x.is_empty() && !granted.contains(x))
    {
        return Err(OAuthError::new(
            OAuthCode::InvalidScope,
            format!("Invalid scopes: {extra}"),
        ));
    }
    resolve_scope(state, realm, client, Some(requested.unwrap_or(original))).await
}

/// Transient kind of a spent refresh token's tombstone.
const SPENT_REFRESH: &str = "spent-refresh";
