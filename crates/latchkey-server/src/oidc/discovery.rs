//! OIDC discovery, RFC 8414 metadata and the JWKS. Every advertised endpoint comes from
//! `routes`, the constants the router mounts, and only endpoints that exist are listed.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::registration::cimd::Settings;
use latchkey_core::store::ScopeRecord;
use serde_json::{Value, json};

use super::realm::enabled_realm;
use crate::error::OAuthError;
use crate::routes::{self, for_realm};
use crate::state::{DiscoveryDoc, SharedState};
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

/// The realm's document, as JSON bytes: built again only when the realm or its scopes
/// changed (`state::DiscoveryDoc`); every client of a realm asks for it, often.
async fn document(state: &SharedState, base: &BaseUrl, realm: &str) -> Result<Bytes, Response> {
    let Some(record) = enabled_realm(state, realm).await.map_err(internal)? else {
        return Err(not_found());
    };
    let scopes = state
        .store
        .list_scopes(&record.id)
        .await
        .map_err(|e| internal(e.to_string()))?;
    let cimd = Settings::from_attributes(record.rep.attributes.as_ref()).enabled;
    let issuer = base.issuer(realm);
    if let Some(doc) = state.discovery_doc(&issuer)
        && Arc::ptr_eq(&doc.scopes, &scopes)
    {
        return Ok(doc.body.clone());
    }
    let body = serde_json::to_vec(&metadata(base, realm, &issuer, &scopes, cimd))
        .map(Bytes::from)
        .map_err(|e| internal(e.to_string()))?;
    state.keep_discovery_doc(
        &issuer,
        Arc::new(DiscoveryDoc {
            scopes,
            body: body.clone(),
        }),
    );
    Ok(body)
}

fn metadata(
    base: &BaseUrl,
    realm: &str,
    issuer: &str,
    scopes: &[ScopeRecord],
    cimd: bool,
) -> Value {
    let mut scopes_supported = vec!["openid".to_string()];
    scopes_supported.extend(scopes.iter().map(|s| s.name.clone()));
    let url = |route: &str| base.join(&for_realm(route, realm));
    let mut doc = json!({
        "issuer": issuer,
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
    doc
}

pub async fn openid_configuration(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path(realm): Path<String>,
) -> Response {
    match document(&state, &base, &realm).await {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
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
