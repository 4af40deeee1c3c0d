//! Keycloak's full realm representation (what `kc.sh export` writes) to the store's
//! `RealmBundle` and back: realm settings, client scopes, roles with composites, clients
//! with secrets, users with their credentials and role mappings, registration policies and
//! key providers. Everything Latchkey does not model is named in the `Report`, never
//! dropped silently; a file that breaks a rule is refused before anything is written,
//! naming the object and the field.

mod clients;
mod components;
pub mod export;
pub mod partial;
mod read;
mod report;
mod roles;
mod skipped;
mod users;

use serde_json::Value;

use crate::Millis;
use crate::crypto::SecretBox;
use crate::realm_setup::{SetupError, new_realm};
use crate::rep::RealmRep;
use crate::store::RealmBundle;

use read::{objects, parse};
pub use report::{ImportError, Report, Skipped};

/// A converted realm, ready for `Store::create_realm` (or `replace_realm`).
#[derive(Debug)]
pub struct Imported {
    pub bundle: RealmBundle,
    pub report: Report,
}

/// Converts a Keycloak realm file into what `Store::create_realm` writes. The realm gets
/// what any new realm gets (`realm_setup`) where the file says nothing: built-in client
/// scopes when it has no `clientScopes`, the built-in clients and roles it lacks,
/// registration policies when it has none, generated keys for the algorithms it brings no
/// key for.
pub fn realm_from_keycloak(
    doc: &Value,
    sealer: &SecretBox,
    now: Millis,
) -> Result<Imported, ImportError> {
    if !doc.is_object() {
        return Err(ImportError::new("", "a realm file is a JSON object"));
    }
    if let Some(at) = read::nul_at(doc, "") {
        return Err(ImportError::new(at, "contains a NUL character"));
    }
    let rep: RealmRep = parse(doc, "realm settings")?;
    let name = rep.realm.clone().unwrap_or_default();
    crate::ident::check("realm", &name).map_err(|e| ImportError::new("realm", e.to_string()))?;
    if name.trim().is_empty() || name.contains('/') {
        return Err(ImportError::new(
            "realm",
            "the realm name is missing or has a '/'",
        ));
    }
    if let Some(id) = &rep.id {
        read::keep_id(Some(id), "id")?;
    }
    crate::registration::cimd::check_attributes(rep.attributes.as_ref())
        .map_err(|e| ImportError::new("attributes", e))?;
    if let Some(field) = rep.out_of_range() {
        return Err(ImportError::new(field, "out of range"));
    }
    let mut bundle = new_realm(rep, sealer, None, now).map_err(|e| match e {
        SetupError::BadAlgorithm => ImportError::new("defaultSignatureAlgorithm", e.to_string()),
        e => ImportError::new("", e.to_string()),
    })?;
    let mut report = Report {
        realm: name,
        ..Default::default()
    };
    let realm_id = bundle
        .realm
        .as_ref()
        .map(|r| r.id.clone())
        .unwrap_or_default();

    clients::scopes(doc, &realm_id, &mut bundle, &mut report)?;
    let ids = clients::clients(doc, &realm_id, sealer, now, &mut bundle, &mut report)?;
    roles::roles(doc, &realm_id, &ids, &mut bundle, &mut report)?;
    users::users(doc, &ids, now, &mut bundle, &mut report)?;
    components::components(doc, &realm_id, sealer, now, &mut bundle, &mut report)?;
    skipped::realm_level(doc, &mut report);
    report.clients = bundle.clients.len();
    report.client_scopes = bundle.scopes.len();
    report.realm_roles = bundle.roles.iter().filter(|r| r.client.is_none()).count();
    report.client_roles = bundle.roles.len() - report.realm_roles;
    report.users = bundle
        .users
        .iter()
        .filter(|u| u.service_account_client.is_none())
        .count();
    Ok(Imported { bundle, report })
}

/// Puts a Keycloak users file's `users` (`<realm>-users-N.json` of a directory export) into
/// the realm document.
pub fn add_users(realm_doc: &mut Value, users_doc: &Value) -> Result<usize, ImportError> {
    let extra = objects(users_doc, "users")?;
    let n = extra.len();
    let extra: Vec<Value> = extra.into_iter().cloned().collect();
    let list = realm_doc
        .as_object_mut()
        .ok_or_else(|| ImportError::new("", "a realm file is a JSON object"))?
        .entry("users")
        .or_insert_with(|| Value::Array(Vec::new()));
    match list {
        Value::Array(a) => a.extend(extra),
        _ => return Err(ImportError::new("users", "must be a list")),
    }
    Ok(n)
}
