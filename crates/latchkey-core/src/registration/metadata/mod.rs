//! RFC 7591 §2 / OIDC DCR 1.0 §2 client metadata: parsed from the request's JSON object
//! once, validated, with the defaults applied. Code past `ClientMetadata::validate` never
//! sees unvalidated metadata. Unknown members are ignored (RFC 7591 §2). Members are read
//! by type in `fields`; the URL rules are `uris`.

mod fields;
mod uris;

use serde::Serialize;
use serde_json::{Map, Value};

use super::RegistrationError;
use fields::Fields;
use uris::{check_redirect_uri, native_only, web_url};

/// What validation depends on besides the metadata.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidationContext {
    /// `start-dev`: web clients may use `http://` loopback redirect URIs.
    pub dev_mode: bool,
}

/// The grants a registration may ask for; the device grant (RFC 8628) becomes Keycloak's
/// `oauth2.device.authorization.grant.enabled` attribute, as Keycloak's DCR maps it.
pub const GRANT_TYPES: [&str; 4] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    crate::device::GRANT_TYPE,
];
pub const AUTH_METHODS: [&str; 5] = [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "none",
];
/// JWS algorithms accepted for client assertions, by authentication method.
pub const ASSERTION_ALGS_PRIVATE_KEY: [&str; 3] = ["RS256", "PS256", "ES256"];
pub const ASSERTION_ALGS_SECRET: [&str; 1] = ["HS256"];
/// Algorithms the server signs ID tokens and userinfo with.
pub const SIGNING_ALGS: [&str; 2] = ["RS256", "ES256"];
pub const SUBJECT_TYPES: [&str; 2] = ["public", "pairwise"];

/// Validated client metadata with every default applied; serialises to the RFC 7591
/// response members (without the server-managed ones).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientMetadata {
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub application_type: String,
    pub id_token_signed_response_alg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_statement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sector_identifier_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_signed_response_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_max_age: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_auth_time: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_session_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiate_login_uri: Option<String>,
}

/// Members only the server sets (RFC 7591 §3.2.1, RFC 7592 §2.2).
pub const SERVER_MANAGED: [&str; 5] = [
    "client_secret",
    "registration_access_token",
    "registration_client_uri",
    "client_id_issued_at",
    "client_secret_expires_at",
];

/// The request body as a JSON object: anything else is `invalid_client_metadata`.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, RegistrationError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(RegistrationError::metadata(
            "client metadata must be a JSON object",
        )),
        Err(_) => Err(RegistrationError::metadata(
            "client metadata is not valid JSON",
        )),
    }
}

fn check_jwks(jwks: &Value) -> Result<(), RegistrationError> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| RegistrationError::metadata("jwks must be a JWK Set: {\"keys\": [...]}"))?;
    for key in keys {
        if key.get("kty").and_then(Value::as_str).is_none() {
            return Err(RegistrationError::metadata("jwks: every key needs a kty"));
        }
        if key.get("d").is_some() {
            return Err(RegistrationError::metadata(
                "jwks must hold public keys only",
            ));
        }
        crate::keys::check_public_jwk(key)
            .map_err(|why| RegistrationError::metadata(format!("jwks: {why}")))?;
    }
    Ok(())
}

fn one_of(key: &str, value: &str, allowed: &[&str]) -> Result<(), RegistrationError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(RegistrationError::metadata(format!(
            "{key} {value:?} is not supported (supported: {})",
            allowed.join(", ")
        )))
    }
}

