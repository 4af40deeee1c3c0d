//! `/admin/realms/{realm}/users…`: user CRUD, passwords, realm and client role mappings.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::crypto::{hash_password, new_uuid};
use latchkey_core::merge::merge;
use latchkey_core::realm_setup::default_role_name;
use latchkey_core::rep::{CredentialRep, RoleRep, UserRep};
use latchkey_core::roles::{REALM_MANAGEMENT, Right, expand};
use latchkey_core::store::{RealmRecord, RoleRecord, StoreError, UserQuery, UserRecord};
use serde_json::{Map, Value, json};

use super::lookup::client_or_404;
use super::out::{role_out, user_out};
use super::{AdminAuth, created, no_content, paging};
use crate::error::AdminError;
use crate::extract::{KcJson, query_bool};
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

const UPDATE_PASSWORD: &str = "UPDATE_PASSWORD";

async fn user_or_404(
    state: &SharedState,
    realm: &RealmRecord,
    id: &str,
) -> Result<UserRecord, AdminError> {
    state
        .store
        .user(&realm.id, id)
        .await?
        .ok_or(AdminError::NotFound("User not found"))
}

async fn hash(password: String) -> Result<String, AdminError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(AdminError::internal)?
        .map_err(AdminError::internal)
}

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
    let (realm, _) = auth.realm(&state, &realm, Right::QueryUsers).await?;
    let users = state.store.list_users(&realm.id, &user_query(&q)).await?;
    let out: Vec<UserRep> = users.iter().map(user_out).collect();
    Ok(axum::Json(out).into_response())
}

pub async fn count(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::QueryUsers).await?;
    Ok(axum::Json(state.store.count_users(&realm.id, &user_query(&q)).await?).into_response())
}

/// Email uniqueness (unless the realm allows duplicates), checked before writing.
async fn check_email(
    state: &SharedState,
    realm: &RealmRecord,
    email: Option<&str>,
    user_id: Option<&str>,
) -> Result<(), AdminError> {
    let Some(email) = email else { return Ok(()) };
    if realm.rep.duplicate_emails_allowed.unwrap_or(false) {
        return Ok(());
    }
    match state.store.user_by_email(&realm.id, email).await? {
        Some(other) if Some(other.id.as_str()) != user_id => {
            Err(AdminError::Conflict("User exists with same email".into()))
        }
        _ => Ok(()),
    }
}

