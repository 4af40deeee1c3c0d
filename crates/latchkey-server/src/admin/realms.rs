//! `/admin/realms` and `/admin/realms/{realm}`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::keys::Alg;
use latchkey_core::merge::merge;
use latchkey_core::realm_setup::new_realm;
use latchkey_core::rep::RealmRep;
use latchkey_core::roles::{CREATE_REALM_ROLE, MASTER_ADMIN_ROLE, MASTER_REALM, Right};
use latchkey_core::store::StoreError;
use serde_json::json;

use super::{AdminAuth, created, no_content};
use crate::error::AdminError;
use crate::extract::{KcJson, query_bool};
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

/// Keycloak's brief representation; absent members are omitted, never `null` (Jackson's
/// NON_NULL, as everywhere else in the API).
fn brief(rep: &RealmRep) -> serde_json::Value {
    let mut v = json!({"id": rep.id, "realm": rep.realm, "displayName": rep.display_name, "enabled": rep.enabled});
    if let Some(o) = v.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    v
}

pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    let brief_only = query_bool(q.get("briefRepresentation")).unwrap_or(false);
    let mut out = Vec::new();
    for realm in state.store.list_realms().await? {
        let Some(rights) =
            latchkey_core::roles::AdminRights::new(&auth.realm, &realm.name, &auth.effective)
        else {
            continue;
        };
        if rights.allows(Right::ViewRealm) && !brief_only {
            out.push(serde_json::to_value(&realm.rep).map_err(AdminError::internal)?);
        } else if rights.allows(Right::Any) {
            out.push(brief(&realm.rep));
        }
    }
    if out.is_empty() {
        return Err(AdminError::Forbidden);
    }
    Ok(axum::Json(out).into_response())
}

/// Realm names end up in URLs and issuers: no slashes, no control characters.
fn check_name(name: &str) -> Result<(), AdminError> {
    if name.trim().is_empty() {
        return Err(AdminError::Invalid("Realm name cannot be empty".into()));
    }
    if name.len() > 255
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(AdminError::Invalid(
            "Realm name contains invalid characters".into(),
        ));
    }
    Ok(())
}

pub async fn create(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    KcJson(rep): KcJson<RealmRep>,
) -> Result<Response, AdminError> {
    let allowed = auth.realm == MASTER_REALM
        && (auth.effective.realm.contains(MASTER_ADMIN_ROLE)
            || auth.effective.realm.contains(CREATE_REALM_ROLE));
    if !allowed {
        return Err(AdminError::Forbidden);
    }
    let name = rep.realm.clone().unwrap_or_default();
    check_name(&name)?;
    if let Some(alg) = &rep.default_signature_algorithm
        && Alg::parse(alg).is_none()
    {
        return Err(AdminError::Invalid(
            "defaultSignatureAlgorithm must be RS256 or ES256".into(),
        ));
    }
    if state.store.realm_by_name(&name).await?.is_some() {
        return Err(AdminError::Conflict(format!("Realm {name} already exists")));
    }
    // RSA key generation is CPU work: off the async workers.
    let sealer = state.sealer.clone();
    let bundle = tokio::task::spawn_blocking(move || new_realm(rep, &sealer, None, now_millis()))
        .await
        .map_err(AdminError::internal)?
        .map_err(|e| AdminError::Invalid(e.to_string()))?;
    match state.store.create_realm(bundle).await {
        Ok(()) => Ok(created(&base, &["admin", "realms", &name])),
        Err(StoreError::Conflict { .. }) => {
            Err(AdminError::Conflict(format!("Realm {name} already exists")))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn get(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(name): Path<String>,
) -> Result<Response, AdminError> {
    let (realm, rights) = auth.realm(&state, &name, Right::Any).await?;
    if rights.allows(Right::ViewRealm) {
        Ok(axum::Json(realm.rep).into_response())
    } else {
        Ok(axum::Json(brief(&realm.rep)).into_response())
    }
}

pub async fn update(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(name): Path<String>,
    KcJson(mut patch): KcJson<RealmRep>,
) -> Result<Response, AdminError> {
    let (mut realm, _) = auth.realm(&state, &name, Right::ManageRealm).await?;
    patch.id = None;
    patch.default_role = None;
    if let Some(alg) = &patch.default_signature_algorithm
        && Alg::parse(alg).is_none()
    {
        return Err(AdminError::Invalid(
            "defaultSignatureAlgorithm must be RS256 or ES256".into(),
        ));
    }
    if let Some(new_name) = patch.realm.clone().filter(|n| *n != realm.name) {
        if realm.name == MASTER_REALM {
            return Err(AdminError::Invalid("Can't rename master realm".into()));
        }
        check_name(&new_name)?;
        realm.name = new_name;
    }
    realm.rep = merge(&realm.rep, &patch, &["attributes"]).map_err(AdminError::internal)?;
    realm.rep.realm = Some(realm.name.clone());
    match state.store.update_realm(&realm).await {
        Ok(()) => Ok(no_content()),
        Err(StoreError::Conflict { .. }) => {
            Err(AdminError::Conflict("Realm with same name exists".into()))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(name): Path<String>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &name, Right::ManageRealm).await?;
    if realm.name == MASTER_REALM {
        return Err(AdminError::Invalid("Can't remove master realm".into()));
    }
    state.store.delete_realm(&realm.id).await?;
    state.forget_realm_keys(&realm.id);
    Ok(no_content())
}
