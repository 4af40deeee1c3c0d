//! Dynamic client registration at Keycloak's endpoints (`clients-registrations/…`): who may
//! register (`authenticate`), obeying the realm switches (`service::switches`), errors the
//! Keycloak way, events and CORS. The providers are `oidc` (RFC 7591/7592,
//! `openid-connect`) and `keycloak` (`default`, `install`).

pub mod keycloak;
pub mod oidc;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::client_uris::UriField;
use latchkey_core::clients::{
    ClientError, check_client, check_registered_client_id, generate_secret, secret_context,
};
use latchkey_core::crypto::{ct_eq, hash_token, new_row_id, random_token};
use latchkey_core::policies::{self, Action};
use latchkey_core::registration::RegistrationError;
use latchkey_core::registration::convert::REGISTRATION_AUTH_ATTRIBUTE;
use latchkey_core::registration::metadata::ValidationContext;
use latchkey_core::roles::{AdminRights, Right, expand};
use latchkey_core::store::{
    ClientBundle, ClientRecord, EventRecord, Guarded, InitialAccessRecord, RealmRecord, StoreError,
    WriteGuard,
};
use serde_json::json;

use crate::bearer::{BearerError, bearer_token, looks_like_jwt, verify_access_token};
use crate::routes::{self, Route, route};
use crate::service::clients::{new_service_account, service_account_for};
use crate::service::switches::{ANONYMOUS_SWITCH, AUTHENTICATED_SWITCH, POLICIES_SWITCH, switch};
use crate::state::{SharedState, now_millis};

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

/// How the caller authenticated: nothing (anonymous), an initial access token or a bearer
/// access token of the realm (authenticated), or the client's registration access token.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    InitialAccess(InitialAccessRecord),
    Bearer {
        user_id: String,
    },
    /// The registration access token of the client in the path.
    RegistrationToken,
}

impl Caller {
    pub fn kind(&self) -> &'static str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::InitialAccess(_) => "initial_access_token",
            Caller::Bearer { .. } => "bearer_token",
            Caller::RegistrationToken => "registration_access_token",
        }
    }

    /// Keycloak's `registration_auth` of a new client: how it was registered.
    pub fn registration_auth(&self) -> &'static str {
        match self {
            Caller::Anonymous => "anonymous",
            _ => "authenticated",
        }
    }

    pub fn user_id(&self) -> Option<String> {
        match self {
            Caller::Bearer { user_id } => Some(user_id.clone()),
            _ => None,
        }
    }
}

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

/// The realm attribute that sets its own anonymous registration limit per address and
/// window (a number; `0` is none), overriding `--anonymous-registration-limit`: several
/// hosted clients can share one egress address.
pub const ANONYMOUS_LIMIT_ATTRIBUTE: &str = "clientRegistrationAnonymousLimit";

/// Decides who the caller is for `op` on `client` (the path's client, when it exists),
/// following `Caller` (what each kind of caller may do) and Keycloak's error texts. The
/// caller's address `ip` is rate-limited: anonymous registrations as they come, per realm;
/// registration and initial access tokens only when they fail. A valid token is always
/// served, however many failures its address made before.
pub async fn authenticate(
    state: &SharedState,
    realm: &RealmRecord,
    headers: &HeaderMap,
    op: Op,
    client: Option<&ClientRecord>,
    ip: Option<&str>,
) -> Result<Caller, RegError> {
    let key = crate::limits::address_key(ip);
    match bearer_token(headers) {
        None if op == Op::Create && switch(realm, ANONYMOUS_SWITCH) => {
            let limit = realm
                .rep
                .attributes
                .as_ref()
                .and_then(|a| a.get(ANONYMOUS_LIMIT_ATTRIBUTE))
                .and_then(|v| v.trim().parse::<u32>().ok());
            state
                .anonymous_registrations
                .hit_with(&format!("{} {key}", realm.id), limit)
                .map_err(|wait| {
                    RegError::too_many(
                        wait,
                        "too many anonymous registrations from this address; retry later",
                    )
                })?;
        }
        Some(token) if !looks_like_jwt(token) => {
            let result = identify(state, realm, headers, op, client).await;
            if result
                .as_ref()
                .is_err_and(|e| e.status == StatusCode::UNAUTHORIZED)
            {
                let over = state.failed_tokens.check(&key);
                state.failed_tokens.count(&key);
                if let Err(wait) = over {
                    return Err(RegError::too_many(
                        wait,
                        "too many failed token attempts from this address; retry later",
                    ));
                }
            }
            return result;
        }
        _ => {}
    }
    identify(state, realm, headers, op, client).await
}

