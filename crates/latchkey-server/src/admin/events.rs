//! `/admin/realms/{realm}/events` and `/admin/realms/{realm}/admin-events`: recorded events
//! and admin events, with Keycloak's filters.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use latchkey_core::roles::Right;

use super::answer::no_content;
use super::out::{admin_event_out, event_out};
use crate::error::AdminError;
use crate::service::AdminAuth;
use crate::service::{audit, events};
use crate::state::SharedState;

/// `GET /admin/realms/{realm}/events`.
pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewEvents).await?;
    let q = events::query(raw.as_deref())?;
    let found = events::list(&state, &admin, &q).await?;
    Ok(Json(found.iter().map(event_out).collect::<Vec<_>>()).into_response())
}

/// `DELETE /admin/realms/{realm}/events`.
pub async fn clear(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageEvents).await?;
    events::clear(&state, &admin).await?;
    Ok(no_content())
}

/// `GET /admin/realms/{realm}/admin-events`.
pub async fn list_admin(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewEvents).await?;
    let q = audit::query(raw.as_deref())?;
    let found = audit::list(&state, &admin, &q).await?;
    Ok(Json(found.iter().map(admin_event_out).collect::<Vec<_>>()).into_response())
}

/// `DELETE /admin/realms/{realm}/admin-events`.
pub async fn clear_admin(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageEvents).await?;
    audit::clear(&state, &admin).await?;
    Ok(no_content())
}
