//! A realm's login sessions as the admin API lists and ends them (Keycloak's user
//! sessions): read from their live refresh tokens (`Store::login_sessions`), ended through
//! the store's session revocation (`Store::revoke_session`) together with
//! the browser's sign-in (`oidc::session::end_browser_sessions`).

use latchkey_core::Millis;
use latchkey_core::store::{LoginSession, SessionsOf};

use super::audit::{self, Change, Resource};
use super::{RealmAdmin, users};
use crate::error::AdminError;
use crate::oidc::mint::revoked_until;
use crate::oidc::session::end_browser_sessions;
use crate::state::{SharedState, now_millis};

/// A session as Keycloak's `UserSessionRepresentation` shows it.
#[derive(Debug)]
pub struct SessionView {
    pub id: String,
    pub user_id: String,
    pub username: String,
    pub start: Millis,
    pub last_access: Millis,
    /// `(internal id, clientId)` of each client holding a token of the session.
    pub clients: Vec<(String, String)>,
}

/// The user's online sessions (those with a refresh token that is not offline), oldest
/// first, as Keycloak's `GET users/{id}/sessions` lists them; 404 for an unknown user.
pub async fn of_user(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    user_id: &str,
) -> Result<Vec<SessionView>, AdminError> {
    let user = users::get(state, admin, user_id).await?;
    let sessions = state
        .store
        .login_sessions(&admin.realm.id, SessionsOf::User(&user.id), now_millis())
        .await?;
    let mut out = Vec::new();
    for session in sessions.into_iter().filter(|s| !s.clients.is_empty()) {
        out.push(view(state, admin, &user.username, session).await?);
    }
    Ok(out)
}

async fn view(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    username: &str,
    session: LoginSession,
) -> Result<SessionView, AdminError> {
    let mut clients = Vec::new();
    for uuid in session.clients {
        // A deleted client's tokens go with it; one deleted meanwhile is left out.
        if let Some(c) = state.store.client(&admin.realm.id, &uuid).await? {
            clients.push((uuid, c.client_id));
        }
    }
    // The last refresh is not stored; a refresh token's expiry is its issue time plus the
    // realm's SSO idle timeout, cut at the session's end (`oidc/mint.rs`), so the expiry
    // less that timeout is never later than the last refresh.
    let idle = admin
        .realm
        .rep
        .sso_session_idle_timeout
        .unwrap_or(1800)
        .max(1);
    let last_access = (session.online_until - idle * 1000).max(session.started);
    Ok(SessionView {
        id: session.id,
        user_id: session.user_id,
        username: username.to_string(),
        start: session.started,
        last_access,
        clients,
    })
}

/// Ends every session of the user, offline tokens and browser sign-ins included: Keycloak's user logout
/// removes the online sessions and moves the user's not-before to now, after which every
/// older refresh token, offline ones too, is refused as stale. 404 for an unknown user.
pub async fn logout_user(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    user_id: &str,
) -> Result<(), AdminError> {
    let user = users::get(state, admin, user_id).await?;
    let sessions = state
        .store
        .login_sessions(&admin.realm.id, SessionsOf::User(&user.id), now_millis())
        .await?;
    let until = revoked_until(&admin.realm, now_millis(), true);
    for session in &sessions {
        state
            .store
            .revoke_session(&admin.realm.id, &session.id, false, until)
            .await?;
    }
    end_browser_sessions(state, &admin.realm.id, SessionsOf::User(&user.id)).await?;
    let path = format!("users/{}/logout", user.id);
    audit::record(state, admin, Change::action(Resource::User, path)).await;
    Ok(())
}

/// Ends one session, as Keycloak's `DELETE sessions/{id}`: the online session (its
/// browser sign-in and tokens), its offline tokens kept; with `offline` (Keycloak's
/// `isOffline=true`) the offline session, which ends the session's every token. 404 when
/// the realm has no such session.
pub async fn delete(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
    offline: bool,
) -> Result<(), AdminError> {
    let found = state
        .store
        .login_sessions(&admin.realm.id, SessionsOf::Id(id), now_millis())
        .await?;
    let with_tokens = found.first().is_some_and(|s| {
        if offline {
            !s.offline_clients.is_empty()
        } else {
            !s.clients.is_empty()
        }
    });
    // The online session is also the browser's sign-in, which may live without tokens.
    let signed_in =
        !offline && end_browser_sessions(state, &admin.realm.id, SessionsOf::Id(id)).await? > 0;
    if !with_tokens && !signed_in {
        return Err(AdminError::NotFound("Session not found"));
    }
    let until = revoked_until(&admin.realm, now_millis(), offline);
    state
        .store
        .revoke_session(&admin.realm.id, id, !offline, until)
        .await?;
    let path = format!("sessions/{id}");
    audit::record(state, admin, Change::delete(Resource::UserSession, path)).await;
    Ok(())
}
