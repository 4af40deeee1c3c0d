//! Registered metadata ↔ the stored Keycloak client. The client representation is the one
//! source of truth: the OIDC fields Keycloak models (name, redirect URIs, flows, public or
//! confidential) live in its fields, so an admin's later change shows in the registration
//! response; everything else registered is kept verbatim in the attribute
//! `METADATA_ATTRIBUTE`, so it is stored and returned as registered (every RFC 7591 field
//! a client registers is stored and given back).

use serde_json::{Map, Value, json};

use super::RegistrationError;
use super::metadata::{ClientMetadata, ValidationContext};
use crate::clients::ScopeDefaults;
use crate::device;
use crate::rep::{ClientRep, ID_TOKEN_ALG_ATTRIBUTE, METADATA_ATTRIBUTE, StringMap};

pub use super::kind::REGISTRATION_AUTH_ATTRIBUTE;

fn authenticator_for(method: &str) -> &'static str {
    match method {
        "private_key_jwt" => "client-jwt",
        "client_secret_jwt" => "client-secret-jwt",
        _ => "client-secret",
    }
}

/// The Keycloak client a registration describes. `existing` is the client being replaced
/// on update (its id, flags an admin set and attributes are kept); `all_scopes` are the
/// names of all the realm's client scopes (`scope_defaults.all`).
pub fn to_client_rep(
    meta: &ClientMetadata,
    client_id: &str,
    existing: Option<&ClientRep>,
    scope_defaults: &ScopeDefaults,
    all_scopes: &[String],
) -> ClientRep {
    let mut rep = existing.cloned().unwrap_or_default();
    let grants = |g: &str| meta.grant_types.iter().any(|x| x == g);
    rep.client_id = Some(client_id.into());
    rep.name = meta.client_name.clone();
    rep.redirect_uris = Some(meta.redirect_uris.clone());
    rep.base_url = meta.client_uri.clone();
    rep.protocol = Some("openid-connect".into());
    rep.public_client = Some(meta.token_endpoint_auth_method == "none");
    rep.bearer_only = Some(false);
    rep.client_authenticator_type =
        Some(authenticator_for(&meta.token_endpoint_auth_method).into());
    rep.standard_flow_enabled = Some(grants("authorization_code"));
    rep.implicit_flow_enabled = Some(false);
    rep.direct_access_grants_enabled = Some(false);
    rep.service_accounts_enabled = Some(grants("client_credentials"));
    rep.consent_required.get_or_insert(false);
    rep.full_scope_allowed.get_or_insert(true);
    rep.web_origins.get_or_insert_with(Vec::new);
    if existing.is_none() || meta.scope.is_some() {
        let mut default = scope_defaults.default.clone();
        if grants("client_credentials") {
            default.push("service_account".into());
        }
        let optional: Vec<String> = match &meta.scope {
            Some(s) => s
                .split(' ')
                .filter(|n| {
                    *n != "openid"
                        && all_scopes.iter().any(|r| r == n)
                        && !default.iter().any(|d| d == n)
                })
                .map(str::to_string)
                .collect(),
            None => scope_defaults.optional.clone(),
        };
        rep.default_client_scopes = Some(default);
        rep.optional_client_scopes = Some(optional);
    }
    let attrs = rep.attributes.get_or_insert_with(StringMap::new);
    // Keycloak's DCR turns the device grant into the client's switch, and a registration
    // that no longer asks for it turns the switch off.
    if grants(device::GRANT_TYPE) {
        attrs.insert(device::ENABLED_ATTRIBUTE.into(), "true".into());
    } else if attrs.contains_key(device::ENABLED_ATTRIBUTE) {
        attrs.insert(device::ENABLED_ATTRIBUTE.into(), "false".into());
    }
    let stored = serde_json::to_string(meta).unwrap_or_else(|_| "{}".into());
    attrs.insert(METADATA_ATTRIBUTE.into(), stored);
    rep
}

