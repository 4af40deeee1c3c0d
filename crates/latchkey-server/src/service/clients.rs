//! What creating or changing a client needs besides the client itself, alike from the admin
//! API, dynamic client registration and the console: the realm's `ScopeDefaults` and
//! the client's service-account user.

use std::sync::Arc;

use latchkey_core::clients::{ScopeDefaults, service_account_user as sa_user};
use latchkey_core::realm_setup::default_role_name;
use latchkey_core::store::{ClientRecord, RealmRecord, UserRecord};

use crate::error::AdminError;
use crate::state::{SharedState, now_millis};

/// The realm's `ScopeDefaults`: the names of its default and optional client scopes, and
/// of all of them.
pub async fn scope_defaults(
    state: &SharedState,
    realm: &RealmRecord,
) -> Result<Arc<ScopeDefaults>, AdminError> {
    let scopes = state.store.list_scopes(&realm.id).await?;
    let links = state.store.realm_default_scopes(&realm.id).await?;
    Ok(state.scope_defaults(&realm.id, scopes, links))
}

/// The service-account user a client needs, with the realm's default role.
pub async fn service_account_for(
    state: &SharedState,
    realm: &RealmRecord,
    client: &ClientRecord,
) -> Result<Option<(UserRecord, Vec<String>)>, AdminError> {
    if !client.rep.service_accounts() || client.rep.is_public() {
        return Ok(None);
    }
    if state
        .store
        .service_account_user(&realm.id, &client.id)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    new_service_account(state, realm, client).await
}

/// `service_account_for` a client being created, which cannot have one yet.
pub async fn new_service_account(
    state: &SharedState,
    realm: &RealmRecord,
    client: &ClientRecord,
) -> Result<Option<(UserRecord, Vec<String>)>, AdminError> {
    if !client.rep.service_accounts() || client.rep.is_public() {
        return Ok(None);
    }
    let user = sa_user(client, now_millis());
    // From the realm's cached roles, not a query.
    let default_role = default_role_name(&realm.name);
    let default_role = state
        .store
        .all_roles(&realm.id)
        .await?
        .iter()
        .find(|r| r.client.is_none() && r.name == default_role)
        .map(|r| r.id.clone());
    Ok(Some((user, default_role.into_iter().collect())))
}
