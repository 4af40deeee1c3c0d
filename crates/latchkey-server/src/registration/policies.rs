//! The realm's registration policies on a registration: which set runs (`policy_set`),
//! the trusted hosts' addresses looked up before, and their verdict (`Context::enforce`),
//! deciding with `latchkey_core::policies`.

use std::collections::BTreeMap;

use latchkey_core::client_secrets;
use latchkey_core::clients::ScopeDefaults;
use latchkey_core::policies::{self, Action};
use latchkey_core::registration::convert::REGISTRATION_AUTH_ATTRIBUTE;
use latchkey_core::rep::ClientRep;
use latchkey_core::store::{ClientRecord, ComponentRecord};

use super::auth::Caller;
use super::error::RegError;
use super::request::Context;
use crate::service::switches::{POLICIES_SWITCH, switch};
use crate::state::now_millis;

/// What the policies let through: the client limit the store must hold the insert to, and
/// how long a new secret lives.
#[derive(Debug, Clone, Default)]
pub struct Admitted {
    /// `(limit, policy name)`
    pub max_clients: Option<(i64, String)>,
    /// Seconds (`client-secret-expiration`); `None`: never expires.
    pub secret_lifetime: Option<i64>,
}

/// The policy set a request runs under (of the realm's two, stored as Keycloak components
/// of `subType` `anonymous` and `authenticated`): anonymous callers the `anonymous` set,
/// tokens the `authenticated` one, and a registration access token the set its client was
/// registered under.
pub fn policy_set(caller: &Caller, client: Option<&ClientRecord>) -> &'static str {
    match caller {
        Caller::Anonymous => policies::ANONYMOUS,
        Caller::RegistrationToken => {
            let registered = client
                .and_then(|c| c.rep.attributes.as_ref())
                .and_then(|a| a.get(REGISTRATION_AUTH_ATTRIBUTE));
            if registered.map(String::as_str) == Some(policies::ANONYMOUS) {
                policies::ANONYMOUS
            } else {
                policies::AUTHENTICATED
            }
        }
        _ => policies::AUTHENTICATED,
    }
}

/// Addresses the trusted-hosts policies' host names resolve to, looked up asynchronously
/// with a time limit (no blocking DNS on the request path).
async fn resolve_trusted(
    components: &[ComponentRecord],
) -> BTreeMap<String, Vec<std::net::IpAddr>> {
    let mut out = BTreeMap::new();
    for c in components
        .iter()
        .filter(|c| c.provider_id == policies::Provider::TrustedHosts.id())
    {
        for host in c.config.get("trusted-hosts").into_iter().flatten() {
            let name = host.to_ascii_lowercase();
            if name.is_empty()
                || name.starts_with("*.")
                || name == "localhost"
                || name.parse::<std::net::IpAddr>().is_ok()
                || out.contains_key(&name)
            {
                continue;
            }
            let lookup = tokio::net::lookup_host((name.clone(), 0));
            let ips = match tokio::time::timeout(std::time::Duration::from_secs(2), lookup).await {
                Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
                _ => Vec::new(),
            };
            out.insert(name, ips);
        }
    }
    out
}

impl Context {
    /// Runs the caller's policy set on the client about to be stored: `existing` is the
    /// client being updated (`None` on create). Refusals are 403 with Keycloak's text; on
    /// create, the policies' effects are applied to `client`. With
    /// `clientRegistrationPoliciesEnabled` off, nothing runs.
    pub(super) async fn enforce(
        &self,
        caller: &Caller,
        existing: Option<&ClientRecord>,
        client: &mut ClientRep,
        requested_scopes: &[String],
        scope_defaults: &ScopeDefaults,
    ) -> Result<Admitted, RegError> {
        if !switch(&self.realm, POLICIES_SWITCH) {
            return Ok(Admitted::default());
        }
        let sub_type = policy_set(caller, existing);
        let action = if existing.is_some() {
            Action::Update
        } else {
            Action::Create
        };
        let components = self.state.store.list_components(&self.realm.id).await?;
        let admitted = match action {
            Action::Create => {
                let effects = policies::apply_on_create(&components, sub_type, client);
                if let Some(lifetime) = effects.secret_lifetime
                    && client.uses_secret()
                {
                    client_secrets::set_expiry(client, now_millis() / 1000, lifetime);
                }
                Admitted {
                    max_clients: effects.max_clients,
                    secret_lifetime: effects.secret_lifetime,
                }
            }
            Action::Update => Admitted {
                max_clients: None,
                secret_lifetime: policies::secret_lifetime(&components, sub_type),
            },
        };
        let resolved = resolve_trusted(&components).await;
        let request = policies::Request {
            action,
            source: self.addr.ip(),
            resolved_hosts: &resolved,
            client,
            previous: existing.map(|c| &c.rep),
            requested_scopes,
            offered_scopes: &scope_defaults.offered,
            check_source: true,
            // The store enforces the limit atomically; no count is needed here.
            client_count: None,
        };
        for verdict in policies::evaluate(&components, sub_type, &request) {
            if let Some(why) = verdict.refusal {
                return Err(RegError::policy(&verdict.name, &why));
            }
        }
        Ok(admitted)
    }
}
