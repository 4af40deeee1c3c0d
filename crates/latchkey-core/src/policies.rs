//! Client registration policies (two sets per realm, Keycloak components): Keycloak's
//! eight providers, stored as
//! components of type `POLICY_TYPE` in an `anonymous` and an `authenticated` set, their
//! metadata for a console's forms, the defaults a new realm gets, and their evaluation
//! against a client being registered. Messages are Keycloak's
//! (`ClientRegistrationPoliciesTest`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Value, json};

use crate::client_uris::stored_uris;
use crate::crypto::new_uuid;
use crate::rep::ClientRep;
use crate::store::ComponentRecord;

pub const POLICY_TYPE: &str =
    "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy";
pub const ANONYMOUS: &str = "anonymous";
pub const AUTHENTICATED: &str = "authenticated";

/// Mapper types the default `allowed-protocol-mappers` policies admit.
pub const DEFAULT_MAPPER_TYPES: [&str; 8] = [
    "saml-user-attribute-mapper",
    "oidc-usermodel-attribute-mapper",
    "saml-user-property-mapper",
    "oidc-usermodel-property-mapper",
    "oidc-full-name-mapper",
    "oidc-address-mapper",
    "oidc-sha256-pairwise-sub-mapper",
    "saml-role-list-mapper",
];

/// The built-in providers, by Keycloak id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    TrustedHosts,
    ConsentRequired,
    Scope,
    MaxClients,
    ClientDisabled,
    AllowedProtocolMappers,
    AllowedClientScopes,
    RegistrationWebOrigins,
}

impl Provider {
    pub const ALL: [Provider; 8] = [
        Provider::TrustedHosts,
        Provider::ConsentRequired,
        Provider::Scope,
        Provider::MaxClients,
        Provider::ClientDisabled,
        Provider::AllowedProtocolMappers,
        Provider::AllowedClientScopes,
        Provider::RegistrationWebOrigins,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Provider::TrustedHosts => "trusted-hosts",
            Provider::ConsentRequired => "consent-required",
            Provider::Scope => "scope",
            Provider::MaxClients => "max-clients",
            Provider::ClientDisabled => "client-disabled",
            Provider::AllowedProtocolMappers => "allowed-protocol-mappers",
            Provider::AllowedClientScopes => "allowed-client-templates",
            Provider::RegistrationWebOrigins => "registration-web-origins",
        }
    }

    pub fn parse(id: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.id() == id)
    }

    pub fn help_text(self) -> &'static str {
        match self {
            Provider::TrustedHosts => {
                "Registration requests must come from a trusted host, and the client's URIs must point to trusted hosts or domains."
            }
            Provider::ConsentRequired => {
                "Registered clients require user consent; they cannot switch it off."
            }
            Provider::Scope => {
                "Registered clients have full scope allowed switched off and cannot switch it on."
            }
            Provider::MaxClients => {
                "The realm holds at most this many clients; registration beyond is refused."
            }
            Provider::ClientDisabled => {
                "Registered clients start disabled until an administrator enables them, and cannot enable themselves."
            }
            Provider::AllowedProtocolMappers => {
                "Registered clients may only use the listed protocol mapper types."
            }
            Provider::AllowedClientScopes => {
                "Registered clients may only use the listed client scopes (and the realm's default scopes, if allowed)."
            }
            Provider::RegistrationWebOrigins => {
                "Browser origins allowed to call the registration endpoint (CORS)."
            }
        }
    }

    /// Keycloak's `ConfigPropertyRepresentation`s: what a console draws as the form.
    pub fn properties(self) -> Vec<Value> {
        let prop = |name: &str, label: &str, help: &str, kind: &str, default: Value| {
            json!({"name": name, "label": label, "helpText": help, "type": kind,
                   "defaultValue": default, "secret": false, "required": false, "readOnly": false})
        };
        match self {
            Provider::TrustedHosts => vec![
                prop(
                    "trusted-hosts",
                    "Trusted Hosts",
                    "Hosts (name or IP address) or domains (*.example.com) that are trusted.",
                    "MultivaluedString",
                    json!(null),
                ),
                prop(
                    "host-sending-registration-request-must-match",
                    "Host Sending Client Registration Request Must Match",
                    "The address the registration request comes from must be a trusted host.",
                    "boolean",
                    json!("true"),
                ),
                prop(
                    "client-uris-must-match",
                    "Client URIs Must Match",
                    "The client's redirect URIs and URLs must point to trusted hosts or domains.",
                    "boolean",
                    json!("true"),
                ),
            ],
            Provider::MaxClients => vec![prop(
                "max-clients",
                "Max Clients Per Realm",
                "Registration is refused once the realm holds this many clients.",
                "int",
                json!("200"),
            )],
            Provider::AllowedProtocolMappers => {
                let mut p = prop(
                    "allowed-protocol-mapper-types",
                    "Allowed Protocol Mapper Types",
                    "Protocol mapper types registered clients may use.",
                    "MultivaluedList",
                    json!(null),
                );
                p["options"] = json!(DEFAULT_MAPPER_TYPES);
                vec![p]
            }
            Provider::AllowedClientScopes => vec![
                prop(
                    "allowed-client-scopes",
                    "Allowed Client Scopes",
                    "Client scopes registered clients may use.",
                    "MultivaluedList",
                    json!(null),
                ),
                prop(
                    "allow-default-scopes",
                    "Allow Default Scopes",
                    "Also allow the realm's default and optional client scopes.",
                    "boolean",
                    json!("true"),
                ),
            ],
            Provider::RegistrationWebOrigins => vec![prop(
                "web-origins",
                "Allowed Web Origins",
                "Origins (https://app.example.com) allowed to call the registration endpoint from a browser.",
                "MultivaluedString",
                json!(null),
            )],
            Provider::ConsentRequired | Provider::Scope | Provider::ClientDisabled => Vec::new(),
        }
    }

    /// Keycloak's `ComponentTypeRepresentation` of this provider.
    pub fn component_type(self) -> Value {
        json!({"id": self.id(), "helpText": self.help_text(), "properties": self.properties(), "metadata": {}})
    }
}

