//! Password checking, the one place a password is checked: the resource owner of the
//! `password` grant (`token.rs`) and of the login form (`authorize.rs`), with brute-force
//! protection (`brute_force.rs`).

use latchkey_core::crypto::{hash_password, verify_password};
use latchkey_core::keycloak_hash;
use latchkey_core::store::{RealmRecord, UserRecord};

use crate::brute_force;
use crate::error::{OAuthCode, OAuthError};
use crate::limits::address_key;
use crate::state::{SharedState, now_millis};

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
    let right = check_password(password.clone(), user.password_hash.clone()).await?;
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
    Ok(upgrade_hash(state, user, password).await)
}

/// A hash imported from Keycloak (PBKDF2, or Argon2 with less work than Latchkey's) is
/// replaced by Latchkey's Argon2id once the password has been shown right. Failing to
/// store the new hash only logs: the old one still verifies.
async fn upgrade_hash(state: &SharedState, mut user: UserRecord, password: String) -> UserRecord {
    let Some(old) = user
        .password_hash
        .clone()
        .filter(|h| keycloak_hash::needs_rehash(h))
    else {
        return user;
    };
    let Ok(Ok(new)) = tokio::task::spawn_blocking(move || hash_password(&password)).await else {
        return user;
    };
    // The user as stored now, so that a change made meanwhile (an admin's, another node's
    // upgrade) is not written over; only a hash still the old one is replaced.
    let mut stored = match state.store.user(&user.realm_id, &user.id).await {
        Ok(Some(u)) if u.password_hash.as_deref() == Some(old.as_str()) => u,
        _ => return user,
    };
    stored.password_hash = Some(new);
    match state.store.update_user(&stored).await {
        Ok(()) => user.password_hash = stored.password_hash,
        Err(e) => {
            tracing::warn!(user = %user.id, error = %e, "could not store the upgraded password hash")
        }
    }
    user
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
