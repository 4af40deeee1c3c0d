//! `/admin/realms/{realm}/components…` for registration policies (Keycloak's
//! `ComponentResource`), the policy providers' metadata, and the dry-run explainer
//! `client-registration-policy/evaluate` (beyond Keycloak).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::policies::Provider;
use latchkey_core::roles::Right;
use serde_json::Value;

use super::answer::{created, no_content};
use super::out::component_out;
use crate::error::AdminError;
use crate::extract::KcJson;
use crate::service::AdminAuth;
use crate::service::components::{self, ComponentIn, EvaluateIn};
use crate::state::SharedState;
use crate::urls::BaseUrl;

type ComponentPath = Path<(String, String)>;

pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewRealm).await?;
    let all = components::list(&state, &admin).await?;
    let out: Vec<Value> = all
        .iter()
        .filter(|c| q.get("type").is_none_or(|t| *t == c.provider_type))
        .filter(|c| q.get("parent").is_none_or(|p| *p == c.parent_id))
        .filter(|c| q.get("name").is_none_or(|n| *n == c.name))
        .map(component_out)
        .collect();
    Ok(Json(out).into_response())
}

pub async fn create(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path(realm): Path<String>,
    KcJson(input): KcJson<ComponentIn>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageRealm).await?;
    let record = components::create(&state, &admin, input).await?;
    Ok(created(
        &base,
        &admin.realm.name,
        &["components", &record.id],
    ))
}

pub async fn get(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): ComponentPath,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewRealm).await?;
    Ok(Json(component_out(&components::get(&state, &admin, &id).await?)).into_response())
}

pub async fn update(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): ComponentPath,
    KcJson(input): KcJson<ComponentIn>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageRealm).await?;
    components::update(&state, &admin, &id, input).await?;
    Ok(no_content())
}

pub async fn delete(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): ComponentPath,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageRealm).await?;
    components::delete(&state, &admin, &id).await?;
    Ok(no_content())
}

pub async fn providers(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    auth.realm(&state, &realm, Right::ViewRealm).await?;
    let out: Vec<Value> = Provider::ALL.iter().map(|p| p.component_type()).collect();
    Ok(Json(out).into_response())
}

/// Explains, without registering anything, which policies of a set would run on a
/// registration and whether each passes.
pub async fn evaluate(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    KcJson(input): KcJson<EvaluateIn>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewRealm).await?;
    Ok(Json(components::evaluate(&state, &admin, input).await?).into_response())
}