impl ClientMetadata {
    /// Validates a registration request's metadata and applies OIDC DCR defaults.
    pub fn validate(
        obj: &Map<String, Value>,
        ctx: ValidationContext,
    ) -> Result<ClientMetadata, RegistrationError> {
        let f = Fields(obj);
        let dev = ctx.dev_mode;

        let mut redirect_uris = f.strings("redirect_uris")?.unwrap_or_default();
        // A URI listed twice is registered once (the list is a set, RFC 7591 §2).
        let mut seen = std::collections::HashSet::new();
        redirect_uris.retain(|u| seen.insert(u.clone()));
        // Absent, it is inferred from the redirect URIs: one that only a native app may use
        // (a private-use scheme or loopback http, RFC 8252 §7.1, §7.3) makes a native app,
        // whose https URIs stay allowed (§7.2; VS Code registers both kinds); else web.
        let application_type = match f.string("application_type")? {
            Some(t) => t,
            None if redirect_uris.iter().any(|u| native_only(u)) => "native".into(),
            None => "web".into(),
        };
        one_of("application_type", &application_type, &["web", "native"])?;
        let native = application_type == "native";

        // Grant and response types (RFC 7591 §2.1): defaults, support, consistency. A grant
        // type the server does not support is left out of the registration (RFC 7591
        // §3.2.1: the server may replace requested values); implicit and password are
        // refused, and so is a request left with no grant the server supports.
        let requested_grants = f.strings("grant_types")?;
        let requested_responses = f.strings("response_types")?;
        for g in requested_grants.iter().flatten() {
            if g == "implicit" || g == "password" {
                return Err(RegistrationError::metadata(format!(
                    "grant type {g:?} is not allowed (OAuth 2.1)"
                )));
            }
        }
        let requested_grants = match requested_grants {
            Some(g) if !g.is_empty() => {
                let kept: Vec<String> = g
                    .iter()
                    .filter(|g| GRANT_TYPES.contains(&g.as_str()))
                    .cloned()
                    .collect();
                if !kept.iter().any(|g| {
                    g == "authorization_code"
                        || g == "client_credentials"
                        || g == crate::device::GRANT_TYPE
                }) {
                    return Err(RegistrationError::metadata(format!(
                        "grant_types {g:?} names none of authorization_code, client_credentials and the device grant (refresh_token goes with one of them; supported: {})",
                        GRANT_TYPES.join(", ")
                    )));
                }
                Some(kept)
            }
            other => other,
        };
        for r in requested_responses.iter().flatten() {
            if r != "code" {
                return Err(RegistrationError::metadata(format!(
                    "response type {r:?} is not supported: only \"code\" (no implicit or hybrid flows)"
                )));
            }
        }
        let grant_types = match &requested_grants {
            Some(g) => dedup(g),
            None => vec!["authorization_code".into(), "refresh_token".into()],
        };
        let has_code_grant = grant_types.iter().any(|g| g == "authorization_code");
        let response_types = match &requested_responses {
            Some(r) => dedup(r),
            None if has_code_grant => vec!["code".into()],
            None => Vec::new(),
        };
        let has_code_response = response_types.iter().any(|r| r == "code");
        if has_code_grant != has_code_response {
            return Err(RegistrationError::metadata(
                "grant_types and response_types disagree: authorization_code goes with the code response type",
            ));
        }

        for uri in &redirect_uris {
            check_redirect_uri(uri, native, dev)?;
        }
        if has_code_grant && redirect_uris.is_empty() {
            return Err(RegistrationError::redirect(
                "redirect_uris is required for the authorization_code grant",
            ));
        }

        let jwks_uri = f.string("jwks_uri")?;
        let has_keys = jwks_uri.is_some() || !matches!(obj.get("jwks"), None | Some(Value::Null));
        let machine = grant_types.iter().any(|g| g == "client_credentials");
        // OIDC RP Metadata Choices 1.0 §2: the first listed method the server supports and
        // this client can use (keys for private_key_jwt, none not for client_credentials).
        let token_endpoint_auth_method = match f.string("token_endpoint_auth_method")? {
            Some(m) => m,
            None => f
                .choice(
                    "token_endpoint_auth_methods_supported",
                    &AUTH_METHODS,
                    |m| match m {
                        "private_key_jwt" => has_keys,
                        "none" => !machine,
                        _ => true,
                    },
                )?
                .unwrap_or_else(|| "client_secret_basic".into()),
        };
        one_of(
            "token_endpoint_auth_method",
            &token_endpoint_auth_method,
            &AUTH_METHODS,
        )?;
        if token_endpoint_auth_method == "none"
            && grant_types.iter().any(|g| g == "client_credentials")
        {
            return Err(RegistrationError::metadata(
                "the client_credentials grant needs client authentication, not \"none\"",
            ));
        }

        let jwks = match obj.get("jwks") {
            None | Some(Value::Null) => None,
            Some(v) => {
                check_jwks(v)?;
                Some(v.clone())
            }
        };
        if jwks.is_some() && jwks_uri.is_some() {
            return Err(RegistrationError::metadata(
                "jwks and jwks_uri must not both be present",
            ));
        }
        if let Some(u) = &jwks_uri {
            web_url("jwks_uri", u, true, dev)?;
        }
        if token_endpoint_auth_method == "private_key_jwt" && jwks.is_none() && jwks_uri.is_none() {
            return Err(RegistrationError::metadata(
                "private_key_jwt needs the client's keys in jwks or jwks_uri",
            ));
        }

        let assertion_algs: &[&str] = match token_endpoint_auth_method.as_str() {
            "client_secret_jwt" => &ASSERTION_ALGS_SECRET,
            "private_key_jwt" => &ASSERTION_ALGS_PRIVATE_KEY,
            _ => &["RS256", "PS256", "ES256", "HS256"],
        };
        // The list only matters to the methods that sign an assertion.
        let jwt_method = matches!(
            token_endpoint_auth_method.as_str(),
            "client_secret_jwt" | "private_key_jwt"
        );
        let token_endpoint_auth_signing_alg = match f.string("token_endpoint_auth_signing_alg")? {
            Some(alg) => Some(alg),
            None if jwt_method => f.choice(
                "token_endpoint_auth_signing_alg_values_supported",
                assertion_algs,
                |_| true,
            )?,
            None => None,
        };
        if let Some(alg) = &token_endpoint_auth_signing_alg {
            if alg == "none" {
                return Err(RegistrationError::metadata(
                    "token_endpoint_auth_signing_alg must not be \"none\"",
                ));
            }
            one_of("token_endpoint_auth_signing_alg", alg, assertion_algs)?;
        }
        let id_token_signed_response_alg = f
            .chosen(
                "id_token_signed_response_alg",
                "id_token_signing_alg_values_supported",
                &SIGNING_ALGS,
            )?
            .unwrap_or_else(|| "RS256".into());
        one_of(
            "id_token_signed_response_alg",
            &id_token_signed_response_alg,
            &SIGNING_ALGS,
        )?;
        let userinfo_signed_response_alg = f.chosen(
            "userinfo_signed_response_alg",
            "userinfo_signing_alg_values_supported",
            &SIGNING_ALGS,
        )?;
        if let Some(alg) = &userinfo_signed_response_alg {
            one_of("userinfo_signed_response_alg", alg, &SIGNING_ALGS)?;
        }

        let subject_type = f.chosen("subject_type", "subject_types_supported", &SUBJECT_TYPES)?;
        if let Some(s) = &subject_type {
            one_of("subject_type", s, &SUBJECT_TYPES)?;
        }
        let sector_identifier_uri = f.string("sector_identifier_uri")?;
        if let Some(u) = &sector_identifier_uri {
            web_url("sector_identifier_uri", u, true, dev)?;
        }
        let plain_uri = |key: &str| -> Result<Option<String>, RegistrationError> {
            let v = f.string(key)?;
            if let Some(u) = &v {
                web_url(key, u, false, dev)?;
            }
            Ok(v)
        };
        let client_uri = plain_uri("client_uri")?;
        let logo_uri = plain_uri("logo_uri")?;
        let tos_uri = plain_uri("tos_uri")?;
        let policy_uri = plain_uri("policy_uri")?;
        let backchannel_logout_uri = plain_uri("backchannel_logout_uri")?;
        let initiate_login_uri = f.string("initiate_login_uri")?;
        if let Some(u) = &initiate_login_uri {
            web_url("initiate_login_uri", u, true, dev)?;
        }
        let post_logout_redirect_uris = f.strings("post_logout_redirect_uris")?;
        for uri in post_logout_redirect_uris.iter().flatten() {
            check_redirect_uri(uri, native, dev).map_err(|e| {
                RegistrationError::metadata(format!("post_logout_redirect_uris: {e}"))
            })?;
        }
        // An empty string is an empty list of scope values, as good as no member: the MCP
        // Inspector sends `"scope": ""` when it has none to ask for (RFC 7591 §2).
        let scope = f.string("scope")?.filter(|s| !s.is_empty());
        if let Some(s) = &scope
            && s.split(' ')
                .any(|t| t.is_empty() || t.contains('"') || t.contains('\\'))
        {
            return Err(RegistrationError::metadata(
                "scope must be space-separated scope names",
            ));
        }

        Ok(ClientMetadata {
            redirect_uris,
            token_endpoint_auth_method,
            grant_types,
            response_types,
            application_type,
            id_token_signed_response_alg,
            client_name: f.string("client_name")?,
            client_uri,
            logo_uri,
            scope,
            contacts: f.strings("contacts")?,
            tos_uri,
            policy_uri,
            jwks_uri,
            jwks,
            software_id: f.string("software_id")?,
            software_version: f.string("software_version")?,
            software_statement: f.string("software_statement")?,
            sector_identifier_uri,
            subject_type,
            token_endpoint_auth_signing_alg,
            userinfo_signed_response_alg,
            default_max_age: f.seconds("default_max_age")?,
            require_auth_time: f.boolean("require_auth_time")?,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            backchannel_logout_session_required: f
                .boolean("backchannel_logout_session_required")?,
            initiate_login_uri,
        })
    }

    /// Whether the client authenticates with a shared secret the server issues.
    pub fn uses_secret(&self) -> bool {
        matches!(
            self.token_endpoint_auth_method.as_str(),
            "client_secret_basic" | "client_secret_post" | "client_secret_jwt"
        )
    }
}

fn dedup(v: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(v.len());
    for s in v {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests;
