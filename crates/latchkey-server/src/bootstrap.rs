//! First start: the master realm, with the bootstrap admin when one is given.

use std::sync::Arc;

use latchkey_core::crypto::SecretBox;
use latchkey_core::realm_setup::{BootstrapAdmin, new_realm};
use latchkey_core::rep::RealmRep;
use latchkey_core::roles::MASTER_REALM;
use latchkey_core::store::{Store, StoreError};

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
    let rep = RealmRep {
        realm: Some(MASTER_REALM.into()),
        display_name: Some("Latchkey".into()),
        enabled: Some(true),
        ..Default::default()
    };
    // RSA key generation and Argon2id are CPU work: off the async workers.
    let bundle =
        tokio::task::spawn_blocking(move || new_realm(rep, &sealer, admin.as_ref(), now_millis()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    match store.create_realm(bundle).await {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}
