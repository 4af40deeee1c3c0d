//! First start: the master realm, with the bootstrap admin when one is given; and a
//! temporary admin made from the command line to recover access.

use std::sync::Arc;

use latchkey_core::crypto::{SecretBox, hash_password};
use latchkey_core::realm_setup::{BootstrapAdmin, admin_user, new_realm};
use latchkey_core::rep::RealmRep;
use latchkey_core::roles::{MASTER_ADMIN_ROLE, MASTER_REALM, REALM_ADMIN_ROLE, REALM_MANAGEMENT};
use latchkey_core::store::{RealmBundle, Store, StoreError};
use tokio::task::JoinHandle;

use crate::state::now_millis;

/// Creates the master realm unless it exists; `Ok(true)` when this call created it.
/// Several nodes may race here: the loser's insert conflicts and it carries on with the
/// winner's realm.
pub async fn bootstrap_master(
    store: &dyn Store,
    sealer: Arc<SecretBox>,
    admin: Option<BootstrapAdmin>,
) -> Result<bool, String> {
    if store
        .realm_by_name(MASTER_REALM)
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Ok(false);
    }
    install_master(store, prepare_master(sealer, admin)).await
}

/// Starts building the master realm (RSA key generation and the admin's Argon2id hash,
/// CPU work) on a blocking thread, so that a first start can open the database meanwhile.
pub fn prepare_master(
    sealer: Arc<SecretBox>,
    admin: Option<BootstrapAdmin>,
) -> JoinHandle<Result<RealmBundle, String>> {
    let rep = RealmRep {
        realm: Some(MASTER_REALM.into()),
        display_name: Some("Latchkey".into()),
        enabled: Some(true),
        ..Default::default()
    };
    tokio::task::spawn_blocking(move || {
        new_realm(rep, &sealer, admin.as_ref(), now_millis()).map_err(|e| e.to_string())
    })
}

/// Stores a prepared master realm; `Ok(false)` if another node stored one first.
pub async fn install_master(
    store: &dyn Store,
    prepared: JoinHandle<Result<RealmBundle, String>>,
) -> Result<bool, String> {
    let bundle = prepared.await.map_err(|e| e.to_string())??;
    match store.create_realm(bundle).await {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

/// Why a temporary admin could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TemporaryAdminError {
    #[error("realm {0:?} does not exist")]
    NoRealm(String),
    #[error("a user {0:?} exists already in realm {1:?}: choose another --username")]
    Taken(String, String),
    #[error("{0}")]
    Other(String),
}

/// Keycloak's `kc.sh bootstrap-admin user`: a new user with every admin right of `realm`
/// (the master realm's `admin` role, which reaches every realm; elsewhere
/// `realm-management`'s `realm-admin`), marked temporary, so that an operator who lost the
/// admin password gets back in. Works with the server stopped or running: the store's
/// caches never hold an absent user, so a running node sees the new one at once.
pub async fn temporary_admin(
    store: &dyn Store,
    realm: &str,
    username: &str,
    password: &str,
) -> Result<String, TemporaryAdminError> {
    let other = |e: StoreError| TemporaryAdminError::Other(e.to_string());
    let Some(record) = store.realm_by_name(realm).await.map_err(other)? else {
        return Err(TemporaryAdminError::NoRealm(realm.into()));
    };
    if store
        .user_by_username(&record.id, &username.to_lowercase())
        .await
        .map_err(other)?
        .is_some()
    {
        return Err(TemporaryAdminError::Taken(username.into(), realm.into()));
    }
    let admin_role = if realm == MASTER_REALM {
        store
            .role_by_name(&record.id, None, MASTER_ADMIN_ROLE)
            .await
            .map_err(other)?
    } else {
        let management = store
            .client_by_client_id(&record.id, REALM_MANAGEMENT)
            .await
            .map_err(other)?;
        match management {
            Some(m) => store
                .role_by_name(&record.id, Some(&m.id), REALM_ADMIN_ROLE)
                .await
                .map_err(other)?,
            None => None,
        }
    };
    let Some(admin_role) = admin_role else {
        return Err(TemporaryAdminError::Other(format!(
            "realm {realm:?} has no admin role to give"
        )));
    };
    let mut roles = vec![admin_role.id];
    roles.extend(record.rep.default_role.and_then(|r| r.id));
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| TemporaryAdminError::Other(e.to_string()))?
        .map_err(|e| TemporaryAdminError::Other(e.to_string()))?;
    let user = admin_user(&record.id, username, Some(hash), true, now_millis());
    match store.create_user(&user, &roles).await {
        Ok(()) => Ok(user.id),
        Err(StoreError::Conflict { .. }) => {
            Err(TemporaryAdminError::Taken(username.into(), realm.into()))
        }
        Err(e) => Err(other(e)),
    }
}
