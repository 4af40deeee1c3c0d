//! Minting tokens: JWT access tokens with the claims Keycloak issues (`iss`, `sub`, `aud`,
//! `azp`, `scope`, `realm_access`, `resource_access`, `preferred_username`, …), OIDC ID
//! tokens, and opaque refresh tokens stored only as hashes.

use std::collections::BTreeSet;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_core::Millis;
use latchkey_core::crypto::{hash_token, new_uuid, random_token};
use latchkey_core::roles::expand;
use latchkey_core::store::{
    ClientRecord, RealmRecord, RefreshTokenRecord, TransientRecord, UserRecord,
};
use latchkey_core::{jwt, keys::Alg};
use serde_json::{Map, Value, json};

use super::resource::Resources;
use crate::error::{OAuthCode, OAuthError};
use crate::state::SharedState;
use crate::urls::BaseUrl;

/// The scopes a token request was granted.
#[derive(Debug, Clone)]
pub struct GrantedScope {
    /// client scope names (default scopes plus the requested optional ones)
    pub names: Vec<String>,
    pub openid: bool,
    /// the `scope` claim / response member: `openid` and the scopes shown in tokens
    pub claim: String,
}

impl GrantedScope {
    fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// The stored form on a refresh token: space-separated names, `openid` first if asked.
    pub fn stored(&self) -> String {
        let mut v: Vec<&str> = Vec::new();
        if self.openid {
            v.push("openid");
        }
        v.extend(self.names.iter().map(String::as_str));
        v.join(" ")
    }
}

/// Decides the granted scopes: the client's default scopes always; requested scopes must
/// be among its optional (or default) scopes, else `invalid_scope`.
pub async fn resolve_scope(
    state: &SharedState,
    realm: &RealmRecord,
    client: &ClientRecord,
    requested: Option<&str>,
) -> Result<GrantedScope, OAuthError> {
    let defaults = client.rep.default_client_scopes.clone().unwrap_or_default();
    let optional = client
        .rep
        .optional_client_scopes
        .clone()
        .unwrap_or_default();
    let mut names = defaults.clone();
    let mut openid = false;
    for s in requested.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        if s == "openid" {
            openid = true;
        } else if optional.iter().any(|o| o == s) {
            if !names.iter().any(|n| n == s) {
                names.push(s.to_string());
            }
        } else if !defaults.iter().any(|d| d == s) {
            return Err(OAuthError::new(
                OAuthCode::InvalidScope,
                format!("Invalid scopes: {s}"),
            ));
        }
    }
    let scope_records = state.store.list_scopes(&realm.id).await?;
    let mut claim: Vec<&str> = Vec::new();
    if openid {
        claim.push("openid");
    }
    for n in &names {
        let shown = scope_records
            .iter()
            .find(|s| &s.name == n)
            .is_some_and(|s| {
                s.rep
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get("include.in.token.scope"))
                    .is_none_or(|v| v == "true")
            });
        if shown {
            claim.push(n);
        }
    }
    Ok(GrantedScope {
        claim: claim.join(" "),
        names,
        openid,
    })
}

/// A login session (password grant and its refreshes).
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub auth_time: Millis,
}

pub struct Grant<'a> {
    pub grant_type: &'static str,
    pub realm: &'a RealmRecord,
    pub client: &'a ClientRecord,
    pub user: &'a UserRecord,
    pub scope: GrantedScope,
    /// `Some` issues a refresh token (and `sid`) for this session.
    pub session: Option<Session>,
    pub client_address: Option<String>,
    /// The authorization request's `nonce`, echoed in the ID token (OIDC Core §3.1.2.1).
    pub nonce: Option<String>,
    /// The resources asked for (RFC 8707): the access token's `aud`, what a refresh token
    /// keeps.
    pub resources: Resources,
}