/// `authenticate` without the rate limits.
async fn identify(
    state: &SharedState,
    realm: &RealmRecord,
    headers: &HeaderMap,
    op: Op,
    client: Option<&ClientRecord>,
) -> Result<Caller, RegError> {
    let unauthorized = || match op {
        Op::Create => RegError::invalid_token("Failed decode token"),
        Op::View => RegError::invalid_token(
            "Not authorized to view client. Not valid token or client credentials provided.",
        ),
        Op::Update | Op::Delete => RegError::invalid_token(
            "Not authorized to update client. Maybe missing token or bad token type.",
        ),
    };
    let Some(token) = bearer_token(headers) else {
        return match op {
            Op::Create if switch(realm, ANONYMOUS_SWITCH) => Ok(Caller::Anonymous),
            Op::Create => Err(RegError::invalid_token(format!(
                "anonymous client registration is disabled in this realm ({ANONYMOUS_SWITCH} is off)"
            ))),
            _ => Err(unauthorized()),
        };
    };
    if op == Op::Create && !switch(realm, AUTHENTICATED_SWITCH) {
        return Err(RegError::insufficient_scope(format!(
            "authenticated client registration is disabled in this realm ({AUTHENTICATED_SWITCH} is off)"
        )));
    }
    if looks_like_jwt(token) {
        let verified = match verify_access_token(state, token, Some(realm)).await {
            Ok(v) => v,
            Err(BearerError::Invalid) => return Err(unauthorized()),
            Err(BearerError::Internal(e)) => return Err(RegError::internal(e)),
        };
        let direct = state.store.user_role_ids(&verified.user.id).await?;
        let all = state.store.all_roles(&realm.id).await?;
        let roles = expand(&direct, &all);
        let needed = match op {
            Op::Create => Right::CreateClient,
            Op::View => Right::ViewClients,
            Op::Update | Op::Delete => Right::ManageClients,
        };
        let allowed =
            AdminRights::new(&realm.name, &realm.name, &roles).is_some_and(|r| r.allows(needed));
        if !allowed {
            return Err(RegError::insufficient_scope("Forbidden"));
        }
        if op != Op::Create && client.is_none() {
            return Err(RegError::not_found());
        }
        return Ok(Caller::Bearer {
            user_id: verified.user.id,
        });
    }
    let hash = hash_token(token);
    if op == Op::Create {
        let iat = state
            .store
            .initial_access_by_hash(&hash)
            .await?
            .filter(|t| t.realm_id == realm.id)
            .ok_or_else(|| RegError::invalid_token("Initial Access Token not found"))?;
        if iat.expired(now_millis() / 1000) {
            return Err(RegError::invalid_token("Expired initial access token"));
        }
        if iat.remaining <= 0 {
            return Err(RegError::invalid_token(
                "No remaining count on initial access token",
            ));
        }
        return Ok(Caller::InitialAccess(iat));
    }
    if let Some(stored) = client.and_then(|c| c.rat_hash.as_deref())
        && ct_eq(stored.as_bytes(), hash.as_bytes())
    {
        return Ok(Caller::RegistrationToken);
    }
    if state.store.initial_access_by_hash(&hash).await?.is_some() {
        return Err(RegError::invalid_token("Not initial access token allowed"));
    }
    Err(unauthorized())
}

/// Where a registration request's events go: its realm, the caller's address and the
/// provider it used. Every registration operation, allowed or refused, is an event
/// (`CLIENT_REGISTER` … and their `_ERROR` forms). Recording never fails the request.
pub struct Audit<'a> {
    pub state: &'a SharedState,
    pub realm: &'a RealmRecord,
    pub ip: Option<&'a str>,
    pub provider: &'static str,
}

