//! Keycloak's partial import (`PartialImportRepresentation`: `ifResourceExists` FAIL,
//! SKIP or OVERWRITE, with `users`, `clients`, `roles.realm`, `roles.client`): the items
//! merged into the realm's own export, the whole checked by the full import, and only the
//! touched rows written (`RealmChanges`), in one transaction.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{Value, json};

use super::realm_from_keycloak;
use super::report::ImportError;
use crate::Millis;
use crate::crypto::{SecretBox, new_uuid};
use crate::store::RealmChanges;

/// Why a partial import is refused.
#[derive(Debug)]
pub enum PartialError {
    /// FAIL and an item exists: Keycloak's 409 message.
    Exists(String),
    /// A bad request or an item breaking a rule (400).
    Invalid(String),
}

impl From<ImportError> for PartialError {
    fn from(e: ImportError) -> Self {
        PartialError::Invalid(e.to_string())
    }
}

/// One line of Keycloak's `PartialImportResults.results`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ItemResult {
    pub action: &'static str,
    pub resource_type: &'static str,
    pub resource_name: String,
    pub id: String,
}

/// What to write and what to answer.
#[derive(Debug)]
pub struct PartialPlan {
    pub changes: RealmChanges,
    pub results: Vec<ItemResult>,
}

impl PartialPlan {
    /// Keycloak's `PartialImportResults`.
    pub fn answer(&self) -> Value {
        let count = |a: &str| self.results.iter().filter(|r| r.action == a).count();
        json!({
            "overwritten": count("OVERWRITTEN"),
            "added": count("ADDED"),
            "skipped": count("SKIPPED"),
            "results": self.results,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Fail,
    Skip,
    Overwrite,
}

/// An item of the request and where it goes in the realm's document.
struct Item<'a> {
    kind: &'static str,
    name: String,
    value: &'a Value,
    /// The list in the merged document (a JSON pointer).
    list: String,
    /// The member naming it there (`clientId`, `username`, `name`).
    key: &'static str,
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or_default()
}

/// Plans the partial import `rep` into the realm whose full export is `current`.
pub fn plan(
    current: &Value,
    rep: &Value,
    sealer: &SecretBox,
    now: Millis,
) -> Result<PartialPlan, PartialError> {
    if !rep.is_object() {
        return Err(PartialError::Invalid(
            "a partial import is a JSON object (PartialImportRepresentation)".into(),
        ));
    }
    let mode = match rep
        .get("ifResourceExists")
        .and_then(Value::as_str)
        .unwrap_or("FAIL")
    {
        "FAIL" => Mode::Fail,
        "SKIP" => Mode::Skip,
        "OVERWRITE" => Mode::Overwrite,
        other => {
            return Err(PartialError::Invalid(format!(
                "ifResourceExists {other:?} is not FAIL, SKIP or OVERWRITE"
            )));
        }
    };
    let mut items = Vec::new();
    let list = |v: &Value, at: &str| -> Result<Vec<Value>, PartialError> {
        match v {
            Value::Null => Ok(Vec::new()),
            Value::Array(a) => Ok(a.clone()),
            _ => Err(PartialError::Invalid(format!("{at} must be a list"))),
        }
    };
    let users = list(rep.get("users").unwrap_or(&Value::Null), "users")?;
    let clients = list(rep.get("clients").unwrap_or(&Value::Null), "clients")?;
    let realm_roles = list(
        rep.pointer("/roles/realm").unwrap_or(&Value::Null),
        "roles.realm",
    )?;
    let mut client_roles = Vec::new();
    if let Some(map) = rep.pointer("/roles/client").filter(|v| !v.is_null()) {
        let map = map
            .as_object()
            .ok_or_else(|| PartialError::Invalid("roles.client must be an object".into()))?;
        for (client_id, roles) in map {
            for r in list(roles, &format!("roles.client.{client_id}"))? {
                client_roles.push((client_id.clone(), r));
            }
        }
    }
    for u in &users {
        items.push(Item {
            kind: "USER",
            name: text(u, "username").to_lowercase(),
            value: u,
            list: "/users".into(),
            key: "username",
        });
    }
    for c in &clients {
        items.push(Item {
            kind: "CLIENT",
            name: text(c, "clientId").into(),
            value: c,
            list: "/clients".into(),
            key: "clientId",
        });
    }
    for r in &realm_roles {
        items.push(Item {
            kind: "REALM_ROLE",
            name: text(r, "name").into(),
            value: r,
            list: "/roles/realm".into(),
            key: "name",
        });
    }
    for (client_id, r) in &client_roles {
        let pointer = format!(
            "/roles/client/{}",
            client_id.replace('~', "~0").replace('/', "~1")
        );
        items.push(Item {
            kind: "CLIENT_ROLE",
            name: text(r, "name").into(),
            value: r,
            list: pointer,
            key: "name",
        });
    }

    let mut merged = current.clone();
    let mut results = Vec::new();
    // (kind, old id) of the items an overwrite replaces.
    let mut replaced: Vec<(&'static str, String)> = Vec::new();
    for item in &items {
        if item.name.is_empty() {
            return Err(PartialError::Invalid(format!(
                "a {} has no {}",
                item.kind.to_lowercase(),
                item.key
            )));
        }
        if item.kind == "CLIENT_ROLE" && merged.pointer(&item.list).is_none() {
            // Roles of a client the request adds: it comes with its (empty) list.
            let client_id = item.list.rsplit('/').next().unwrap_or_default();
            if let Some(map) = merged
                .pointer_mut("/roles/client")
                .and_then(Value::as_object_mut)
            {
                map.insert(client_id.replace("~1", "/").replace("~0", "~"), json!([]));
            }
        }
        let target = merged
            .pointer_mut(&item.list)
            .and_then(Value::as_array_mut)
            .ok_or_else(|| PartialError::Invalid(format!("no list for {}", item.kind)))?;
        let found = target.iter().position(|v| {
            let n = text(v, item.key);
            if item.kind == "USER" {
                n.eq_ignore_ascii_case(&item.name)
            } else {
                n == item.name
            }
        });
        let mut value = item.value.clone();
        match (found, mode) {
            (Some(_), Mode::Fail) => return Err(PartialError::Exists(exists_message(item))),
            (Some(i), Mode::Skip) => results.push(ItemResult {
                action: "SKIPPED",
                resource_type: item.kind,
                resource_name: item.name.clone(),
                id: text(&target[i], "id").into(),
            }),
            (Some(i), Mode::Overwrite) => {
                let old = text(&target[i], "id").to_string();
                // The item keeps its id unless the request names one, so what refers to it
                // (tokens' `sub`, role mappings) still does.
                if text(&value, "id").is_empty() {
                    value["id"] = json!(old.clone());
                }
                replaced.push((item.kind, old));
                results.push(ItemResult {
                    action: "OVERWRITTEN",
                    resource_type: item.kind,
                    resource_name: item.name.clone(),
                    id: text(&value, "id").into(),
                });
                target[i] = value;
            }
            (None, _) => {
                if text(&value, "id").is_empty() {
                    value["id"] = json!(new_uuid());
                }
                results.push(ItemResult {
                    action: "ADDED",
                    resource_type: item.kind,
                    resource_name: item.name.clone(),
                    id: text(&value, "id").into(),
                });
                target.push(value);
            }
        }
    }
    // What Latchkey does not model is named in the answer, not written.
    for (field, kind, key) in [
        ("groups", "GROUP", "name"),
        ("identityProviders", "IDP", "alias"),
    ] {
        for v in list(rep.get(field).unwrap_or(&Value::Null), field)? {
            results.push(ItemResult {
                action: "SKIPPED",
                resource_type: kind,
                resource_name: text(&v, key).into(),
                id: text(&v, "id").into(),
            });
        }
    }

    let bundle = realm_from_keycloak(&merged, sealer, now)?.bundle;
    let written = |kind: &str| -> HashSet<String> {
        results
            .iter()
            .filter(|r| r.resource_type == kind && r.action != "SKIPPED")
            .map(|r| r.id.clone())
            .collect()
    };
    let old = |kind: &str| -> Vec<String> {
        replaced
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, id)| id.clone())
            .collect()
    };
    let clients = written("CLIENT");
    let overwritten_clients: HashSet<String> = old("CLIENT").into_iter().collect();
    let mut roles = written("REALM_ROLE");
    roles.extend(written("CLIENT_ROLE"));
    // An overwritten client's roles go with it and come back from the merged document.
    let client_uuids: HashSet<&str> = bundle
        .clients
        .iter()
        .filter(|c| clients.contains(&c.id))
        .map(|c| c.id.as_str())
        .collect();
    for r in &bundle.roles {
        if r.client
            .as_deref()
            .is_some_and(|c| client_uuids.contains(c))
        {
            roles.insert(r.id.clone());
        }
    }
    let mut users = written("USER");
    for u in &bundle.users {
        if u.service_account_client
            .as_deref()
            .is_some_and(|c| client_uuids.contains(c))
        {
            users.insert(u.id.clone());
        }
    }
    let mut delete_roles = old("REALM_ROLE");
    delete_roles.extend(old("CLIENT_ROLE"));
    let changes = RealmChanges {
        delete_clients: overwritten_clients.into_iter().collect(),
        delete_roles,
        delete_users: old("USER"),
        user_roles: bundle
            .user_roles
            .iter()
            .filter(|(u, r)| users.contains(u) || roles.contains(r))
            .cloned()
            .collect(),
        clients: bundle
            .clients
            .into_iter()
            .filter(|c| clients.contains(&c.id))
            .collect(),
        roles: bundle
            .roles
            .into_iter()
            .filter(|r| roles.contains(&r.id))
            .collect(),
        users: bundle
            .users
            .into_iter()
            .filter(|u| users.contains(&u.id))
            .collect(),
    };
    Ok(PartialPlan { changes, results })
}

/// Keycloak's 409 `errorMessage` for an item that exists under FAIL.
fn exists_message(item: &Item<'_>) -> String {
    match item.kind {
        "USER" => format!("User with user name {} already exists.", item.name),
        "CLIENT" => format!("Client id '{}' already exists", item.name),
        "REALM_ROLE" => format!("Realm role '{}' already exists.", item.name),
        _ => format!("Client role '{}' already exists.", item.name),
    }
}
