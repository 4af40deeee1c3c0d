//! The token endpoint (RFC 6749 §3.2): client authentication and the grants
//! `client_credentials`, `password` and `refresh_token`.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use latchkey_core::crypto::{hash_password, hash_token, new_uuid, verify_password};
use latchkey_core::store::{ClientRecord, RealmRecord, UserRecord};

use super::client_auth::{Params, audiences, authenticate, credentials};
use super::enabled_realm;
use super::mint::{Grant, GrantedScope, Session, issue, resolve_scope};
use crate::brute_force;
use crate::error::{OAuthCode, OAuthError, no_store};
use crate::limits::address_key;
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

/// The caller's address: the peer of the connection, or, with `--proxy-headers`, the
/// client the proxy names (`Forwarded: for=` or the first `X-Forwarded-For`).
pub struct ClientAddr(pub Option<String>);

impl FromRequestParts<SharedState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(
            crate::urls::client_ip(&state.settings, &parts.headers, peer).map(|ip| ip.to_string()),
        ))
    }
}

impl ClientAddr {
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.0.as_deref().and_then(|s| s.parse().ok())
    }
}

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
    let creds = credentials(headers, &p)?;
    let client = authenticate(state, &realm, &creds, &audiences(base, &realm.name)).await?;
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
            let grant = Grant {
                grant_type: "client_credentials",
                realm: &realm,
                client: &client,
                user: &user,
                scope,
                session: None,
                client_address: addr,
                nonce: None,
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
            };
            Ok(issue(state, base, grant, now).await?.response)
        }
        "refresh_token" => {
            let presented = p.require("refresh_token")?;
            let invalid = || OAuthError::new(OAuthCode::InvalidGrant, "Invalid refresh token");
            // Taking the token out of the store is the rotation: the old one is spent, and a
            // tombstone remembers it. Presenting a spent token again means it leaked:
            // every refresh token of that login session is revoked (OAuth 2.1 §4.3.1).
            let hash = hash_token(presented);
            // The owner is checked before anything is spent: a token of another client or
            // realm is refused without rotating it away from its owner or counting it as a
            // replay (a third party must not be able to revoke someone else's session).
            let mismatch = || {
                OAuthError::new(
                    OAuthCode::InvalidGrant,
                    "Invalid refresh token. Token client and authorized client don't match",
                )
            };
            // So is the requested scope: a refused request must not spend the token.
            let checked = match state.store.refresh_token(&hash).await? {
                Some(peeked) if peeked.client_uuid != client.id || peeked.realm_id != realm.id => {
                    return Err(mismatch());
                }
                Some(peeked) => Some(
                    refresh_scope(state, &realm, &client, &peeked.scope, p.get("scope")).await?,
                ),
                None => None,
            };
            let Some(stored) = state.store.take_refresh_token(&hash, now).await? else {
                if let Some(spent) = state.store.get_transient(SPENT_REFRESH, &hash, now).await?
                    && spent
                        .get("realm")
                        .and_then(|v| v.as_str())
                        .is_none_or(|r| r == realm.id) // (older tombstones: no realm)
                    && state
                        .store
                        .take_transient(SPENT_REFRESH, &hash, now)
                        .await?
                        .is_some()
                    && let Some(session) = spent.get("session").and_then(|v| v.as_str())
                {
                    tracing::warn!(%session, "refresh token replayed; revoking its session's tokens");
                    state
                        .store
                        .delete_session_refresh_tokens(session, false)
                        .await?;
                }
                return Err(invalid());
            };
            state
                .store
                .put_transient(
                    SPENT_REFRESH,
                    &hash,
                    &realm.id,
                    &serde_json::json!({"session": stored.session_id, "realm": realm.id}),
                    stored.expires_at,
                )
                .await?;
            if stored.client_uuid != client.id || stored.realm_id != realm.id {
                return Err(mismatch());
            }
            let user = state
                .store
                .user(&realm.id, &stored.user_id)
                .await?
                .filter(|u| u.rep.enabled.unwrap_or(false))
                .ok_or_else(invalid)?;
            let scope = match checked {
                Some(scope) => scope,
                // Stored between the peek and the take: checked now.
                None => {
                    refresh_scope(state, &realm, &client, &stored.scope, p.get("scope")).await?
                }
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
            };
            Ok(issue(state, base, grant, now).await?.response)
        }
        "authorization_code" => {
            super::authorize::redeem_code(state, base, &realm, &client, &p, addr, now).await
        }
        other => Err(OAuthError::new(
            OAuthCode::UnsupportedGrantType,
            format!("Unsupported grant_type: {other}"),
        )),
    }
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