fn first<'a>(c: &'a ComponentRecord, key: &str) -> Option<&'a str> {
    c.config
        .get(key)
        .and_then(|v| v.first())
        .map(String::as_str)
}

fn flag(c: &ComponentRecord, key: &str, default: bool) -> bool {
    first(c, key).map_or(default, |v| v.eq_ignore_ascii_case("true"))
}

fn list<'a>(c: &'a ComponentRecord, key: &str) -> impl Iterator<Item = &'a str> {
    c.config
        .get(key)
        .into_iter()
        .flatten()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// Checks a component's configuration (400 `errorMessage` on the components API).
pub fn validate_config(provider: Provider, c: &ComponentRecord) -> Result<(), String> {
    match provider {
        Provider::TrustedHosts
            if !flag(c, "host-sending-registration-request-must-match", true)
                && !flag(c, "client-uris-must-match", true) =>
        {
            return Err(
                "At least one of hosts verification or client URIs validation must be enabled"
                    .into(),
            );
        }
        Provider::MaxClients => match first(c, "max-clients").map(str::parse::<i64>) {
            Some(Ok(n)) if n > 0 => {}
            _ => return Err("max-clients must be a positive number".into()),
        },
        _ => {}
    }
    Ok(())
}

fn component(
    realm_id: &str,
    sub_type: &str,
    name: &str,
    provider: Provider,
    config: &[(&str, Vec<&str>)],
) -> ComponentRecord {
    ComponentRecord {
        id: new_uuid(),
        realm_id: realm_id.into(),
        parent_id: realm_id.into(),
        provider_type: POLICY_TYPE.into(),
        provider_id: provider.id().into(),
        sub_type: Some(sub_type.into()),
        name: name.into(),
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect(),
    }
}

