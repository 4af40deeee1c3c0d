//! `/admin/realms/{realm}/clients-initial-access`: initial access tokens (Keycloak's
//! `ClientInitialAccessResource`). The token is opaque, shown once, stored as a hash.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::crypto::{hash_token, new_uuid, random_token};
use latchkey_core::roles::Right;
use latchkey_core::store::InitialAccessRecord;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminAuth, created, no_content};
use crate::error::AdminError;
use crate::extract::KcJson;
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInitialAccess {
    expiration: Option<i64>,
    count: Option<i64>,
    web_origins: Option<Vec<String>>,
}

fn presentation(t: &InitialAccessRecord, token: Option<&str>) -> Value {
    let mut v = json!({
        "id": t.id,
        "timestamp": t.created_at,
        "expiration": t.expiration,
        "count": t.count,
        "remainingCount": t.remaining,
        "webOrigins": t.web_origins,
    });
    if let Some(token) = token {
        v["token"] = json!(token);
    }
    v
}

pub async fn create(
    State(state): State<SharedState>,
    auth: AdminAuth,
    base: BaseUrl,
    Path(realm): Path<String>,
    KcJson(body): KcJson<CreateInitialAccess>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageClients).await?;
    let expiration = body.expiration.unwrap_or(0);
    let count = body.count.unwrap_or(1);
    if expiration < 0 {
        return Err(AdminError::Described(
            StatusCode::BAD_REQUEST,
            "Invalid value for expiration",
            "The expiration time interval cannot be less than 0".into(),
        ));
    }
    if count < 0 {
        return Err(AdminError::Described(
            StatusCode::BAD_REQUEST,
            "Invalid value for count",
            "The count cannot be less than 0".into(),
        ));
    }
    let token = random_token::<32>();
    let record = InitialAccessRecord {
        id: new_uuid(),
        realm_id: realm.id.clone(),
        token_hash: hash_token(&token),
        created_at: now_millis() / 1000,
        expiration,
        count,
        remaining: count,
        web_origins: body.web_origins.unwrap_or_default(),
    };
    state.store.create_initial_access(&record).await?;
    // Keycloak 26.7+: 201 with Location, the token in the body (shown only now).
    let mut resp = created(
        &base,
        &[
            "admin",
            "realms",
            &realm.name,
            "clients-initial-access",
            &record.id,
        ],
    );
    *resp.body_mut() = axum::body::Body::from(presentation(&record, Some(&token)).to_string());
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    crate::error::no_store(&mut resp);
    Ok(resp)
}

pub async fn list(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path(realm): Path<String>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ViewClients).await?;
    let now = now_millis() / 1000;
    let tokens = state.store.list_initial_access(&realm.id).await?;
    // A used-up token stays listed (remainingCount 0) until it expires or is deleted.
    let out: Vec<Value> = tokens
        .iter()
        .filter(|t| !t.expired(now))
        .map(|t| presentation(t, None))
        .collect();
    Ok(axum::Json(out).into_response())
}

pub async fn delete(
    State(state): State<SharedState>,
    auth: AdminAuth,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let (realm, _) = auth.realm(&state, &realm, Right::ManageClients).await?;
    state.store.delete_initial_access(&realm.id, &id).await?;
    Ok(no_content())
}
