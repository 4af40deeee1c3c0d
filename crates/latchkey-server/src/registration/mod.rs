//! Dynamic client registration at Keycloak's endpoints (`clients-registrations/…`): the
//! routes, what every handler starts from (`Registration`: the realm, the caller's address
//! and headers, the CORS origin) and the steps every operation shares. The providers are
//! `oidc` (RFC 7591/7592, `openid-connect`) and `keycloak` (`default`, `install`); who may
//! register is `auth`, refusals `error`, events `audit`, writes `store`, the realm's
//! policies `policies`, browsers `cors`. The realm switches are `service::switches`.

pub mod keycloak;
pub mod oidc;

mod audit;
mod auth;
mod cors;
mod error;
mod policies;
mod store;

use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::registration::metadata::ValidationContext;
use latchkey_core::store::{ClientRecord, RealmRecord};
use serde::Serialize;

pub use auth::Caller;
pub use error::RegError;

use crate::error::no_store;
use crate::extract::ClientAddr;
use crate::routes::{self, Route, for_realm, route};
use crate::state::SharedState;
use crate::urls::BaseUrl;

/// Registration's routes: every one but the CORS preflights is an operation of the OpenAPI
/// document.
pub fn routes() -> Vec<Route> {
    const ERRORS: &[u16] = &[400, 401, 403, 404, 413, 429];
    const PREFLIGHT: &str = "a CORS preflight, not an API operation";
    vec![
        // RFC 7591/7592.
        route!(POST routes::REGISTRATION_OIDC => oidc::create, "oidcRegister", "registration", Register, body Some("ClientMetadata"), 201 Some("ClientInformation"), ERRORS, &[]),
        route!(OPTIONS routes::REGISTRATION_OIDC => oidc::preflight, hidden PREFLIGHT),
        route!(GET routes::REGISTRATION_OIDC_CLIENT => oidc::read, "oidcRead", "registration", Client, body None, 200 Some("ClientInformation"), ERRORS, &[]),
        route!(PUT routes::REGISTRATION_OIDC_CLIENT => oidc::update, "oidcUpdate", "registration", Client, body Some("ClientMetadata"), 200 Some("ClientInformation"), ERRORS, &[]),
        route!(DELETE routes::REGISTRATION_OIDC_CLIENT => oidc::delete, "oidcDelete", "registration", Client, body None, 204 None, ERRORS, &[]),
        route!(OPTIONS routes::REGISTRATION_OIDC_CLIENT => oidc::preflight, hidden PREFLIGHT),
        // Keycloak's `default` provider and adapter configuration.
        route!(POST routes::REGISTRATION_DEFAULT => keycloak::create, "defaultRegister", "registration", Register, body Some("ClientRepresentation"), 201 Some("ClientRepresentation"), ERRORS, &[]),
        route!(GET routes::REGISTRATION_DEFAULT_CLIENT => keycloak::read, "defaultRead", "registration", Client, body None, 200 Some("ClientRepresentation"), ERRORS, &[]),
        route!(PUT routes::REGISTRATION_DEFAULT_CLIENT => keycloak::update, "defaultUpdate", "registration", Client, body Some("ClientRepresentation"), 200 Some("ClientRepresentation"), ERRORS, &[]),
        route!(DELETE routes::REGISTRATION_DEFAULT_CLIENT => keycloak::delete, "defaultDelete", "registration", Client, body None, 204 None, ERRORS, &[]),
        route!(GET routes::REGISTRATION_INSTALL_CLIENT => keycloak::install, "installConfig", "registration", Client, body None, 200 Some("InstallConfig"), ERRORS, &[]),
    ]
}

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

/// The steps every provider's operations share: authenticated first, recorded after.
impl Context {
    /// A registration: authenticates the caller (a refusal is recorded without a client
    /// id), then runs `register` for it and records the outcome with the new client's id.
    async fn create_client<T>(
        &self,
        register: impl AsyncFnOnce(&Caller) -> Result<(ClientRecord, T), RegError>,
    ) -> Result<(ClientRecord, T), RegError> {
        let caller = match self.authenticate(Op::Create, None).await {
            Ok(caller) => caller,
            Err(e) => return self.outcome(Op::Create, None, None, Err(e)).await,
        };
        let result = register(&caller).await;
        let client_id = result.as_ref().ok().map(|(c, _)| c.client_id.clone());
        self.outcome(Op::Create, client_id.as_deref(), Some(&caller), result)
            .await
    }

    /// The path's client, for a caller allowed to view it; the read is recorded.
    async fn read_client(&self, client_id: &str) -> Result<ClientRecord, RegError> {
        let (client, caller) = self.load_and_authenticate(client_id, Op::View).await?;
        self.record(Op::View, Some(&client.client_id), Some(&caller), None)
            .await;
        Ok(client)
    }

    /// An update of the path's client: for a caller allowed to update it, runs `replace`
    /// on it and records the outcome.
    async fn update_client<T>(
        &self,
        client_id: &str,
        replace: impl AsyncFnOnce(ClientRecord, &Caller) -> Result<T, RegError>,
    ) -> Result<T, RegError> {
        let (client, caller) = self.load_and_authenticate(client_id, Op::Update).await?;
        let result = replace(client, &caller).await;
        self.outcome(Op::Update, Some(client_id), Some(&caller), result)
            .await
    }

    /// RFC 7592 §2.3 (both providers): for a caller allowed to delete the path's client,
    /// deletes it; afterwards the client, its secret, its registration access token and the
    /// access tokens it was issued stop working. The outcome is recorded.
    async fn delete_client(&self, client_id: &str) -> Result<(), RegError> {
        let (client, caller) = self.load_and_authenticate(client_id, Op::Delete).await?;
        let result = self
            .state
            .store
            .delete_client(&self.realm.id, &client.id)
            .await
            .map_err(RegError::from);
        self.outcome(Op::Delete, Some(client_id), Some(&caller), result)
            .await
    }

    /// The answer, a refusal in Keycloak's shape, with the CORS headers of an allowed
    /// origin.
    fn answer(&self, result: Result<Response, RegError>) -> Response {
        let resp = result.unwrap_or_else(IntoResponse::into_response);
        cors::with_cors(resp, self.origin.clone())
    }

    fn validation_context(&self) -> ValidationContext {
        ValidationContext {
            dev_mode: self.state.settings.dev_mode,
        }
    }

    /// JSON bodies must say so in `Content-Type`: anything else is `invalid_client_metadata`.
    fn require_json(&self) -> Result<(), RegError> {
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
fn client_uri(base: &BaseUrl, route: &str, realm: &str, client_id: &str) -> String {
    format!(
        "{}/{}",
        base.join(&for_realm(route, realm)),
        crate::urls::encode_segment(client_id)
    )
}

/// A JSON answer that is not stored anywhere: it carries credentials (RFC 7591 §3.2.1).
fn json_no_store(status: StatusCode, body: impl Serialize) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    no_store(&mut resp);
    resp
}

/// 201 with `body`, at `location`.
fn created(body: impl Serialize, location: &str) -> Response {
    let mut resp = json_no_store(StatusCode::CREATED, body);
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}
