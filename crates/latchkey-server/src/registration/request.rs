//! What every registration handler starts from (`Registration`: the realm or its 404, the
//! caller's address and headers, the CORS origin) and the steps every operation shares
//! (`Context`).

use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::registration::metadata::ValidationContext;
use latchkey_core::store::RealmRecord;
use serde::Serialize;

use super::error::RegError;

use super::cors;
use crate::error::no_store;
use crate::extract::ClientAddr;
use crate::routes::for_realm;
use crate::state::SharedState;
use crate::urls::BaseUrl;

/// What the caller is asking for; decides the token kinds and roles accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    View,
    Update,
    Delete,
}

impl Op {
    /// The event type (`CLIENT_REGISTER`…); `_ERROR` is appended for refusals.
    pub fn event(self) -> &'static str {
        match self {
            Op::Create => "CLIENT_REGISTER",
            Op::View => "CLIENT_INFO",
            Op::Update => "CLIENT_UPDATE",
            Op::Delete => "CLIENT_DELETE",
        }
    }
}

/// A registration provider, as the type parameter of `Registration`.
pub trait Provider {
    /// Its name in events (`provider`).
    const ID: &'static str;
    /// Whether browsers may call it: its answers carry CORS headers for the origins the
    /// realm allows (`cors`).
    const CORS: bool;
}

/// What every registration handler starts from, taken from the request before the
/// handler runs (so before its body is read): the realm, enabled or 404 before anything
/// else is looked up (a JSON refusal, without CORS headers), then the CORS origin when
/// provider `P` has CORS, the caller's address and headers. Derefs to its `Context`.
pub struct Registration<P> {
    context: Context,
    provider: PhantomData<fn() -> P>,
}

/// A registration request: its realm, the caller's address and headers, the provider (for
/// events) and the origin its answers allow. Authenticates the caller (`auth`), records
/// the outcome (`audit`), applies the policies (`policies`) and stores (`store`).
pub struct Context {
    pub state: SharedState,
    pub realm: RealmRecord,
    pub addr: ClientAddr,
    pub headers: HeaderMap,
    pub provider: &'static str,
    /// The request's `Origin` when the provider has CORS and the realm allows it.
    pub origin: Option<HeaderValue>,
}

impl<P: Provider> FromRequestParts<SharedState> for Registration<P> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let realm_name = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map_or("", |(_, v)| v.as_str());
        let realm = realm_or_404(state, realm_name)
            .await
            .map_err(IntoResponse::into_response)?;
        let origin = match P::CORS {
            true => cors::allowed_origin(state, &realm, &parts.headers).await,
            false => None,
        };
        let Ok(addr) = ClientAddr::from_request_parts(parts, state).await;
        Ok(Registration {
            context: Context {
                state: state.clone(),
                realm,
                addr,
                headers: parts.headers.clone(),
                provider: P::ID,
                origin,
            },
            provider: PhantomData,
        })
    }
}

impl<P> Deref for Registration<P> {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.context
    }
}

/// The realm of a registration request: enabled, or 404.
async fn realm_or_404(state: &SharedState, name: &str) -> Result<RealmRecord, RegError> {
    crate::oidc::enabled_realm(state, name)
        .await
        .map_err(RegError::internal)?
        .ok_or_else(|| {
            RegError::new(
                StatusCode::NOT_FOUND,
                "invalid_request",
                "Realm does not exist",
            )
        })
}

impl Context {
    /// The answer, a refusal in Keycloak's shape, with the CORS headers of an allowed
    /// origin.
    pub(super) fn answer(&self, result: Result<Response, RegError>) -> Response {
        let resp = result.unwrap_or_else(IntoResponse::into_response);
        cors::with_cors(resp, self.origin.clone())
    }

    pub(super) fn validation_context(&self) -> ValidationContext {
        ValidationContext {
            dev_mode: self.state.settings.dev_mode,
        }
    }

    /// JSON bodies must say so in `Content-Type`: anything else is `invalid_client_metadata`.
    pub(super) fn require_json(&self) -> Result<(), RegError> {
        let ok = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                let main = ct.split(';').next().unwrap_or("").trim();
                main.eq_ignore_ascii_case("application/json")
            });
        if ok {
            Ok(())
        } else {
            Err(RegError::metadata("the body must be application/json"))
        }
    }
}

/// A registered client's URI under a provider's `route`.
pub(super) fn client_uri(base: &BaseUrl, route: &str, realm: &str, client_id: &str) -> String {
    format!(
        "{}/{}",
        base.join(&for_realm(route, realm)),
        crate::urls::encode_segment(client_id)
    )
}

/// A JSON answer that is not stored anywhere: it carries credentials (RFC 7591 §3.2.1).
pub(super) fn json_no_store(status: StatusCode, body: impl Serialize) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    no_store(&mut resp);
    resp
}

/// 201 with `body`, at `location`.
pub(super) fn created(body: impl Serialize, location: &str) -> Response {
    let mut resp = json_no_store(StatusCode::CREATED, body);
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}
