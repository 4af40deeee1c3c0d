//! Request extractors shared by the surfaces: Keycloak-style JSON bodies and boolean
//! query parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::AdminError;

/// A JSON body parsed the Keycloak way: unknown members ignored, anything unparsable or
/// empty is 400 `{"error":"invalid_request","error_description":"Cannot parse the JSON"}`.
pub struct KcJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for KcJson<T> {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
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
