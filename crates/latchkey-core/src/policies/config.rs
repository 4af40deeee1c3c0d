//! Reading a policy component's configuration (`config`, Keycloak's multivalued strings)
//! and checking it when an administrator saves it.

use super::provider::Provider;
use crate::store::ComponentRecord;

fn first<'a>(c: &'a ComponentRecord, key: &str) -> Option<&'a str> {
    c.config
        .get(key)
        .and_then(|v| v.first())
        .map(String::as_str)
}

pub(super) fn flag(c: &ComponentRecord, key: &str, default: bool) -> bool {
    first(c, key).map_or(default, |v| v.eq_ignore_ascii_case("true"))
}

pub(super) fn list<'a>(c: &'a ComponentRecord, key: &str) -> impl Iterator<Item = &'a str> {
    c.config
        .get(key)
        .into_iter()
        .flatten()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// The `max-clients` limit (Keycloak's default, 200, when unset or unreadable).
pub(super) fn max_clients(c: &ComponentRecord) -> i64 {
    first(c, "max-clients")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// The `client-secret-expiration` lifetime in days (90 when unset or unreadable;
/// `validate_config` refuses both).
pub(super) fn secret_days(c: &ComponentRecord) -> i64 {
    days(c).unwrap_or(90)
}

/// The `days` of `client-secret-expiration` and `unused-client-expiration`, if set to a
/// positive number.
pub(super) fn days(c: &ComponentRecord) -> Option<i64> {
    first(c, "days")
        .and_then(|v| v.trim().parse().ok())
        .filter(|n: &i64| *n > 0)
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
        Provider::ClientSecretExpiration | Provider::UnusedClientExpiration
            if days(c).is_none() =>
        {
            return Err("days must be a positive integer".into());
        }
        _ => {}
    }
    Ok(())
}