impl Audit<'_> {
    pub async fn record(
        &self,
        op: Op,
        client_id: Option<&str>,
        caller: Option<&Caller>,
        error: Option<&RegError>,
    ) {
        self.state
            .metrics
            .registration(op.event(), error.map(|e| e.error));
        if op == Op::Create && error.is_none() {
            // Stored with the client itself (`store_new`).
            return;
        }
        // Refusals of unauthenticated callers are stored up to a bound per address and
        // window, and only counted beyond it: nobody can grow the events table at will.
        let unauthenticated = caller.is_none_or(|c| matches!(c, Caller::Anonymous));
        if error.is_some() && unauthenticated {
            let key = crate::limits::address_key(self.ip);
            if self.state.refused_events.hit(&key).is_err() {
                self.state.metrics.event_not_stored(op.event());
                return;
            }
        }
        let event = self.event(op, client_id, caller, error);
        if let Err(e) = self.state.store.insert_event(&event).await {
            tracing::warn!(error = %e, "could not record a registration event");
        }
    }

    /// The event for an operation's outcome.
    pub fn event(
        &self,
        op: Op,
        client_id: Option<&str>,
        caller: Option<&Caller>,
        error: Option<&RegError>,
    ) -> EventRecord {
        let mut details = BTreeMap::new();
        details.insert("provider".to_string(), self.provider.to_string());
        if let Some(c) = caller {
            details.insert("auth_method".to_string(), c.kind().to_string());
            details.insert(
                "registration_auth".to_string(),
                c.registration_auth().to_string(),
            );
        }
        if let Some(e) = error {
            details.insert("error_description".to_string(), e.description.clone());
            if let Some(p) = &e.policy {
                details.insert("policy".to_string(), p.clone());
            }
        }
        if !switch(self.realm, POLICIES_SWITCH) {
            details.insert("policies".to_string(), "disabled".to_string());
        }
        EventRecord {
            id: new_row_id(),
            realm_id: self.realm.id.clone(),
            time: now_millis(),
            kind: match error {
                Some(_) => format!("{}_ERROR", op.event()),
                None => op.event().to_string(),
            },
            client_id: client_id.map(str::to_string),
            user_id: caller.and_then(Caller::user_id),
            ip_address: self.ip.map(str::to_string),
            error: error.map(|e| e.error.to_string()),
            details,
        }
    }

    /// Records the outcome of `op` and passes it on.
    pub async fn outcome<T>(
        &self,
        op: Op,
        client_id: Option<&str>,
        caller: Option<&Caller>,
        result: Result<T, RegError>,
    ) -> Result<T, RegError> {
        self.record(op, client_id, caller, result.as_ref().err())
            .await;
        result
    }
}

