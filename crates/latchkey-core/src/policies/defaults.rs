//! The policies a new realm gets: Keycloak's defaults.

use super::provider::{ANONYMOUS, AUTHENTICATED, DEFAULT_MAPPER_TYPES, POLICY_TYPE, Provider};
use crate::crypto::new_uuid;
use crate::store::ComponentRecord;

pub(super) fn component(
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