/// Keycloak's default policies (`DefaultClientRegistrationPolicies`).
pub fn defaults(realm_id: &str) -> Vec<ComponentRecord> {
    let mappers = || {
        vec![(
            "allowed-protocol-mapper-types",
            DEFAULT_MAPPER_TYPES.to_vec(),
        )]
    };
    let scopes = || vec![("allow-default-scopes", vec!["true"])];
    vec![
        component(
            realm_id,
            ANONYMOUS,
            "Trusted Hosts",
            Provider::TrustedHosts,
            &[
                ("host-sending-registration-request-must-match", vec!["true"]),
                ("client-uris-must-match", vec!["true"]),
            ],
        ),
        component(
            realm_id,
            ANONYMOUS,
            "Consent Required",
            Provider::ConsentRequired,
            &[],
        ),
        component(
            realm_id,
            ANONYMOUS,
            "Full Scope Disabled",
            Provider::Scope,
            &[],
        ),
        component(
            realm_id,
            ANONYMOUS,
            "Max Clients Limit",
            Provider::MaxClients,
            &[("max-clients", vec!["200"])],
        ),
        component(
            realm_id,
            ANONYMOUS,
            "Allowed Protocol Mapper Types",
            Provider::AllowedProtocolMappers,
            &mappers(),
        ),
        component(
            realm_id,
            ANONYMOUS,
            "Allowed Client Scopes",
            Provider::AllowedClientScopes,
            &scopes(),
        ),
        component(
            realm_id,
            ANONYMOUS,
            "Allowed Registration Web Origins",
            Provider::RegistrationWebOrigins,
            &[],
        ),
        component(
            realm_id,
            AUTHENTICATED,
            "Allowed Protocol Mapper Types",
            Provider::AllowedProtocolMappers,
            &mappers(),
        ),
        component(
            realm_id,
            AUTHENTICATED,
            "Allowed Client Scopes",
            Provider::AllowedClientScopes,
            &scopes(),
        ),
        component(
            realm_id,
            AUTHENTICATED,
            "Allowed Registration Web Origins",
            Provider::RegistrationWebOrigins,
            &[],
        ),
    ]
}

/// Create or update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
}

/// What a policy sees of a registration.
pub struct Request<'a> {
    pub action: Action,
    /// The caller's address.
    pub source: Option<IpAddr>,
    /// Addresses the realm's trusted host names resolve to (resolved by the caller of
    /// this module, which owns IO).
    pub resolved_hosts: &'a BTreeMap<String, Vec<IpAddr>>,
    /// The client as it would be stored.
    pub client: &'a ClientRep,
    /// On update, the client as it is.
    pub previous: Option<&'a ClientRep>,
    /// Scope names the request asked for, including unknown ones.
    pub requested_scopes: &'a [String],
    /// The realm's default and optional client scope names.
    pub realm_scopes: &'a [String],
    /// How many clients the realm holds now (for a dry run; the store enforces the limit).
    pub client_count: Option<i64>,
}

/// One policy's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub name: String,
    pub provider_id: String,
    /// `None`: passes; `Some(why)`: refuses.
    pub refusal: Option<String>,
}

fn host_of(uri: &str) -> Option<String> {
    url::Url::parse(uri)
        .ok()?
        .host_str()
        .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
}

/// `*.example.com` matches `a.example.com` (and deeper), a plain entry matches exactly.
fn host_trusted(host: &str, trusted: &[String]) -> bool {
    trusted.iter().any(|t| match t.strip_prefix("*.") {
        Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
        None => host == t,
    })
}

fn source_trusted(
    source: IpAddr,
    trusted: &[String],
    resolved: &BTreeMap<String, Vec<IpAddr>>,
) -> bool {
    trusted.iter().any(|t| {
        if let Ok(ip) = t.parse::<IpAddr>() {
            return ip == source;
        }
        if t == "localhost" && source.is_loopback() {
            return true;
        }
        resolved.get(t).is_some_and(|ips| ips.contains(&source))
    })
}

