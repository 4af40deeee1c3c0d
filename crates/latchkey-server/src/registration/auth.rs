//! Who may register: the kinds of caller (`Caller`), how a request's caller is told
//! (`Context::authenticate`), and the rate limits on anonymous creates and failed tokens.

use axum::http::StatusCode;
use latchkey_core::crypto::{ct_eq, hash_token};
use latchkey_core::roles::{AdminRights, Right, expand};
use latchkey_core::store::{ClientRecord, InitialAccessRecord};

use super::error::RegError;
use super::request::{Context, Op};
use crate::bearer::{BearerError, bearer_token, looks_like_jwt, verify_access_token};
use crate::service::switches::{ANONYMOUS_SWITCH, AUTHENTICATED_SWITCH, switch};
use crate::state::now_millis;

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

/// The realm attribute that sets its own anonymous registration limit per address and
/// window (a number; `0` is none), overriding `--anonymous-registration-limit`: several
/// hosted clients can share one egress address.
pub const ANONYMOUS_LIMIT_ATTRIBUTE: &str = "clientRegistrationAnonymousLimit";

impl Context {
    /// Decides who the caller is for `op` on `client` (the path's client, when it exists),
    /// following `Caller` (what each kind of caller may do) and Keycloak's error texts. The
    /// caller's address is rate-limited: anonymous registrations as they come, per realm;
    /// registration and initial access tokens only when they fail. A valid token is always
    /// served, however many failures its address made before.
    pub(super) async fn authenticate(
        &self,
        op: Op,
        client: Option<&ClientRecord>,
    ) -> Result<Caller, RegError> {
        let (state, realm) = (&self.state, &self.realm);
        let key = crate::limits::address_key(self.addr.0.as_deref());
        match bearer_token(&self.headers) {
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
                let result = self.identify(op, client).await;
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
        self.identify(op, client).await
    }

    /// Loads the path's client, then authenticates the caller for `op` on it: a refusal is
    /// recorded with the client id from the path; a client that is not there is 404 once
    /// the caller is authenticated.
    pub(super) async fn load_and_authenticate(
        &self,
        client_id: &str,
        op: Op,
    ) -> Result<(ClientRecord, Caller), RegError> {
        let client = self
            .state
            .store
            .client_by_client_id(&self.realm.id, client_id)
            .await?;
        match self.authenticate(op, client.as_ref()).await {
            Ok(caller) => {
                let client = client.ok_or_else(RegError::not_found)?;
                // The client itself reading or updating its registration is a use of it.
                if matches!(caller, Caller::RegistrationToken) {
                    self.state.client_used(&client, now_millis());
                }
                Ok((client, caller))
            }
            Err(e) => self.outcome(op, Some(client_id), None, Err(e)).await,
        }
    }

    /// `authenticate` without the rate limits.
    async fn identify(&self, op: Op, client: Option<&ClientRecord>) -> Result<Caller, RegError> {
        let (state, realm) = (&self.state, &self.realm);
        let unauthorized = || match op {
            Op::Create => RegError::invalid_token("Failed decode token"),
            Op::View => RegError::invalid_token(
                "Not authorized to view client. Not valid token or client credentials provided.",
            ),
            Op::Update | Op::Delete => RegError::invalid_token(
                "Not authorized to update client. Maybe missing token or bad token type.",
            ),
        };
        let Some(token) = bearer_token(&self.headers) else {
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
            let allowed = AdminRights::new(&realm.name, &realm.name, &roles)
                .is_some_and(|r| r.allows(needed));
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
}
