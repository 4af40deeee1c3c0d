//! CORS for the `openid-connect` provider: the origins a realm lets call it from a browser,
//! the headers its answers carry for them, and the preflight.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::policies;
use latchkey_core::store::RealmRecord;

use crate::state::{SharedState, now_millis};

/// Besides the origin itself, what every answer to an allowed origin carries.
const ALLOWED: [(HeaderName, &str); 2] = [
    (header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),
    (header::ACCESS_CONTROL_EXPOSE_HEADERS, "Location"),
];

/// What a preflight's answer adds for an allowed origin.
const PREFLIGHT: [(HeaderName, &str); 3] = [
    (
        header::ACCESS_CONTROL_ALLOW_METHODS,
        "DELETE, GET, OPTIONS, POST, PUT",
    ),
    (
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        "Authorization, Content-Type, DPoP",
    ),
    (header::ACCESS_CONTROL_MAX_AGE, "3600"),
];

/// The request's origin if it may call the `openid-connect` endpoint from a browser: the
/// origins of the realm's live initial access tokens and of its registration-web-origins
/// policies.
pub(super) async fn allowed_origin(
    state: &SharedState,
    realm: &RealmRecord,
    headers: &HeaderMap,
) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let now = now_millis() / 1000;
    let tokens = state.store.list_initial_access(&realm.id).await.ok()?;
    let by_token = tokens
        .iter()
        .filter(|t| !t.expired(now))
        .any(|t| t.web_origins.iter().any(|o| o == origin || o == "*"));
    let allowed = by_token || {
        let components = state.store.list_components(&realm.id).await.ok()?;
        policies::web_origins(&components)
            .iter()
            .any(|o| o == origin || o == "*")
    };
    if allowed {
        HeaderValue::from_str(origin).ok()
    } else {
        None
    }
}

/// Adds CORS headers for an allowed origin.
pub(super) fn with_cors(mut resp: Response, origin: Option<HeaderValue>) -> Response {
    if let Some(o) = origin {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        for (name, value) in ALLOWED {
            h.insert(name, HeaderValue::from_static(value));
        }
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

/// The answer to a preflight (`OPTIONS`): 200, with what the origin may send when it is
/// allowed.
pub(super) fn preflight(origin: Option<HeaderValue>) -> Response {
    let mut resp = StatusCode::OK.into_response();
    if origin.is_some() {
        let h = resp.headers_mut();
        for (name, value) in PREFLIGHT {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    with_cors(resp, origin)
}
