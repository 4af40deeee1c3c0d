//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3): HTTP Basic or the body's `client_id` / `client_secret`, and public
//! clients by `client_id` alone; and the form parameters those endpoints take.

use axum::http::{HeaderMap, header};
use latchkey_core::client_secrets;
use latchkey_core::jwt;
use latchkey_core::registration::convert::to_metadata;
use latchkey_core::registration::metadata::ASSERTION_ALGS_PRIVATE_KEY;
use latchkey_core::store::{ClientRecord, RealmRecord};
use serde_json::{Map, Value};

use crate::error::{OAuthCode, OAuthError};
use crate::state::{SharedState, now_millis};

/// Form parameters; each may appear once (RFC 6749 §3.2) except `resource`, which may
/// repeat (RFC 8707 §2). Empty values count as absent, since some clients
/// (python-keycloak) send every field.
pub struct Params(latchkey_core::form::Fields);

impl Params {
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if !form {
            return Err(OAuthError::new(
                OAuthCode::InvalidRequest,
                "content type must be application/x-www-form-urlencoded",
            ));
        }
        let map = latchkey_core::form::parse_form(body).map_err(|e| match e {
            latchkey_core::form::FormError::Malformed => {
                OAuthError::new(OAuthCode::InvalidRequest, "malformed form body")
            }
            latchkey_core::form::FormError::Duplicate(k) => OAuthError::new(
                OAuthCode::InvalidRequest,
                format!("duplicate parameter: {k}"),
            ),
        })?;
        Ok(Params(map))
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    /// Every value of a repeatable parameter (`resource`), in order.
    pub fn all(&self, k: &str) -> &[String] {
        self.0.all(k)
    }

    pub fn require(&self, k: &str) -> Result<&str, OAuthError> {
        self.get(k).ok_or_else(|| {
            OAuthError::new(OAuthCode::InvalidRequest, format!("Missing parameter: {k}"))
        })
    }
}

/// The client's claimed identity: HTTP Basic (RFC 6749 §2.3.1, form-encoded parts), the
/// body's `client_id` / `client_secret`, or a JWT client assertion (RFC 7523 §2.2).
pub struct Credentials {
    pub client_id: String,
    pub secret: Option<String>,
    pub basic: bool,
    pub assertion: Option<String>,
}

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Clock skew tolerated on a client assertion's `exp` and `nbf`.
const SKEW_SECS: i64 = 10;
/// Longest a client assertion may stay valid: its `jti` is kept until `exp` to refuse a
/// replay, so an `exp` years ahead would keep a row for years (clients sign assertions for
/// seconds or minutes).
const MAX_ASSERTION_SECS: i64 = 3600;

/// HTTP Basic client credentials (RFC 6749 §2.3.1: both parts form-encoded): `None`
/// without a Basic header, `Err` when it is malformed.
pub fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?;
    latchkey_core::form::parse_basic(value)
}

pub fn credentials(headers: &HeaderMap, p: &Params) -> Result<Credentials, OAuthError> {
    // RFC 6749 §2.3: a client uses one authentication method per request. Without this, a
    // valid method beside a failing one would pass (one of them would be ignored).
    let methods = [
        basic_credentials(headers).is_some(),
        p.get("client_secret").is_some(),
        p.get("client_assertion").is_some(),
    ];
    if methods.into_iter().filter(|m| *m).count() > 1 {
        return Err(OAuthError::new(
            OAuthCode::InvalidRequest,
            "use one client authentication method: HTTP Basic, client_secret or client_assertion",
        ));
    }
    if let Some(assertion) = p.get("client_assertion") {
        if p.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION) {
            return Err(OAuthError::invalid_client(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                false,
            ));
        }
        // RFC 7523 §3: the client is the assertion's subject; a client_id sent beside it
        // must agree.
        let sub = jwt::parse(assertion)
            .ok()
            .and_then(|a| a.claim_str("sub").map(str::to_string))
            .ok_or_else(|| OAuthError::invalid_client("Invalid client assertion", false))?;
        if p.get("client_id").is_some_and(|c| c != sub) {
            return Err(OAuthError::invalid_client(
                "client_id and the assertion's subject differ",
                false,
            ));
        }
        return Ok(Credentials {
            client_id: sub,
            secret: None,
            basic: false,
            assertion: Some(assertion.to_string()),
        });
    }
    if let Some(basic) = basic_credentials(headers) {
        let (client_id, secret) =
            basic.map_err(|()| OAuthError::invalid_client("Invalid client credentials", true))?;
        if p.get("client_id").is_some_and(|c| c != client_id) {
            return Err(OAuthError::new(
                OAuthCode::InvalidRequest,
                "client_id in the body differs from the Authorization header",
            ));
        }
        return Ok(Credentials {
            client_id,
            secret: Some(secret),
            basic: true,
            assertion: None,
        });
    }
    let client_id = p
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_client("Missing client authentication", false))?;
    Ok(Credentials {
        client_id: client_id.to_string(),
        secret: p.get("client_secret").map(str::to_string),
        basic: false,
        assertion: None,
    })
}