/// The RFC 7591 metadata of a stored client (without the server-managed members): what
/// was registered, with the fields Keycloak models read from the client as it is now.
pub fn to_metadata(rep: &ClientRep) -> Map<String, Value> {
    let stored: Map<String, Value> = rep
        .attributes
        .as_ref()
        .and_then(|a| a.get(METADATA_ATTRIBUTE))
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let registered = !stored.is_empty();
    let mut m = stored;
    let had = |m: &Map<String, Value>, key: &str, value: &str| {
        m.get(key)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v == value))
    };
    let standard = rep.standard_flow_enabled.unwrap_or(true);
    let device = device::enabled(rep);
    let mut grants = Vec::new();
    if standard {
        grants.push("authorization_code");
    }
    if (standard || device) && (!registered || had(&m, "grant_types", "refresh_token")) {
        grants.push("refresh_token");
    }
    if rep.service_accounts() {
        grants.push("client_credentials");
    }
    if rep.direct_access_grants() {
        grants.push("password");
    }
    if device {
        grants.push(device::GRANT_TYPE);
    }
    m.insert("grant_types".into(), json!(grants));
    m.insert(
        "response_types".into(),
        if standard { json!(["code"]) } else { json!([]) },
    );
    m.insert(
        "redirect_uris".into(),
        json!(rep.redirect_uris.clone().unwrap_or_default()),
    );
    match &rep.name {
        Some(n) => m.insert("client_name".into(), json!(n)),
        None => m.remove("client_name"),
    };
    match &rep.base_url {
        Some(u) => m.insert("client_uri".into(), json!(u)),
        None => m.remove("client_uri"),
    };
    let method = m
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .map(str::to_string);
    let consistent = match (&method, rep.is_public()) {
        (Some(m), true) => m == "none",
        (Some(m), false) => {
            m != "none"
                && authenticator_for(m)
                    == rep
                        .client_authenticator_type
                        .as_deref()
                        .unwrap_or("client-secret")
        }
        (None, _) => false,
    };
    if !consistent {
        let derived = if rep.is_public() {
            "none"
        } else {
            match rep.client_authenticator_type.as_deref() {
                Some("client-jwt") => "private_key_jwt",
                Some("client-secret-jwt") => "client_secret_jwt",
                _ => "client_secret_basic",
            }
        };
        m.insert("token_endpoint_auth_method".into(), json!(derived));
    }
    m.entry("application_type").or_insert_with(|| json!("web"));
    // Shown when the client chose one; Keycloak omits it otherwise (`id_token_alg`).
    match id_token_alg(rep) {
        Some(alg) => m.insert("id_token_signed_response_alg".into(), json!(alg)),
        None => m.remove("id_token_signed_response_alg"),
    };
    m
}

