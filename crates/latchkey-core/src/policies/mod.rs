//! Client registration policies (two sets per realm, Keycloak components): Keycloak's
//! eight providers and Latchkey's `client-secret-expiration` and `unused-client-expiration`,
//! stored as components of type `POLICY_TYPE` in an `anonymous` and an
//! `authenticated` set (`provider`), their configuration (`config`), the defaults a new
//! realm gets (`defaults`), and their evaluation against a client being registered (here,
//! with trusted-hosts' host matching in `trusted_hosts`). Messages are Keycloak's
//! (`ClientRegistrationPoliciesTest`).

mod config;
mod defaults;
mod provider;
mod trusted_hosts;

use std::collections::BTreeMap;
use std::net::IpAddr;

pub use config::validate_config;
pub use defaults::defaults;
pub use provider::{ANONYMOUS, AUTHENTICATED, DEFAULT_MAPPER_TYPES, POLICY_TYPE, Provider};

use crate::rep::ClientRep;
use crate::store::ComponentRecord;
use config::{days, flag, list, max_clients, secret_days};

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
    /// Whether trusted-hosts checks the caller's address: not for a client registered from
    /// its metadata document, whose request comes from a user's browser, not the client.
    pub check_source: bool,
    /// Addresses the realm's trusted host names resolve to (resolved by the caller of
    /// this module, which owns IO).
    pub resolved_hosts: &'a BTreeMap<String, Vec<IpAddr>>,
    /// The client as it would be stored.
    pub client: &'a ClientRep,
    /// On update, the client as it is.
    pub previous: Option<&'a ClientRep>,
    /// Scope names the request asked for, including unknown ones.
    pub requested_scopes: &'a [String],
    /// The realm's default and optional client scope names (`ScopeDefaults::offered`).
    pub offered_scopes: &'a [String],
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

/// The policies of one set (`anonymous` or `authenticated`), in order.
fn in_set<'a>(
    components: &'a [ComponentRecord],
    sub_type: &'a str,
) -> impl Iterator<Item = &'a ComponentRecord> {
    components
        .iter()
        .filter(move |c| c.provider_type == POLICY_TYPE && c.sub_type.as_deref() == Some(sub_type))
}

/// Checks one policy. `Err(message)` refuses.
fn check(provider: Provider, c: &ComponentRecord, r: &Request<'_>) -> Result<(), String> {
    let client = r.client;
    let previous = r.previous;
    match provider {
        Provider::TrustedHosts => trusted_hosts::check(
            c,
            r.check_source.then_some(r.source),
            r.resolved_hosts,
            client,
        ),
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
            let max = max_clients(c);
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
                allowed.extend(r.offered_scopes.iter().map(String::as_str));
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
        // None decides a registration: one answers preflights, one sets the secret's
        // lifetime (`secret_lifetime`), one runs in the sweep.
        Provider::RegistrationWebOrigins
        | Provider::ClientSecretExpiration
        | Provider::UnusedClientExpiration => Ok(()),
    }
}

/// Every policy's verdict, in order (the dry-run explainer shows them all).
pub fn evaluate(components: &[ComponentRecord], sub_type: &str, r: &Request<'_>) -> Vec<Verdict> {
    in_set(components, sub_type)
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
    /// How long the client's secret lives, in seconds (`secret_lifetime`).
    pub secret_lifetime: Option<i64>,
}

/// How long a secret of a client registered under the set lives, in seconds: the
/// `client-secret-expiration` policies' `days` (several: the shortest binds); `None`:
/// secrets never expire.
pub fn secret_lifetime(components: &[ComponentRecord], sub_type: &str) -> Option<i64> {
    in_set(components, sub_type)
        .filter(|c| c.provider_id == Provider::ClientSecretExpiration.id())
        .map(|c| secret_days(c).saturating_mul(crate::client_secrets::DAY_SECS))
        .min()
}

/// Applies the creation effects of the set's policies to `client`.
pub fn apply_on_create(
    components: &[ComponentRecord],
    sub_type: &str,
    client: &mut ClientRep,
) -> Effects {
    let mut effects = Effects {
        max_clients: None,
        secret_lifetime: secret_lifetime(components, sub_type),
    };
    for c in in_set(components, sub_type) {
        match Provider::parse(&c.provider_id) {
            Some(Provider::ConsentRequired) => client.consent_required = Some(true),
            Some(Provider::Scope) => client.full_scope_allowed = Some(false),
            Some(Provider::ClientDisabled) => client.enabled = Some(false),
            Some(Provider::MaxClients) => {
                let max = max_clients(c);
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

/// After how many days unused a client registered as `registration_auth` (its
/// `registration.auth` attribute: `anonymous`, `authenticated`, or `cimd` for a client ID
/// metadata document client) expires: the shortest period of the
/// `unused-client-expiration` policies of the set that admitted it (the anonymous set for
/// anonymous and metadata document clients). `None`: it never expires, and neither does a
/// client without that attribute, which an administrator created.
pub fn expiry_days(components: &[ComponentRecord], registration_auth: Option<&str>) -> Option<i64> {
    let set = match registration_auth? {
        "anonymous" | crate::registration::cimd::REGISTRATION_AUTH => ANONYMOUS,
        "authenticated" => AUTHENTICATED,
        _ => return None,
    };
    in_set(components, set)
        .filter(|c| c.provider_id == Provider::UnusedClientExpiration.id())
        .filter_map(days)
        .min()
}

/// The shortest period of the `unused-client-expiration` policies of either set: a client
/// used within it does not expire. `None`: the realm has no such policy.
pub fn shortest_expiry(components: &[ComponentRecord]) -> Option<i64> {
    [ANONYMOUS, AUTHENTICATED]
        .into_iter()
        .flat_map(|set| in_set(components, set))
        .filter(|c| c.provider_id == Provider::UnusedClientExpiration.id())
        .filter_map(days)
        .min()
}

/// Keycloak's refusal text: `Policy '<name>' rejected request to client-registration
/// service. Details: <why>`, sent as a 403 `insufficient_scope`.
pub fn refusal_message(name: &str, why: &str) -> String {
    format!("Policy '{name}' rejected request to client-registration service. Details: {why}")
}

#[cfg(test)]
mod tests;
