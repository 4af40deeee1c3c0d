//! A realm's resource servers (RFC 8707): the URIs clients may name with `resource`, each
//! with the client scopes that admit a client to it (`latchkey_core::resource::admits`).

use latchkey_core::crypto::new_uuid;
use latchkey_core::resource::check_server_uri;
use latchkey_core::store::ResourceServerRecord;
use serde::{Deserialize, Serialize};

use super::audit::{self, Change, Resource};
use super::{RealmAdmin, or_conflict};
use crate::error::AdminError;
use crate::state::SharedState;

/// The representation: `{"id", "uri", "name", "scopes"}`. On create and update a missing
/// member keeps its default (`name`: the URI; `scopes`: none) or its current value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResourceServerRep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

impl From<&ResourceServerRecord> for ResourceServerRep {
    fn from(r: &ResourceServerRecord) -> Self {
        ResourceServerRep {
            id: Some(r.id.clone()),
            uri: Some(r.uri.clone()),
            name: Some(r.name.clone()),
            scopes: Some(r.scopes.clone()),
        }
    }
}

fn path(id: &str) -> String {
    format!("resource-servers/{id}")
}

pub async fn list(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
) -> Result<Vec<ResourceServerRecord>, AdminError> {
    Ok(state
        .store
        .list_resource_servers(&admin.realm.id)
        .await?
        .to_vec())
}

/// The resource server by id, or 404.
pub async fn get(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
) -> Result<ResourceServerRecord, AdminError> {
    state
        .store
        .list_resource_servers(&admin.realm.id)
        .await?
        .iter()
        .find(|r| r.id == id)
        .cloned()
        .ok_or(AdminError::NotFound("Resource server not found"))
}

/// The record's rules before it is stored: the URI rule, and scopes that name client
/// scopes of the realm (a typo would otherwise admit no client, silently).
async fn check(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    r: &ResourceServerRecord,
) -> Result<(), AdminError> {
    check_server_uri(&r.uri).map_err(AdminError::Invalid)?;
    let known = state.store.list_scopes(&admin.realm.id).await?;
    if let Some(unknown) = r
        .scopes
        .iter()
        .find(|s| !known.iter().any(|k| &k.name == *s))
    {
        return Err(AdminError::Invalid(format!(
            "scopes: no client scope named {unknown:?} in this realm"
        )));
    }
    Ok(())
}

fn conflict(uri: &str) -> impl FnOnce() -> String + '_ {
    move || format!("Resource server with uri {uri} already exists")
}

/// Creates a resource server; returns it as stored.
pub async fn create(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    rep: ResourceServerRep,
) -> Result<ResourceServerRecord, AdminError> {
    let sent = audit::sent(&admin.realm, &rep);
    let uri = rep
        .uri
        .ok_or_else(|| AdminError::Invalid("uri is required".into()))?;
    let record = ResourceServerRecord {
        id: new_uuid(),
        realm_id: admin.realm.id.clone(),
        name: rep.name.unwrap_or_else(|| uri.clone()),
        uri,
        scopes: rep.scopes.unwrap_or_default(),
    };
    check(state, admin, &record).await?;
    or_conflict(
        state.store.create_resource_server(&record).await,
        conflict(&record.uri),
    )?;
    audit::record(
        state,
        admin,
        Change::create(Resource::ResourceServer, path(&record.id)).with(sent),
    )
    .await;
    Ok(record)
}

/// Changes the members the caller sent (the id stays).
pub async fn update(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
    rep: ResourceServerRep,
) -> Result<(), AdminError> {
    let sent = audit::sent(&admin.realm, &rep);
    let mut record = get(state, admin, id).await?;
    if let Some(uri) = rep.uri {
        record.uri = uri;
    }
    if let Some(name) = rep.name {
        record.name = name;
    }
    if let Some(scopes) = rep.scopes {
        record.scopes = scopes;
    }
    check(state, admin, &record).await?;
    or_conflict(
        state.store.update_resource_server(&record).await,
        conflict(&record.uri),
    )?;
    audit::record(
        state,
        admin,
        Change::update(Resource::ResourceServer, path(id)).with(sent),
    )
    .await;
    Ok(())
}

pub async fn delete(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    id: &str,
) -> Result<(), AdminError> {
    match state
        .store
        .delete_resource_server(&admin.realm.id, id)
        .await
    {
        Err(latchkey_core::store::StoreError::NotFound) => {
            return Err(AdminError::NotFound("Resource server not found"));
        }
        r => r?,
    }
    audit::record(
        state,
        admin,
        Change::delete(Resource::ResourceServer, path(id)),
    )
    .await;
    Ok(())
}