/// The URIs trusted-hosts checks: every URI the client stores (`client_uris::stored_uris`:
/// root, base and admin URLs, redirect and post-logout redirect URIs, JWKS, sector
/// identifier, back/front-channel logout, initiate-login and the display URLs), so no URI
/// a browser or the server may be sent to escapes the policy. Keycloak checks only the
/// first four kinds, and a relative one (`/cb`) against the root URL, as here: without a
/// root URL a relative URI names this server and is not checked.
fn client_uris(c: &ClientRep) -> Vec<String> {
    let root = c.root_url.as_deref().filter(|r| !r.is_empty());
    stored_uris(c)
        .into_iter()
        .filter_map(|(_, uri)| match (uri.starts_with('/'), root) {
            (false, _) => Some(uri),
            (true, Some(root)) => Some(format!("{}{uri}", root.trim_end_matches('/'))),
            (true, None) => None,
        })
        .collect()
}

/// Checks one policy. `Err(message)` refuses.
fn check(provider: Provider, c: &ComponentRecord, r: &Request<'_>) -> Result<(), String> {
    let client = r.client;
    let previous = r.previous;
    match provider {
        Provider::TrustedHosts => {
            let trusted: Vec<String> = list(c, "trusted-hosts")
                .map(|s| s.to_ascii_lowercase())
                .collect();
            if flag(c, "host-sending-registration-request-must-match", true) {
                let ok = r
                    .source
                    .is_some_and(|ip| source_trusted(ip, &trusted, r.resolved_hosts));
                if !ok {
                    return Err("Host not trusted.".into());
                }
            }
            if flag(c, "client-uris-must-match", true) {
                for uri in client_uris(client) {
                    match host_of(&uri) {
                        Some(h) if host_trusted(&h, &trusted) => {}
                        Some(_) => {
                            return Err(
                                "URL doesn't match any trusted host or trusted domain".into()
                            );
                        }
                        None => return Err("URL is malformed".into()),
                    }
                }
            }
            Ok(())
        }
        Provider::ConsentRequired => match (r.action, client.consent_required) {
            (Action::Update, Some(false))
                if previous.and_then(|p| p.consent_required) != Some(false) =>
            {
                Err("Not permitted to update consentRequired to false".into())
            }
            _ => Ok(()),
        },
        Provider::Scope => match (r.action, client.full_scope_allowed) {
            (Action::Update, Some(true))
                if previous.and_then(|p| p.full_scope_allowed) != Some(true) =>
            {
                Err("Not permitted to enable fullScopeAllowed".into())
            }
            _ => Ok(()),
        },
        Provider::MaxClients => {
            let max: i64 = first(c, "max-clients")
                .and_then(|v| v.parse().ok())
                .unwrap_or(200);
            match (r.action, r.client_count) {
                (Action::Create, Some(n)) if n >= max => {
                    Err(format!("It's allowed to have max {max} clients per realm"))
                }
                _ => Ok(()),
            }
        }
        Provider::ClientDisabled => {
            let enables = client.enabled == Some(true);
            let was_enabled = previous.is_some_and(|p| p.enabled.unwrap_or(true));
            if r.action == Action::Update && enables && !was_enabled {
                Err("Not permitted to enable client".into())
            } else {
                Ok(())
            }
        }
        Provider::AllowedProtocolMappers => {
            let allowed: Vec<&str> = list(c, "allowed-protocol-mapper-types").collect();
            for m in client.protocol_mappers.iter().flatten() {
                let kind = m.protocol_mapper.as_deref().unwrap_or("");
                if !allowed.contains(&kind) {
                    return Err("ProtocolMapper type not allowed".into());
                }
            }
            Ok(())
        }
        Provider::AllowedClientScopes => {
            let mut allowed: Vec<&str> = list(c, "allowed-client-scopes").collect();
            if flag(c, "allow-default-scopes", true) {
                allowed.extend(r.realm_scopes.iter().map(String::as_str));
            }
            // `openid` is a request for an ID token, not a client scope (keycloak#42339).
            let used = client
                .default_client_scopes
                .iter()
                .flatten()
                .chain(client.optional_client_scopes.iter().flatten())
                .chain(r.requested_scopes.iter())
                .filter(|s| s.as_str() != "openid" && s.as_str() != "service_account");
            for scope in used {
                if !allowed.contains(&scope.as_str()) {
                    return Err("Not permitted to use specified clientScope".into());
                }
            }
            Ok(())
        }
        Provider::RegistrationWebOrigins => Ok(()),
    }
}

