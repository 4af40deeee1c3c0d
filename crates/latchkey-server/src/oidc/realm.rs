//! The realm a protocol endpoint or browser page serves.

use latchkey_core::store::RealmRecord;

use crate::state::SharedState;

/// The realm by name, if it exists and is enabled: a disabled realm serves no protocol
/// endpoint, as in Keycloak.
pub async fn enabled_realm(state: &SharedState, name: &str) -> Result<Option<RealmRecord>, String> {
    let realm = state
        .store
        .realm_by_name(name)
        .await
        .map_err(|e| e.to_string())?;
    Ok(realm.filter(|r| r.rep.enabled.unwrap_or(false)))
}