/// The realm of a registration request: enabled, or 404.
pub async fn realm_or_404(state: &SharedState, name: &str) -> Result<RealmRecord, RegError> {
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

pub fn context(state: &SharedState) -> ValidationContext {
    ValidationContext {
        dev_mode: state.settings.dev_mode,
    }
}

/// Loads the path's client and authenticates the caller for `op` on it; a refusal is
/// recorded with the client id from the path.
pub async fn open(
    audit: &Audit<'_>,
    client_id: &str,
    headers: &HeaderMap,
    op: Op,
) -> Result<(ClientRecord, Caller), RegError> {
    let (state, realm) = (audit.state, audit.realm);
    let client = state
        .store
        .client_by_client_id(&realm.id, client_id)
        .await?;
    match authenticate(state, realm, headers, op, client.as_ref(), audit.ip).await {
        Ok(caller) => client.map(|c| (c, caller)).ok_or_else(RegError::not_found),
        Err(e) => audit.outcome(op, Some(client_id), None, Err(e)).await,
    }
}

/// Stores a new client with a fresh registration access token and its service account;
/// an initial access token's use is spent, and the `CLIENT_REGISTER` event stored, in the
/// same transaction. Returns the token.
pub async fn store_new(
    audit: &Audit<'_>,
    caller: &Caller,
    client: &mut ClientRecord,
    admitted: &Admitted,
) -> Result<String, RegError> {
    let (state, realm) = (audit.state, audit.realm);
    // A registrant never takes a built-in client's id, whatever its case.
    check_registered_client_id(&client.client_id, &realm.name)?;
    client
        .rep
        .attributes
        .get_or_insert_with(Default::default)
        .insert(
            REGISTRATION_AUTH_ATTRIBUTE.into(),
            caller.registration_auth().into(),
        );
    let rat = random_token::<32>();
    client.rat_hash = Some(hash_token(&rat));
    let service_account = new_service_account(state, realm, client)
        .await
        .map_err(|_| RegError::internal("service account"))?;
    let guard = WriteGuard {
        initial_access_token: match caller {
            Caller::InitialAccess(t) => Some(t.token_hash.clone()),
            _ => None,
        },
        max_clients: admitted.max_clients.as_ref().map(|(n, _)| *n),
        now_secs: now_millis() / 1000,
        event: Some(audit.event(Op::Create, Some(&client.client_id), Some(caller), None)),
        ..Default::default()
    };
    let bundle = ClientBundle {
        client: client.clone(),
        service_account,
    };
    match state.store.create_client(bundle, &guard).await {
        Ok(()) => Ok(rat),
        Err(StoreError::Precondition {
            failed: Guarded::MaxClients,
        }) => {
            let (max, name) = admitted.max_clients.clone().unwrap_or_default();
            Err(RegError::policy(
                &name,
                &format!("It's allowed to have max {max} clients per realm"),
            ))
        }
        Err(StoreError::Precondition { .. }) => Err(RegError::invalid_token(
            "No remaining count on initial access token",
        )),
        Err(StoreError::Conflict { .. }) => Err(RegError::metadata("Client Identifier in use")),
        Err(e) => Err(e.into()),
    }
}

/// Stores a replaced client and rotates its registration access token by compare-and-set:
/// with the token itself, the stored hash must still be the presented one (of two updates
/// with one token exactly one wins). Returns the new token.
pub async fn store_replaced(
    state: &SharedState,
    realm: &RealmRecord,
    caller: &Caller,
    headers: &HeaderMap,
    client: &mut ClientRecord,
) -> Result<String, RegError> {
    // The rules `new_client` applies on create hold for the replaced client too.
    check_client(&client.rep)?;
    if !client.rep.uses_secret() {
        client.secret_sealed = None;
    } else if client.secret_sealed.is_none() {
        let s = generate_secret();
        client.secret_sealed = Some(state.sealer.seal(s.as_bytes(), &secret_context(&client.id)));
    }
    let rat = random_token::<32>();
    let new_hash = hash_token(&rat);
    let guard = WriteGuard {
        expected_rat: match caller {
            Caller::RegistrationToken => bearer_token(headers).map(hash_token),
            _ => client.rat_hash.clone(),
        },
        new_rat: Some(new_hash.clone()),
        now_secs: now_millis() / 1000,
        ..Default::default()
    };
    let service_account = service_account_for(state, realm, client)
        .await
        .map_err(|_| RegError::internal("service account"))?;
    client.rat_hash = Some(new_hash);
    let bundle = ClientBundle {
        client: client.clone(),
        service_account,
    };
    match state.store.update_client(bundle, &guard).await {
        Ok(()) => Ok(rat),
        Err(StoreError::Precondition { .. }) => Err(RegError::invalid_token(
            "Not authorized to update client. Maybe missing token or bad token type.",
        )),
        Err(e) => Err(e.into()),
    }
}

/// What the policies let through: the client limit the store must hold the insert to.
#[derive(Debug, Clone, Default)]
pub struct Admitted {
    /// `(limit, policy name)`
    pub max_clients: Option<(i64, String)>,
}

/// The policy set a request runs under (of the realm's two, stored as Keycloak components
/// of `subType` `anonymous` and `authenticated`): anonymous callers the `anonymous` set,
/// tokens the `authenticated` one, and a registration access token the set its client was
/// registered under.
pub fn policy_set(caller: &Caller, client: Option<&ClientRecord>) -> &'static str {
    match caller {
        Caller::Anonymous => policies::ANONYMOUS,
        Caller::RegistrationToken => {
            let registered = client
                .and_then(|c| c.rep.attributes.as_ref())
                .and_then(|a| a.get(REGISTRATION_AUTH_ATTRIBUTE));
            if registered.map(String::as_str) == Some(policies::ANONYMOUS) {
                policies::ANONYMOUS
            } else {
                policies::AUTHENTICATED
            }
        }
        _ => policies::AUTHENTICATED,
    }
}

