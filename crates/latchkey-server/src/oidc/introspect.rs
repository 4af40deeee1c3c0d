//! Token introspection (RFC 7662) and revocation (RFC 7009). The caller authenticates as
//! a client of the realm; any confidential client may introspect the realm's tokens, as
//! in Keycloak; a client may revoke only the tokens issued to it.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_core::crypto::hash_token;
use latchkey_core::jwt;
use latchkey_core::store::{ClientRecord, RealmRecord};
use serde_json::{Value, json};

use super::client_auth::{Params, audiences, authenticate, credentials};
use super::mint::revoked_until;
use super::realm::enabled_realm;
use super::resource;
use crate::bearer::{BearerError, looks_like_jwt, verify_access_token};
use crate::error::{OAuthCode, OAuthError, no_store};
use crate::state::{SharedState, now_millis};
use crate::urls::BaseUrl;

fn json_no_store(v: Value) -> Response {
    let mut resp = axum::Json(v).into_response();
    no_store(&mut resp);
    resp
}

/// The realm, the request's parameters and the client calling (RFC 7662 §2.1 and RFC 7009
/// §2.1: the caller authenticates as a client of the realm).
async fn authenticated(
    state: &SharedState,
    base: &BaseUrl,
    realm_name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(RealmRecord, Params, ClientRecord), OAuthError> {
    let realm = enabled_realm(state, realm_name)
        .await
        .map_err(OAuthError::Internal)?
        .ok_or(OAuthError::UnknownRealm)?;
    let p = Params::parse(headers, body)?;
    let caller = authenticate(
        state,
        &realm,
        &credentials(headers, &p)?,
        &audiences(base, &realm.name),
        None,
    )
    .await?;
    Ok((realm, p, caller))
}

pub async fn introspect(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path(realm_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match inspect(&state, &base, &realm_name, &headers, &body).await {
        Ok(v) => json_no_store(v),
        Err(e) => e.into_response(),
    }
}

async fn inspect(
    state: &SharedState,
    base: &BaseUrl,
    realm_name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, OAuthError> {
    let (realm, p, caller) = authenticated(state, base, realm_name, headers, body).await?;
    if caller.rep.is_public() {
        return Err(OAuthError::invalid_client(
            "Public clients may not introspect tokens",
            false,
        ));
    }
    let token = p.require("token")?;
    let inactive = json!({"active": false});
    if looks_like_jwt(token) {
        // Another realm's token fails verification here: inactive, not an error.
        return match verify_access_token(state, token, Some(&realm)).await {
            Ok(v) => {
                let mut out = v.claims;
                out["active"] = json!(true);
                out["client_id"] = json!(v.client.client_id);
                out["username"] = json!(v.user.username);
                out["token_type"] = json!("Bearer");
                Ok(out)
            }
            Err(BearerError::Invalid) => Ok(inactive),
            Err(BearerError::Internal(e)) => Err(OAuthError::Internal(e)),
        };
    }
    let Some(rt) = state.store.refresh_token(&hash_token(token)).await? else {
        return Ok(inactive);
    };
    if rt.realm_id != realm.id || rt.expires_at <= now_millis() {
        return Ok(inactive);
    }
    let client = state
        .store
        .client(&realm.id, &rt.client_uuid)
        .await?
        .filter(|c| c.rep.is_enabled());
    let user = state
        .store
        .user(&realm.id, &rt.user_id)
        .await?
        .filter(|u| u.rep.enabled.unwrap_or(false));
    let (Some(client), Some(user)) = (client, user) else {
        return Ok(inactive);
    };
    let mut out = json!({
        "active": true,
        "token_type": if rt.scope.split(' ').any(|s| s == "offline_access") { "Offline" } else { "Refresh" },
        "client_id": client.client_id,
        "username": user.username,
        "sub": user.id,
        "scope": rt.scope,
        "exp": rt.expires_at / 1000,
        "sid": rt.session_id,
        "iss": base.issuer(&realm.name),
    });
    // RFC 7662 §2.2 `aud`: the resources the refresh token was granted for (RFC 8707).
    if let Some(aud) = resource::aud(&rt.resources) {
        out["aud"] = aud;
    }
    Ok(out)
}

/// RFC 7009 §2.2: 200 whether or not the token was valid. A token issued to another client
/// of the realm is refused and left alone (§2.1: the server verifies that the token was
/// issued to the client making the request, and refuses the request otherwise), with
/// Keycloak's answer: 400 `invalid_request`, "Unmatching clients".
pub async fn revoke(
    State(state): State<SharedState>,
    base: BaseUrl,
    Path(realm_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match revoke_token(&state, &base, &realm_name, &headers, &body).await {
        Ok(()) => json_no_store(json!({})),
        Err(e) => e.into_response(),
    }
}

async fn revoke_token(
    state: &SharedState,
    base: &BaseUrl,
    realm_name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), OAuthError> {
    let (realm, p, caller) = authenticated(state, base, realm_name, headers, body).await?;
    let token = p.require("token")?;
    if let Some(hint) = p.get("token_type_hint")
        && !matches!(hint, "access_token" | "refresh_token")
    {
        return Err(OAuthError::new(
            OAuthCode::UnsupportedTokenType,
            format!("Unsupported token_type_hint: {hint}"),
        ));
    }
    if looks_like_jwt(token) {
        let Ok(parsed) = jwt::parse(token) else {
            return Ok(());
        };
        let keys = state
            .realm_keys(&realm)
            .await
            .map_err(OAuthError::Internal)?;
        let Ok(claims) = parsed.verify(&keys.jwks) else {
            return Ok(());
        };
        let azp = claims.get("azp").and_then(Value::as_str);
        let jti = claims.get("jti").and_then(Value::as_str);
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if let (Some(azp), Some(jti)) = (azp, jti) {
            if azp != caller.client_id {
                return Err(unmatching());
            }
            state.store.revoke_jti(&realm.id, jti, exp * 1000).await?;
        }
        return Ok(());
    }
    // A refresh token of the caller's is taken in line with its rotations (the group
    // commit): of a revocation and a refresh racing on one token, one takes it, and the
    // take ends the caller's part of the login session with it: the access tokens of the
    // same grant (RFC 7009 §2.1 SHOULD) and any other token of the caller's in that
    // session, as Keycloak ends the client's session; the session's other clients stay
    // signed in. A revoked online token spares the caller's offline tokens. A token the
    // caller rotated already (a refresh won, or it is an old one coming back) is a
    // replay: its session is revoked, the current token with it, as the refresh grant
    // does. Another client's token, current or rotated, is refused and left alone; one of
    // another realm is no token here.
    let hash = hash_token(token);
    let now = now_millis();
    let taken = match state.store.refresh_token(&hash).await? {
        Some(rt) if rt.realm_id != realm.id => return Ok(()),
        Some(rt) if rt.client_uuid != caller.id => return Err(unmatching()),
        Some(rt) => {
            let offline = rt.scope.split(' ').any(|w| w == "offline_access");
            let until = revoked_until(&realm, now, offline);
            state.store.revoke_refresh_token(&rt, until).await?
        }
        None => false,
    };
    if !taken
        && super::token::replayed(state, &realm, &caller, &hash, now).await?
            == super::token::Spent::ByAnotherClient
    {
        return Err(unmatching());
    }
    Ok(())
}

fn unmatching() -> OAuthError {
    OAuthError::new(OAuthCode::InvalidRequest, "Unmatching clients")
}
