//! `/admin/realms` and `/admin/realms/{realm}`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::rep::RealmRep;
use latchkey_core::roles::Right;

use super::answer::{created, no_content};
use super::out::realm_brief;
use crate::error::AdminError;
use crate::extract::{KcJson, query_bool};
use crate::service::AdminAuth;
use crate::service::{realm_import, realms};
use crate::state::SharedState;
use crate::urls::BaseUrl;

/// The realms the caller administers: whole where they may view the realm, else brief.
pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    let brief_only = query_bool(q.get("briefRepresentation")).unwrap_or(false);
    let mut out = Vec::new();
    for (realm, rights) in realms::visible(&state, &auth).await? {
        if rights.allows(Right::ViewRealm) && !brief_only {
            out.push(serde_json::to_value(&realm.rep).map_err(AdminError::internal)?);
        } else {
            out.push(realm_brief(&realm.rep));
        }
    }
    if out.is_empty() {
        return Err(AdminError::Forbidden);
    }
    Ok(Json(out).into_response())
}

pub async fn create(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    KcJson(doc): KcJson<serde_json::Value>,
) -> Result<Response, AdminError> {
    let name = realms::create(&state, auth.realm_creator()?, doc).await?;
    Ok(created(&base, &name, &[]))
}

pub async fn get(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(name): Path<String>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &name, Right::Any).await?;
    if admin.rights().allows(Right::ViewRealm) {
        Ok(Json(admin.realm.rep).into_response())
    } else {
        Ok(Json(realm_brief(&admin.realm.rep)).into_response())
    }
}

pub async fn update(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(name): Path<String>,
    KcJson(patch): KcJson<RealmRep>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &name, Right::ManageRealm).await?;
    realms::update(&state, &admin, patch).await?;
    Ok(no_content())
}

pub async fn delete(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(name): Path<String>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &name, Right::ManageRealm).await?;
    realms::delete(&state, &admin).await?;
    Ok(no_content())
}

/// `POST /admin/realms/{realm}/partialImport` (Keycloak's `PartialImportRepresentation`;
/// manage-realm, as Keycloak requires).
pub async fn partial_import(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(name): Path<String>,
    KcJson(rep): KcJson<serde_json::Value>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &name, Right::ManageRealm).await?;
    let results = realm_import::partial_import(&state, &admin, rep).await?;
    Ok(Json(results).into_response())
}

/// `POST /admin/realms/{realm}/partial-export?exportClients=…&exportGroupsAndRoles=…`:
/// view-realm, and view-clients for the clients, as Keycloak requires.
pub async fn partial_export(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    let clients = query_bool(q.get("exportClients")).unwrap_or(false);
    let roles = query_bool(q.get("exportGroupsAndRoles")).unwrap_or(false);
    let admin = auth.realm(&state, &name, Right::ViewRealm).await?;
    if clients && !admin.rights().allows(Right::ViewClients) {
        return Err(AdminError::Forbidden);
    }
    if roles && !admin.rights().allows(Right::QueryUsers) {
        return Err(AdminError::Forbidden);
    }
    let doc = realm_import::partial_export(&state, &admin, clients, roles).await?;
    Ok(Json(doc).into_response())
}
