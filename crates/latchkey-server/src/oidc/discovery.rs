//! OIDC discovery, RFC 8414 metadata and the JWKS. Every advertised endpoint comes from
//! `routes`, the constants the router mounts, and only endpoints that exist are listed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::registration::cimd::Settings;
use serde_json::{Value, json};

use super::realm::enabled_realm;
use crate::error::OAuthError;
use crate::routes::{self, for_realm};
use crate::state::SharedState;
use crate::urls::BaseUrl;

pub const GRANT_TYPES: [&str; 5] = [
    "authorization_code",
    "client_credentials",
    "password",
    "refresh_token",
    latchkey_core::device::GRANT_TYPE,
];
pub const AUTH_METHODS: [&str; 4] = [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
];
/// The token and revocation endpoints also serve public clients, which present only their
/// `client_id` (RFC 7591 §2 `none`); introspection does not.
pub const AUTH_METHODS_WITH_NONE: [&str; 5] = [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "none",
];

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": "Realm does not exist"})),
    )
        .into_response()
}

/// Logged, and answered with the protocol's generic error body.
fn internal(e: String) -> Response {
    OAuthError::Internal(e).into_response()
}

async fn metadata(state: &SharedState, base: &BaseUrl, realm: &str) -> Result<Value, Response> {
    let Some(record) = enabled_realm(state, realm).await.map_err(internal)? else {
        return Err(not_found());
    };
    let scopes = state
        .store
        .list_scopes(&record.id)
        .await
        .map_err(|e| internal(e.to_string()))?;
    let mut scopes_supported = vec!["openid".to_string()];
    scopes_supported.extend(scopes.iter().map(|s| s.name.clone()));
    let url = |route: &str| base.join(&for_realm(route, realm));
    let cimd = Settings::from_attributes(record.rep.attributes.as_ref()).enabled;
    let mut doc = json!({
        "issuer": base.issuer(realm),
        "authorization_endpoint": url(routes::AUTH),
        "end_session_endpoint": url(routes::LOGOUT),
        "token_endpoint": url(routes::TOKEN),
        "jwks_uri": url(routes::CERTS),
        "registration_endpoint": url(routes::REGISTRATION_OIDC),
        "introspection_endpoint": url(routes::INTROSPECT),
        "revocation_endpoint": url(routes::REVOKE),
        "userinfo_endpoint": url(routes::USERINFO),
        "device_authorization_endpoint": url(routes::DEVICE_AUTH),
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS_WITH_NONE,
        "grant_types_supported": GRANT_TYPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS_WITH_NONE,
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256", "HS256"],
        "scopes_supported": scopes_supported,
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "azp", "typ", "scope", "preferred_username",
            "name", "given_name", "family_name", "email", "email_verified"
        ],
    });
    // The CIMD draft: the server says it accepts metadata document URLs as client ids.
    if cimd {
        doc["client_id_metadata_document_supported"] = json!(true);
    }
    Ok(doc)
}

pub async fn openid_configuration(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path(realm): Path<String>,
) -> Response {
    match metadata(&state, &base, &realm).await {
        Ok(doc) => axum::Json(doc).into_response(),
        Err(resp) => resp,
    }
}

pub async fn oauth_metadata(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path(realm): Path<String>,
) -> Response {
    openid_configuration(State(state), base, Path(realm)).await
}

pub async fn certs(State(state): State<SharedState>, Path(realm): Path<String>) -> Response {
    let record = match enabled_realm(&state, &realm).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(),
        Err(e) => return internal(e),
    };
    match state.realm_keys(&record).await {
        Ok(keys) => axum::Json(json!({"keys": keys.jwks})).into_response(),
        Err(e) => internal(e),
    }
}
