//! A realm's users: create, change, delete, passwords, and their realm and client role
//! mappings.

use latchkey_core::crypto::{hash_password, new_uuid};
use latchkey_core::merge::merge;
use latchkey_core::realm_setup::default_role_name;
use latchkey_core::rep::{CredentialRep, RoleRep, UserRep};
use latchkey_core::roles::{REALM_MANAGEMENT, expand};
use latchkey_core::store::{RoleRecord, StoreError, UserQuery, UserRecord};

use super::audit::{self, Change, Resource};
use super::{RealmAdmin, clients, or_conflict};
use crate::error::AdminError;
use crate::state::{SharedState, now_millis};

const UPDATE_PASSWORD: &str = "UPDATE_PASSWORD";

fn path(id: &str) -> String {
    format!("users/{id}")
}

/// The user by id, or Keycloak's 404.
pub async fn get(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
) -> Result<UserRecord, AdminError> {
    state
        .store
        .user(&admin.realm.id, id)
        .await?
        .ok_or(AdminError::NotFound("User not found"))
}

pub async fn list(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    q: &UserQuery,
) -> Result<Vec<UserRecord>, AdminError> {
    Ok(state.store.list_users(&admin.realm.id, q).await?)
}

pub async fn count(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    q: &UserQuery,
) -> Result<i64, AdminError> {
    Ok(state.store.count_users(&admin.realm.id, q).await?)
}

async fn hash(password: String) -> Result<String, AdminError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(AdminError::internal)?
        .map_err(AdminError::internal)
}

/// Email uniqueness (unless the realm allows duplicates), checked before writing for the
/// common case; the store checks again in the write's transaction.
async fn check_email(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    email: Option<&str>,
    user_id: Option<&str>,
) -> Result<(), AdminError> {
    let Some(email) = email else { return Ok(()) };
    if admin.realm.rep.duplicate_emails_allowed.unwrap_or(false) {
        return Ok(());
    }
    match state.store.user_by_email(&admin.realm.id, email).await? {
        Some(other) if Some(other.id.as_str()) != user_id => {
            Err(AdminError::Conflict("User exists with same email".into()))
        }
        _ => Ok(()),
    }
}

/// Creates a user from Keycloak's representation, with its password if it carries one,
/// and the realm's default role. Returns the new user's id.
pub async fn create(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    mut rep: UserRep,
) -> Result<String, AdminError> {
    let realm = &admin.realm;
    let sent = audit::sent(&admin.realm, &rep);
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
    let exists = || "User exists with same username".to_string();
    if state
        .store
        .user_by_username(&realm.id, &username)
        .await?
        .is_some()
    {
        return Err(AdminError::Conflict(exists()));
    }
    check_email(state, admin, email.as_deref(), None).await?;
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
    // The store decides email uniqueness again under the realm's lock (concurrent
    // creators of one address would all pass the check above).
    match state.store.create_user(&user, &roles).await {
        Err(StoreError::Conflict { what: "email" }) => {
            return Err(AdminError::Conflict("User exists with same email".into()));
        }
        r => or_conflict(r, exists)?,
    }
    audit::record(
        state,
        admin,
        Change::create(Resource::User, path(&id)).with(sent),
    )
    .await;
    Ok(id)
}

/// Keycloak's partial update of a user (credentials are changed by `reset_password`).
pub async fn update(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
    mut patch: UserRep,
) -> Result<(), AdminError> {
    let mut user = get(state, admin, id).await?;
    let sent = audit::sent(&admin.realm, &patch);
    patch.id = None;
    patch.created_timestamp = None;
    patch.credentials = None;
    patch.service_account_client_id = None;
    patch.access = None;
    let exists = || "User exists with same username or email".to_string();
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
            .user_by_username(&admin.realm.id, &username)
            .await?
            .is_some()
        {
            return Err(AdminError::Conflict(exists()));
        }
        user.username = username;
    }
    if let Some(email) = patch.email.take() {
        let email = (!email.is_empty()).then(|| email.to_lowercase());
        if let Err(AdminError::Conflict(_)) =
            check_email(state, admin, email.as_deref(), Some(&user.id)).await
        {
            return Err(AdminError::Conflict(exists()));
        }
        user.email = email;
    }
    user.rep = merge(&user.rep, &patch, &[]).map_err(AdminError::internal)?;
    user.rep.username = Some(user.username.clone());
    user.rep.email = user.email.clone();
    or_conflict(state.store.update_user(&user).await, exists)?;
    audit::record(
        state,
        admin,
        Change::update(Resource::User, path(&user.id)).with(sent),
    )
    .await;
    Ok(())
}

