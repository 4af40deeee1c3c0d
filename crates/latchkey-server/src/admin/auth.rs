//! The caller of an admin endpoint, as an extractor: `AdminAuth` (defined with the
//! operations, in `service/`) from the request's bearer token.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use latchkey_core::roles::expand;

use crate::bearer::{BearerError, bearer_token, verify_access_token};
use crate::error::AdminError;
use crate::extract::ClientAddr;
use crate::service::AdminAuth;
use crate::state::SharedState;

/// The caller of an admin endpoint: a valid bearer access token of some realm, whose
/// subject is an enabled user. Roles are read from the store at each request (not from
/// the token), so a revoked role or deleted user stops working at once. The rights in the
/// realm addressed are checked next, by `AdminAuth::realm` in the handler.
impl FromRequestParts<SharedState> for AdminAuth {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).ok_or(AdminError::Unauthorized)?;
        let verified = match verify_access_token(state, token, None).await {
            Ok(v) => v,
            Err(BearerError::Invalid) => return Err(AdminError::Unauthorized),
            Err(BearerError::Internal(e)) => return Err(AdminError::Internal(e)),
        };
        let Ok(ClientAddr(ip_address)) = ClientAddr::from_request_parts(parts, state).await;
        let direct = state.store.user_role_ids(&verified.user.id).await?;
        let all = state.store.all_roles(&verified.realm.id).await?;
        Ok(AdminAuth {
            realm: verified.realm.name,
            effective: expand(&direct, &all),
            user: verified.user,
            client: verified.client.id,
            ip_address: ip_address.unwrap_or_default(),
        })
    }
}
