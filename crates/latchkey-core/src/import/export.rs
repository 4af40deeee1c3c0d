//! A stored realm as Keycloak's full realm representation (what `kc.sh export` writes and
//! `realm_from_keycloak` reads): settings, client scopes and the realm's sets, roles by
//! container, clients with their secrets, users with credentials and role mappings,
//! registration policies and key providers with their private keys. Secrets and keys
//! come out in clear, as in Keycloak's export: the file is as sensitive as the database
//! and its master key together. A partial export masks them (`Secrets::Masked`).

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::clients::MASKED;
use crate::clients::open_secret;
use crate::crypto::SecretBox;
use crate::key_providers::KEY_PROVIDER_TYPE;
use crate::keycloak_hash;
use crate::keys::spki_base64;
use crate::realm_setup::key_context;
use crate::store::{
    ClientQuery, ClientRecord, ComponentRecord, KeyRecord, RealmRecord, RoleRecord, ScopeRecord,
    Store, StoreResult, UserQuery, UserRecord,
};

/// Everything of a realm an export writes, read from the store.
pub struct RealmData {
    pub realm: RealmRecord,
    pub scopes: Vec<ScopeRecord>,
    pub default_scopes: Vec<(String, bool)>,
    pub roles: Vec<RoleRecord>,
    pub clients: Vec<ClientRecord>,
    /// Users, service accounts included, each with its directly mapped role ids.
    pub users: Vec<(UserRecord, Vec<String>)>,
    pub components: Vec<ComponentRecord>,
    pub keys: Vec<KeyRecord>,
}

/// Reads what an export needs (`users`: with the realm's users, or without).
pub async fn read_realm(
    store: &dyn Store,
    realm: RealmRecord,
    users: bool,
) -> StoreResult<RealmData> {
    let id = realm.id.clone();
    let clients = store.list_clients(&id, &ClientQuery::default()).await?;
    let mut people = Vec::new();
    if users {
        let q = UserQuery {
            max: i64::MAX,
            ..Default::default()
        };
        people = store.list_users(&id, &q).await?;
    }
    for c in &clients {
        if let Some(sa) = store.service_account_user(&id, &c.id).await? {
            people.push(sa);
        }
    }
    let mut with_roles = Vec::with_capacity(people.len());
    for u in people {
        let roles = store.user_role_ids(&u.id).await?.to_vec();
        with_roles.push((u, roles));
    }
    Ok(RealmData {
        scopes: store.list_scopes(&id).await?.to_vec(),
        default_scopes: store.realm_default_scopes(&id).await?.to_vec(),
        roles: store.all_roles(&id).await?.to_vec(),
        clients,
        users: with_roles,
        components: store.list_components(&id).await?.to_vec(),
        keys: store.realm_keys(&id).await?,
        realm,
    })
}

/// Whether secrets (client secrets, password hashes, private keys) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// As `kc.sh export`: in clear.
    Clear,
    /// As the admin console's partial export: client secrets `**********`, no credentials
    /// and no private keys.
    Masked,
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn sorted<T>(mut v: Vec<T>, key: impl Fn(&T) -> String) -> Vec<T> {
    v.sort_by_key(|x| key(x));
    v
}