pub async fn delete(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
) -> Result<(), AdminError> {
    let user = get(state, admin, id).await?;
    state.store.delete_user(&admin.realm.id, &user.id).await?;
    audit::record(state, admin, Change::delete(Resource::User, path(&user.id))).await;
    Ok(())
}

/// Sets the user's password; `temporary` makes them change it at the next sign-in.
pub async fn reset_password(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
    cred: CredentialRep,
) -> Result<(), AdminError> {
    let mut user = get(state, admin, id).await?;
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
    let path = format!("{}/reset-password", path(&user.id));
    audit::record(state, admin, Change::action(Resource::User, path)).await;
    Ok(())
}

/// The user's direct roles, and all the realm's roles they were resolved against.
pub async fn direct_roles(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    user: &UserRecord,
) -> Result<(Vec<RoleRecord>, Vec<RoleRecord>), AdminError> {
    let ids = state.store.user_role_ids(&user.id).await?;
    let all = state.store.all_roles(&admin.realm.id).await?;
    let direct = all
        .iter()
        .filter(|r| ids.contains(&r.id))
        .cloned()
        .collect();
    Ok((direct, all.to_vec()))
}

/// The UUID of the client whose roles are meant (`None`: the realm's), or 404.
async fn container(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    client: Option<&str>,
) -> Result<Option<String>, AdminError> {
    Ok(match client {
        Some(c) => Some(clients::get(state, admin, c).await?.id),
        None => None,
    })
}

/// A user's roles in one container (`client = None`: realm roles), direct or effective.
pub async fn mappings(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
    client: Option<&str>,
    composite: bool,
) -> Result<Vec<RoleRecord>, AdminError> {
    let user = get(state, admin, id).await?;
    let client_uuid = container(state, admin, client).await?;
    let (direct, all) = direct_roles(state, admin, &user).await?;
    let chosen: Vec<RoleRecord> = if composite {
        let ids: Vec<String> = direct.iter().map(|r| r.id.clone()).collect();
        let eff = expand(&ids, &all);
        all.into_iter()
            .filter(|r| eff.role_ids.contains(&r.id))
            .collect()
    } else {
        direct
    };
    Ok(chosen
        .into_iter()
        .filter(|r| r.client == client_uuid)
        .collect())
}

/// Adds (`add`) or removes mappings. Each role must name an existing role of the container
/// by both `id` and `name` (404 otherwise, as Keycloak). Admin roles can be granted only by
/// their holders.
pub async fn change_mappings(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
    client: Option<&str>,
    roles: Vec<RoleRep>,
    add: bool,
) -> Result<(), AdminError> {
    let user = get(state, admin, id).await?;
    let client_uuid = container(state, admin, client).await?;
    let all = state.store.all_roles(&admin.realm.id).await?;
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
            && !admin.rights.is_superuser()
            && !admin
                .auth
                .effective
                .has_client_role(REALM_MANAGEMENT, &role.name)
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
    let (resource, path) = match &client_uuid {
        Some(c) => (
            Resource::ClientRoleMapping,
            format!("{}/role-mappings/clients/{c}", path(&user.id)),
        ),
        None => (
            Resource::RealmRoleMapping,
            format!("{}/role-mappings/realm", path(&user.id)),
        ),
    };
    let change = if add {
        Change::create(resource, path)
    } else {
        Change::delete(resource, path)
    };
    audit::record(state, admin, change.with(audit::sent(&admin.realm, &roles))).await;
    Ok(())
}
