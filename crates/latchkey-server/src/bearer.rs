//! Access tokens presented as `Authorization: Bearer`: signature against the issuing
//! realm's keys, type, expiry, revocation (of the token, of its login session or of its
//! client's part of the session), and that the user and the client it was issued to still
//! exist and are enabled, so deleting or disabling either stops its tokens at once.

use axum::http::{HeaderMap, header};
use latchkey_core::jwt;
use latchkey_core::store::{ClientRecord, RealmRecord, Revocable, UserRecord};
use serde_json::Value;

use crate::state::{SharedState, now_millis};

/// A verified access token and who it speaks for.
pub struct VerifiedToken {
    pub realm: RealmRecord,
    pub claims: Value,
    pub user: UserRecord,
    pub client: ClientRecord,
}

#[derive(Debug)]
pub enum BearerError {
    /// Not a valid, live access token.
    Invalid,
    /// The store failed; the text is for logs.
    Internal(String),
}

/// The bearer token of the `Authorization` header, if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
}

/// True for a compact JWS (three dot-separated parts); opaque tokens have no dots.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// Verifies an access token. `realm` limits it to one realm's tokens (the registration
/// endpoint); `None` accepts any realm's (the admin API, which then decides by realm).
pub async fn verify_access_token(
    state: &SharedState,
    token: &str,
    realm: Option<&RealmRecord>,
) -> Result<VerifiedToken, BearerError> {
    let internal = |e: String| BearerError::Internal(e);
    let parsed = jwt::parse(token).map_err(|_| BearerError::Invalid)?;
    let realm_name = parsed
        .claim_str("iss")
        .and_then(|iss| iss.rsplit_once("/realms/"))
        .and_then(|(_, name)| crate::urls::decode_segment(name))
        .ok_or(BearerError::Invalid)?;
    let realm = match realm {
        Some(r) if r.name == realm_name => r.clone(),
        Some(_) => return Err(BearerError::Invalid),
        None => state
            .store
            .realm_by_name(&realm_name)
            .await
            .map_err(|e| internal(e.to_string()))?
            .filter(|r| r.rep.enabled.unwrap_or(false))
            .ok_or(BearerError::Invalid)?,
    };
    let keys = state.realm_keys(&realm).await.map_err(internal)?;
    let claims = parsed
        .verify(&keys.jwks)
        .map_err(|_| BearerError::Invalid)?;
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if claims.get("typ").and_then(Value::as_str) != Some("Bearer") || exp * 1000 <= now_millis() {
        return Err(BearerError::Invalid);
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .ok_or(BearerError::Invalid)?;
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or(BearerError::Invalid)?;
    let azp = claims
        .get("azp")
        .and_then(Value::as_str)
        .ok_or(BearerError::Invalid)?;
    // The client first: its id names its part of the login session below.
    let client = state
        .store
        .client_by_client_id(&realm.id, azp)
        .await
        .map_err(|e| internal(e.to_string()))?
        .filter(|c| c.rep.is_enabled())
        .ok_or(BearerError::Invalid)?;
    // RFC 7009: a revoked access token stops working everywhere at once, and so does one
    // whose login session (`sid`) was revoked (a logout, a replayed code or refresh
    // token), as Keycloak checks the user session behind a token, or whose client's part
    // of the session was (a revoked refresh token: RFC 7009 §2.1, Keycloak's client
    // session); a logout, or a revoked online refresh token, spares offline tokens. One
    // query for all of it.
    let revocable = Revocable {
        jti: Some(jti),
        session: claims.get("sid").and_then(Value::as_str),
        client: Some(&client.id),
        offline: claims
            .get("scope")
            .and_then(Value::as_str)
            .is_some_and(|s| s.split(' ').any(|w| w == "offline_access")),
    };
    if state
        .store
        .is_revoked(&revocable)
        .await
        .map_err(|e| internal(e.to_string()))?
    {
        return Err(BearerError::Invalid);
    }
    let user = state
        .store
        .user(&realm.id, sub)
        .await
        .map_err(|e| internal(e.to_string()))?
        .filter(|u| u.rep.enabled.unwrap_or(false))
        .ok_or(BearerError::Invalid)?;
    Ok(VerifiedToken {
        realm,
        claims,
        user,
        client,
    })
}
