//! A realm file's users: their representation, their `password` credential (a Keycloak
//! hash kept as it is through `keycloak_hash`, or a clear `value` hashed with Argon2id),
//! their `realmRoles` and `clientRoles`, and service-account users linked to their client.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use super::read::{Ids, keep_id, objects, parse};
use super::report::{ImportError, Report};
use crate::Millis;
use crate::clients::service_account_user;
use crate::crypto::hash_password;
use crate::ident::SERVICE_ACCOUNT_PREFIX;
use crate::keycloak_hash;
use crate::rep::UserRep;
use crate::store::{RealmBundle, UserRecord};

/// A stored credential as Keycloak exports it (`CredentialRepresentation`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credential {
    #[serde(rename = "type")]
    kind: Option<String>,
    value: Option<String>,
    secret_data: Option<String>,
    credential_data: Option<String>,
}

/// What a user member brings besides `UserRep`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Extra {
    #[serde(default)]
    credentials: Vec<Credential>,
    #[serde(default)]
    realm_roles: Vec<String>,
    #[serde(default)]
    client_roles: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    federated_identities: Vec<Value>,
    federation_link: Option<String>,
    #[serde(default)]
    client_consents: Vec<Value>,
}

pub(super) fn users(
    doc: &Value,
    ids: &Ids,
    now: Millis,
    b: &mut RealmBundle,
    report: &mut Report,
) -> Result<(), ImportError> {
    let realm_id = b.realm.as_ref().map(|r| r.id.clone()).unwrap_or_default();
    let duplicate_emails = b
        .realm
        .as_ref()
        .and_then(|r| r.rep.duplicate_emails_allowed)
        .unwrap_or(false);
    let realm_roles: HashMap<&str, &str> = b
        .roles
        .iter()
        .filter(|r| r.client.is_none())
        .map(|r| (r.name.as_str(), r.id.as_str()))
        .collect();
    let client_roles: HashMap<(&str, &str), &str> = b
        .roles
        .iter()
        .filter_map(|r| Some(((r.client.as_deref()?, r.name.as_str()), r.id.as_str())))
        .collect();
    let mut names = HashSet::new();
    let mut emails = HashSet::new();
    let mut users = Vec::new();
    let mut user_roles = Vec::new();
    let mut with_account = HashSet::new();
    for (i, v) in objects(doc, "users")?.into_iter().enumerate() {
        let at = format!("users[{i}]");
        let mut rep: UserRep = parse(v, &at)?;
        let extra: Extra = parse(v, &at)?;
        let username = rep.username.clone().unwrap_or_default().to_lowercase();
        let at = format!("{at} {username:?}");
        if username.is_empty() {
            return Err(ImportError::new(&at, "username is missing"));
        }
        let checked = username
            .strip_prefix(SERVICE_ACCOUNT_PREFIX)
            .unwrap_or(username.as_str());
        for (field, value) in [
            ("username", Some(checked)),
            ("email", rep.email.as_deref()),
            ("firstName", rep.first_name.as_deref()),
            ("lastName", rep.last_name.as_deref()),
        ] {
            if let Some(v) = value {
                crate::ident::check(field, v).map_err(|e| ImportError::new(&at, e.to_string()))?;
            }
        }
        if !names.insert(username.clone()) {
            return Err(ImportError::new(
                &at,
                "username: a user of this name comes twice",
            ));
        }
        let email = rep
            .email
            .clone()
            .filter(|e| !e.is_empty())
            .map(|e| e.to_lowercase());
        if let Some(e) = &email
            && !duplicate_emails
            && !emails.insert(e.clone())
        {
            return Err(ImportError::new(&at, "email: another user has this email"));
        }
        let id = keep_id(rep.id.as_deref(), &at)?;
        let service_account_client = match rep.service_account_client_id.as_deref() {
            None => None,
            Some(client_id) => {
                let client = b
                    .clients
                    .iter()
                    .find(|c| c.client_id == client_id && c.rep.service_accounts())
                    .ok_or_else(|| {
                        ImportError::new(
                            &at,
                            format!("serviceAccountClientId: no client {client_id:?} with service accounts enabled"),
                        )
                    })?;
                if !with_account.insert(client.id.clone()) {
                    return Err(ImportError::new(
                        &at,
                        "serviceAccountClientId: a second service account of this client",
                    ));
                }
                if !username.starts_with(SERVICE_ACCOUNT_PREFIX) {
                    return Err(ImportError::new(
                        &at,
                        format!(
                            "username: a service account's starts with {SERVICE_ACCOUNT_PREFIX}"
                        ),
                    ));
                }
                Some(client.id.clone())
            }
        };
        let mut password_hash = None;
        for c in &extra.credentials {
            let kind = c.kind.as_deref().unwrap_or("password");
            if kind != "password" {
                report.skip(&format!("users.credentials ({kind})"), username.clone());
                continue;
            }
            if password_hash.is_some() {
                report.skip("users.credentials (a second password)", username.clone());
                continue;
            }
            password_hash = Some(match (&c.secret_data, &c.credential_data, &c.value) {
                (Some(secret), Some(data), _) => keycloak_hash::from_credential(secret, data)
                    .map_err(|e| ImportError::new(&at, format!("credentials: {e}")))?,
                (_, _, Some(clear)) if !clear.is_empty() => hash_password(clear)
                    .map_err(|e| ImportError::new(&at, format!("credentials: {e}")))?,
                _ => {
                    return Err(ImportError::new(
                        &at,
                        "credentials: a password needs secretData and credentialData, or value",
                    ));
                }
            });
        }
        for g in &extra.groups {
            report.skip("users.groups", format!("{username} in {g}"));
        }
        for f in &extra.federated_identities {
            let provider = f
                .get("identityProvider")
                .and_then(Value::as_str)
                .unwrap_or("?");
            report.skip(
                "users.federatedIdentities",
                format!("{username} via {provider}"),
            );
        }
        if let Some(link) = &extra.federation_link {
            report.skip("users.federationLink", format!("{username} → {link}"));
        }
        if !extra.client_consents.is_empty() {
            report.skip("users.clientConsents", username.clone());
        }
        for name in &extra.realm_roles {
            let role = realm_roles.get(name.as_str()).ok_or_else(|| {
                ImportError::new(&at, format!("realmRoles: no realm role {name:?}"))
            })?;
            user_roles.push((id.clone(), role.to_string()));
        }
        for (client_id, names) in &extra.client_roles {
            let uuid = ids.clients.get(client_id).ok_or_else(|| {
                ImportError::new(&at, format!("clientRoles: no client {client_id:?}"))
            })?;
            for name in names {
                let role = client_roles
                    .get(&(uuid.as_str(), name.as_str()))
                    .ok_or_else(|| {
                        ImportError::new(
                            &at,
                            format!("clientRoles: client {client_id:?} has no role {name:?}"),
                        )
                    })?;
                user_roles.push((id.clone(), role.to_string()));
            }
        }
        rep.id = Some(id.clone());
        rep.username = Some(username.clone());
        rep.email = email.clone();
        rep.credentials = None;
        rep.access = None;
        rep.enabled.get_or_insert(true);
        let created_at = rep.created_timestamp.unwrap_or(now);
        rep.created_timestamp = Some(created_at);
        users.push(UserRecord {
            id,
            realm_id: realm_id.clone(),
            username,
            email,
            rep,
            password_hash,
            service_account_client,
            created_at,
        });
    }
    // A client with service accounts whose user the file does not carry gets one, with
    // the realm's default role, as a new client would.
    let default_role = b
        .realm
        .as_ref()
        .and_then(|r| r.rep.default_role.as_ref())
        .and_then(|d| d.id.clone());
    for client in &b.clients {
        if client.rep.service_accounts() && !with_account.contains(&client.id) {
            let user = service_account_user(client, now);
            if !names.insert(user.username.clone()) {
                return Err(ImportError::new(
                    format!("clients {:?}", client.client_id),
                    format!(
                        "its service account's username {} is taken by a user",
                        user.username
                    ),
                ));
            }
            if let Some(role) = &default_role {
                user_roles.push((user.id.clone(), role.clone()));
            }
            users.push(user);
        }
    }
    let mut seen = HashSet::new();
    user_roles.retain(|pair| seen.insert(pair.clone()));
    b.users = users;
    b.user_roles = user_roles;
    Ok(())
}
