//! `/admin/realms/{realm}/clients-initial-access`: initial access tokens (Keycloak's
//! `ClientInitialAccessResource`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::roles::Right;
use serde_json::Value;

use super::answer::{created, no_content};
use super::out::initial_access_out;
use crate::error::{AdminError, no_store};
use crate::extract::KcJson;
use crate::service::AdminAuth;
use crate::service::initial_access::{self, CreateInitialAccess};
use crate::state::SharedState;
use crate::urls::BaseUrl;

pub async fn create(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path(realm): Path<String>,
    KcJson(input): KcJson<CreateInitialAccess>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageClients).await?;
    let (record, token) = initial_access::create(&state, &admin, input).await?;
    // Keycloak 26.7+: 201 with Location, the token in the body (shown only now).
    let mut resp = created(
        &base,
        &admin.realm.name,
        &["clients-initial-access", &record.id],
    );
    *resp.body_mut() =
        axum::body::Body::from(initial_access_out(&record, Some(&token)).to_string());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    no_store(&mut resp);
    Ok(resp)
}

pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ViewClients).await?;
    let tokens = initial_access::list(&state, &admin).await?;
    let out: Vec<Value> = tokens.iter().map(|t| initial_access_out(t, None)).collect();
    Ok(Json(out).into_response())
}

pub async fn delete(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let admin = auth.realm(&state, &realm, Right::ManageClients).await?;
    initial_access::delete(&state, &admin, &id).await?;
    Ok(no_content())
}
