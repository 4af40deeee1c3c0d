//! First start: the master realm, with the bootstrap admin when one is given.

use std::sync::Arc;

use latchkey_core::crypto::SecretBox;
use latchkey_core::realm_setup::{BootstrapAdmin, new_realm};
use latchkey_core::rep::RealmRep;
use latchkey_core::roles::MASTER_REALM;
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