/// Authenticates the client (RFC 6749 §2.3). Every failure is `invalid_client` with the
/// same description, so a caller learns nothing about which client ids exist.
/// `audiences` are the values a client assertion's `aud` may name (the issuer and the
/// endpoint's URL); `ip` is the caller's address (events of a metadata document client).
pub async fn authenticate(
    state: &SharedState,
    realm: &RealmRecord,
    creds: &Credentials,
    audiences: &[String],
    ip: Option<&str>,
) -> Result<ClientRecord, OAuthError> {
    let fail =
        || OAuthError::invalid_client("Invalid client or Invalid client credentials", creds.basic);
    let client = match super::cimd::lookup_client(state, realm, &creds.client_id, ip).await {
        Ok(Some(c)) => c,
        Err(r) if r.is_internal() => return Err(OAuthError::Internal(r.description)),
        Ok(None) | Err(_) => return Err(fail()),
    };
    if !client.rep.is_enabled() || client.rep.is_bearer_only() {
        return Err(fail());
    }
    if let Some(assertion) = &creds.assertion {
        return match verify_assertion(state, &client, assertion, audiences).await {
            Ok(()) => Ok(client),
            Err(why) => {
                tracing::debug!(client = %client.client_id, %why, "client assertion refused");
                Err(fail())
            }
        };
    }
    if client.rep.is_public() {
        return Ok(client);
    }
    // A client registered for assertions authenticates with one; a secret alone is not it.
    if client.rep.client_authenticator_type.as_deref() != Some("client-secret")
        && client.rep.client_authenticator_type.is_some()
    {
        return Err(fail());
    }
    let offered = creds.secret.as_deref().ok_or_else(fail)?;
    // An expired secret is no secret (`client-secret-expiration`); the previous one of a
    // rotation works until its own expiry.
    if client_secrets::accepts(&client, &state.sealer, offered, now_millis() / 1000) {
        Ok(client)
    } else {
        Err(fail())
    }
}

/// The client of a token or device authorization request: authenticated by the one method
/// the request uses, and its use recorded (`AppState::client_used`): every grant and every
/// device authorization counts as a use once the client has proved who it is.
pub async fn authenticated_client(
    state: &SharedState,
    base: &crate::urls::BaseUrl,
    realm: &RealmRecord,
    headers: &HeaderMap,
    p: &Params,
    ip: Option<&str>,
) -> Result<ClientRecord, OAuthError> {
    let creds = credentials(headers, p)?;
    let client = authenticate(state, realm, &creds, &audiences(base, &realm.name), ip).await?;
    state.client_used(&client, crate::state::now_millis());
    Ok(client)
}

/// What a client assertion's `aud` may name: the issuer, or the URL of the token,
/// introspection, revocation or device authorization endpoint it is sent to.
pub fn audiences(base: &crate::urls::BaseUrl, realm: &str) -> Vec<String> {
    let mut v = vec![base.issuer(realm)];
    for route in [
        crate::routes::TOKEN,
        crate::routes::INTROSPECT,
        crate::routes::REVOKE,
        crate::routes::DEVICE_AUTH,
    ] {
        v.push(base.join(&crate::routes::for_realm(route, realm)));
    }
    v
}

