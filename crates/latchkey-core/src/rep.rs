//! Keycloak's admin representations (camelCase JSON), the fields Latchkey supports.
//! Unknown members are ignored on input; `None` fields are omitted on output, as Keycloak
//! omits nulls. These are wire types: no logic beyond defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub type StringMap = BTreeMap<String, String>;
pub type MultiMap = BTreeMap<String, Vec<String>>;

/// Declares a representation whose fields are all `Option`s, each omitted from output when
/// `None` (Keycloak omits nulls): the one `skip_serializing_if` every such field carries.
macro_rules! omit_none {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$field_meta:meta])* pub $field:ident: $ty:ty,)*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $(
                $(#[$field_meta])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: $ty,
            )*
        }
    };
}

omit_none! {
    /// `RealmRepresentation`, the supported subset. Realm registration switches live in
    /// `attributes` as `"true"`/`"false"` strings, as in Keycloak, and are changed with
    /// `PUT /admin/realms/{r}`.
    #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    pub struct RealmRep {
        pub id: Option<String>,
        pub realm: Option<String>,
        pub display_name: Option<String>,
        pub enabled: Option<bool>,
        pub ssl_required: Option<String>,
        pub default_signature_algorithm: Option<String>,
        pub access_token_lifespan: Option<i64>,
        pub sso_session_idle_timeout: Option<i64>,
        pub sso_session_max_lifespan: Option<i64>,
        pub access_code_lifespan: Option<i64>,
        /// RFC 8628: how long a device code lives and the polling interval, in seconds
        /// (Keycloak's defaults 600 and 5 apply when absent; `device.rs`).
        pub oauth2_device_code_lifespan: Option<i64>,
        pub oauth2_device_polling_interval: Option<i64>,
        pub offline_session_idle_timeout: Option<i64>,
        pub revoke_refresh_token: Option<bool>,
        pub refresh_token_max_reuse: Option<i64>,
        pub not_before: Option<i64>,
        pub registration_allowed: Option<bool>,
        pub login_with_email_allowed: Option<bool>,
        pub duplicate_emails_allowed: Option<bool>,
        pub reset_password_allowed: Option<bool>,
        pub remember_me: Option<bool>,
        pub verify_email: Option<bool>,
        /// Brute-force detection (Keycloak's "Security defenses"); the numbers' meaning is
        /// Keycloak's, applied by `latchkey-server`'s `brute_force.rs`.
        pub brute_force_protected: Option<bool>,
        pub permanent_lockout: Option<bool>,
        pub max_temporary_lockouts: Option<i64>,
        /// `"MULTIPLE"` or `"LINEAR"`.
        pub brute_force_strategy: Option<String>,
        pub max_failure_wait_seconds: Option<i64>,
        pub minimum_quick_login_wait_seconds: Option<i64>,
        pub wait_increment_seconds: Option<i64>,
        pub quick_login_check_milli_seconds: Option<i64>,
        pub max_delta_time_seconds: Option<i64>,
        pub failure_factor: Option<i64>,
        pub events_enabled: Option<bool>,
        pub events_expiration: Option<i64>,
        pub enabled_event_types: Option<Vec<String>>,
        pub admin_events_enabled: Option<bool>,
        pub admin_events_details_enabled: Option<bool>,
        pub default_role: Option<RoleRep>,
        pub attributes: Option<StringMap>,
    }
}

omit_none! {
    /// A protocol mapper (`ProtocolMapperRepresentation`).
    #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    pub struct ProtocolMapperRep {
        pub id: Option<String>,
        pub name: Option<String>,
        pub protocol: Option<String>,
        pub protocol_mapper: Option<String>,
        pub config: Option<StringMap>,
    }
}

/// The client attribute where Latchkey keeps the registered RFC 7591 metadata, as a JSON
/// object in a string.
pub const METADATA_ATTRIBUTE: &str = "oidc.registration.metadata";

/// Keycloak's client attribute naming the ID token's signing algorithm (empty: the
/// realm's default).
pub const ID_TOKEN_ALG_ATTRIBUTE: &str = "id.token.signed.response.alg";

omit_none! {
    /// `ClientRepresentation`, the supported subset. The stored form never holds `secret` or
    /// `registrationAccessToken`: those are filled in on the way out.
    #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    pub struct ClientRep {
        pub id: Option<String>,
        pub client_id: Option<String>,
        pub name: Option<String>,
        pub description: Option<String>,
        pub root_url: Option<String>,
        pub admin_url: Option<String>,
        pub base_url: Option<String>,
        pub surrogate_auth_required: Option<bool>,
        pub enabled: Option<bool>,
        pub always_display_in_console: Option<bool>,
        pub client_authenticator_type: Option<String>,
        pub secret: Option<String>,
        pub registration_access_token: Option<String>,
        pub redirect_uris: Option<Vec<String>>,
        pub web_origins: Option<Vec<String>>,
        pub not_before: Option<i64>,
        pub bearer_only: Option<bool>,
        pub consent_required: Option<bool>,
        pub standard_flow_enabled: Option<bool>,
        pub implicit_flow_enabled: Option<bool>,
        pub direct_access_grants_enabled: Option<bool>,
        pub service_accounts_enabled: Option<bool>,
        pub public_client: Option<bool>,
        pub frontchannel_logout: Option<bool>,
        pub protocol: Option<String>,
        pub attributes: Option<StringMap>,
        pub authentication_flow_binding_overrides: Option<StringMap>,
        pub full_scope_allowed: Option<bool>,
        pub node_re_registration_timeout: Option<i64>,
        pub default_client_scopes: Option<Vec<String>>,
        pub optional_client_scopes: Option<Vec<String>>,
        pub protocol_mappers: Option<Vec<ProtocolMapperRep>>,
        pub access: Option<BTreeMap<String, bool>>,
    }
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

