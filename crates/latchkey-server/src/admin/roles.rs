//! Realm roles (`…/roles`) and client roles (`…/clients/{id}/roles`), addressed by name.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::rep::RoleRep;

use super::answer::{created, no_content, paging};
use super::out::role_out;
use crate::error::AdminError;
use crate::extract::{KcJson, query_bool};
use crate::service::roles;
use crate::service::{AdminAuth, RealmAdmin};
use crate::state::SharedState;
use crate::urls::BaseUrl;

/// The caller cleared for the realm's roles (`client = None`) or a client's, to read or to
/// change them.
async fn cleared<'a>(
    state: &SharedState,
    auth: &'a AdminAuth,
    realm: &str,
    client: Option<&str>,
    write: bool,
) -> Result<RealmAdmin<'a>, AdminError> {
    auth.realm(state, realm, roles::right(client.is_some(), write))
        .await
}

async fn list(
    state: SharedState,
    auth: AdminAuth,
    realm: String,
    client: Option<String>,
    q: HashMap<String, String>,
) -> Result<Response, AdminError> {
    let admin = cleared(&state, &auth, &realm, client.as_deref(), false).await?;
    let brief = query_bool(q.get("briefRepresentation")).unwrap_or(true);
    let (first, max) = paging(&q, i64::MAX);
    let search = q.get("search").map(String::as_str);
    let found = roles::list(&state, &admin, client.as_deref(), search, first, max).await?;
    let out: Vec<RoleRep> = found.iter().map(|r| role_out(r, brief)).collect();
    Ok(Json(out).into_response())
}

async fn create(
    state: SharedState,
    auth: AdminAuth,
    base: BaseUrl,
    (realm, client): (String, Option<String>),
    rep: RoleRep,
) -> Result<Response, AdminError> {
    let admin = cleared(&state, &auth, &realm, client.as_deref(), true).await?;
    let name = roles::create(&state, &admin, client.as_deref(), rep).await?;
    let below: Vec<&str> = match &client {
        Some(c) => vec!["clients", c, "roles", &name],
        None => vec!["roles", &name],
    };
    Ok(created(&base, &admin.realm.name, &below))
}

async fn get(
    state: SharedState,
    auth: AdminAuth,
    (realm, client, name): (String, Option<String>, String),
) -> Result<Response, AdminError> {
    let admin = cleared(&state, &auth, &realm, client.as_deref(), false).await?;
    let role = roles::get(&state, &admin, client.as_deref(), &name).await?;
    Ok(Json(role_out(&role, false)).into_response())
}

async fn update(
    state: SharedState,
    auth: AdminAuth,
    (realm, client, name): (String, Option<String>, String),
    patch: RoleRep,
) -> Result<Response, AdminError> {
    let admin = cleared(&state, &auth, &realm, client.as_deref(), true).await?;
    roles::update(&state, &admin, client.as_deref(), &name, patch).await?;
    Ok(no_content())
}

async fn delete(
    state: SharedState,
    auth: AdminAuth,
    (realm, client, name): (String, Option<String>, String),
) -> Result<Response, AdminError> {
    let admin = cleared(&state, &auth, &realm, client.as_deref(), true).await?;
    roles::delete(&state, &admin, client.as_deref(), &name).await?;
    Ok(no_content())
}

pub async fn list_realm(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    list(state, auth, realm, None, q).await
}

pub async fn list_client(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, client)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    list(state, auth, realm, Some(client), q).await
}

pub async fn create_realm(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path(realm): Path<String>,
    KcJson(rep): KcJson<RoleRep>,
) -> Result<Response, AdminError> {
    create(state, auth, base, (realm, None), rep).await
}

pub async fn create_client(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path((realm, client)): Path<(String, String)>,
    KcJson(rep): KcJson<RoleRep>,
) -> Result<Response, AdminError> {
    create(state, auth, base, (realm, Some(client)), rep).await
}

pub async fn get_realm(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, name)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    get(state, auth, (realm, None, name)).await
}

pub async fn get_client(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, client, name)): Path<(String, String, String)>,
) -> Result<Response, AdminError> {
    get(state, auth, (realm, Some(client), name)).await
}

pub async fn update_realm(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, name)): Path<(String, String)>,
    KcJson(rep): KcJson<RoleRep>,
) -> Result<Response, AdminError> {
    update(state, auth, (realm, None, name), rep).await
}

pub async fn update_client(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, client, name)): Path<(String, String, String)>,
    KcJson(rep): KcJson<RoleRep>,
) -> Result<Response, AdminError> {
    update(state, auth, (realm, Some(client), name), rep).await
}

pub async fn delete_realm(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, name)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    delete(state, auth, (realm, None, name)).await
}

pub async fn delete_client(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, client, name)): Path<(String, String, String)>,
) -> Result<Response, AdminError> {
    delete(state, auth, (realm, Some(client), name)).await
}
