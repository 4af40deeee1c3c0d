//! The policy components and the providers (Keycloak's eight and Latchkey's own two): the
//! component type, the two sets
//! (`anonymous`, `authenticated`), each provider's Keycloak id, help text and the
//! configuration form a console draws for it.

use serde_json::{Value, json};

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
    /// Latchkey's own: registered confidential clients' secrets expire (RFC 7591 §3.2.1).
    ClientSecretExpiration,
    /// Latchkey's own: deletes registered clients unused for a number of days.
    UnusedClientExpiration,
}

impl Provider {
    pub const ALL: [Provider; 10] = [
        Provider::TrustedHosts,
        Provider::ConsentRequired,
        Provider::Scope,
        Provider::MaxClients,
        Provider::ClientDisabled,
        Provider::AllowedProtocolMappers,
        Provider::AllowedClientScopes,
        Provider::RegistrationWebOrigins,
        Provider::ClientSecretExpiration,
        Provider::UnusedClientExpiration,
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
            Provider::ClientSecretExpiration => "client-secret-expiration",
            Provider::UnusedClientExpiration => "unused-client-expiration",
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
            Provider::ClientSecretExpiration => {
                "Registered confidential clients get secrets that expire after this many days; reading the registration in the last quarter of a secret's life returns a new one, and the old one works until its own expiry."
            }
            Provider::UnusedClientExpiration => {
                "Clients registered through this set (or, for the anonymous set, from a client ID metadata document) are deleted once unused for this many days. Clients an administrator created are never deleted."
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
            Provider::ClientSecretExpiration => vec![prop(
                "days",
                "Secret Lifetime (Days)",
                "Days a registered client's secret stays valid (client_secret_expires_at).",
                "int",
                json!("90"),
            )],
            Provider::UnusedClientExpiration => vec![prop(
                "days",
                "Days Unused",
                "A registered client not used for this many days (or, never used, created that long ago) is deleted.",
                "int",
                json!("90"),
            )],
            Provider::ConsentRequired | Provider::Scope | Provider::ClientDisabled => Vec::new(),
        }
    }

    /// Keycloak's `ComponentTypeRepresentation` of this provider.
    pub fn component_type(self) -> Value {
        json!({"id": self.id(), "helpText": self.help_text(), "properties": self.properties(), "metadata": {}})
    }
}
