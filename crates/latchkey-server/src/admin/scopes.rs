//! `/admin/realms/{realm}/client-scopes…` and the realm's default and optional scope sets.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::rep::ClientScopeRep;
use latchkey_core::roles::Right;
use serde_json::json;

use super::answer::{created, no_content};
use super::out::scope_out;
use crate::error::AdminError;
use crate::extract::KcJson;
use crate::service::AdminAuth;
use crate::service::scopes::{self, ScopeSet};
use crate::state::SharedState;
use crate::urls::BaseUrl;

type ScopePath = Path<(String, String)>;

pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::QueryClients).await?;
    let found = scopes::list(&state, &admin).await?;
    Ok(Json(found.iter().map(scope_out).collect::<Vec<_>>()).into_response())
}

pub async fn create(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path(realm): Path<String>,
    KcJson(rep): KcJson<ClientScopeRep>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageClients).await?;
    let id = scopes::create(&state, &admin, rep).await?;
    Ok(created(&base, &admin.realm.name, &["client-scopes", &id]))
}

pub async fn get(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): ScopePath,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::QueryClients).await?;
    Ok(Json(scope_out(&scopes::get(&state, &admin, &id).await?)).into_response())
}

pub async fn update(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): ScopePath,
    KcJson(patch): KcJson<ClientScopeRep>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageClients).await?;
    scopes::update(&state, &admin, &id, patch).await?;
    Ok(no_content())
}

pub async fn delete(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): ScopePath,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageClients).await?;
    scopes::delete(&state, &admin, &id).await?;
    Ok(no_content())
}

async fn list_set(
    state: SharedState,
    auth: AdminAuth,
    realm: String,
    set: ScopeSet,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::QueryClients).await?;
    let found = scopes::list_set(&state, &admin, set).await?;
    let out: Vec<_> = found
        .iter()
        .map(|s| json!({"id": s.id, "name": s.name, "protocol": s.rep.protocol}))
        .collect();
    Ok(Json(out).into_response())
}

/// Adds to (`add`) or removes from the realm's scope sets; `set` is the one the path
/// names.
async fn change_set(
    state: SharedState,
    auth: AdminAuth,
    (realm, id): (String, String),
    set: ScopeSet,
    add: bool,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageClients).await?;
    if add {
        scopes::add_to_set(&state, &admin, &id, set).await?;
    } else {
        scopes::remove_from_set(&state, &admin, &id, set).await?;
    }
    Ok(no_content())
}

pub async fn list_default(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    list_set(state, auth, realm, ScopeSet::Default).await
}

pub async fn list_optional(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    list_set(state, auth, realm, ScopeSet::Optional).await
}

pub async fn add_default(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(path): ScopePath,
) -> Result<Response, AdminError> {
    change_set(state, auth, path, ScopeSet::Default, true).await
}

pub async fn add_optional(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(path): ScopePath,
) -> Result<Response, AdminError> {
    change_set(state, auth, path, ScopeSet::Optional, true).await
}

/// `DELETE …/default-default-client-scopes/{id}`: the scope leaves either set.
pub async fn remove_default(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(path): ScopePath,
) -> Result<Response, AdminError> {
    change_set(state, auth, path, ScopeSet::Default, false).await
}

/// `DELETE …/default-optional-client-scopes/{id}`: the scope leaves either set, as in
/// Keycloak, whose `removeDefaultOptionalClientScope` calls
/// `removeDefaultDefaultClientScope` too.
pub async fn remove_optional(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(path): ScopePath,
) -> Result<Response, AdminError> {
    change_set(state, auth, path, ScopeSet::Optional, false).await
}