/// Every policy's verdict, in order (the dry-run explainer shows them all).
pub fn evaluate(components: &[ComponentRecord], sub_type: &str, r: &Request<'_>) -> Vec<Verdict> {
    components
        .iter()
        .filter(|c| c.provider_type == POLICY_TYPE && c.sub_type.as_deref() == Some(sub_type))
        .filter_map(|c| {
            let provider = Provider::parse(&c.provider_id)?;
            Some(Verdict {
                name: c.name.clone(),
                provider_id: c.provider_id.clone(),
                refusal: check(provider, c, r).err(),
            })
        })
        .collect()
}

/// What the policies change on a client being created (consent on, full scope off,
/// disabled) and the client limit the store must enforce, with the policy's name.
pub struct Effects {
    pub max_clients: Option<(i64, String)>,
}

/// Applies the creation effects of the set's policies to `client`.
pub fn apply_on_create(
    components: &[ComponentRecord],
    sub_type: &str,
    client: &mut ClientRep,
) -> Effects {
    let mut effects = Effects { max_clients: None };
    for c in components
        .iter()
        .filter(|c| c.provider_type == POLICY_TYPE && c.sub_type.as_deref() == Some(sub_type))
    {
        match Provider::parse(&c.provider_id) {
            Some(Provider::ConsentRequired) => client.consent_required = Some(true),
            Some(Provider::Scope) => client.full_scope_allowed = Some(false),
            Some(Provider::ClientDisabled) => client.enabled = Some(false),
            Some(Provider::MaxClients) => {
                let max = first(c, "max-clients")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(200);
                // Several limits: the smallest binds.
                if effects.max_clients.as_ref().is_none_or(|(m, _)| max < *m) {
                    effects.max_clients = Some((max, c.name.clone()));
                }
            }
            _ => {}
        }
    }
    effects
}