/// Until when a login session revoked at `now` must stay remembered as revoked
/// (`Store::revoke_session`): past the expiry of every token it issued up to then, an
/// access token, a refresh token and, when the revocation takes them too, offline tokens
/// (each refresh extends those by the offline idle timeout, from their last refresh). A
/// minute more covers a rotation read before the revocation and stored just after it.
pub fn revoked_until(realm: &RealmRecord, now: Millis, offline_too: bool) -> Millis {
    let access = realm.rep.access_token_lifespan.unwrap_or(300).max(1);
    let refresh = realm.rep.sso_session_idle_timeout.unwrap_or(1800).max(1);
    let offline = match offline_too {
        true => realm
            .rep
            .offline_session_idle_timeout
            .unwrap_or(2_592_000)
            .max(1),
        false => 0,
    };
    let secs = access.max(refresh).max(offline).saturating_add(60);
    now.saturating_add(secs.saturating_mul(1000))
}

/// What `issue` hands out: the token response.
pub struct Issued {
    pub response: Value,
}

/// Issues the token response for a grant that passed every check, its refresh token
/// stored.
pub async fn issue(
    state: &SharedState,
    base: &BaseUrl,
    g: Grant<'_>,
    now: Millis,
) -> Result<Issued, OAuthError> {
    let grant_type = g.grant_type;
    let (issued, refresh) = mint(state, base, g, now).await?;
    if let Some(refresh) = refresh {
        state.store.insert_refresh_token(&refresh).await?;
    }
    state.metrics.token_issued(grant_type);
    Ok(issued)
}

/// Issues a refresh's response (RFC 6749 §6): as `issue`, its refresh token stored by
/// rotating `spent` in the same transaction, which leaves `tombstone` behind
/// (`Store::rotate_refresh_token`). `None`: another request spent the token first, or it
/// expired; nothing was stored and the response is dropped unsent.
pub async fn issue_rotating(
    state: &SharedState,
    base: &BaseUrl,
    g: Grant<'_>,
    now: Millis,
    spent: &str,
    tombstone: &TransientRecord,
) -> Result<Option<Issued>, OAuthError> {
    let grant_type = g.grant_type;
    let (issued, refresh) = mint(state, base, g, now).await?;
    let next = refresh.ok_or_else(|| OAuthError::Internal("a refresh without a session".into()))?;
    if !state
        .store
        .rotate_refresh_token(spent, now, tombstone, &next)
        .await?
    {
        return Ok(None);
    }
    state.metrics.token_issued(grant_type);
    Ok(Some(issued))
}

