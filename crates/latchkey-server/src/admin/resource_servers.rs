//! `/admin/realms/{realm}/resource-servers…`: the realm's resource servers (RFC 8707).
//! Reading needs `view-realm`, changing `manage-realm`.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::roles::Right;

use super::answer::{created, no_content};
use crate::error::AdminError;
use crate::extract::KcJson;
use crate::service::AdminAuth;
use crate::service::resource_servers::{self, ResourceServerRep};
use crate::state::SharedState;
use crate::urls::BaseUrl;

type ServerPath = Path<(String, String)>;

pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewRealm).await?;
    let found = resource_servers::list(&state, &admin).await?;
    let out: Vec<ResourceServerRep> = found.iter().map(ResourceServerRep::from).collect();
    Ok(Json(out).into_response())
}

pub async fn create(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path(realm): Path<String>,
    KcJson(rep): KcJson<ResourceServerRep>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageRealm).await?;
    let record = resource_servers::create(&state, &admin, rep).await?;
    Ok(created(
        &base,
        &admin.realm.name,
        &["resource-servers", &record.id],
    ))
}

pub async fn get(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): ServerPath,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewRealm).await?;
    let found = resource_servers::get(&state, &admin, &id).await?;
    Ok(Json(ResourceServerRep::from(&found)).into_response())
}

pub async fn update(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): ServerPath,
    KcJson(rep): KcJson<ResourceServerRep>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageRealm).await?;
    resource_servers::update(&state, &admin, &id, rep).await?;
    Ok(no_content())
}

pub async fn delete(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): ServerPath,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageRealm).await?;
    resource_servers::delete(&state, &admin, &id).await?;
    Ok(no_content())
}
