//! Errors and their responses, one type per surface: `AdminError` speaks the Keycloak
//! admin API's shapes (`reference/keycloak-admin-api.md` §1), `OAuthError` RFC 6749 §5.2.
//! Internal errors are logged (inside the request's span, which carries its id) and
//! answered with a generic body; their text never reaches the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::store::StoreError;
use serde_json::json;

#[derive(Debug)]
pub enum AdminError {
    /// 401 `{"error":"HTTP 401 Unauthorized"}`
    Unauthorized,
    /// 403 `{"error":"HTTP 403 Forbidden"}`
    Forbidden,
    /// 404 `{"error": <message>}` ("Realm not found.", "Could not find client", …)
    NotFound(&'static str),
    /// 409 `{"errorMessage": <message>}`
    Conflict(String),
    /// 400 `{"errorMessage": <message>}`: business rules
    Invalid(String),
    /// 400 `{"error": <message>}`: JAX-RS `BadRequestException` texts
    BadRequest(String),
    /// `{"error": code, "error_description": description}`
    Described(StatusCode, &'static str, String),
    Internal(String),
}

impl AdminError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AdminError::Internal(e.to_string())
    }

    pub fn unparsable_json() -> Self {
        AdminError::Described(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Cannot parse the JSON".into(),
        )
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { what } => AdminError::Conflict(format!("{what} already exists")),
            StoreError::NotFound => AdminError::NotFound("Not found"),
            StoreError::Precondition { failed } => AdminError::Conflict(failed.to_string()),
            StoreError::Invalid(e) => AdminError::Invalid(e.to_string()),
            StoreError::Backend(m) => AdminError::Internal(m),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            AdminError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "HTTP 401 Unauthorized"}),
            ),
            AdminError::Forbidden => (
                StatusCode::FORBIDDEN,
                json!({"error": "HTTP 403 Forbidden"}),
            ),
            AdminError::NotFound(m) => (StatusCode::NOT_FOUND, json!({"error": m})),
            AdminError::Conflict(m) => (StatusCode::CONFLICT, json!({"errorMessage": m})),
            AdminError::Invalid(m) => (StatusCode::BAD_REQUEST, json!({"errorMessage": m})),
            AdminError::BadRequest(m) => (StatusCode::BAD_REQUEST, json!({"error": m})),
            AdminError::Described(s, code, d) => {
                (s, json!({"error": code, "error_description": d}))
            }
            AdminError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": "unknown_error", "error_description": "For more on this error consult the server log."}),
                )
            }
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// RFC 6749 §5.2 error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    /// RFC 7009 §2.2.1
    UnsupportedTokenType,
    /// RFC 8707 §2: a `resource` that is malformed, unknown or not for this client
    InvalidTarget,
    /// RFC 8628 §3.5: the device's user has not answered yet
    AuthorizationPending,
    /// RFC 8628 §3.5: polling faster than the interval
    SlowDown,
    /// RFC 8628 §3.5: the device code expired
    ExpiredToken,
    /// RFC 8628 §3.5: the user denied the device
    AccessDenied,
    /// Keycloak's `not_allowed`: an offline token for a user without the `offline_access`
    /// role.
    NotAllowed,
}

impl OAuthCode {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthCode::InvalidRequest => "invalid_request",
            OAuthCode::InvalidClient => "invalid_client",
            OAuthCode::InvalidGrant => "invalid_grant",
            OAuthCode::UnauthorizedClient => "unauthorized_client",
            OAuthCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthCode::InvalidScope => "invalid_scope",
            OAuthCode::UnsupportedTokenType => "unsupported_token_type",
            OAuthCode::InvalidTarget => "invalid_target",
            OAuthCode::AuthorizationPending => "authorization_pending",
            OAuthCode::SlowDown => "slow_down",
            OAuthCode::ExpiredToken => "expired_token",
            OAuthCode::AccessDenied => "access_denied",
            OAuthCode::NotAllowed => "not_allowed",
        }
    }
}

#[derive(Debug)]
pub enum OAuthError {
    Protocol {
        code: OAuthCode,
        description: String,
        /// The client authenticated with HTTP Basic: a failure is 401 with a challenge.
        basic_auth: bool,
        /// Keycloak answers a direct grant's bad user credentials with 401, not 400.
        unauthorized: bool,
    },
    /// The realm in the path does not exist.
    UnknownRealm,
    /// Too many failed passwords from the caller's address (`brute_force.rs`):
    /// 429 with `Retry-After`.
    Throttled(std::time::Duration),
    Internal(String),
}

impl OAuthError {
    pub fn new(code: OAuthCode, description: impl Into<String>) -> Self {
        OAuthError::Protocol {
            code,
            description: description.into(),
            basic_auth: false,
            unauthorized: false,
        }
    }

    /// `invalid_grant` with 401, as Keycloak answers a password grant with bad credentials.
    pub fn bad_user_credentials(description: impl Into<String>) -> Self {
        OAuthError::Protocol {
            code: OAuthCode::InvalidGrant,
            description: description.into(),
            basic_auth: false,
            unauthorized: true,
        }
    }

    pub fn invalid_client(description: impl Into<String>, basic_auth: bool) -> Self {
        OAuthError::Protocol {
            code: OAuthCode::InvalidClient,
            description: description.into(),
            basic_auth,
            unauthorized: true,
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(e) => OAuthError::new(OAuthCode::InvalidRequest, e.to_string()),
            e => OAuthError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        match self {
            OAuthError::Protocol {
                code,
                description,
                basic_auth,
                unauthorized,
            } => {
                // RFC 6749 §5.2: invalid_client is 401 when the client tried HTTP Basic; we
                // answer 401 for every failed client authentication, as Keycloak does.
                let status = if unauthorized {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::BAD_REQUEST
                };
                let mut resp = (
                    status,
                    axum::Json(json!({"error": code.as_str(), "error_description": description})),
                )
                    .into_response();
                if basic_auth && status == StatusCode::UNAUTHORIZED {
                    resp.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"latchkey\""),
                    );
                }
                no_store(&mut resp);
                resp
            }
            OAuthError::Throttled(wait) => crate::limits::too_many_requests(
                wait,
                "too many failed sign-in attempts from this address; try again later",
            ),
            OAuthError::UnknownRealm => (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "Realm does not exist"})),
            )
                .into_response(),
            OAuthError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(
                        json!({"error": "server_error", "error_description": "internal error"}),
                    ),
                )
                    .into_response()
            }
        }
    }
}

/// RFC 6749 §5.1: token responses are never cached.
pub fn no_store(resp: &mut Response) {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