/// Addresses the trusted-hosts policies' host names resolve to, looked up asynchronously
/// with a time limit (no blocking DNS on the request path).
async fn resolve_trusted(
    components: &[latchkey_core::store::ComponentRecord],
) -> BTreeMap<String, Vec<std::net::IpAddr>> {
    let mut out = BTreeMap::new();
    for c in components
        .iter()
        .filter(|c| c.provider_id == policies::Provider::TrustedHosts.id())
    {
        for host in c.config.get("trusted-hosts").into_iter().flatten() {
            let name = host.to_ascii_lowercase();
            if name.is_empty()
                || name.starts_with("*.")
                || name == "localhost"
                || name.parse::<std::net::IpAddr>().is_ok()
                || out.contains_key(&name)
            {
                continue;
            }
            let lookup = tokio::net::lookup_host((name.clone(), 0));
            let ips = match tokio::time::timeout(std::time::Duration::from_secs(2), lookup).await {
                Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
                _ => Vec::new(),
            };
            out.insert(name, ips);
        }
    }
    out
}

/// A registration request as the providers' create and update steps see it.
pub struct RegRequest<'a> {
    pub caller: &'a Caller,
    /// The caller's address, for trusted-hosts.
    pub source: Option<std::net::IpAddr>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Runs the request's policy set on the client about to be stored: `existing` is
/// the client being updated (`None` on create). Refusals are 403 with Keycloak's text; on
/// create, the policies' effects are applied to `client`. With
/// `clientRegistrationPoliciesEnabled` off, nothing runs.
pub async fn enforce(
    state: &SharedState,
    realm: &RealmRecord,
    req: &RegRequest<'_>,
    existing: Option<&ClientRecord>,
    client: &mut latchkey_core::rep::ClientRep,
    requested_scopes: &[String],
    scopes: &latchkey_core::clients::ScopeDefaults,
) -> Result<Admitted, RegError> {
    if !switch(realm, POLICIES_SWITCH) {
        return Ok(Admitted::default());
    }
    let sub_type = policy_set(req.caller, existing);
    let action = if existing.is_some() {
        Action::Update
    } else {
        Action::Create
    };
    let components = state.store.list_components(&realm.id).await?;
    let admitted = match action {
        Action::Create => Admitted {
            max_clients: policies::apply_on_create(&components, sub_type, client).max_clients,
        },
        Action::Update => Admitted::default(),
    };
    let resolved = resolve_trusted(&components).await;
    let request = policies::Request {
        action,
        source: req.source,
        resolved_hosts: &resolved,
        client,
        previous: existing.map(|c| &c.rep),
        requested_scopes,
        realm_scopes: &scopes.offered,
        // The store enforces the limit atomically; no count is needed here.
        client_count: None,
    };
    for verdict in policies::evaluate(&components, sub_type, &request) {
        if let Some(why) = verdict.refusal {
            return Err(RegError::policy(&verdict.name, &why));
        }
    }
    Ok(admitted)
}

/// The realm's client scopes, loaded once per registration request.
pub async fn realm_scopes(
    state: &SharedState,
    realm: &RealmRecord,
) -> Result<Arc<latchkey_core::clients::ScopeDefaults>, RegError> {
    crate::service::clients::scope_defaults(state, realm)
        .await
        .map_err(|_| RegError::internal("scope defaults"))
}

/// The origins allowed to call the `openid-connect` endpoint from a browser: those of the
/// realm's live initial access tokens and of its registration-web-origins policies.
pub async fn allowed_origin(
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
pub fn with_cors(mut resp: Response, origin: Option<HeaderValue>) -> Response {
    if let Some(o) = origin {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Location"),
        );
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

/// JSON bodies must say so in `Content-Type`: anything else is `invalid_client_metadata`.
pub fn require_json(headers: &HeaderMap) -> Result<(), RegError> {
    let ok = headers
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
