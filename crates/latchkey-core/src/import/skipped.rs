//! What an import leaves behind, by name and place: the parts of Keycloak's realm
//! representation Latchkey does not model (identity providers, authentication flows,
//! groups, federation, scope mappings, other realm settings…).

use serde_json::Value;

use super::report::Report;

/// Top-level members Latchkey reads (`RealmRep`'s fields and the lists the import steps
/// convert); any other member with a value is reported.
const READ: &[&str] = &[
    "id",
    "realm",
    "displayName",
    "enabled",
    "sslRequired",
    "defaultSignatureAlgorithm",
    "accessTokenLifespan",
    "ssoSessionIdleTimeout",
    "ssoSessionMaxLifespan",
    "accessCodeLifespan",
    "offlineSessionIdleTimeout",
    "revokeRefreshToken",
    "refreshTokenMaxReuse",
    "notBefore",
    "registrationAllowed",
    "loginWithEmailAllowed",
    "duplicateEmailsAllowed",
    "resetPasswordAllowed",
    "rememberMe",
    "verifyEmail",
    "bruteForceProtected",
    "permanentLockout",
    "maxTemporaryLockouts",
    "bruteForceStrategy",
    "maxFailureWaitSeconds",
    "minimumQuickLoginWaitSeconds",
    "waitIncrementSeconds",
    "quickLoginCheckMilliSeconds",
    "maxDeltaTimeSeconds",
    "failureFactor",
    "eventsEnabled",
    "eventsExpiration",
    "enabledEventTypes",
    "adminEventsEnabled",
    "adminEventsDetailsEnabled",
    "defaultRole",
    "attributes",
    "roles",
    "clients",
    "users",
    "clientScopes",
    "defaultDefaultClientScopes",
    "defaultOptionalClientScopes",
    "components",
    // Written by every Keycloak export, and meaningless elsewhere.
    "keycloakVersion",
];

/// Lists whose items are reported by a name member.
const NAMED_LISTS: &[(&str, &str)] = &[
    ("identityProviders", "alias"),
    ("identityProviderMappers", "name"),
    ("authenticationFlows", "alias"),
    ("authenticatorConfig", "alias"),
    ("requiredActions", "alias"),
    ("userFederationProviders", "displayName"),
    ("userFederationMappers", "name"),
    ("organizations", "name"),
];

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty() || o.values().all(is_empty),
        _ => false,
    }
}

fn group_paths(groups: &[Value], parent: &str, out: &mut Vec<String>) {
    for g in groups {
        let name = g.get("name").and_then(Value::as_str).unwrap_or("?");
        let path = format!("{parent}/{name}");
        out.push(path.clone());
        if let Some(Value::Array(sub)) = g.get("subGroups") {
            group_paths(sub, &path, out);
        }
    }
}

/// Reports the realm's members that no step read.
pub(super) fn realm_level(doc: &Value, report: &mut Report) {
    let Some(members) = doc.as_object() else {
        return;
    };
    let mut settings = Vec::new();
    for (key, value) in members {
        if READ.contains(&key.as_str()) || is_empty(value) {
            continue;
        }
        if let Some((_, name)) = NAMED_LISTS.iter().find(|(k, _)| k == key) {
            for item in value.as_array().into_iter().flatten() {
                let n = item.get(*name).and_then(Value::as_str).unwrap_or("?");
                report.skip(key, n);
            }
            continue;
        }
        match key.as_str() {
            "groups" => {
                let mut paths = Vec::new();
                group_paths(
                    value.as_array().map_or(&[][..], Vec::as_slice),
                    "",
                    &mut paths,
                );
                for p in paths {
                    report.skip("groups", p);
                }
            }
            "defaultGroups" => {
                for g in value.as_array().into_iter().flatten() {
                    report.skip("defaultGroups", g.as_str().unwrap_or("?"));
                }
            }
            "scopeMappings" => {
                for m in value.as_array().into_iter().flatten() {
                    let owner = m
                        .get("clientScope")
                        .or_else(|| m.get("client"))
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    report.skip("scopeMappings", owner);
                }
            }
            "clientScopeMappings" => {
                for (client, mappings) in value.as_object().into_iter().flatten() {
                    for m in mappings.as_array().into_iter().flatten() {
                        let to = m
                            .get("client")
                            .or_else(|| m.get("clientScope"))
                            .and_then(Value::as_str)
                            .unwrap_or("?");
                        report.skip("clientScopeMappings", format!("{client} → {to}"));
                    }
                }
            }
            _ => settings.push(key.clone()),
        }
    }
    for s in settings {
        report.skip("realm settings", s);
    }
}