pub async fn create(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path(realm): Path<String>,
    KcJson(mut rep): KcJson<UserRep>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageUsers).await?;
    let username = rep
        .username
        .clone()
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| AdminError::Invalid("User name is missing".into()))?
        .to_lowercase();
    let email = rep
        .email
        .clone()
        .filter(|e| !e.is_empty())
        .map(|e| e.to_lowercase());
    if state
        .store
        .user_by_username(&realm.id, &username)
        .await?
        .is_some()
    {
        return Err(AdminError::Conflict(
            "User exists with same username".into(),
        ));
    }
    check_email(&state, &realm, email.as_deref(), None).await?;
    let now = now_millis();
    let id = rep
        .id
        .take()
        .filter(|s| !s.is_empty() && s.len() <= 36)
        .unwrap_or_else(new_uuid);
    let mut password_hash = None;
    let mut actions = rep.required_actions.take().unwrap_or_default();
    let password = rep
        .credentials
        .take()
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.kind.as_deref().unwrap_or("password") == "password")
        .and_then(|c| {
            Some((
                c.value.filter(|v| !v.is_empty())?,
                c.temporary == Some(true),
            ))
        });
    if let Some((value, temporary)) = password {
        password_hash = Some(hash(value).await?);
        if temporary && !actions.iter().any(|a| a == UPDATE_PASSWORD) {
            actions.push(UPDATE_PASSWORD.into());
        }
    }
    rep.id = Some(id.clone());
    rep.username = Some(username.clone());
    rep.email = email.clone();
    rep.enabled.get_or_insert(false);
    rep.email_verified.get_or_insert(false);
    rep.required_actions = Some(actions);
    rep.created_timestamp = Some(now);
    rep.service_account_client_id = None;
    rep.access = None;
    let user = UserRecord {
        id: id.clone(),
        realm_id: realm.id.clone(),
        username,
        email,
        rep,
        password_hash,
        service_account_client: None,
        created_at: now,
    };
    let default_role = state
        .store
        .role_by_name(&realm.id, None, &default_role_name(&realm.name))
        .await?;
    let roles: Vec<String> = default_role.into_iter().map(|r| r.id).collect();
    match state.store.create_user(&user, &roles).await {
        Ok(()) => Ok(created(
            &base,
            &["admin", "realms", &realm.name, "users", &id],
        )),
        Err(StoreError::Conflict { .. }) => Err(AdminError::Conflict(
            "User exists with same username".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn get(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ViewUsers).await?;
    Ok(axum::Json(user_out(&user_or_404(&state, &realm, &id).await?)).into_response())
}

pub async fn update(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
    KcJson(mut patch): KcJson<UserRep>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageUsers).await?;
    let mut user = user_or_404(&state, &realm, &id).await?;
    patch.id = None;
    patch.created_timestamp = None;
    patch.credentials = None;
    patch.service_account_client_id = None;
    patch.access = None;
    if let Some(username) = patch
        .username
        .take()
        .map(|u| u.to_lowercase())
        .filter(|u| *u != user.username)
    {
        if username.trim().is_empty() {
            return Err(AdminError::Invalid("User name is missing".into()));
        }
        if state
            .store
            .user_by_username(&realm.id, &username)
            .await?
            .is_some()
        {
            return Err(AdminError::Conflict(
                "User exists with same username or email".into(),
            ));
        }
        user.username = username;
    }
    if let Some(email) = patch.email.take() {
        let email = (!email.is_empty()).then(|| email.to_lowercase());
        if let Err(AdminError::Conflict(_)) =
            check_email(&state, &realm, email.as_deref(), Some(&user.id)).await
        {
            return Err(AdminError::Conflict(
                "User exists with same username or email".into(),
            ));
        }
        user.email = email;
    }
    user.rep = merge(&user.rep, &patch, &[]).map_err(AdminError::internal)?;
    user.rep.username = Some(user.username.clone());
    user.rep.email = user.email.clone();
    match state.store.update_user(&user).await {
        Ok(()) => Ok(no_content()),
        Err(StoreError::Conflict { .. }) => Err(AdminError::Conflict(
            "User exists with same username or email".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageUsers).await?;
    let user = user_or_404(&state, &realm, &id).await?;
    state.store.delete_user(&realm.id, &user.id).await?;
    Ok(no_content())
}

pub async fn reset_password(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
    KcJson(cred): KcJson<CredentialRep>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageUsers).await?;
    let mut user = user_or_404(&state, &realm, &id).await?;
    let value = cred
        .value
        .ok_or_else(|| AdminError::BadRequest("No password provided".into()))?;
    if value.is_empty() {
        return Err(AdminError::BadRequest("Empty password not allowed".into()));
    }
    user.password_hash = Some(hash(value).await?);
    let actions = user.rep.required_actions.get_or_insert_with(Vec::new);
    actions.retain(|a| a != UPDATE_PASSWORD);
    if cred.temporary == Some(true) {
        actions.push(UPDATE_PASSWORD.into());
    }
    state.store.update_user(&user).await?;
    Ok(no_content())
}

/// The user's direct roles, resolved against the realm's roles.
async fn direct_roles(
    state: &SharedState,
    realm: &RealmRecord,
    user: &UserRecord,
) -> Result<(Vec<RoleRecord>, Vec<RoleRecord>), AdminError> {
    let ids = state.store.user_role_ids(&user.id).await?;
    let all = state.store.all_roles(&realm.id).await?;
    let direct = all
        .iter()
        .filter(|r| ids.contains(&r.id))
        .cloned()
        .collect();
    Ok((direct, all.to_vec()))
}

pub async fn role_mappings(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ViewUsers).await?;
    let user = user_or_404(&state, &realm, &id).await?;
    let (direct, _) = direct_roles(&state, &realm, &user).await?;
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
    Ok(axum::Json(Value::Object(out)).into_response())
}

/// Lists a user's roles in one container (`client = None`: realm roles), direct or
/// effective.
async fn mappings(
    state: SharedState,
    auth: AdminAuth,
    realm: String,
    id: String,
    client: Option<String>,
    composite: bool,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ViewUsers).await?;
    let user = user_or_404(&state, &realm, &id).await?;
    let client_uuid = match &client {
        Some(c) => Some(client_or_404(&state, &realm, c).await?.id),
        None => None,
    };
    let (direct, all) = direct_roles(&state, &realm, &user).await?;
    let chosen: Vec<&RoleRecord> = if composite {
        let ids: Vec<String> = direct.iter().map(|r| r.id.clone()).collect();
        let eff = expand(&ids, &all);
        all.iter()
            .filter(|r| eff.role_ids.contains(&r.id))
            .collect()
    } else {
        direct.iter().collect()
    };
    let out: Vec<RoleRep> = chosen
        .into_iter()
        .filter(|r| r.client == client_uuid)
        .map(|r| role_out(r, true))
        .collect();
    Ok(axum::Json(out).into_response())
}

