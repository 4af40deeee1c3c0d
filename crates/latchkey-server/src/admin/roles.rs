//! Realm roles (`…/roles`) and client roles (`…/clients/{id}/roles`), addressed by name.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::crypto::new_uuid;
use latchkey_core::realm_setup::default_role_name;
use latchkey_core::rep::RoleRep;
use latchkey_core::roles::Right;
use latchkey_core::store::{ClientRecord, RealmRecord, RoleRecord, StoreError};

use super::lookup::client_or_404;
use super::out::role_out;
use super::{AdminAuth, created, no_content, paging};
use crate::error::AdminError;
use crate::extract::{KcJson, query_bool};
use crate::state::SharedState;
use crate::urls::BaseUrl;

/// Where the roles live: the realm, or one client of it.
struct Container {
    realm: RealmRecord,
    client: Option<ClientRecord>,
}

impl Container {
    fn client_uuid(&self) -> Option<&str> {
        self.client.as_ref().map(|c| c.id.as_str())
    }

    fn path(&self, name: &str) -> Vec<String> {
        let mut p = vec![
            "admin".to_string(),
            "realms".into(),
            self.realm.name.clone(),
        ];
        if let Some(c) = &self.client {
            p.extend(["clients".to_string(), c.id.clone()]);
        }
        p.extend(["roles".to_string(), name.to_string()]);
        p
    }
}

async fn container(
    state: &SharedState,
    auth: &AdminAuth,
    realm: &str,
    client: Option<&str>,
    write: bool,
) -> Result<Container, AdminError> {
    let right = match (client.is_some(), write) {
        (false, false) => Right::Any,
        (false, true) => Right::ManageRealm,
        (true, false) => Right::ViewClients,
        (true, true) => Right::ManageClients,
    };
    let (realm, _) = auth.realm(state, realm, right).await?;
    let client = match client {
        Some(id) => Some(client_or_404(state, &realm, id).await?),
        None => None,
    };
    Ok(Container { realm, client })
}

async fn role_or_404(
    state: &SharedState,
    c: &Container,
    name: &str,
) -> Result<RoleRecord, AdminError> {
    state
        .store
        .role_by_name(&c.realm.id, c.client_uuid(), name)
        .await?
        .ok_or(AdminError::NotFound("Could not find role"))
}

async fn list(
    state: SharedState,
    c: Container,
    q: HashMap<String, String>,
) -> Result<Response, AdminError> {
    let brief = query_bool(q.get("briefRepresentation")).unwrap_or(true);
    let (first, max) = paging(&q, i64::MAX);
    let search = q.get("search").map(|s| s.to_lowercase());
    let roles = state.store.list_roles(&c.realm.id, c.client_uuid()).await?;
    let out: Vec<RoleRep> = roles
        .iter()
        .filter(|r| {
            search
                .as_ref()
                .is_none_or(|s| r.name.to_lowercase().contains(s))
        })
        .skip(first as usize)
        .take(max.min(usize::MAX as i64) as usize)
        .map(|r| role_out(r, brief))
        .collect();
    Ok(axum::Json(out).into_response())
}

async fn create(
    state: SharedState,
    base: BaseUrl,
    c: Container,
    rep: RoleRep,
) -> Result<Response, AdminError> {
    let name = rep
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| AdminError::Invalid("Role name is missing".into()))?;
    let id = new_uuid();
    let record = RoleRecord {
        id: id.clone(),
        realm_id: c.realm.id.clone(),
        client: c.client_uuid().map(str::to_string),
        name: name.clone(),
        rep: RoleRep {
            id: Some(id),
            name: Some(name.clone()),
            description: rep.description,
            composites: rep.composites,
            attributes: rep.attributes,
            ..Default::default()
        },
        client_client_id: c.client.as_ref().map(|c| c.client_id.clone()),
    };
    match state.store.create_role(&record).await {
        Ok(()) => {
            let path = c.path(&name);
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            Ok(created(&base, &segments))
        }
        Err(StoreError::Conflict { .. }) => Err(AdminError::Conflict(format!(
            "Role with name {name} already exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn update(
    state: SharedState,
    c: Container,
    name: String,
    patch: RoleRep,
) -> Result<Response, AdminError> {
    let mut role = role_or_404(&state, &c, &name).await?;
    if let Some(new_name) = patch.name.filter(|n| !n.trim().is_empty()) {
        role.name = new_name.clone();
        role.rep.name = Some(new_name);
    }
    if patch.description.is_some() {
        role.rep.description = patch.description;
    }
    if patch.attributes.is_some() {
        role.rep.attributes = patch.attributes;
    }
    if patch.composites.is_some() {
        role.rep.composites = patch.composites;
    }
    match state.store.update_role(&role).await {
        Ok(()) => Ok(no_content()),
        Err(StoreError::Conflict { .. }) => Err(AdminError::Conflict(format!(
            "Role with name {} already exists",
            role.name
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn delete(state: SharedState, c: Container, name: String) -> Result<Response, AdminError> {
    let role = role_or_404(&state, &c, &name).await?;
    if c.client.is_none() && role.name == default_role_name(&c.realm.name) {
        return Err(AdminError::Invalid("Can't delete default role".into()));
    }
    state.store.delete_role(&c.realm.id, &role.id).await?;
    Ok(no_content())
}

pub async fn list_realm(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    let c = container(&state, &auth, &realm, None, false).await?;
    list(state, c, q).await
}

pub async fn list_client(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, client)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    let c = container(&state, &auth, &realm, Some(&client), false).await?;
    list(state, c, q).await
}

pub async fn create_realm(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path(realm): Path<String>,
    KcJson(rep): KcJson<RoleRep>,
) -> Result<Response, AdminError> {
    let c = container(&state, &auth, &realm, None, true).await?;
    create(state, base, c, rep).await
}

pub async fn create_client(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path((realm, client)): Path<(String, String)>,
    KcJson(rep): KcJson<RoleRep>,
) -> Result<Response, AdminError> {
    let c = container(&state, &auth, &realm, Some(&client), true).await?;
    create(state, base, c, rep).await
}

pub async fn get_realm(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, name)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let c = container(&state, &auth, &realm, None, false).await?;
    Ok(axum::Json(role_out(&role_or_404(&state, &c, &name).await?, false)).into_response())
}

pub async fn get_client(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, client, name)): Path<(String, String, String)>,
) -> Result<Response, AdminError> {
    let c = container(&state, &auth, &realm, Some(&client), false).await?;
    Ok(axum::Json(role_out(&role_or_404(&state, &c, &name).await?, false)).into_response())
}

pub async fn update_realm(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, name)): Path<(String, String)>,
    KcJson(rep): KcJson<RoleRep>,
) -> Result<Response, AdminError> {
    let c = container(&state, &auth, &realm, None, true).await?;
    update(state, c, name, rep).await
}

pub async fn update_client(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, client, name)): Path<(String, String, String)>,
    KcJson(rep): KcJson<RoleRep>,
) -> Result<Response, AdminError> {
    let c = container(&state, &auth, &realm, Some(&client), true).await?;
    update(state, c, name, rep).await
}

pub async fn delete_realm(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, name)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let c = container(&state, &auth, &realm, None, true).await?;
    delete(state, c, name).await
}

pub async fn delete_client(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, client, name)): Path<(String, String, String)>,
) -> Result<Response, AdminError> {
    let c = container(&state, &auth, &realm, Some(&client), true).await?;
    delete(state, c, name).await
}