/// The algorithm a client's ID tokens are signed with, if it chose one: Keycloak's
/// `id.token.signed.response.alg` attribute, else its registered
/// `id_token_signed_response_alg` (RS256 when its registration omitted it, OIDC DCR §2).
/// `None` (a client an admin created without the attribute): the realm's default
/// signature algorithm, as Keycloak signs them.
pub fn id_token_alg(rep: &ClientRep) -> Option<String> {
    let attrs = rep.attributes.as_ref()?;
    if let Some(alg) = attrs.get(ID_TOKEN_ALG_ATTRIBUTE).filter(|a| !a.is_empty()) {
        return Some(alg.clone());
    }
    let registered: Map<String, Value> =
        serde_json::from_str(attrs.get(METADATA_ATTRIBUTE)?).ok()?;
    registered
        .get("id_token_signed_response_alg")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The same redirect-URI and metadata rules for Keycloak's `default` provider, applied to
/// what its representation would register (both providers obey one rule). Keycloak-style
/// wildcard redirect URIs
/// are refused there too.
pub fn validate_keycloak_rep(
    rep: &ClientRep,
    ctx: ValidationContext,
) -> Result<(), RegistrationError> {
    if rep
        .client_id
        .as_deref()
        .is_some_and(|c| c.trim().is_empty())
    {
        return Err(RegistrationError::metadata("clientId must not be empty"));
    }
    let mut m = Map::new();
    m.insert(
        "redirect_uris".into(),
        json!(rep.redirect_uris.clone().unwrap_or_default()),
    );
    // Only the redirect URI rules apply: Keycloak does not require redirect URIs up front.
    m.insert("grant_types".into(), json!(["client_credentials"]));
    for (key, value) in [("client_uri", &rep.base_url), ("client_uri", &rep.root_url)] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            m.insert(key.into(), json!(v));
            ClientMetadata::validate(&m, ctx)?;
            m.remove(key);
        }
    }
    ClientMetadata::validate(&m, ctx).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(v: Value) -> ClientMetadata {
        let Value::Object(m) = v else { panic!() };
        ClientMetadata::validate(&m, ValidationContext::default()).unwrap()
    }

    #[test]
    fn a_machine_client_is_a_confidential_service_account() {
        let m = meta(
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post", "client_name": "bot", "x-unknown": 1}),
        );
        let defaults = ScopeDefaults {
            default: vec!["profile".into()],
            optional: vec!["phone".into()],
            ..Default::default()
        };
        let rep = to_client_rep(&m, "c1", None, &defaults, &[]);
        assert!(rep.service_accounts() && !rep.is_public());
        assert_eq!(rep.standard_flow_enabled, Some(false));
        assert_eq!(
            rep.default_client_scopes,
            Some(vec!["profile".into(), "service_account".into()])
        );
        let out = to_metadata(&rep);
        assert_eq!(
            out["token_endpoint_auth_method"], "client_secret_post",
            "echoed as requested"
        );
        assert_eq!(out["grant_types"], json!(["client_credentials"]));
        assert_eq!(out["response_types"], json!([]));
        assert_eq!(out["client_name"], "bot");
        assert!(out.get("x-unknown").is_none());
    }

    /// A registration that omitted the ID token's algorithm keeps OIDC DCR's RS256; a client
    /// an admin created has none of its own (the realm's default signs, as in Keycloak);
    /// Keycloak's attribute decides over both.
    #[test]
    fn the_id_token_algorithm_is_the_clients_choice_or_none() {
        let registered = to_client_rep(
            &meta(json!({"redirect_uris": ["https://a.example/cb"]})),
            "c",
            None,
            &ScopeDefaults::default(),
            &[],
        );
        assert_eq!(id_token_alg(&registered).as_deref(), Some("RS256"));
        assert_eq!(
            to_metadata(&registered)["id_token_signed_response_alg"],
            "RS256"
        );
        let chose = to_client_rep(
            &meta(
                json!({"redirect_uris": ["https://a.example/cb"], "id_token_signed_response_alg": "ES256"}),
            ),
            "c",
            None,
            &ScopeDefaults::default(),
            &[],
        );
        assert_eq!(id_token_alg(&chose).as_deref(), Some("ES256"));
        let mut created = ClientRep::default();
        assert_eq!(id_token_alg(&created), None);
        assert!(
            to_metadata(&created)
                .get("id_token_signed_response_alg")
                .is_none()
        );
        for rep in [&mut created, &mut registered.clone()] {
            rep.attributes
                .get_or_insert_with(StringMap::new)
                .insert(ID_TOKEN_ALG_ATTRIBUTE.into(), "PS256".into());
            assert_eq!(id_token_alg(rep).as_deref(), Some("PS256"));
            assert_eq!(to_metadata(rep)["id_token_signed_response_alg"], "PS256");
        }
    }

    #[test]
    fn requested_scopes_become_optional_scopes() {
        let m = meta(
            json!({"redirect_uris": ["https://a.example/cb"], "scope": "openid phone mcp:tools unknown"}),
        );
        let defaults = ScopeDefaults {
            default: vec!["profile".into()],
            optional: vec![],
            ..Default::default()
        };
        let rep = to_client_rep(
            &m,
            "c",
            None,
            &defaults,
            &["phone".into(), "mcp:tools".into(), "profile".into()],
        );
        assert_eq!(
            rep.optional_client_scopes,
            Some(vec!["phone".into(), "mcp:tools".into()])
        );
        assert_eq!(to_metadata(&rep)["scope"], "openid phone mcp:tools unknown");
    }

    #[test]
    fn admin_changes_show_in_the_metadata() {
        let m = meta(json!({"redirect_uris": ["https://a.example/cb"]}));
        let mut rep = to_client_rep(&m, "c", None, &ScopeDefaults::default(), &[]);
        rep.public_client = Some(true);
        rep.name = Some("renamed".into());
        let out = to_metadata(&rep);
        assert_eq!(out["token_endpoint_auth_method"], "none");
        assert_eq!(out["client_name"], "renamed");
        assert_eq!(
            out["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );
    }

    #[test]
    fn keycloak_reps_follow_the_same_redirect_rules() {
        let ctx = ValidationContext::default();
        let ok = ClientRep {
            redirect_uris: Some(vec!["https://a.example/cb".into()]),
            ..Default::default()
        };
        assert!(validate_keycloak_rep(&ok, ctx).is_ok());
        let wildcard = ClientRep {
            redirect_uris: Some(vec!["https://a.example/*".into()]),
            ..Default::default()
        };
        assert_eq!(
            validate_keycloak_rep(&wildcard, ctx).unwrap_err().code(),
            "invalid_redirect_uri"
        );
        let none = ClientRep::default();
        assert!(
            validate_keycloak_rep(&none, ctx).is_ok(),
            "Keycloak needs no redirect URI up front"
        );
    }
}
