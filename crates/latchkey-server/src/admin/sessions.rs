//! Keycloak's user sessions in the admin API: `GET users/{id}/sessions` (`view-users`),
//! `POST users/{id}/logout` and `DELETE sessions/{id}` (`manage-users`), 204 when done.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::roles::Right;
use serde_json::{Map, Value, json};

use super::answer::no_content;
use crate::error::AdminError;
use crate::extract::query_bool;
use crate::service::AdminAuth;
use crate::service::sessions::{self, SessionView};
use crate::state::SharedState;

/// `UserSessionRepresentation`. Latchkey keeps no address per session, so `ipAddress` is
/// left out (Keycloak leaves out what is null).
fn session_out(s: &SessionView) -> Value {
    let clients: Map<String, Value> = s
        .clients
        .iter()
        .map(|(uuid, client_id)| (uuid.clone(), json!(client_id)))
        .collect();
    json!({
        "id": s.id,
        "username": s.username,
        "userId": s.user_id,
        "start": s.start,
        "lastAccess": s.last_access,
        "rememberMe": false,
        "clients": clients,
    })
}

pub async fn of_user(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewUsers).await?;
    let found = sessions::of_user(&state, &admin, &id).await?;
    Ok(Json(found.iter().map(session_out).collect::<Vec<_>>()).into_response())
}

pub async fn logout_user(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageUsers).await?;
    sessions::logout_user(&state, &admin, &id).await?;
    Ok(no_content())
}

/// `?isOffline=true` ends the offline session (Keycloak's parameter).
pub async fn delete(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageUsers).await?;
    let offline = query_bool(q.get("isOffline")).unwrap_or(false);
    sessions::delete(&state, &admin, &id, offline).await?;
    Ok(no_content())
}