/// The resource owner of a password grant or of the login form: by username, or by email
/// where the realm allows it; enabled, no pending required action, password right.
///
/// Password guessing is limited here, so alike for both (`brute_force.rs`): per address
/// (`OAuthError::Throttled`), and per user with the realm's brute-force settings. A locked
/// user gets the answer a wrong password gets, after the same work (Keycloak:
/// `invalid_grant` "Invalid user credentials"), so the lock does not show.
pub async fn password_user(
    state: &SharedState,
    realm: &RealmRecord,
    username: &str,
    password: String,
    addr: Option<&str>,
) -> Result<UserRecord, OAuthError> {
    let invalid = || OAuthError::bad_user_credentials("Invalid user credentials");
    let address = address_key(addr);
    state
        .brute_force
        .address_attempt(&address)
        .map_err(OAuthError::Throttled)?;
    let mut user = state.store.user_by_username(&realm.id, username).await?;
    if user.is_none()
        && realm.rep.login_with_email_allowed.unwrap_or(true)
        && username.contains('@')
    {
        user = state.store.user_by_email(&realm.id, username).await?;
    }
    let Some(user) = user else {
        check_password(password, None).await?;
        return Err(invalid());
    };
    let settings = brute_force::Settings::of(&realm.rep);
    let key = format!("{}|{}", realm.id, user.id);
    let (turn, user) = match settings {
        Some(s) => {
            let turn = state.brute_force.one_at_a_time(&key).await;
            // A check that waited its turn may come after a permanent lockout, which only
            // the stored user shows.
            let user = if s.permanent_lockout {
                state
                    .store
                    .user(&realm.id, &user.id)
                    .await?
                    .ok_or_else(invalid)?
            } else {
                user
            };
            (Some(turn), user)
        }
        None => (None, user),
    };
    let now = now_millis();
    let locked =
        settings.is_some() && (state.brute_force.locked(&key, now) || permanently_locked(&user));
    if locked {
        // The next check need not wait for this one's (pointless) hash.
        drop(turn);
    }
    let right = check_password(password, user.password_hash.clone()).await?;
    if locked || !right {
        // While locked nothing is counted (Keycloak: no failure is recorded for a user
        // refused by brute-force detection).
        if !locked
            && let Some(s) = &settings
            && state.brute_force.user_failed(s, &key, now) == brute_force::Failed::PermanentLockout
        {
            lock_out(state, &user).await?;
        }
        return Err(invalid());
    }
    state.brute_force.user_succeeded(&key);
    state.brute_force.address_succeeded(&address);
    if !user.rep.enabled.unwrap_or(false) {
        return Err(OAuthError::new(OAuthCode::InvalidGrant, "Account disabled"));
    }
    if user
        .rep
        .required_actions
        .as_ref()
        .is_some_and(|r| !r.is_empty())
    {
        return Err(OAuthError::new(
            OAuthCode::InvalidGrant,
            "Account is not fully set up",
        ));
    }
    Ok(user)
}

/// Checks a password against a user's Argon2id hash, or, without one, against a fixed hash,
/// so that an unknown user costs the same time as a wrong password (Keycloak's
/// `dummyHash`). Argon2id takes tens of milliseconds of CPU: off the async workers.
async fn check_password(password: String, hash: Option<String>) -> Result<bool, OAuthError> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_password(&password, &hash),
        None => {
            let dummy = DUMMY.get_or_init(|| hash_password("dummy").unwrap_or_default());
            verify_password(&password, dummy);
            false
        }
    })
    .await
    .map_err(|e| OAuthError::Internal(e.to_string()))
}

/// Disabled by a permanent lockout (Keycloak marks the user with `disabledReason`).
fn permanently_locked(user: &UserRecord) -> bool {
    !user.rep.enabled.unwrap_or(false)
        && user
            .rep
            .attributes
            .as_ref()
            .and_then(|a| a.get(brute_force::DISABLED_REASON))
            .is_some_and(|v| v.iter().any(|r| r == brute_force::PERMANENT_LOCKOUT))
}

/// `permanentLockout`: the user is disabled in the store, so on every node, until an admin
/// enables it again.
async fn lock_out(state: &SharedState, user: &UserRecord) -> Result<(), OAuthError> {
    let mut locked = user.clone();
    locked.rep.enabled = Some(false);
    locked
        .rep
        .attributes
        .get_or_insert_with(Default::default)
        .insert(
            brute_force::DISABLED_REASON.into(),
            vec![brute_force::PERMANENT_LOCKOUT.into()],
        );
    state.store.update_user(&locked).await?;
    tracing::warn!(user = %user.id, realm = %user.realm_id, "user disabled by brute-force detection (permanent lockout)");
    Ok(())
}
