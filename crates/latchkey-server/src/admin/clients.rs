//! `/admin/realms/{realm}/clients…`: client CRUD, secrets, service-account users.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::clients::open_secret;
use latchkey_core::rep::{ClientRep, SecretRep};
use latchkey_core::roles::Right;
use latchkey_core::store::ClientQuery;
use serde_json::json;

use super::answer::{created, no_content, paging};
use super::out::{client_out, user_out};
use crate::error::AdminError;
use crate::extract::{KcJson, query_bool};
use crate::service::AdminAuth;
use crate::service::clients;
use crate::state::SharedState;
use crate::urls::BaseUrl;

pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::QueryClients).await?;
    let (first, max) = paging(&q, i64::MAX);
    let query = ClientQuery {
        client_id: q.get("clientId").cloned(),
        search: query_bool(q.get("search")).unwrap_or(false),
        first,
        max: Some(max),
        ..Default::default()
    };
    let view = admin.rights().allows(Right::ViewClients);
    let out: Vec<ClientRep> = clients::list(&state, &admin, &query)
        .await?
        .iter()
        .map(|c| client_out(&state, c, view))
        .collect();
    Ok(Json(out).into_response())
}

pub async fn create(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path(realm): Path<String>,
    KcJson(rep): KcJson<ClientRep>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::CreateClient).await?;
    let client = clients::create(&state, &admin, rep).await?;
    Ok(created(&base, &admin.realm.name, &["clients", &client.id]))
}

pub async fn get(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewClients).await?;
    let client = clients::get(&state, &admin, &id).await?;
    Ok(Json(client_out(&state, &client, true)).into_response())
}

pub async fn update(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
    KcJson(patch): KcJson<ClientRep>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageClients).await?;
    clients::update(&state, &admin, &id, patch).await?;
    Ok(no_content())
}

pub async fn delete(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageClients).await?;
    clients::delete(&state, &admin, &id).await?;
    Ok(no_content())
}

pub async fn get_secret(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewClients).await?;
    let client = clients::get(&state, &admin, &id).await?;
    Ok(match open_secret(&client, &state.sealer) {
        Some(value) => Json(SecretRep {
            kind: "secret".into(),
            value,
        })
        .into_response(),
        None => Json(json!({"type": "secret"})).into_response(),
    })
}

pub async fn regenerate_secret(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageClients).await?;
    let value = clients::regenerate_secret(&state, &admin, &id).await?;
    Ok(Json(SecretRep {
        kind: "secret".into(),
        value,
    })
    .into_response())
}

pub async fn service_account_user(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewClients).await?;
    let user = clients::service_account_user(&state, &admin, &id).await?;
    Ok(Json(user_out(&user)).into_response())
}

/// `POST …/clients/{id}/registration-access-token`: a new registration access token for
/// the client (the old one stops working).
pub async fn registration_access_token(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageClients).await?;
    let (client, token) = clients::registration_access_token(&state, &admin, &id).await?;
    let mut rep = client_out(&state, &client, true);
    rep.registration_access_token = Some(token);
    Ok(Json(rep).into_response())
}