/// Adds or removes mappings. Each posted role must name an existing role of the container
/// by both `id` and `name` (404 otherwise, as Keycloak). Admin roles can be granted only by
/// their holders.
async fn change_mappings(
    state: SharedState,
    auth: AdminAuth,
    realm: String,
    id: String,
    client: Option<String>,
    roles: Vec<RoleRep>,
    add: bool,
) -> Result<Response, AdminError> {
    let (realm, rights) = auth.realm(&state, &realm, Right::ManageUsers).await?;
    let user = user_or_404(&state, &realm, &id).await?;
    let client_uuid = match &client {
        Some(c) => Some(client_or_404(&state, &realm, c).await?.id),
        None => None,
    };
    let all = state.store.all_roles(&realm.id).await?;
    let mut ids = Vec::new();
    for wanted in &roles {
        let found = all.iter().find(|r| {
            r.client == client_uuid
                && wanted.id.as_deref() == Some(r.id.as_str())
                && wanted.name.as_deref().is_none_or(|n| n == r.name)
        });
        let role = found.ok_or(AdminError::NotFound("Role not found"))?;
        let is_admin_role = role.client_client_id.as_deref() == Some(REALM_MANAGEMENT);
        if add
            && is_admin_role
            && !rights.is_superuser()
            && !auth.effective.has_client_role(REALM_MANAGEMENT, &role.name)
        {
            return Err(AdminError::Forbidden);
        }
        ids.push(role.id.clone());
    }
    if add {
        state.store.add_user_roles(&user.id, &ids).await?;
    } else {
        state.store.remove_user_roles(&user.id, &ids).await?;
    }
    Ok(no_content())
}

pub async fn realm_mappings(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    mappings(state, auth, realm, id, None, false).await
}

pub async fn realm_mappings_composite(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    mappings(state, auth, realm, id, None, true).await
}

pub async fn add_realm_mappings(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
    KcJson(roles): KcJson<Vec<RoleRep>>,
) -> Result<Response, AdminError> {
    change_mappings(state, auth, realm, id, None, roles, true).await
}

pub async fn remove_realm_mappings(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
    KcJson(roles): KcJson<Vec<RoleRep>>,
) -> Result<Response, AdminError> {
    change_mappings(state, auth, realm, id, None, roles, false).await
}

pub async fn client_mappings(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id, client)): Path<(String, String, String)>,
) -> Result<Response, AdminError> {
    mappings(state, auth, realm, id, Some(client), false).await
}

pub async fn client_mappings_composite(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id, client)): Path<(String, String, String)>,
) -> Result<Response, AdminError> {
    mappings(state, auth, realm, id, Some(client), true).await
}

pub async fn add_client_mappings(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id, client)): Path<(String, String, String)>,
    KcJson(roles): KcJson<Vec<RoleRep>>,
) -> Result<Response, AdminError> {
    change_mappings(state, auth, realm, id, Some(client), roles, true).await
}

pub async fn remove_client_mappings(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id, client)): Path<(String, String, String)>,
    KcJson(roles): KcJson<Vec<RoleRep>>,
) -> Result<Response, AdminError> {
    change_mappings(state, auth, realm, id, Some(client), roles, false).await
}
