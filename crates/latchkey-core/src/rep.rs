//! Keycloak's admin representations (camelCase JSON), the fields Latchkey supports.
//! Unknown members are ignored on input; `None` fields are omitted on output, as Keycloak
//! omits nulls. These are wire types: no logic beyond defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub type StringMap = BTreeMap<String, String>;
pub type MultiMap = BTreeMap<String, Vec<String>>;

/// `RealmRepresentation`, the supported subset. Realm registration switches live in
/// `attributes` as `"true"`/`"false"` strings, as in Keycloak, and are changed with
/// `PUT /admin/realms/{r}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RealmRep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_required: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_signature_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_lifespan: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso_session_idle_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso_session_max_lifespan: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_code_lifespan: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_session_idle_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_refresh_token: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_max_reuse: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_allowed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_with_email_allowed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_emails_allowed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_password_allowed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remember_me: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_email: Option<bool>,
    /// Brute-force detection (Keycloak's "Security defenses"); the numbers' meaning is
    /// Keycloak's, applied by `latchkey-server`'s `brute_force.rs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brute_force_protected: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permanent_lockout: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_temporary_lockouts: Option<i64>,
    /// `"MULTIPLE"` or `"LINEAR"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brute_force_strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_failure_wait_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_quick_login_wait_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_increment_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quick_login_check_milli_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delta_time_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_factor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_expiration: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled_event_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_events_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_events_details_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_role: Option<RoleRep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<StringMap>,
}

/// A protocol mapper (`ProtocolMapperRepresentation`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProtocolMapperRep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_mapper: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<StringMap>,
}

/// The client attribute where Latchkey keeps the registered RFC 7591 metadata, as a JSON
/// object in a string.
pub const METADATA_ATTRIBUTE: &str = "oidc.registration.metadata";

/// `ClientRepresentation`, the supported subset. The stored form never holds `secret` or
/// `registrationAccessToken`: those are filled in on the way out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientRep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surrogate_auth_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always_display_in_console: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_authenticator_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standard_flow_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implicit_flow_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_access_grants_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_accounts_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_client: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<StringMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_flow_binding_overrides: Option<StringMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_scope_allowed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_re_registration_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_client_scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optional_client_scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_mappers: Option<Vec<ProtocolMapperRep>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<BTreeMap<String, bool>>,
}

impl ClientRep {
    pub fn is_public(&self) -> bool {
        self.public_client.unwrap_or(false)
    }
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
    pub fn is_bearer_only(&self) -> bool {
        self.bearer_only.unwrap_or(false)
    }
    pub fn service_accounts(&self) -> bool {
        self.service_accounts_enabled.unwrap_or(false)
    }
    pub fn direct_access_grants(&self) -> bool {
        self.direct_access_grants_enabled.unwrap_or(false)
    }
    pub fn full_scope(&self) -> bool {
        self.full_scope_allowed.unwrap_or(true)
    }
    /// Only confidential clients that authenticate with a secret hold one.
    pub fn uses_secret(&self) -> bool {
        !self.is_public()
            && !self.is_bearer_only()
            && matches!(
                self.client_authenticator_type.as_deref(),
                None | Some("client-secret") | Some("client-secret-jwt")
            )
    }
}

/// `CredentialRepresentation` as `reset-password` and `POST /users` take it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRep {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporary: Option<bool>,
}

/// `UserRepresentation`, the supported subset.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UserRep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totp: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<MultiMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_actions: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disableable_credential_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Vec<CredentialRep>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<BTreeMap<String, bool>>,
}

/// `composites` of a `RoleRepresentation`: role names by container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Composites {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub realm: Vec<String>,
    /// client `clientId` → role names
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub client: BTreeMap<String, Vec<String>>,
}

/// `RoleRepresentation`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoleRep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composite: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composites: Option<Composites>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_role: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<MultiMap>,
}

/// `ClientScopeRepresentation`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientScopeRep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<StringMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_mappers: Option<Vec<ProtocolMapperRep>>,
}

/// `{"type": "secret", "value": …}` of `GET …/client-secret`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecretRep {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}