/// The response for a grant and the refresh token to store with it (a session's grants);
/// writes nothing.
async fn mint(
    state: &SharedState,
    base: &BaseUrl,
    g: Grant<'_>,
    now: Millis,
) -> Result<(Issued, Option<RefreshTokenRecord>), OAuthError> {
    // The user's effective roles, read once: for the token's role claims, and because
    // Keycloak issues an offline token only to a user who holds the `offline_access` role
    // (directly or through a composite, the default roles' by default), at every grant
    // that makes a refresh token, refreshes included. Checked before anything is signed.
    let offline = g.session.is_some() && g.scope.has("offline_access");
    let roles_claim = g.scope.has("roles") && g.client.rep.full_scope();
    let effective = if offline || roles_claim {
        let direct = state.store.user_role_ids(&g.user.id).await?;
        let all = state.store.all_roles(&g.realm.id).await?;
        Some(expand(&direct, &all))
    } else {
        None
    };
    if offline
        && !effective
            .as_ref()
            .is_some_and(|e| e.realm.iter().any(|r| r == "offline_access"))
    {
        return Err(OAuthError::new(
            OAuthCode::NotAllowed,
            "Offline tokens not allowed for the user or client",
        ));
    }
    let realm_name = &g.realm.name;
    let issuer = base.issuer(realm_name);
    let lifespan = g.realm.rep.access_token_lifespan.unwrap_or(300).max(1);
    let iat = now / 1000;
    let exp = iat + lifespan;

    let mut claims = Map::new();
    claims.insert("exp".into(), json!(exp));
    claims.insert("iat".into(), json!(iat));
    claims.insert("jti".into(), json!(new_uuid()));
    claims.insert("iss".into(), json!(issuer));
    claims.insert("sub".into(), json!(g.user.id));
    claims.insert("typ".into(), json!("Bearer"));
    claims.insert("azp".into(), json!(g.client.client_id));
    if let Some(s) = &g.session {
        claims.insert("sid".into(), json!(s.id));
    }
    claims.insert("acr".into(), json!("1"));
    // The web-origins scope puts the client's web origins in the token (Keycloak's
    // allowed-origins claim).
    let origins = g.client.rep.web_origins.clone().unwrap_or_default();
    if g.scope.has("web-origins") && !origins.is_empty() {
        claims.insert("allowed-origins".into(), json!(origins));
    }

    if roles_claim && let Some(eff) = &effective {
        if !eff.realm.is_empty() {
            claims.insert("realm_access".into(), json!({"roles": eff.realm}));
        }
        let mut resource = Map::new();
        let mut audience: BTreeSet<&str> = BTreeSet::new();
        for (client_id, roles) in &eff.client {
            resource.insert(client_id.clone(), json!({"roles": roles}));
            if client_id != &g.client.client_id {
                audience.insert(client_id);
            }
        }
        if !resource.is_empty() {
            claims.insert("resource_access".into(), Value::Object(resource));
        }
        // Keycloak's audience: the clients whose roles the token carries, but not the
        // client itself.
        match audience.len() {
            0 => {}
            1 => {
                claims.insert("aud".into(), json!(audience.iter().next()));
            }
            _ => {
                claims.insert("aud".into(), json!(audience));
            }
        }
    }
    // RFC 8707 §2: a token for named resources is for them alone; without any, the
    // audience stays Keycloak's.
    if let Some(aud) = g.resources.aud() {
        claims.insert("aud".into(), aud);
    }
    claims.insert("scope".into(), json!(g.scope.claim));
    let profile = user_claims(&g.scope, g.user);
    claims.extend(profile.clone());
    if g.user.service_account_client.is_some() {
        claims.insert("client_id".into(), json!(g.client.client_id));
        if let Some(addr) = &g.client_address {
            claims.insert("clientHost".into(), json!(addr));
            claims.insert("clientAddress".into(), json!(addr));
        }
    }

    let keys = state
        .realm_keys(g.realm)
        .await
        .map_err(OAuthError::Internal)?;
    let alg = g
        .realm
        .rep
        .default_signature_algorithm
        .as_deref()
        .and_then(Alg::parse)
        .unwrap_or(Alg::Rs256);
    let signer = keys
        .signer(alg.as_str())
        .ok_or_else(|| OAuthError::Internal(format!("realm has no {} key", alg.as_str())))?;
    let access_token = jwt::sign(signer, &Value::Object(claims))
        .map_err(|e| OAuthError::Internal(e.to_string()))?;

    let mut resp = Map::new();
    resp.insert("access_token".into(), json!(access_token));
    resp.insert("expires_in".into(), json!(lifespan));
    resp.insert("token_type".into(), json!("Bearer"));
    resp.insert("not-before-policy".into(), json!(0));
    resp.insert("scope".into(), json!(g.scope.claim));

    let mut stored = None;
    if let Some(session) = &g.session {
        if g.scope.openid {
            let id_token = id_token(&issuer, &g, session, &access_token, iat, exp, profile);
            // The client's choice, else the realm's default algorithm (as Keycloak).
            let chosen = latchkey_core::registration::convert::id_token_alg(&g.client.rep)
                .as_deref()
                .and_then(Alg::parse)
                .unwrap_or(alg);
            let id_signer = keys.signer(chosen.as_str()).unwrap_or(signer);
            let signed =
                jwt::sign(id_signer, &id_token).map_err(|e| OAuthError::Internal(e.to_string()))?;
            resp.insert("id_token".into(), json!(signed));
        }
        let idle = g.realm.rep.sso_session_idle_timeout.unwrap_or(1800).max(1);
        let max = g.realm.rep.sso_session_max_lifespan.unwrap_or(36000).max(1);
        let session_end = session.auth_time / 1000 + max;
        // offline_access: a refresh token that outlives the browser session (Keycloak's
        // offline session), bounded by the realm's offline idle timeout.
        let refresh_exp = if offline {
            iat + g
                .realm
                .rep
                .offline_session_idle_timeout
                .unwrap_or(2_592_000)
                .max(1)
        } else {
            (iat + idle).min(session_end)
        };
        let refresh = random_token::<32>();
        stored = Some(RefreshTokenRecord {
            hash: hash_token(&refresh),
            realm_id: g.realm.id.clone(),
            client_uuid: g.client.id.clone(),
            user_id: g.user.id.clone(),
            scope: g.scope.stored(),
            session_id: session.id.clone(),
            auth_time: session.auth_time,
            expires_at: refresh_exp * 1000,
            resources: g.resources.granted.clone(),
        });
        resp.insert("refresh_token".into(), json!(refresh));
        // Keycloak reports 0 for offline tokens.
        resp.insert(
            "refresh_expires_in".into(),
            json!(if offline { 0 } else { refresh_exp - iat }),
        );
        resp.insert("session_state".into(), json!(session.id));
    } else {
        resp.insert("refresh_expires_in".into(), json!(0));
    }
    let issued = Issued {
        response: Value::Object(resp),
    };
    Ok((issued, stored))
}

