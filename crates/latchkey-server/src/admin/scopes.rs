//! `/admin/realms/{realm}/client-scopes…` and the realm's default and optional scope sets.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::crypto::new_uuid;
use latchkey_core::merge::merge;
use latchkey_core::rep::ClientScopeRep;
use latchkey_core::roles::Right;
use latchkey_core::store::{RealmRecord, ScopeRecord, StoreError};
use serde_json::json;

use super::{AdminAuth, created, no_content};
use crate::error::AdminError;
use crate::extract::KcJson;
use crate::state::SharedState;
use crate::urls::BaseUrl;

fn scope_out(s: &ScopeRecord) -> ClientScopeRep {
    let mut rep = s.rep.clone();
    rep.id = Some(s.id.clone());
    rep.name = Some(s.name.clone());
    rep
}

async fn scope_or_404(
    state: &SharedState,
    realm: &RealmRecord,
    id: &str,
) -> Result<ScopeRecord, AdminError> {
    state
        .store
        .list_scopes(&realm.id)
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

pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::QueryClients).await?;
    let scopes = state.store.list_scopes(&realm.id).await?;
    Ok(axum::Json(scopes.iter().map(scope_out).collect::<Vec<_>>()).into_response())
}

pub async fn create(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path(realm): Path<String>,
    KcJson(mut rep): KcJson<ClientScopeRep>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageClients).await?;
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
        realm_id: realm.id.clone(),
        name: name.clone(),
        rep,
    };
    match state.store.create_scope(&record).await {
        Ok(()) => Ok(created(
            &base,
            &["admin", "realms", &realm.name, "client-scopes", &id],
        )),
        Err(StoreError::Conflict { .. }) => Err(AdminError::Conflict(format!(
            "Client Scope {name} already exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn get(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::QueryClients).await?;
    Ok(axum::Json(scope_out(&scope_or_404(&state, &realm, &id).await?)).into_response())
}

pub async fn update(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
    KcJson(mut patch): KcJson<ClientScopeRep>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageClients).await?;
    let mut scope = scope_or_404(&state, &realm, &id).await?;
    patch.id = None;
    if let Some(name) = &patch.name {
        check_name(name)?;
        scope.name = name.clone();
    }
    scope.rep = merge(&scope.rep, &patch, &[]).map_err(AdminError::internal)?;
    match state.store.update_scope(&scope).await {
        Ok(()) => Ok(no_content()),
        Err(StoreError::Conflict { .. }) => Err(AdminError::Conflict(format!(
            "Client Scope {} already exists",
            scope.name
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageClients).await?;
    let scope = scope_or_404(&state, &realm, &id).await?;
    state.store.delete_scope(&realm.id, &scope.id).await?;
    Ok(no_content())
}

async fn list_set(
    state: SharedState,
    auth: AdminAuth,
    realm: String,
    default: bool,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::QueryClients).await?;
    let scopes = state.store.list_scopes(&realm.id).await?;
    let set = state.store.realm_default_scopes(&realm.id).await?;
    let out: Vec<_> = scopes
        .iter()
        .filter(|s| set.iter().any(|(id, d)| *id == s.id && *d == default))
        .map(|s| json!({"id": s.id, "name": s.name, "protocol": s.rep.protocol}))
        .collect();
    Ok(axum::Json(out).into_response())
}

pub async fn list_default(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    list_set(state, auth, realm, true).await
}

pub async fn list_optional(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    list_set(state, auth, realm, false).await
}

async fn add_to_set(
    state: SharedState,
    auth: AdminAuth,
    realm: String,
    id: String,
    default: bool,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageClients).await?;
    let scope = scope_or_404(&state, &realm, &id).await?;
    state
        .store
        .set_realm_default_scope(&realm.id, &scope.id, default)
        .await?;
    Ok(no_content())
}

pub async fn add_default(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    add_to_set(state, auth, realm, id, true).await
}

pub async fn add_optional(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    add_to_set(state, auth, realm, id, false).await
}

pub async fn remove_default(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageClients).await?;
    let scope = scope_or_404(&state, &realm, &id).await?;
    state
        .store
        .remove_realm_default_scope(&realm.id, &scope.id)
        .await?;
    Ok(no_content())
}
