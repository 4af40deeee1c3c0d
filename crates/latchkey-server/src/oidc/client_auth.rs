//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3): HTTP Basic or the body's `client_id` / `client_secret`, and public
//! clients by `client_id` alone; and the form parameters those endpoints take.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_core::clients::open_secret;
use latchkey_core::crypto::ct_eq;
use latchkey_core::store::{ClientRecord, RealmRecord};

use crate::error::{OAuthCode, OAuthError};
use crate::state::SharedState;

/// Form parameters; each may appear once (RFC 6749 §3.2). Empty values count as absent,
/// since some clients (python-keycloak) send every field.
pub struct Params(HashMap<String, String>);

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
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| OAuthError::new(OAuthCode::InvalidRequest, "malformed form body"))?;
        let mut map = HashMap::new();
        for (k, v) in pairs {
            if v.is_empty() {
                continue;
            }
            if map.insert(k.clone(), v).is_some() {
                return Err(OAuthError::new(
                    OAuthCode::InvalidRequest,
                    format!("duplicate parameter: {k}"),
                ));
            }
        }
        Ok(Params(map))
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    pub fn require(&self, k: &str) -> Result<&str, OAuthError> {
        self.get(k).ok_or_else(|| {
            OAuthError::new(OAuthCode::InvalidRequest, format!("Missing parameter: {k}"))
        })
    }
}

/// The client's claimed identity: HTTP Basic (RFC 6749 §2.3.1, form-encoded parts) or the
/// body's `client_id` / `client_secret`.
pub struct Credentials {
    pub client_id: String,
    pub secret: Option<String>,
    pub basic: bool,
}

pub fn credentials(headers: &HeaderMap, p: &Params) -> Result<Credentials, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
        });
    if let Some(encoded) = basic {
        let bad = || OAuthError::invalid_client("Invalid client credentials", true);
        let decoded = STANDARD.decode(encoded).map_err(|_| bad())?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (id, secret) = text.split_once(':').ok_or_else(bad)?;
        let decode = |s: &str| -> Result<String, OAuthError> {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(&format!("v={s}")).map_err(|_| bad())?;
            Ok(pairs.into_iter().next().map(|(_, v)| v).unwrap_or_default())
        };
        let client_id = decode(id)?;
        if p.get("client_id").is_some_and(|c| c != client_id) {
            return Err(OAuthError::new(
                OAuthCode::InvalidRequest,
                "client_id in the body differs from the Authorization header",
            ));
        }
        return Ok(Credentials {
            client_id,
            secret: Some(decode(secret)?),
            basic: true,
        });
    }
    let client_id = p
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_client("Missing client authentication", false))?;
    Ok(Credentials {
        client_id: client_id.to_string(),
        secret: p.get("client_secret").map(str::to_string),
        basic: false,
    })
}

/// Authenticates the client (RFC 6749 §2.3). Every failure is `invalid_client` with the
/// same description, so a caller learns nothing about which client ids exist.
pub async fn authenticate(
    state: &SharedState,
    realm: &RealmRecord,
    creds: &Credentials,
) -> Result<ClientRecord, OAuthError> {
    let fail =
        || OAuthError::invalid_client("Invalid client or Invalid client credentials", creds.basic);
    let client = state
        .store
        .client_by_client_id(&realm.id, &creds.client_id)
        .await?
        .ok_or_else(fail)?;
    if !client.rep.is_enabled() || client.rep.is_bearer_only() {
        return Err(fail());
    }
    if client.rep.is_public() {
        return Ok(client);
    }
    if !client.rep.uses_secret() {
        // Assertion-based authentication arrives with the OIDC flows issue.
        return Err(fail());
    }
    let offered = creds.secret.as_deref().ok_or_else(fail)?;
    let stored = open_secret(&client, &state.sealer).ok_or_else(fail)?;
    if ct_eq(offered.as_bytes(), stored.as_bytes()) {
        Ok(client)
    } else {
        Err(fail())
    }
}
