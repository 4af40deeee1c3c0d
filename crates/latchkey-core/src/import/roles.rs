//! A realm file's `roles.realm` and `roles.client`: each replaces the built-in role of the
//! same name and container or adds one; every composite must name a role the realm will
//! have, and the realm's `defaultRole` points at the stored default role.

use std::collections::HashSet;

use serde_json::Value;

use super::read::{Ids, keep_id, parse};
use super::report::{ImportError, Report};
use crate::rep::RoleRep;
use crate::store::{RealmBundle, RoleRecord};

pub(super) fn roles(
    doc: &Value,
    realm_id: &str,
    ids: &Ids,
    b: &mut RealmBundle,
    _report: &mut Report,
) -> Result<(), ImportError> {
    let roles = doc.get("roles").filter(|v| !v.is_null());
    let mut read = Vec::new();
    if let Some(roles) = roles {
        if let Some(list) = roles.get("realm").filter(|v| !v.is_null()) {
            let list = list
                .as_array()
                .ok_or_else(|| ImportError::new("roles.realm", "must be a list"))?;
            for (i, v) in list.iter().enumerate() {
                read.push((format!("roles.realm[{i}]"), None, v));
            }
        }
        if let Some(map) = roles.get("client").filter(|v| !v.is_null()) {
            let map = map
                .as_object()
                .ok_or_else(|| ImportError::new("roles.client", "must be an object"))?;
            for (client_id, list) in map {
                let at = format!("roles.client.{client_id}");
                let uuid = ids
                    .clients
                    .get(client_id)
                    .ok_or_else(|| ImportError::new(&at, "no client has this clientId"))?;
                let list = list
                    .as_array()
                    .ok_or_else(|| ImportError::new(&at, "must be a list"))?;
                for (i, v) in list.iter().enumerate() {
                    read.push((format!("{at}[{i}]"), Some((client_id, uuid)), v));
                }
            }
        }
    }
    // The file's default role (Keycloak's `defaultRole`) replaces the one `realm_setup`
    // named after the realm, when the file names another (a renamed realm file).
    let file_default = doc
        .pointer("/defaultRole/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty());
    if let (Some(name), Some(realm)) = (file_default, b.realm.as_mut())
        && let Some(default) = realm.rep.default_role.as_mut()
        && default.name.as_deref() != Some(name)
        && read
            .iter()
            .any(|(_, c, v)| c.is_none() && v.get("name").and_then(Value::as_str) == Some(name))
    {
        let builtin = default.name.replace(name.to_string());
        b.roles.retain(|r| {
            !(r.client.is_none() && r.name.as_str() == builtin.as_deref().unwrap_or_default())
        });
    }
    let mut seen = HashSet::new();
    for (at, client, v) in read {
        let mut rep: RoleRep = parse(v, &at)?;
        let name = rep.name.clone().unwrap_or_default();
        let at = format!("{at} {name:?}");
        if name.is_empty() {
            return Err(ImportError::new(&at, "name is missing"));
        }
        crate::ident::check("name", &name).map_err(|e| ImportError::new(&at, e.to_string()))?;
        let owner = client.map(|(_, uuid)| uuid.clone());
        if !seen.insert((owner.clone(), name.clone())) {
            return Err(ImportError::new(&at, "a role of this name comes twice"));
        }
        let id = keep_id(rep.id.as_deref(), &at)?;
        rep.id = Some(id.clone());
        rep.client_role = Some(client.is_some());
        rep.container_id = Some(owner.clone().unwrap_or_else(|| realm_id.to_string()));
        let composite = rep
            .composites
            .as_ref()
            .is_some_and(|c| !c.realm.is_empty() || !c.client.is_empty());
        rep.composite = Some(composite);
        if !composite {
            rep.composites = None;
        }
        let record = RoleRecord {
            id,
            realm_id: realm_id.to_string(),
            client: owner.clone(),
            name: name.clone(),
            rep,
            client_client_id: client.map(|(c, _)| c.clone()),
        };
        match b
            .roles
            .iter_mut()
            .find(|r| r.client == owner && r.name == name)
        {
            Some(builtin) => *builtin = record,
            None => b.roles.push(record),
        }
    }
    check_composites(b, ids)?;
    // The realm's default role is the stored role of its name (the file's id may differ
    // from the one `realm_setup` chose).
    if let Some(realm) = b.realm.as_mut()
        && let Some(default) = realm.rep.default_role.as_mut()
    {
        let name = default.name.clone().unwrap_or_default();
        let role = b
            .roles
            .iter()
            .find(|r| r.client.is_none() && r.name == name)
            .ok_or_else(|| ImportError::new("defaultRole", format!("no realm role {name:?}")))?;
        default.id = Some(role.id.clone());
        default.container_id = Some(realm_id.to_string());
    }
    Ok(())
}

/// Every composite names a realm role, or a role of a client, that the realm will have.
fn check_composites(b: &RealmBundle, ids: &Ids) -> Result<(), ImportError> {
    let realm: HashSet<&str> = b
        .roles
        .iter()
        .filter(|r| r.client.is_none())
        .map(|r| r.name.as_str())
        .collect();
    let client: HashSet<(&str, &str)> = b
        .roles
        .iter()
        .filter_map(|r| Some((r.client.as_deref()?, r.name.as_str())))
        .collect();
    for role in &b.roles {
        let Some(c) = &role.rep.composites else {
            continue;
        };
        let at = || match &role.client_client_id {
            Some(owner) => format!("roles.client.{owner} {:?}", role.name),
            None => format!("roles.realm {:?}", role.name),
        };
        for name in &c.realm {
            if !realm.contains(name.as_str()) {
                return Err(ImportError::new(
                    at(),
                    format!("composites.realm: no realm role {name:?}"),
                ));
            }
        }
        for (client_id, names) in &c.client {
            let uuid = ids.clients.get(client_id).ok_or_else(|| {
                ImportError::new(at(), format!("composites.client: no client {client_id:?}"))
            })?;
            for name in names {
                if !client.contains(&(uuid.as_str(), name.as_str())) {
                    return Err(ImportError::new(
                        at(),
                        format!("composites.client: client {client_id:?} has no role {name:?}"),
                    ));
                }
            }
        }
    }
    Ok(())
}
