//! A realm's partial import and partial export (Keycloak's `POST …/partialImport` and
//! `POST …/partial-export`), through the same conversion as `latchkey import`: the
//! request is merged into the realm's own export and checked whole, then only what it
//! touches is written in one transaction, with one admin event per item written.

use latchkey_core::import::export::{Secrets, read_realm, to_keycloak};
use latchkey_core::import::partial::{PartialError, plan};
use serde_json::Value;

use super::RealmAdmin;
use super::audit::{self, Change, Resource};
use crate::error::AdminError;
use crate::state::{SharedState, now_millis};

/// `PartialImportResults`; under FAIL an existing item is a 409 and nothing is written.
pub async fn partial_import(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    rep: Value,
) -> Result<Value, AdminError> {
    let data = read_realm(state.store.as_ref(), admin.realm.clone(), true).await?;
    let current = to_keycloak(&data, &state.sealer, Secrets::Clear);
    let sealer = state.sealer.clone();
    let sent = rep.clone();
    // Key generation and password hashing in the conversion are CPU work.
    let planned = tokio::task::spawn_blocking(move || plan(&current, &rep, &sealer, now_millis()))
        .await
        .map_err(AdminError::internal)?
        .map_err(|e| match e {
            PartialError::Exists(m) => AdminError::Conflict(m),
            PartialError::Invalid(m) => AdminError::Invalid(m),
        })?;
    state
        .store
        .apply_realm_changes(&admin.realm.id, planned.changes.clone())
        .await?;
    for r in planned.results.iter().filter(|r| r.action != "SKIPPED") {
        let (resource, path) = match r.resource_type {
            "USER" => (Resource::User, format!("users/{}", r.id)),
            "CLIENT" => (Resource::Client, format!("clients/{}", r.id)),
            "REALM_ROLE" => (Resource::RealmRole, format!("roles-by-id/{}", r.id)),
            _ => (Resource::ClientRole, format!("roles-by-id/{}", r.id)),
        };
        let change = match r.action {
            "ADDED" => Change::create(resource, path),
            _ => Change::update(resource, path),
        };
        audit::record(state, admin, change.with(audit::sent(&admin.realm, &sent))).await;
    }
    Ok(planned.answer())
}

/// The realm's representation without users or credentials: clients only with
/// `exportClients`, roles only with `exportGroupsAndRoles`; secrets and private keys
/// masked as Keycloak masks them (`**********`).
pub async fn partial_export(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    clients: bool,
    roles: bool,
) -> Result<Value, AdminError> {
    let data = read_realm(state.store.as_ref(), admin.realm.clone(), false).await?;
    let mut doc = to_keycloak(&data, &state.sealer, Secrets::Masked);
    if let Some(o) = doc.as_object_mut() {
        o.remove("users");
        if !clients {
            o.remove("clients");
            if let Some(Value::Object(r)) = o.get_mut("roles") {
                r.remove("client");
            }
        }
        if !roles {
            o.remove("roles");
        }
        // Groups are not modelled: an empty list, as a realm without any exports.
        o.insert("groups".into(), Value::Array(Vec::new()));
    }
    Ok(doc)
}
