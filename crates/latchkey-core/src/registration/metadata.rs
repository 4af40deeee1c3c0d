//! RFC 7591 §2 / OIDC DCR 1.0 §2 client metadata: parsed from the request's JSON object
//! once, validated, with the defaults applied. Code past `ClientMetadata::validate` never
//! sees unvalidated metadata. Unknown members are ignored (RFC 7591 §2).

use serde::Serialize;
use serde_json::{Map, Value};
use url::{Host, Url};

use super::RegistrationError;
use crate::client_uris;

/// What validation depends on besides the metadata.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidationContext {
    /// `start-dev`: web clients may use `http://` loopback redirect URIs.
    pub dev_mode: bool,
}

pub const GRANT_TYPES: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];
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

struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn string(&self, key: &str) -> Result<Option<String>, RegistrationError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(RegistrationError::metadata(format!(
                "{key} must be a string"
            ))),
        }
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, RegistrationError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        RegistrationError::metadata(format!("{key} must be an array of strings"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(RegistrationError::metadata(format!(
                "{key} must be an array of strings"
            ))),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, RegistrationError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(RegistrationError::metadata(format!(
                "{key} must be a boolean"
            ))),
        }
    }

    fn seconds(&self, key: &str) -> Result<Option<i64>, RegistrationError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if n >= 0 => Ok(Some(n)),
                _ => Err(RegistrationError::metadata(format!(
                    "{key} must be a non-negative integer"
                ))),
            },
        }
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An absolute `http(s)` URL; `https` unless `http_loopback` allows plain loopback.
fn web_url(key: &str, value: &str, https: bool, dev: bool) -> Result<Url, RegistrationError> {
    client_uris::check(value).map_err(|p| RegistrationError::metadata(format!("{key}: {p}")))?;
    let url = Url::parse(value)
        .map_err(|_| RegistrationError::metadata(format!("{key} must be an absolute URL")))?;
    match url.scheme() {
        "https" => {}
        "http" if !https || (dev && is_loopback(&url)) => {}
        "http" => {
            return Err(RegistrationError::metadata(format!("{key} must use https")));
        }
        _ => {
            return Err(RegistrationError::metadata(format!(
                "{key} must be an http(s) URL"
            )));
        }
    }
    if url.host().is_none() {
        return Err(RegistrationError::metadata(format!("{key} has no host")));
    }
    if url.fragment().is_some() {
        return Err(RegistrationError::metadata(format!(
            "{key} must not contain a fragment"
        )));
    }
    Ok(url)
}