omit_none! {
    /// `CredentialRepresentation` as `reset-password` and `POST /users` take it.
    #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    pub struct CredentialRep {
        #[serde(rename = "type")]
        pub kind: Option<String>,
        pub value: Option<String>,
        pub temporary: Option<bool>,
    }
}

omit_none! {
    /// `UserRepresentation`, the supported subset.
    #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    pub struct UserRep {
        pub id: Option<String>,
        pub username: Option<String>,
        pub first_name: Option<String>,
        pub last_name: Option<String>,
        pub email: Option<String>,
        pub email_verified: Option<bool>,
        pub enabled: Option<bool>,
        pub totp: Option<bool>,
        pub attributes: Option<MultiMap>,
        pub created_timestamp: Option<i64>,
        pub service_account_client_id: Option<String>,
        pub required_actions: Option<Vec<String>>,
        pub not_before: Option<i64>,
        pub disableable_credential_types: Option<Vec<String>>,
        pub credentials: Option<Vec<CredentialRep>>,
        pub access: Option<BTreeMap<String, bool>>,
    }
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

omit_none! {
    /// `RoleRepresentation`.
    #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    pub struct RoleRep {
        pub id: Option<String>,
        pub name: Option<String>,
        pub description: Option<String>,
        pub composite: Option<bool>,
        pub composites: Option<Composites>,
        pub client_role: Option<bool>,
        pub container_id: Option<String>,
        pub attributes: Option<MultiMap>,
    }
}

omit_none! {
    /// `ClientScopeRepresentation`.
    #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    pub struct ClientScopeRep {
        pub id: Option<String>,
        pub name: Option<String>,
        pub description: Option<String>,
        pub protocol: Option<String>,
        pub attributes: Option<StringMap>,
        pub protocol_mappers: Option<Vec<ProtocolMapperRep>>,
    }
}

/// `{"type": "secret", "value": …}` of `GET …/client-secret`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecretRep {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl RealmRep {
    /// Keycloak's `RealmRepresentation` holds these as Java `Integer`s, so a value outside 32
    /// bits is a 400 there; here it would overflow the arithmetic of token lifetimes
    /// (`iat + accessTokenLifespan`). Its two `Long`s are kept below what a conversion to
    /// milliseconds can hold. Returns the first field out of its range.
    pub fn out_of_range(&self) -> Option<&'static str> {
        let int = i64::from(i32::MIN)..=i64::from(i32::MAX);
        let long = -(i64::MAX / 4000)..=i64::MAX / 4000;
        let fields = [
            ("accessTokenLifespan", self.access_token_lifespan, &int),
            ("ssoSessionIdleTimeout", self.sso_session_idle_timeout, &int),
            ("ssoSessionMaxLifespan", self.sso_session_max_lifespan, &int),
            ("accessCodeLifespan", self.access_code_lifespan, &int),
            (
                "oauth2DeviceCodeLifespan",
                self.oauth2_device_code_lifespan,
                &int,
            ),
            (
                "oauth2DevicePollingInterval",
                self.oauth2_device_polling_interval,
                &int,
            ),
            (
                "offlineSessionIdleTimeout",
                self.offline_session_idle_timeout,
                &int,
            ),
            ("refreshTokenMaxReuse", self.refresh_token_max_reuse, &int),
            ("notBefore", self.not_before, &int),
            ("maxTemporaryLockouts", self.max_temporary_lockouts, &int),
            ("maxFailureWaitSeconds", self.max_failure_wait_seconds, &int),
            (
                "minimumQuickLoginWaitSeconds",
                self.minimum_quick_login_wait_seconds,
                &int,
            ),
            ("waitIncrementSeconds", self.wait_increment_seconds, &int),
            ("maxDeltaTimeSeconds", self.max_delta_time_seconds, &int),
            ("failureFactor", self.failure_factor, &int),
            (
                "quickLoginCheckMilliSeconds",
                self.quick_login_check_milli_seconds,
                &long,
            ),
            ("eventsExpiration", self.events_expiration, &long),
        ];
        fields
            .into_iter()
            .find(|(_, v, range)| v.is_some_and(|v| !range.contains(&v)))
            .map(|(name, _, _)| name)
    }
}
