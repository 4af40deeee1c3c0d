//! `/admin/realms/{realm}/users…`: user CRUD, passwords, realm and client role mappings.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::rep::{CredentialRep, RoleRep, UserRep};
use latchkey_core::roles::Right;
use latchkey_core::store::UserQuery;
use serde_json::{Map, Value, json};

use super::answer::{created, no_content, paging};
use super::out::{role_out, user_out};
use crate::error::AdminError;
use crate::extract::{KcJson, query_bool};
use crate::service::AdminAuth;
use crate::service::users;
use crate::state::SharedState;
use crate::urls::BaseUrl;

type UserPath = Path<(String, String)>;
type ClientMappingPath = Path<(String, String, String)>;

fn user_query(q: &HashMap<String, String>) -> UserQuery {
    let (first, max) = paging(q, 100);
    UserQuery {
        username: q.get("username").cloned(),
        email: q.get("email").cloned(),
        first_name: q.get("firstName").cloned(),
        last_name: q.get("lastName").cloned(),
        search: q.get("search").cloned(),
        exact: query_bool(q.get("exact")).unwrap_or(false),
        first,
        max,
    }
}

pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::QueryUsers).await?;
    let found = users::list(&state, &admin, &user_query(&q)).await?;
    Ok(Json(found.iter().map(user_out).collect::<Vec<_>>()).into_response())
}

pub async fn count(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::QueryUsers).await?;
    Ok(Json(users::count(&state, &admin, &user_query(&q)).await?).into_response())
}

pub async fn create(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path(realm): Path<String>,
    KcJson(rep): KcJson<UserRep>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageUsers).await?;
    let id = users::create(&state, &admin, rep).await?;
    Ok(created(&base, &admin.realm.name, &["users", &id]))
}

pub async fn get(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): UserPath,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewUsers).await?;
    Ok(Json(user_out(&users::get(&state, &admin, &id).await?)).into_response())
}

pub async fn update(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): UserPath,
    KcJson(patch): KcJson<UserRep>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageUsers).await?;
    users::update(&state, &admin, &id, patch).await?;
    Ok(no_content())
}

pub async fn delete(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): UserPath,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageUsers).await?;
    users::delete(&state, &admin, &id).await?;
    Ok(no_content())
}

pub async fn reset_password(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): UserPath,
    KcJson(cred): KcJson<CredentialRep>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageUsers).await?;
    users::reset_password(&state, &admin, &id, cred).await?;
    Ok(no_content())
}

/// `MappingsRepresentation`: the direct realm roles, and the direct client roles by
/// `clientId`.
pub async fn role_mappings(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): UserPath,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewUsers).await?;
    let user = users::get(&state, &admin, &id).await?;
    let (direct, _) = users::direct_roles(&state, &admin, &user).await?;
    let realm_roles: Vec<RoleRep> = direct
        .iter()
        .filter(|r| r.client.is_none())
        .map(|r| role_out(r, true))
        .collect();
    let mut clients: BTreeMap<String, (String, Vec<RoleRep>)> = BTreeMap::new();
    for r in direct.iter().filter(|r| r.client.is_some()) {
        let key = r.client_client_id.clone().unwrap_or_default();
        let entry = clients
            .entry(key)
            .or_insert_with(|| (r.client.clone().unwrap_or_default(), Vec::new()));
        entry.1.push(role_out(r, true));
    }
    let mut out = Map::new();
    if !realm_roles.is_empty() {
        out.insert("realmMappings".into(), json!(realm_roles));
    }
    if !clients.is_empty() {
        let m: Map<String, Value> = clients
            .into_iter()
            .map(|(client_id, (uuid, roles))| {
                (
                    client_id.clone(),
                    json!({"id": uuid, "client": client_id, "mappings": roles}),
                )
            })
            .collect();
        out.insert("clientMappings".into(), Value::Object(m));
    }
    Ok(Json(Value::Object(out)).into_response())
}

/// Lists a user's roles in one container (`client = None`: realm roles), direct or
/// effective.
async fn mappings(
    state: SharedState,
    auth: AdminAuth,
    (realm, id, client): (String, String, Option<String>),
    composite: bool,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewUsers).await?;
    let roles = users::mappings(&state, &admin, &id, client.as_deref(), composite).await?;
    let out: Vec<RoleRep> = roles.iter().map(|r| role_out(r, true)).collect();
    Ok(Json(out).into_response())
}

/// Adds or removes mappings in one container.
async fn change_mappings(
    state: SharedState,
    auth: AdminAuth,
    (realm, id, client): (String, String, Option<String>),
    roles: Vec<RoleRep>,
    add: bool,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageUsers).await?;
    users::change_mappings(&state, &admin, &id, client.as_deref(), roles, add).await?;
    Ok(no_content())
}

pub async fn realm_mappings(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): UserPath,
) -> Result<Response, AdminError> {
    mappings(state, auth, (realm, id, None), false).await
}

pub async fn realm_mappings_composite(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): UserPath,
) -> Result<Response, AdminError> {
    mappings(state, auth, (realm, id, None), true).await
}

pub async fn add_realm_mappings(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): UserPath,
    KcJson(roles): KcJson<Vec<RoleRep>>,
) -> Result<Response, AdminError> {
    change_mappings(state, auth, (realm, id, None), roles, true).await
}

pub async fn remove_realm_mappings(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): UserPath,
    KcJson(roles): KcJson<Vec<RoleRep>>,
) -> Result<Response, AdminError> {
    change_mappings(state, auth, (realm, id, None), roles, false).await
}

pub async fn client_mappings(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id, client)): ClientMappingPath,
) -> Result<Response, AdminError> {
    mappings(state, auth, (realm, id, Some(client)), false).await
}

pub async fn client_mappings_composite(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id, client)): ClientMappingPath,
) -> Result<Response, AdminError> {
    mappings(state, auth, (realm, id, Some(client)), true).await
}

pub async fn add_client_mappings(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id, client)): ClientMappingPath,
    KcJson(roles): KcJson<Vec<RoleRep>>,
) -> Result<Response, AdminError> {
    change_mappings(state, auth, (realm, id, Some(client)), roles, true).await
}

pub async fn remove_client_mappings(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id, client)): ClientMappingPath,
    KcJson(roles): KcJson<Vec<RoleRep>>,
) -> Result<Response, AdminError> {
    change_mappings(state, auth, (realm, id, Some(client)), roles, false).await
}
