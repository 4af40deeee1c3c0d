//! A registration's refusals: Keycloak's status, RFC 6750 / RFC 7591 error code and text,
//! and how the domain's and the store's errors become one.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::client_uris::UriField;
use latchkey_core::clients::ClientError;
use latchkey_core::policies;
use latchkey_core::registration::RegistrationError;
use latchkey_core::store::StoreError;
use serde_json::json;

/// A refusal: status, RFC 6750 / RFC 7591 error code and description.
#[derive(Debug)]
pub struct RegError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// The policy that refused, for the event.
    pub policy: Option<String>,
    /// A rate limit refused (429): how long until the caller may retry.
    pub retry_after: Option<std::time::Duration>,
    /// The client changed between the read and the write (a registration read rotated its
    /// secret); the update is redone on a fresh read.
    pub stale: bool,
}

impl RegError {
    pub fn invalid_token(description: impl Into<String>) -> Self {
        RegError::new(StatusCode::UNAUTHORIZED, "invalid_token", description)
    }

    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        RegError {
            status,
            error,
            description: description.into(),
            policy: None,
            retry_after: None,
            stale: false,
        }
    }

    /// The client's secret rotated between this update's read and its write: 409, unless
    /// the update is redone (`Context::update_client`).
    pub fn stale() -> Self {
        RegError {
            stale: true,
            ..RegError::new(
                StatusCode::CONFLICT,
                "invalid_request",
                "the client changed during the update; send it again",
            )
        }
    }

    /// An abuse limit refused the caller's address: 429 with `Retry-After`.
    pub fn too_many(wait: std::time::Duration, description: impl Into<String>) -> Self {
        RegError {
            retry_after: Some(wait),
            ..RegError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                description,
            )
        }
    }

    /// A registration policy refused: 403 `insufficient_scope` with Keycloak's text.
    pub fn policy(name: &str, why: &str) -> Self {
        RegError {
            policy: Some(name.to_string()),
            ..RegError::insufficient_scope(policies::refusal_message(name, why))
        }
    }

    pub fn insufficient_scope(description: impl Into<String>) -> Self {
        RegError::new(StatusCode::FORBIDDEN, "insufficient_scope", description)
    }

    pub fn not_found() -> Self {
        RegError::new(StatusCode::NOT_FOUND, "invalid_request", "Client not found")
    }

    pub fn metadata(description: impl Into<String>) -> Self {
        RegError::new(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            description,
        )
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        RegError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        )
    }
}

/// RFC 7591 §3.2.2: a refused redirect URI is `invalid_redirect_uri`, any other client
/// rule `invalid_client_metadata` (Keycloak: `fieldHasError("redirectUris")`).
impl From<ClientError> for RegError {
    fn from(e: ClientError) -> Self {
        let code = match &e {
            ClientError::Uri(u) if u.field == UriField::RedirectUri => "invalid_redirect_uri",
            _ => "invalid_client_metadata",
        };
        RegError::new(StatusCode::BAD_REQUEST, code, e.to_string())
    }
}

impl From<RegistrationError> for RegError {
    fn from(e: RegistrationError) -> Self {
        RegError::new(StatusCode::BAD_REQUEST, e.code(), e.to_string())
    }
}

impl From<StoreError> for RegError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Precondition { failed } => RegError::invalid_token(failed.to_string()),
            StoreError::Conflict { what } => RegError::metadata(format!("{what} in use")),
            StoreError::NotFound => RegError::not_found(),
            StoreError::Invalid(e) => RegError::metadata(e.to_string()),
            StoreError::Backend(m) => RegError::internal(m),
        }
    }
}

impl IntoResponse for RegError {
    fn into_response(self) -> Response {
        if let Some(wait) = self.retry_after {
            return crate::limits::too_many_requests(wait, &self.description);
        }
        let mut resp = (
            self.status,
            axum::Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = format!("Bearer error=\"{}\"", self.error);
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}
