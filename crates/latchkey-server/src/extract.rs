//! Request extractors shared by the surfaces: Keycloak-style JSON bodies, boolean query
//! parameters and the caller's address.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AdminError;
use crate::state::SharedState;

/// A JSON body parsed the Keycloak way: unknown members ignored, anything unparsable or
/// empty is 400 `{"error":"invalid_request","error_description":"Cannot parse the JSON"}`.
/// A body that does not say it is JSON (`Content-Type` `application/json` or
/// `application/*+json`, or none at all) is 415, as Keycloak's JAX-RS resources answer: a
/// `text/plain` or form post is not taken for JSON.
pub struct KcJson<T>(pub T);

/// Whether a `Content-Type` names JSON, parameters such as `charset` aside.
fn is_json(content_type: Option<&axum::http::HeaderValue>) -> bool {
    let Some(essence) = content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
    else {
        return false;
    };
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for KcJson<T> {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(axum::http::header::CONTENT_TYPE)) {
            return Err(AdminError::Described(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "HTTP 415 Unsupported Media Type",
                "the body must be JSON (Content-Type: application/json)".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AdminError::Described(
                    e.status(),
                    "invalid_request",
                    "request body too large".into(),
                )
            } else {
                AdminError::unparsable_json()
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(KcJson)
            .map_err(|_| AdminError::unparsable_json())
    }
}

/// `true`/`True`/`TRUE` (python-keycloak sends Python's spelling).
pub fn query_bool(v: Option<&String>) -> Option<bool> {
    v.map(|s| s.eq_ignore_ascii_case("true"))
}

/// The caller's address: the peer of the connection, or, with `--proxy-headers`, the
/// client the proxy names (`Forwarded: for=` or the first `X-Forwarded-For`).
pub struct ClientAddr(pub Option<String>);

impl FromRequestParts<SharedState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(
            crate::urls::client_ip(&state.settings, &parts.headers, peer).map(|ip| ip.to_string()),
        ))
    }
}

impl ClientAddr {
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.0.as_deref().and_then(|s| s.parse().ok())
    }
}
