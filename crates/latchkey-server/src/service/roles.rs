//! Realm roles and client roles, addressed by name within their container (the realm, or
//! one client of it: `client` is that client's UUID).

use latchkey_core::crypto::new_uuid;
use latchkey_core::realm_setup::default_role_name;
use latchkey_core::rep::RoleRep;
use latchkey_core::roles::Right;
use latchkey_core::store::{ClientRecord, RoleRecord};

use super::audit::{self, Change, Resource};
use super::{RealmAdmin, clients, or_conflict};
use crate::error::AdminError;
use crate::state::SharedState;

/// The right a role operation needs: realm roles are any admin's to read and the realm
/// managers' to change; client roles are the client viewers' and managers'.
pub fn right(client_role: bool, write: bool) -> Right {
    match (client_role, write) {
        (false, false) => Right::Any,
        (false, true) => Right::ManageRealm,
        (true, false) => Right::ViewClients,
        (true, true) => Right::ManageClients,
    }
}

/// Where the roles live: the realm, or one client of it.
struct Container<'a, 'b> {
    admin: &'a RealmAdmin<'b>,
    client: Option<ClientRecord>,
}

impl Container<'_, '_> {
    async fn of<'a, 'b>(
        state: &SharedState,
        admin: &'a RealmAdmin<'b>,
        client: Option<&str>,
    ) -> Result<Container<'a, 'b>, AdminError> {
        let client = match client {
            Some(id) => Some(clients::get(state, admin, id).await?),
            None => None,
        };
        Ok(Container { admin, client })
    }

    fn client_uuid(&self) -> Option<&str> {
        self.client.as_ref().map(|c| c.id.as_str())
    }

    async fn role(&self, state: &SharedState, name: &str) -> Result<RoleRecord, AdminError> {
        state
            .store
            .role_by_name(&self.admin.realm.id, self.client_uuid(), name)
            .await?
            .ok_or(AdminError::NotFound("Could not find role"))
    }

    /// The admin event's resource type and path of the role `name`.
    fn change(&self, name: &str) -> (Resource, String) {
        match &self.client {
            Some(c) => (
                Resource::ClientRole,
                format!("clients/{}/roles/{name}", c.id),
            ),
            None => (Resource::RealmRole, format!("roles/{name}")),
        }
    }
}

/// The container's roles whose name contains `search` (any case), from `first`, at most
/// `max`.
pub async fn list(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    client: Option<&str>,
    search: Option<&str>,
    first: i64,
    max: i64,
) -> Result<Vec<RoleRecord>, AdminError> {
    let c = Container::of(state, admin, client).await?;
    let search = search.map(str::to_lowercase);
    let roles = state
        .store
        .list_roles(&admin.realm.id, c.client_uuid())
        .await?;
    Ok(roles
        .iter()
        .filter(|r| {
            search
                .as_ref()
                .is_none_or(|s| r.name.to_lowercase().contains(s))
        })
        .skip(first as usize)
        .take(max.min(usize::MAX as i64) as usize)
        .cloned()
        .collect())
}

pub async fn get(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    client: Option<&str>,
    name: &str,
) -> Result<RoleRecord, AdminError> {
    Container::of(state, admin, client)
        .await?
        .role(state, name)
        .await
}

/// Creates a role; returns its name.
pub async fn create(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    client: Option<&str>,
    rep: RoleRep,
) -> Result<String, AdminError> {
    let c = Container::of(state, admin, client).await?;
    let sent = audit::sent(&admin.realm, &rep);
    let name = rep
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| AdminError::Invalid("Role name is missing".into()))?;
    let id = new_uuid();
    let record = RoleRecord {
        id: id.clone(),
        realm_id: admin.realm.id.clone(),
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
    or_conflict(state.store.create_role(&record).await, || {
        format!("Role with name {name} already exists")
    })?;
    let (resource, path) = c.change(&name);
    audit::record(state, admin, Change::create(resource, path).with(sent)).await;
    Ok(name)
}

/// Changes the role `name`: a new name, description, attributes or composites.
pub async fn update(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    client: Option<&str>,
    name: &str,
    patch: RoleRep,
) -> Result<(), AdminError> {
    let c = Container::of(state, admin, client).await?;
    let mut role = c.role(state, name).await?;
    let sent = audit::sent(&admin.realm, &patch);
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
    or_conflict(state.store.update_role(&role).await, || {
        format!("Role with name {} already exists", role.name)
    })?;
    let (resource, path) = c.change(name);
    audit::record(state, admin, Change::update(resource, path).with(sent)).await;
    Ok(())
}

/// Deletes the role `name`; the realm's default role stays.
pub async fn delete(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    client: Option<&str>,
    name: &str,
) -> Result<(), AdminError> {
    let c = Container::of(state, admin, client).await?;
    let role = c.role(state, name).await?;
    if c.client.is_none() && role.name == default_role_name(&admin.realm.name) {
        return Err(AdminError::Invalid("Can't delete default role".into()));
    }
    state.store.delete_role(&admin.realm.id, &role.id).await?;
    let (resource, path) = c.change(name);
    audit::record(state, admin, Change::delete(resource, path)).await;
    Ok(())
}