/// Claims of the `profile` and `email` scopes.
fn user_claims(scope: &GrantedScope, user: &UserRecord) -> Map<String, Value> {
    let mut c = Map::new();
    let u = &user.rep;
    if scope.has("profile") {
        c.insert("preferred_username".into(), json!(user.username));
        let names: Vec<&str> = [u.first_name.as_deref(), u.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !names.is_empty() {
            c.insert("name".into(), json!(names.join(" ")));
        }
        if let Some(f) = &u.first_name {
            c.insert("given_name".into(), json!(f));
        }
        if let Some(l) = &u.last_name {
            c.insert("family_name".into(), json!(l));
        }
    }
    if scope.has("email") {
        c.insert(
            "email_verified".into(),
            json!(u.email_verified.unwrap_or(false)),
        );
        if let Some(e) = &user.email {
            c.insert("email".into(), json!(e));
        }
    }
    c
}

/// An ID token per OIDC Core §2, with `at_hash` (§3.1.3.6) over the access token.
fn id_token(
    issuer: &str,
    g: &Grant<'_>,
    session: &Session,
    access_token: &str,
    iat: i64,
    exp: i64,
    profile: Map<String, Value>,
) -> Value {
    let hash = digest(&SHA256, access_token.as_bytes());
    let at_hash = URL_SAFE_NO_PAD.encode(&hash.as_ref()[..16]);
    let mut c = Map::new();
    c.insert("exp".into(), json!(exp));
    c.insert("iat".into(), json!(iat));
    c.insert("auth_time".into(), json!(session.auth_time / 1000));
    c.insert("jti".into(), json!(new_uuid()));
    c.insert("iss".into(), json!(issuer));
    c.insert("aud".into(), json!(g.client.client_id));
    c.insert("sub".into(), json!(g.user.id));
    c.insert("typ".into(), json!("ID"));
    c.insert("azp".into(), json!(g.client.client_id));
    c.insert("sid".into(), json!(session.id));
    c.insert("at_hash".into(), json!(at_hash));
    if let Some(n) = &g.nonce {
        c.insert("nonce".into(), json!(n));
    }
    c.insert("acr".into(), json!("1"));
    c.extend(profile);
    Value::Object(c)
}