/// Web origins the `registration-web-origins` policies allow (both sets).
pub fn web_origins(components: &[ComponentRecord]) -> Vec<String> {
    components
        .iter()
        .filter(|c| {
            c.provider_type == POLICY_TYPE && c.provider_id == Provider::RegistrationWebOrigins.id()
        })
        .flat_map(|c| {
            list(c, "web-origins")
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Keycloak's refusal text: `Policy '<name>' rejected request to client-registration
/// service. Details: <why>`, sent as a 403 `insufficient_scope`.
pub fn refusal_message(name: &str, why: &str) -> String {
    format!("Policy '{name}' rejected request to client-registration service. Details: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rep::ProtocolMapperRep;

    fn policy(provider: Provider, config: &[(&str, &[&str])]) -> ComponentRecord {
        let mut c = component("r", ANONYMOUS, "P", provider, &[]);
        for (k, v) in config {
            c.config
                .insert(k.to_string(), v.iter().map(|s| s.to_string()).collect());
        }
        c
    }

    struct Case<'a> {
        name: &'a str,
        provider: Provider,
        config: &'a [(&'a str, &'a [&'a str])],
        action: Action,
        source: &'a str,
        client: ClientRep,
        previous: Option<ClientRep>,
        requested: &'a [&'a str],
        count: Option<i64>,
        expected: Option<&'a str>,
    }

    fn base<'a>(name: &'a str, provider: Provider) -> Case<'a> {
        Case {
            name,
            provider,
            config: &[],
            action: Action::Create,
            source: "203.0.113.7",
            client: ClientRep::default(),
            previous: None,
            requested: &[],
            count: None,
            expected: None,
        }
    }

    fn with_metadata(redirect_uri: &str, metadata: &str) -> ClientRep {
        let mut c = redirect(redirect_uri);
        c.attributes = Some(
            [(
                crate::registration::convert::METADATA_ATTRIBUTE.to_string(),
                metadata.to_string(),
            )]
            .into(),
        );
        c
    }

    fn redirect(uri: &str) -> ClientRep {
        ClientRep {
            redirect_uris: Some(vec![uri.into()]),
            ..Default::default()
        }
    }

    #[test]
    fn providers_pass_and_refuse_with_keycloaks_messages() {
        let th = Provider::TrustedHosts;
        let resolved: BTreeMap<String, Vec<IpAddr>> = [(
            "ci.example.org".to_string(),
            vec!["198.51.100.9".parse().unwrap()],
        )]
        .into();
        let cases = vec![
            Case {
                config: &[("trusted-hosts", &["203.0.113.7"])],
                client: redirect("https://203.0.113.7/cb"),
                ..base("trusted-hosts: trusted IP and URI", th)
            },
            Case {
                config: &[("trusted-hosts", &[])],
                expected: Some("Host not trusted."),
                ..base("trusted-hosts: empty list trusts nobody", th)
            },
            Case {
                config: &[
                    ("trusted-hosts", &["localhost"]),
                    ("client-uris-must-match", &["false"]),
                ],
                source: "127.0.0.1",
                ..base("trusted-hosts: localhost is loopback", th)
            },
            Case {
                config: &[
                    ("trusted-hosts", &["ci.example.org"]),
                    ("client-uris-must-match", &["false"]),
                ],
                source: "198.51.100.9",
                ..base("trusted-hosts: a host name resolved", th)
            },
            Case {
                config: &[
                    ("trusted-hosts", &["*.example.com"]),
                    ("host-sending-registration-request-must-match", &["false"]),
                ],
                client: redirect("https://app.example.com/cb"),
                ..base("trusted-hosts: domain wildcard", th)
            },
            Case {
                config: &[
                    ("trusted-hosts", &["*.example.com"]),
                    ("host-sending-registration-request-must-match", &["false"]),
                ],
                client: redirect("https://evil.com/cb"),
                expected: Some("URL doesn't match any trusted host or trusted domain"),
                ..base("trusted-hosts: foreign redirect", th)
            },
            Case {
                config: &[
                    ("trusted-hosts", &["*.example.com"]),
                    ("host-sending-registration-request-must-match", &["false"]),
                ],
                client: redirect("https://example.com.evil.com/cb"),
                expected: Some("URL doesn't match any trusted host or trusted domain"),
                ..base("trusted-hosts: suffix is not a domain", th)
            },
            Case {
                config: &[
                    ("trusted-hosts", &["*.example.com"]),
                    ("host-sending-registration-request-must-match", &["false"]),
                ],
                client: ClientRep {
                    root_url: Some("https://x.other.net".into()),
                    ..Default::default()
                },
                expected: Some("URL doesn't match any trusted host or trusted domain"),
                ..base("trusted-hosts: root URL checked too", th)
            },
            Case {
                config: &[
                    ("trusted-hosts", &["*.example.com"]),
                    ("host-sending-registration-request-must-match", &["false"]),
                ],
                client: with_metadata(
                    "https://app.example.com/cb",
                    r#"{"post_logout_redirect_uris":["https://evil.example/phish"]}"#,
                ),
                expected: Some("URL doesn't match any trusted host or trusted domain"),
                ..base("trusted-hosts: post-logout redirect URIs checked too", th)
            },
            Case {
                config: &[
                    ("trusted-hosts", &["*.example.com"]),
                    ("host-sending-registration-request-must-match", &["false"]),
                ],
                client: with_metadata(
                    "https://app.example.com/cb",
                    r#"{"jwks_uri":"https://evil.example/jwks"}"#,
                ),
                expected: Some("URL doesn't match any trusted host or trusted domain"),
                ..base("trusted-hosts: jwks_uri checked too", th)
            },
            Case {
                config: &[
                    ("trusted-hosts", &["*.example.com"]),
                    ("host-sending-registration-request-must-match", &["false"]),
                ],
                client: with_metadata(
                    "https://app.example.com/cb",
                    r#"{"post_logout_redirect_uris":["https://app.example.com/bye"],"backchannel_logout_uri":"https://api.example.com/bc"}"#,
                ),
                ..base(
                    "trusted-hosts: trusted post-logout and back-channel URIs",
                    th,
                )
            },
            Case {
                action: Action::Update,
                client: ClientRep {
                    consent_required: Some(false),
                    ..Default::default()
                },
                previous: Some(ClientRep {
                    consent_required: Some(true),
                    ..Default::default()
                }),
                expected: Some("Not permitted to update consentRequired to false"),
                ..base(
                    "consent-required: cannot be switched off",
                    Provider::ConsentRequired,
                )
            },
            Case {
                action: Action::Update,
                client: ClientRep {
                    consent_required: Some(true),
                    ..Default::default()
                },
                previous: Some(ClientRep {
                    consent_required: Some(true),
                    ..Default::default()
                }),
                ..base(
                    "consent-required: staying on passes",
                    Provider::ConsentRequired,
                )
            },
            Case {
                action: Action::Update,
                client: ClientRep {
                    full_scope_allowed: Some(true),
                    ..Default::default()
                },
                previous: Some(ClientRep {
                    full_scope_allowed: Some(false),
                    ..Default::default()
                }),
                expected: Some("Not permitted to enable fullScopeAllowed"),
                ..base("scope: cannot enable full scope", Provider::Scope)
            },
            Case {
                action: Action::Update,
                client: ClientRep {
                    full_scope_allowed: None,
                    ..Default::default()
                },
                previous: Some(ClientRep {
                    full_scope_allowed: Some(false),
                    ..Default::default()
                }),
                ..base(
                    "scope: omitting the field changes nothing (CVE-2026-18570)",
                    Provider::Scope,
                )
            },
            Case {
                config: &[("max-clients", &["3"])],
                count: Some(3),
                expected: Some("It's allowed to have max 3 clients per realm"),
                ..base("max-clients: full", Provider::MaxClients)
            },
            Case {
                config: &[("max-clients", &["3"])],
                count: Some(2),
                ..base("max-clients: a free slot", Provider::MaxClients)
            },
            Case {
                action: Action::Update,
                client: ClientRep {
                    enabled: Some(true),
                    ..Default::default()
                },
                previous: Some(ClientRep {
                    enabled: Some(false),
                    ..Default::default()
                }),
                expected: Some("Not permitted to enable client"),
                ..base(
                    "client-disabled: no self-approval",
                    Provider::ClientDisabled,
                )
            },
            Case {
                action: Action::Update,
                client: ClientRep {
                    enabled: Some(false),
                    ..Default::default()
                },
                previous: Some(ClientRep {
                    enabled: Some(false),
                    ..Default::default()
                }),
                ..base(
                    "client-disabled: staying disabled passes",
                    Provider::ClientDisabled,
                )
            },
            Case {
                config: &[("allowed-protocol-mapper-types", &["oidc-full-name-mapper"])],
                client: ClientRep {
                    protocol_mappers: Some(vec![ProtocolMapperRep {
                        protocol_mapper: Some("oidc-hardcoded-claim-mapper".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                },
                expected: Some("ProtocolMapper type not allowed"),
                ..base(
                    "allowed-protocol-mappers: a foreign type",
                    Provider::AllowedProtocolMappers,
                )
            },
            Case {
                config: &[("allowed-protocol-mapper-types", &["oidc-full-name-mapper"])],
                client: ClientRep {
                    protocol_mappers: Some(vec![ProtocolMapperRep {
                        protocol_mapper: Some("oidc-full-name-mapper".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                },
                ..base(
                    "allowed-protocol-mappers: a listed type",
                    Provider::AllowedProtocolMappers,
                )
            },
            Case {
                config: &[("allow-default-scopes", &["true"])],
                requested: &["openid", "profile"],
                ..base(
                    "allowed-client-templates: realm scopes and openid",
                    Provider::AllowedClientScopes,
                )
            },
            Case {
                config: &[("allow-default-scopes", &["true"])],
                requested: &["admin:all"],
                expected: Some("Not permitted to use specified clientScope"),
                ..base(
                    "allowed-client-templates: an unknown scope",
                    Provider::AllowedClientScopes,
                )
            },
            Case {
                config: &[
                    ("allowed-client-scopes", &["mcp:tools"]),
                    ("allow-default-scopes", &["false"]),
                ],
                requested: &["mcp:tools"],
                client: ClientRep {
                    default_client_scopes: Some(vec![]),
                    ..Default::default()
                },
                ..base(
                    "allowed-client-templates: a listed scope",
                    Provider::AllowedClientScopes,
                )
            },
            Case {
                config: &[("allow-default-scopes", &["false"])],
                client: ClientRep {
                    default_client_scopes: Some(vec!["profile".into()]),
                    ..Default::default()
                },
                expected: Some("Not permitted to use specified clientScope"),
                ..base(
                    "allowed-client-templates: defaults not allowed",
                    Provider::AllowedClientScopes,
                )
            },
        ];
        let realm_scopes = vec!["profile".to_string(), "email".to_string()];
        for case in cases {
            let requested: Vec<String> = case.requested.iter().map(|s| s.to_string()).collect();
            let r = Request {
                action: case.action,
                source: case.source.parse().ok(),
                resolved_hosts: &resolved,
                client: &case.client,
                previous: case.previous.as_ref(),
                requested_scopes: &requested,
                realm_scopes: &realm_scopes,
                client_count: case.count,
            };
            let c = policy(case.provider, case.config);
            let got = evaluate(std::slice::from_ref(&c), ANONYMOUS, &r);
            assert_eq!(got.len(), 1, "{}", case.name);
            assert_eq!(got[0].refusal.as_deref(), case.expected, "{}", case.name);
        }
    }

    #[test]
    fn creation_effects_and_defaults() {
        let d = defaults("r");
        assert_eq!(
            d.iter()
                .filter(|c| c.sub_type.as_deref() == Some(ANONYMOUS))
                .count(),
            7
        );
        assert_eq!(
            d.iter()
                .filter(|c| c.sub_type.as_deref() == Some(AUTHENTICATED))
                .count(),
            3
        );
        let mut client = ClientRep {
            enabled: Some(true),
            consent_required: Some(false),
            full_scope_allowed: Some(true),
            ..Default::default()
        };
        let effects = apply_on_create(&d, ANONYMOUS, &mut client);
        assert_eq!(client.consent_required, Some(true));
        assert_eq!(client.full_scope_allowed, Some(false));
        assert_eq!(
            client.enabled,
            Some(true),
            "client-disabled is not a default"
        );
        assert_eq!(
            effects.max_clients,
            Some((200, "Max Clients Limit".to_string()))
        );
        let mut authed = ClientRep::default();
        assert!(
            apply_on_create(&d, AUTHENTICATED, &mut authed)
                .max_clients
                .is_none()
        );
        let disabled = vec![policy(Provider::ClientDisabled, &[])];
        let mut c = ClientRep {
            enabled: Some(true),
            ..Default::default()
        };
        apply_on_create(&disabled, ANONYMOUS, &mut c);
        assert_eq!(c.enabled, Some(false));
    }

    #[test]
    fn config_validation() {
        let both_off = policy(
            Provider::TrustedHosts,
            &[
                ("host-sending-registration-request-must-match", &["false"]),
                ("client-uris-must-match", &["false"]),
            ],
        );
        assert!(validate_config(Provider::TrustedHosts, &both_off).is_err());
        assert!(
            validate_config(
                Provider::MaxClients,
                &policy(Provider::MaxClients, &[("max-clients", &["0"])])
            )
            .is_err()
        );
        assert!(
            validate_config(
                Provider::MaxClients,
                &policy(Provider::MaxClients, &[("max-clients", &["5"])])
            )
            .is_ok()
        );
        assert_eq!(
            refusal_message("Trusted Hosts", "Host not trusted."),
            "Policy 'Trusted Hosts' rejected request to client-registration service. Details: Host not trusted."
        );
        assert_eq!(
            Provider::parse("allowed-client-templates"),
            Some(Provider::AllowedClientScopes)
        );
    }
}