/// RFC 6749 §3.1.2, OIDC DCR §2, RFC 8252 §7: the redirect URI rules by application type.
fn check_redirect_uri(uri: &str, native: bool, dev: bool) -> Result<(), RegistrationError> {
    if uri.contains('*') {
        return Err(RegistrationError::redirect(format!(
            "redirect URI {uri:?}: wildcards are not allowed"
        )));
    }
    client_uris::check(uri)
        .map_err(|p| RegistrationError::redirect(format!("redirect URI {uri:?}: {p}")))?;
    let url = Url::parse(uri).map_err(|_| {
        RegistrationError::redirect(format!("redirect URI {uri:?} is not an absolute URI"))
    })?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(RegistrationError::redirect(format!(
            "redirect URI {uri:?}: URI fragment not allowed"
        )));
    }
    let scheme = url.scheme();
    let ok = match (native, scheme) {
        (_, "https") => url.host().is_some(),
        // Native apps may always use loopback (RFC 8252 §7.3); web apps only in start-dev.
        (true, "http") => is_loopback(&url),
        (false, "http") => dev && is_loopback(&url),
        // Private-use URI schemes (RFC 8252 §7.1) for native apps only.
        (true, _) => !matches!(scheme, "javascript" | "data" | "file" | "vbscript"),
        (false, _) => false,
    };
    if ok {
        Ok(())
    } else if native {
        Err(RegistrationError::redirect(format!(
            "redirect URI {uri:?}: native clients use https, a loopback http URI or a private-use scheme"
        )))
    } else {
        Err(RegistrationError::redirect(format!(
            "redirect URI {uri:?}: web clients must use https{}",
            if dev {
                " (or http on a loopback host)"
            } else {
                ""
            }
        )))
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

        let application_type = f
            .string("application_type")?
            .unwrap_or_else(|| "web".into());
        one_of("application_type", &application_type, &["web", "native"])?;
        let native = application_type == "native";

        // Grant and response types (RFC 7591 §2.1): defaults, support, consistency.
        let requested_grants = f.strings("grant_types")?;
        let requested_responses = f.strings("response_types")?;
        for g in requested_grants.iter().flatten() {
            if g == "implicit" || g == "password" {
                return Err(RegistrationError::metadata(format!(
                    "grant type {g:?} is not allowed (OAuth 2.1)"
                )));
            }
            one_of("grant type", g, &GRANT_TYPES)?;
        }
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

        let redirect_uris = f.strings("redirect_uris")?.unwrap_or_default();
        for uri in &redirect_uris {
            check_redirect_uri(uri, native, dev)?;
        }
        if has_code_grant && redirect_uris.is_empty() {
            return Err(RegistrationError::redirect(
                "redirect_uris is required for the authorization_code grant",
            ));
        }

        let token_endpoint_auth_method = f
            .string("token_endpoint_auth_method")?
            .unwrap_or_else(|| "client_secret_basic".into());
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

        let jwks_uri = f.string("jwks_uri")?;
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

        let token_endpoint_auth_signing_alg = f.string("token_endpoint_auth_signing_alg")?;
        if let Some(alg) = &token_endpoint_auth_signing_alg {
            if alg == "none" {
                return Err(RegistrationError::metadata(
                    "token_endpoint_auth_signing_alg must not be \"none\"",
                ));
            }
            let allowed: &[&str] = match token_endpoint_auth_method.as_str() {
                "client_secret_jwt" => &ASSERTION_ALGS_SECRET,
                "private_key_jwt" => &ASSERTION_ALGS_PRIVATE_KEY,
                _ => &["RS256", "PS256", "ES256", "HS256"],
            };
            one_of("token_endpoint_auth_signing_alg", alg, allowed)?;
        }
        let id_token_signed_response_alg = f
            .string("id_token_signed_response_alg")?
            .unwrap_or_else(|| "RS256".into());
        one_of(
            "id_token_signed_response_alg",
            &id_token_signed_response_alg,
            &SIGNING_ALGS,
        )?;
        let userinfo_signed_response_alg = f.string("userinfo_signed_response_alg")?;
        if let Some(alg) = &userinfo_signed_response_alg {
            one_of("userinfo_signed_response_alg", alg, &SIGNING_ALGS)?;
        }

        let subject_type = f.string("subject_type")?;
        if let Some(s) = &subject_type {
            one_of("subject_type", s, &["public", "pairwise"])?;
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
        let scope = f.string("scope")?;
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
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    fn validate(v: Value, dev: bool) -> Result<ClientMetadata, RegistrationError> {
        let Value::Object(m) = v else {
            panic!("object")
        };
        ClientMetadata::validate(&m, ValidationContext { dev_mode: dev })
    }

    /// `None`: accepted; `Some(code)`: refused with that error code.
    fn check(clause: &str, input: Value, dev: bool, expected: Option<&str>) {
        let got = validate(input.clone(), dev);
        match (expected, &got) {
            (None, Ok(_)) => {}
            (Some(code), Err(e)) if e.code() == code => {}
            _ => panic!("{clause}: {input} (dev={dev}) gave {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn validation_rules() {
        let web = "https://app.example/cb";
        let ec = crate::keys::generate(crate::keys::Alg::Es256)
            .unwrap()
            .public_jwk;
        let rsa = crate::keys::generate(crate::keys::Alg::Rs256)
            .unwrap()
            .public_jwk;
        // 1024 bits: the top bit set, odd.
        let rsa_1024 =
            URL_SAFE_NO_PAD.encode([[0xc1u8].as_slice(), &[0x55; 126], &[0x01]].concat());
        let cases: &[(&str, Value, bool, Option<&str>)] = &[
            (
                "RFC 7591 §2: redirect_uris for a web client over https",
                json!({"redirect_uris": [web]}),
                false,
                None,
            ),
            (
                "RFC 6749 §3.1.2: a fragment is not allowed",
                json!({"redirect_uris": ["https://a.example/cb#x"]}),
                false,
                Some("invalid_redirect_uri"),
            ),
            (
                "no user info in a redirect URI",
                json!({"redirect_uris": ["https://user:pass@evil.example/cb"]}),
                false,
                Some("invalid_redirect_uri"),
            ),
            (
                "no javascript redirect URI, even for native clients",
                json!({"application_type": "native", "redirect_uris": ["javascript:alert(1)"]}),
                false,
                Some("invalid_redirect_uri"),
            ),
            (
                "no user info in a post-logout redirect URI",
                json!({"redirect_uris": [web], "post_logout_redirect_uris": ["https://a@evil.example/"]}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "no user info in jwks_uri",
                json!({"redirect_uris": [web], "jwks_uri": "https://a@evil.example/jwks"}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 6749 §3.1.2: redirect URIs are absolute",
                json!({"redirect_uris": ["/cb"]}),
                false,
                Some("invalid_redirect_uri"),
            ),
            (
                "OIDC DCR §2: wildcards are not redirect URIs",
                json!({"redirect_uris": ["https://*.example/cb"]}),
                false,
                Some("invalid_redirect_uri"),
            ),
            (
                "OIDC DCR §2: web clients use https",
                json!({"redirect_uris": ["http://app.example/cb"]}),
                false,
                Some("invalid_redirect_uri"),
            ),
            (
                "loopback http for web clients only in start-dev",
                json!({"redirect_uris": ["http://localhost:3000/cb"]}),
                false,
                Some("invalid_redirect_uri"),
            ),
            (
                "loopback http for web clients in start-dev",
                json!({"redirect_uris": ["http://127.0.0.1:3000/cb"]}),
                true,
                None,
            ),
            (
                "[::1] is loopback",
                json!({"redirect_uris": ["http://[::1]/cb"]}),
                true,
                None,
            ),
            (
                "OIDC DCR §2: web clients may not use custom schemes",
                json!({"redirect_uris": ["com.example.app:/cb"]}),
                true,
                Some("invalid_redirect_uri"),
            ),
            (
                "RFC 8252 §7.3: native clients use loopback http",
                json!({"application_type": "native", "redirect_uris": ["http://127.0.0.1/cb"]}),
                false,
                None,
            ),
            (
                "RFC 8252 §7.1: native clients use private-use schemes",
                json!({"application_type": "native", "redirect_uris": ["com.example.app:/cb"]}),
                false,
                None,
            ),
            (
                "RFC 8252 §8.3: native clients do not use non-loopback http",
                json!({"application_type": "native", "redirect_uris": ["http://app.example/cb"]}),
                false,
                Some("invalid_redirect_uri"),
            ),
            (
                "RFC 7591 §2: application_type is web or native",
                json!({"application_type": "desktop", "redirect_uris": [web]}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7591 §2: authorization_code needs redirect URIs",
                json!({}),
                false,
                Some("invalid_redirect_uri"),
            ),
            (
                "a machine client needs no redirect URI",
                json!({"grant_types": ["client_credentials"]}),
                false,
                None,
            ),
            (
                "OAuth 2.1 §2.1: no implicit grant",
                json!({"grant_types": ["implicit"], "redirect_uris": [web]}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "OAuth 2.1: no password grant by registration",
                json!({"grant_types": ["password"]}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7591 §2: unsupported grant types are refused",
                json!({"grant_types": ["urn:example:grant"]}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "OAuth 2.1: no token response type",
                json!({"response_types": ["token"], "redirect_uris": [web]}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "OAuth 2.1: no hybrid response type",
                json!({"response_types": ["code id_token"], "redirect_uris": [web]}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7591 §2.1: code needs authorization_code",
                json!({"grant_types": ["client_credentials"], "response_types": ["code"], "redirect_uris": [web]}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7591 §2.1: authorization_code needs code",
                json!({"grant_types": ["authorization_code"], "response_types": [], "redirect_uris": [web]}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7591 §2: unsupported auth method",
                json!({"token_endpoint_auth_method": "tls_client_auth", "redirect_uris": [web]}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7591 §2: jwks and jwks_uri are exclusive",
                json!({"redirect_uris": [web], "jwks_uri": "https://a.example/jwks", "jwks": {"keys": []}}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "private_key_jwt needs keys",
                json!({"redirect_uris": [web], "token_endpoint_auth_method": "private_key_jwt"}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "private_key_jwt with jwks",
                json!({"redirect_uris": [web], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [ec, rsa]}}),
                false,
                None,
            ),
            (
                "RFC 7518 §3.3: RSA keys have 2048 bits or more (a 17-bit modulus)",
                json!({"redirect_uris": [web], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7518 §3.3: RSA keys have 2048 bits or more (1024)",
                json!({"redirect_uris": [web], "jwks": {"keys": [{"kty": "RSA", "n": rsa_1024, "e": "AQAB"}]}}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7518 §3.4: ES256 is the only EC algorithm, on P-256",
                json!({"redirect_uris": [web], "jwks": {"keys": [{"kty": "EC", "crv": "P-384", "x": ec["x"], "y": ec["y"]}]}}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7518 §6.2.1: an EC key is a point on its curve",
                json!({"redirect_uris": [web], "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", "y": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"}]}}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7518 §6: only RSA and EC keys are supported",
                json!({"redirect_uris": [web], "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7517 §5: jwks is a JWK Set",
                json!({"redirect_uris": [web], "jwks": [1]}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7591 §2: jwks carries public keys only",
                json!({"redirect_uris": [web], "jwks": {"keys": [{"kty": "EC", "d": "secret"}]}}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7591 §2: jwks_uri over https",
                json!({"redirect_uris": [web], "jwks_uri": "http://a.example/jwks"}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "OIDC DCR §2: none is not an assertion alg",
                json!({"redirect_uris": [web], "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://a.example/j", "token_endpoint_auth_signing_alg": "none"}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "client_secret_jwt signs with HS256",
                json!({"redirect_uris": [web], "token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "RS256"}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "private_key_jwt with ES256",
                json!({"redirect_uris": [web], "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://a.example/j", "token_endpoint_auth_signing_alg": "ES256"}),
                false,
                None,
            ),
            (
                "OIDC DCR §2: unsupported id_token alg",
                json!({"redirect_uris": [web], "id_token_signed_response_alg": "HS256"}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "OIDC DCR §2: id_token alg none refused",
                json!({"redirect_uris": [web], "id_token_signed_response_alg": "none"}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7591 §2: a public client cannot use client_credentials",
                json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7591 §2: member types are checked",
                json!({"redirect_uris": "https://a.example/cb"}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7591 §2: client_name is a string",
                json!({"redirect_uris": [web], "client_name": 5}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7591 §2: contacts is an array of strings",
                json!({"redirect_uris": [web], "contacts": [1]}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7591 §2: logo_uri is a URL",
                json!({"redirect_uris": [web], "logo_uri": "not a url"}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "OIDC DCR §2: subject_type public or pairwise",
                json!({"redirect_uris": [web], "subject_type": "secret"}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "OIDC DCR §2: sector_identifier_uri over https",
                json!({"redirect_uris": [web], "sector_identifier_uri": "http://a.example/s"}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "OIDC DCR §2: default_max_age is a number",
                json!({"redirect_uris": [web], "default_max_age": -1}),
                false,
                Some("invalid_client_metadata"),
            ),
            (
                "RFC 7591 §2: unknown members are ignored",
                json!({"redirect_uris": [web], "x_custom": {"deep": true}, "resource": 5}),
                false,
                None,
            ),
            (
                "RFC 6749 §3.3: scope is space-separated names",
                json!({"redirect_uris": [web], "scope": "a  b"}),
                false,
                Some("invalid_client_metadata"),
            ),
        ];
        for (clause, input, dev, expected) in cases {
            check(clause, input.clone(), *dev, *expected);
        }
    }

    #[test]
    fn oidc_dcr_defaults_are_applied() {
        let m = validate(json!({"redirect_uris": ["https://a.example/cb"]}), false).unwrap();
        assert_eq!(m.response_types, ["code"]);
        assert_eq!(m.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(m.token_endpoint_auth_method, "client_secret_basic");
        assert_eq!(m.application_type, "web");
        assert_eq!(m.id_token_signed_response_alg, "RS256");
        let machine = validate(json!({"grant_types": ["client_credentials"]}), false).unwrap();
        assert!(
            machine.response_types.is_empty(),
            "no code grant, no response types"
        );
        let post = validate(json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post"}), false).unwrap();
        assert_eq!(
            post.token_endpoint_auth_method, "client_secret_post",
            "echoed as requested"
        );
    }

    #[test]
    fn bodies_that_are_not_objects_are_refused() {
        for body in [&b"{not json"[..], b"[]", b"\"x\"", b""] {
            assert_eq!(
                parse_object(body).unwrap_err().code(),
                "invalid_client_metadata"
            );
        }
    }
}
