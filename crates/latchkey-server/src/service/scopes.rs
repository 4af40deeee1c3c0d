//! A realm's client scopes, and its default and optional scope sets (the scopes a new
//! client gets).

use latchkey_core::crypto::new_uuid;
use latchkey_core::merge::merge;
use latchkey_core::rep::ClientScopeRep;
use latchkey_core::store::ScopeRecord;

use super::audit::{self, Change, Resource};
use super::{RealmAdmin, or_conflict};
use crate::error::AdminError;
use crate::state::SharedState;

/// One of the realm's two scope sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeSet {
    /// given to every new client as a default scope
    Default,
    /// given to every new client as an optional scope
    Optional,
}

impl ScopeSet {
    /// The set's collection in the admin API.
    pub fn path(self) -> &'static str {
        match self {
            ScopeSet::Default => "default-default-client-scopes",
            ScopeSet::Optional => "default-optional-client-scopes",
        }
    }
}

fn path(id: &str) -> String {
    format!("client-scopes/{id}")
}

pub async fn list(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
) -> Result<Vec<ScopeRecord>, AdminError> {
    Ok(state.store.list_scopes(&admin.realm.id).await?.to_vec())
}

/// The scope by id, or Keycloak's 404.
pub async fn get(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
) -> Result<ScopeRecord, AdminError> {
    state
        .store
        .list_scopes(&admin.realm.id)
        .await?
        .iter()
        .find(|s| s.id == id)
        .cloned()
        .ok_or(AdminError::NotFound("Client scope not found"))
}

/// Scope names become `scope` parameter values: no spaces, no quotes (RFC 6749 §3.3).
fn check_name(name: &str) -> Result<(), AdminError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c == ' ' || c == '"' || c == '\\' || c.is_control())
    {
        return Err(AdminError::Invalid(format!(
            "Unexpected name \"{name}\" for ClientScope"
        )));
    }
    Ok(())
}

/// Creates a client scope; returns its id.
pub async fn create(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    mut rep: ClientScopeRep,
) -> Result<String, AdminError> {
    let sent = audit::sent(&admin.realm, &rep);
    let name = rep
        .name
        .clone()
        .ok_or_else(|| AdminError::Invalid("Client scope name is missing".into()))?;
    check_name(&name)?;
    let id = new_uuid();
    rep.id = Some(id.clone());
    rep.protocol.get_or_insert_with(|| "openid-connect".into());
    rep.attributes.get_or_insert_with(Default::default);
    let record = ScopeRecord {
        id: id.clone(),
        realm_id: admin.realm.id.clone(),
        name: name.clone(),
        rep,
    };
    or_conflict(state.store.create_scope(&record).await, || {
        format!("Client Scope {name} already exists")
    })?;
    audit::record(
        state,
        admin,
        Change::create(Resource::ClientScope, path(&id)).with(sent),
    )
    .await;
    Ok(id)
}

/// Keycloak's partial update of a client scope.
pub async fn update(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
    mut patch: ClientScopeRep,
) -> Result<(), AdminError> {
    let mut scope = get(state, admin, id).await?;
    let sent = audit::sent(&admin.realm, &patch);
    patch.id = None;
    if let Some(name) = &patch.name {
        check_name(name)?;
        scope.name = name.clone();
    }
    scope.rep = merge(&scope.rep, &patch, &[]).map_err(AdminError::internal)?;
    or_conflict(state.store.update_scope(&scope).await, || {
        format!("Client Scope {} already exists", scope.name)
    })?;
    audit::record(
        state,
        admin,
        Change::update(Resource::ClientScope, path(&scope.id)).with(sent),
    )
    .await;
    Ok(())
}

pub async fn delete(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
) -> Result<(), AdminError> {
    let scope = get(state, admin, id).await?;
    state.store.delete_scope(&admin.realm.id, &scope.id).await?;
    audit::record(
        state,
        admin,
        Change::delete(Resource::ClientScope, path(&scope.id)),
    )
    .await;
    Ok(())
}

/// The scopes in one of the realm's sets.
pub async fn list_set(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    set: ScopeSet,
) -> Result<Vec<ScopeRecord>, AdminError> {
    let scopes = state.store.list_scopes(&admin.realm.id).await?;
    let links = state.store.realm_default_scopes(&admin.realm.id).await?;
    let default = set == ScopeSet::Default;
    Ok(scopes
        .iter()
        .filter(|s| links.iter().any(|(id, d)| *id == s.id && *d == default))
        .cloned()
        .collect())
}

/// Puts a scope in one of the sets (out of the other).
pub async fn add_to_set(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
    set: ScopeSet,
) -> Result<(), AdminError> {
    let scope = get(state, admin, id).await?;
    state
        .store
        .set_realm_default_scope(&admin.realm.id, &scope.id, set == ScopeSet::Default)
        .await?;
    let path = format!("{}/{}", set.path(), scope.id);
    audit::record(
        state,
        admin,
        Change::update(Resource::RealmScopeMapping, path),
    )
    .await;
    Ok(())
}

/// Takes a scope out of whichever set holds it: Keycloak's `removeDefaultOptionalClientScope`
/// calls `removeDefaultDefaultClientScope` too. `named` is the set the caller addressed,
/// which the admin event names.
pub async fn remove_from_set(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
    named: ScopeSet,
) -> Result<(), AdminError> {
    let scope = get(state, admin, id).await?;
    state
        .store
        .remove_realm_default_scope(&admin.realm.id, &scope.id)
        .await?;
    let path = format!("{}/{}", named.path(), scope.id);
    audit::record(
        state,
        admin,
        Change::delete(Resource::RealmScopeMapping, path),
    )
    .await;
    Ok(())
}