/// The realm as Keycloak's `RealmRepresentation`, with its members in a stable order
/// (roles, clients, scopes and users by name) so that two exports compare.
pub fn to_keycloak(data: &RealmData, sealer: &SecretBox, secrets: Secrets) -> Value {
    let mut out = match to_value(&data.realm.rep) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    out.insert("id".into(), json!(data.realm.id));
    out.insert("realm".into(), json!(data.realm.name));
    let client_ids: HashMap<&str, &str> = data
        .clients
        .iter()
        .map(|c| (c.id.as_str(), c.client_id.as_str()))
        .collect();

    let mut realm_roles = Vec::new();
    let mut client_roles: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for r in sorted(data.roles.clone(), |r| r.name.clone()) {
        match r.client.as_deref() {
            None => realm_roles.push(to_value(&r.rep)),
            Some(uuid) => {
                let owner = client_ids.get(uuid).copied().unwrap_or(uuid);
                client_roles
                    .entry(owner.into())
                    .or_default()
                    .push(to_value(&r.rep));
            }
        }
    }
    for c in &data.clients {
        client_roles.entry(c.client_id.clone()).or_default();
    }
    out.insert(
        "roles".into(),
        json!({"realm": realm_roles, "client": client_roles}),
    );

    let clients: Vec<Value> = sorted(data.clients.clone(), |c| c.client_id.clone())
        .iter()
        .map(|c| {
            let mut rep = c.rep.clone();
            rep.secret = match secrets {
                Secrets::Clear => open_secret(c, sealer),
                Secrets::Masked => c.secret_sealed.as_ref().map(|_| MASKED.to_string()),
            };
            rep.registration_access_token = None;
            rep.access = None;
            to_value(&rep)
        })
        .collect();
    out.insert("clients".into(), Value::Array(clients));

    let scope_names: HashMap<&str, &str> = data
        .scopes
        .iter()
        .map(|s| (s.id.as_str(), s.name.as_str()))
        .collect();
    let scopes: Vec<Value> = sorted(data.scopes.clone(), |s| s.name.clone())
        .iter()
        .map(|s| to_value(&s.rep))
        .collect();
    out.insert("clientScopes".into(), Value::Array(scopes));
    for (field, default) in [
        ("defaultDefaultClientScopes", true),
        ("defaultOptionalClientScopes", false),
    ] {
        let mut names: Vec<&str> = data
            .default_scopes
            .iter()
            .filter(|(_, d)| *d == default)
            .filter_map(|(id, _)| scope_names.get(id.as_str()).copied())
            .collect();
        names.sort();
        out.insert(field.into(), json!(names));
    }

    let roles_by_id: HashMap<&str, &RoleRecord> =
        data.roles.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut users: Vec<&(UserRecord, Vec<String>)> = data.users.iter().collect();
    users.sort_by(|a, b| a.0.username.cmp(&b.0.username));
    let users: Vec<Value> = users
        .into_iter()
        .map(|(u, role_ids)| user(u, role_ids, &roles_by_id, &client_ids, secrets))
        .collect();
    out.insert("users".into(), Value::Array(users));

    let mut components: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for c in sorted(data.components.clone(), |c| c.id.clone()) {
        let mut config = c.config.clone();
        if c.provider_type == KEY_PROVIDER_TYPE
            && secrets == Secrets::Clear
            && let Some(key) = data.keys.iter().find(|k| k.kid == c.id)
            && let Ok(pkcs8) = sealer.open(&key.private_sealed, &key_context(&key.kid))
        {
            let encoded = STANDARD.encode(pkcs8);
            match key.alg.as_str() {
                "ES256" => {
                    config.insert("ecdsaPrivateKey".into(), vec![encoded]);
                    if let Some(public) = spki_base64(&key.public_jwk) {
                        config.insert("ecdsaPublicKey".into(), vec![public]);
                    }
                }
                _ => {
                    config.insert("privateKey".into(), vec![encoded]);
                }
            }
        }
        if c.provider_type == KEY_PROVIDER_TYPE && secrets == Secrets::Masked {
            let field = if data.keys.iter().any(|k| k.kid == c.id && k.alg == "ES256") {
                "ecdsaPrivateKey"
            } else {
                "privateKey"
            };
            config.insert(field.into(), vec![MASKED.into()]);
        }
        let mut v = json!({
            "id": c.id,
            "name": c.name,
            "providerId": c.provider_id,
            "subComponents": {},
            "config": config,
        });
        if let Some(sub) = &c.sub_type {
            v["subType"] = json!(sub);
        }
        components
            .entry(c.provider_type.clone())
            .or_default()
            .push(v);
    }
    out.insert("components".into(), to_value(&components));
    Value::Object(out)
}

fn user(
    u: &UserRecord,
    role_ids: &[String],
    roles: &HashMap<&str, &RoleRecord>,
    client_ids: &HashMap<&str, &str>,
    secrets: Secrets,
) -> Value {
    let mut rep = u.rep.clone();
    rep.credentials = None;
    rep.access = None;
    rep.id = Some(u.id.clone());
    rep.username = Some(u.username.clone());
    let mut v = match to_value(&rep) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut realm_roles = Vec::new();
    let mut client_roles: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for id in role_ids {
        let Some(r) = roles.get(id.as_str()) else {
            continue;
        };
        match r.client.as_deref() {
            None => realm_roles.push(r.name.as_str()),
            Some(uuid) => client_roles
                .entry(client_ids.get(uuid).copied().unwrap_or(uuid))
                .or_default()
                .push(r.name.as_str()),
        }
    }
    realm_roles.sort();
    client_roles.values_mut().for_each(|v| v.sort());
    let credentials: Vec<Value> = match (
        secrets,
        u.password_hash
            .as_deref()
            .and_then(keycloak_hash::to_credential),
    ) {
        (Secrets::Clear, Some((secret_data, credential_data))) => vec![json!({
            "type": "password",
            "createdDate": u.created_at,
            "secretData": secret_data,
            "credentialData": credential_data,
        })],
        _ => Vec::new(),
    };
    v.insert("credentials".into(), Value::Array(credentials));
    v.insert("realmRoles".into(), json!(realm_roles));
    if !client_roles.is_empty() {
        v.insert("clientRoles".into(), json!(client_roles));
    }
    Value::Object(v)
}
