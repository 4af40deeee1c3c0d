//! Authorization codes at the token endpoint: redeeming a code the authorization endpoint
//! (`authorize.rs`) issued, and revoking what a code issued when it is replayed.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_core::Millis;
use latchkey_core::crypto::{ct_eq, hash_token, new_uuid};
use latchkey_core::store::{ClientRecord, RealmRecord, TransientRecord};
use serde_json::{Value, json};

use super::client_auth::Params;
use super::mint::{Grant, Session, issue, resolve_scope, revoked_until};
use super::resource;
use crate::error::{OAuthCode, OAuthError};
use crate::state::SharedState;
use crate::urls::BaseUrl;

/// Issued codes in the store's transient table, by hash, taken once.
pub(super) const CODE: &str = "code";
/// Redeemed codes (by hash): the login session a code began, revoked if the code comes back.
const SPENT_CODE: &str = "spent-code";

/// The `authorization_code` grant: the code is taken once; a second redemption revokes what
/// the first issued (RFC 6749 §4.1.2); PKCE S256 (RFC 7636 §4.6).
pub async fn redeem_code(
    state: &SharedState,
    base: &BaseUrl,
    realm: &RealmRecord,
    client: &ClientRecord,
    p: &Params,
    addr: Option<String>,
    now: Millis,
) -> Result<Value, OAuthError> {
    let code = p.require("code")?;
    let invalid = |d: &str| OAuthError::new(OAuthCode::InvalidGrant, d);
    let hash = hash_token(code);
    // The owner is checked before the code is spent: another client (of this realm or any
    // other) presenting it is refused without burning the owner's code. So are the
    // resources (RFC 8707): a code is redeemed only for those it was issued for. Codes
    // never change, so what is peeked is what is taken.
    let taken = match state.store.get_transient(CODE, &hash, now).await? {
        Some(peeked) => {
            if peeked.get("client").and_then(Value::as_str) != Some(client.id.as_str()) {
                return Err(invalid("Code was issued to another client"));
            }
            let granted = resource::stored(&peeked);
            resource::narrowed(state, realm, client, &granted, p.all("resource")).await?;
            // The tombstone is left by the take itself, before anything is minted: a
            // concurrent redemption that finds the code gone finds it, and revokes the
            // session the winner's tokens belong to.
            let session = peeked
                .get("session")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(new_uuid);
            let tombstone = TransientRecord {
                kind: SPENT_CODE.into(),
                id: hash.clone(),
                realm_id: realm.id.clone(),
                data: json!({"session": session, "realm": realm.id}),
                expires_at: now + 3_600_000,
            };
            state
                .store
                .take_transient_leaving(CODE, &hash, now, &tombstone)
                .await?
                .map(|data| (data, session))
        }
        None => None,
    };
    let Some((data, session_id)) = taken else {
        // A replay revokes the session the code began, every token of it (RFC 6749
        // §4.1.2), but only when it comes from the realm the code belongs to (a code
        // leaked to another realm is just refused there).
        if let Some(spent) = state.store.get_transient(SPENT_CODE, &hash, now).await?
            && spent
                .get("realm")
                .and_then(Value::as_str)
                .is_none_or(|r| r == realm.id) // (tombstones from before realms were recorded)
            && state
                .store
                .take_transient(SPENT_CODE, &hash, now)
                .await?
                .is_some()
        {
            tracing::warn!("authorization code replayed; revoking what it issued");
            if let Some(jti) = spent.get("jti").and_then(Value::as_str) {
                // (tombstones from before the session was revoked as a whole)
                state
                    .store
                    .revoke_jti(&realm.id, jti, now + 3_600_000)
                    .await?;
            }
            if let Some(s) = spent.get("session").and_then(Value::as_str) {
                let until = revoked_until(realm, now, true);
                state
                    .store
                    .revoke_session(&realm.id, s, false, until)
                    .await?;
            }
        }
        return Err(invalid("Code not valid"));
    };
    let field = |k: &str| data.get(k).and_then(Value::as_str);
    if field("client") != Some(client.id.as_str()) {
        return Err(invalid("Code was issued to another client"));
    }
    if data
        .get("redirect_sent")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        && p.get("redirect_uri") != field("redirect_uri")
    {
        return Err(invalid("Incorrect redirect_uri"));
    }
    match (field("challenge"), p.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            let computed = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
            if !ct_eq(computed.as_bytes(), challenge.as_bytes()) {
                return Err(invalid(
                    "PKCE verification failed: code_verifier does not match",
                ));
            }
        }
        (Some(_), None) => return Err(invalid("Missing parameter: code_verifier")),
        (None, Some(_)) => {
            return Err(invalid(
                "PKCE verification failed: no code_challenge was sent",
            ));
        }
        (None, None) => {}
    }
    let user = state
        .store
        .user(&realm.id, field("user").unwrap_or(""))
        .await?
        .filter(|u| u.rep.enabled.unwrap_or(false))
        .ok_or_else(|| invalid("User not found or disabled"))?;
    let scope = resolve_scope(state, realm, client, field("scope")).await?;
    let granted = resource::stored(&data);
    let resources = resource::narrowed(state, realm, client, &granted, p.all("resource")).await?;
    let session = Session {
        id: session_id,
        auth_time: data.get("auth_time").and_then(Value::as_i64).unwrap_or(now),
    };
    let grant = Grant {
        grant_type: "authorization_code",
        realm,
        client,
        user: &user,
        scope,
        session: Some(session),
        client_address: addr,
        nonce: field("nonce").map(str::to_string),
        resources,
    };
    Ok(issue(state, base, grant, now).await?.response)
}