/// RFC 7523 §3 client assertion checks: signature by the client's keys (`private_key_jwt`:
/// its registered `jwks` or `jwks_uri`; `client_secret_jwt`: HS256 with its secret),
/// `iss` = `sub` = client_id, `aud` names us, not expired, `jti` never seen before.
async fn verify_assertion(
    state: &SharedState,
    client: &ClientRecord,
    assertion: &str,
    audiences: &[String],
) -> Result<(), String> {
    let parsed = jwt::parse(assertion).map_err(|e| e.to_string())?;
    let metadata = to_metadata(&client.rep);
    let alg = parsed.alg().unwrap_or("").to_string();
    if let Some(registered) = metadata
        .get("token_endpoint_auth_signing_alg")
        .and_then(Value::as_str)
        && registered != alg
    {
        return Err(format!("alg {alg} is not the registered {registered}"));
    }
    let claims = match client.rep.client_authenticator_type.as_deref() {
        Some("client-jwt") => {
            if !ASSERTION_ALGS_PRIVATE_KEY.contains(&alg.as_str()) {
                return Err(format!("alg {alg} not accepted for private_key_jwt"));
            }
            let jwks = client_keys(state, &metadata, false).await?;
            match parsed.verify_any(&jwks) {
                Ok(c) => c,
                Err(_) if metadata.get("jwks_uri").is_some() => {
                    // The client may have rotated its keys: fetch them once more.
                    let fresh = client_keys(state, &metadata, true).await?;
                    jwt::parse(assertion)
                        .map_err(|e| e.to_string())?
                        .verify_any(&fresh)
                        .map_err(|e| e.to_string())?
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Some("client-secret-jwt") => {
            // HS256 with a usable secret: the current one, or the previous one of a
            // rotation until its expiry.
            let secrets =
                client_secrets::usable_secrets(client, &state.sealer, now_millis() / 1000);
            if secrets.is_empty() {
                return Err("client has no usable secret".into());
            }
            let mut verified =
                Err("signature does not verify with the client's secret".to_string());
            for secret in &secrets {
                if let Ok(c) = jwt::parse(assertion)
                    .map_err(|e| e.to_string())?
                    .verify_hs256(secret.as_bytes())
                {
                    verified = Ok(c);
                    break;
                }
            }
            verified?
        }
        _ => return Err("client does not authenticate with assertions".into()),
    };
    let claim = |k: &str| claims.get(k).and_then(Value::as_str);
    if claim("iss") != Some(client.client_id.as_str())
        || claim("sub") != Some(client.client_id.as_str())
    {
        return Err("iss and sub must be the client_id".into());
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => audiences.contains(a),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audiences.iter().any(|x| x == a)),
        _ => false,
    };
    if !aud_ok {
        return Err("aud does not name this server".into());
    }
    let now = now_millis() / 1000;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or("exp missing")?;
    // The bound first: it takes any `exp` the JSON can hold (up to i64::MAX) without
    // arithmetic on it, so the sums below cannot overflow.
    if exp > now + MAX_ASSERTION_SECS {
        return Err(format!(
            "assertion expires more than {MAX_ASSERTION_SECS} s ahead"
        ));
    }
    if exp < now - SKEW_SECS {
        return Err("assertion expired".into());
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now + SKEW_SECS)
    {
        return Err("assertion not yet valid".into());
    }
    let jti = claim("jti").ok_or("jti missing")?;
    latchkey_core::ident::check("jti", jti).map_err(|e| e.to_string())?;
    let fresh = state
        .store
        .use_assertion(&format!("{}:{jti}", client.id), (exp + SKEW_SECS) * 1000)
        .await
        .map_err(|e| e.to_string())?;
    if !fresh {
        return Err("jti already used".into());
    }
    Ok(())
}

/// The client's registered public keys: `jwks`, or `jwks_uri` through the safe fetcher,
/// cached for five minutes.
async fn client_keys(
    state: &SharedState,
    metadata: &Map<String, Value>,
    refresh: bool,
) -> Result<Vec<Value>, String> {
    if let Some(keys) = metadata
        .get("jwks")
        .and_then(|j| j.get("keys"))
        .and_then(Value::as_array)
    {
        return Ok(keys.clone());
    }
    let uri = metadata
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or("client has no keys")?;
    state.client_jwks(uri, refresh).await
}
