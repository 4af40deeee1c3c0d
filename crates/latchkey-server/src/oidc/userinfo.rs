//! The userinfo endpoint (OIDC Core §5.3): the claims of the token's user, for access
//! tokens that carry the `openid` scope. Bearer token in the header (or, on POST, the form
//! body's `access_token`, RFC 6750 §2.2).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::realm::enabled_realm;
use crate::bearer::{BearerError, bearer_token, verify_access_token};
use crate::error::OAuthError;
use crate::state::SharedState;

fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    let mut resp = (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer error=\"{error}\"")) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

pub async fn userinfo(
    State(state): State<SharedState>,
    Path(realm_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let realm = match enabled_realm(&state, &realm_name).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "Realm does not exist"})),
            )
                .into_response();
        }
        Err(e) => return OAuthError::Internal(e).into_response(),
    };
    let from_form: Option<String> = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
        .ok()
        .and_then(|pairs| {
            pairs
                .into_iter()
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v)
        });
    let Some(token) = bearer_token(&headers).map(str::to_string).or(from_form) else {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_token", "Missing token");
    };
    let verified = match verify_access_token(&state, &token, Some(&realm)).await {
        Ok(v) => v,
        Err(BearerError::Invalid) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Token verification failed",
            );
        }
        Err(BearerError::Internal(e)) => return OAuthError::Internal(e).into_response(),
    };
    let scope = verified
        .claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !scope.split(' ').any(|s| s == "openid") {
        return refuse(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "Missing openid scope",
        );
    }
    let mut out = Map::new();
    out.insert("sub".into(), json!(verified.user.id));
    // The profile and email claims the access token carries, as the scopes granted them.
    for key in [
        "preferred_username",
        "name",
        "given_name",
        "family_name",
        "email",
        "email_verified",
    ] {
        if let Some(v) = verified.claims.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    axum::Json(Value::Object(out)).into_response()
}
