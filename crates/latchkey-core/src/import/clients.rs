//! A realm file's client scopes (with the realm's default and optional sets) and clients:
//! each client through `clients::new_client` (Keycloak's defaults, `check_client`, the
//! secret sealed), replacing a built-in client of the same `clientId`.

use std::collections::HashSet;

use serde_json::Value;

use super::read::{Ids, keep_id, objects, parse, strings};
use super::report::{ImportError, Report};
use crate::Millis;
use crate::clients::{SECRET_CREATION_TIME, ScopeDefaults, new_client};
use crate::crypto::SecretBox;
use crate::rep::{ClientRep, ClientScopeRep};
use crate::store::{RealmBundle, ScopeRecord};

/// What a masked secret looks like in a partial export: not a secret to keep.
pub const MASKED: &str = "**********";

/// `clientScopes` replaces the built-in scopes when present (Keycloak adds its defaults
/// only to a realm file without any); `defaultDefaultClientScopes` and
/// `defaultOptionalClientScopes` name the realm's sets.
pub(super) fn scopes(
    doc: &Value,
    realm_id: &str,
    b: &mut RealmBundle,
    report: &mut Report,
) -> Result<(), ImportError> {
    if doc.get("clientScopes").is_some_and(|v| !v.is_null()) {
        let mut scopes = Vec::new();
        let mut seen = HashSet::new();
        for (i, v) in objects(doc, "clientScopes")?.into_iter().enumerate() {
            let at = format!("clientScopes[{i}]");
            let mut rep: ClientScopeRep = parse(v, &at)?;
            let name = rep.name.clone().unwrap_or_default();
            let at = format!("{at} {name:?}");
            crate::ident::check("name", &name).map_err(|e| ImportError::new(&at, e.to_string()))?;
            if name.is_empty() {
                return Err(ImportError::new(&at, "name is missing"));
            }
            if !seen.insert(name.clone()) {
                return Err(ImportError::new(
                    &at,
                    "a client scope of this name comes twice",
                ));
            }
            if rep
                .protocol
                .as_deref()
                .is_some_and(|p| p != "openid-connect")
            {
                report.skip("clientScopes (not openid-connect)", name);
                continue;
            }
            let id = keep_id(rep.id.as_deref(), &at)?;
            rep.id = Some(id.clone());
            rep.protocol_mappers.get_or_insert_with(Vec::new);
            scopes.push(ScopeRecord {
                id,
                realm_id: realm_id.to_string(),
                name,
                rep,
            });
        }
        b.scopes = scopes;
        b.default_scopes.clear();
        if doc.get("defaultDefaultClientScopes").is_none()
            && doc.get("defaultOptionalClientScopes").is_none()
        {
            return Ok(());
        }
    }
    let by_name = |name: &str| {
        b.scopes
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.id.clone())
    };
    let mut links = Vec::new();
    for (field, default) in [
        ("defaultDefaultClientScopes", true),
        ("defaultOptionalClientScopes", false),
    ] {
        let Some(names) = strings(doc, field, field)? else {
            // Keep the built-in set of this kind.
            links.extend(
                b.default_scopes
                    .iter()
                    .filter(|(_, d)| *d == default)
                    .cloned(),
            );
            continue;
        };
        for name in names {
            match by_name(&name) {
                Some(id) => links.push((id, default)),
                None => report.skip(&format!("{field} (no such client scope)"), name),
            }
        }
    }
    b.default_scopes = links;
    Ok(())
}

/// The realm's clients: the file's, then the built-in ones it lacks.
pub(super) fn clients(
    doc: &Value,
    realm_id: &str,
    sealer: &SecretBox,
    now: Millis,
    b: &mut RealmBundle,
    report: &mut Report,
) -> Result<Ids, ImportError> {
    let defaults = ScopeDefaults::from_records(&b.scopes, &b.default_scopes);
    let known: HashSet<&str> = b.scopes.iter().map(|s| s.name.as_str()).collect();
    let mut ids = Ids::default();
    let mut out = Vec::new();
    for (i, v) in objects(doc, "clients")?.into_iter().enumerate() {
        let at = format!("clients[{i}]");
        let mut rep: ClientRep = parse(v, &at)?;
        let client_id = rep.client_id.clone().unwrap_or_default();
        let at = format!("{at} {client_id:?}");
        if rep
            .protocol
            .as_deref()
            .is_some_and(|p| p != "openid-connect")
        {
            report.skip("clients (not openid-connect)", client_id);
            continue;
        }
        if ids.clients.contains_key(&client_id) {
            return Err(ImportError::new(
                &at,
                "clientId: a client with this clientId comes twice",
            ));
        }
        if v.get("authorizationSettings").is_some_and(|s| !s.is_null()) {
            report.skip("clients.authorizationSettings", client_id.clone());
        }
        rep.id = Some(keep_id(rep.id.as_deref(), &at)?);
        if rep.secret.as_deref() == Some(MASKED) {
            report.skip(
                "clients.secret (masked, a new one generated)",
                client_id.clone(),
            );
            rep.secret = None;
        }
        for (field, list) in [
            ("defaultClientScopes", &mut rep.default_client_scopes),
            ("optionalClientScopes", &mut rep.optional_client_scopes),
        ] {
            if let Some(names) = list.as_mut() {
                names.retain(|n| {
                    let ok = known.contains(n.as_str());
                    if !ok {
                        report.skip(
                            &format!("clients.{field} (no such client scope)"),
                            format!("{client_id} → {n}"),
                        );
                    }
                    ok
                });
            }
        }
        let created = rep
            .attributes
            .as_ref()
            .and_then(|a| a.get(SECRET_CREATION_TIME))
            .cloned();
        crate::ident::check("clientId", &client_id)
            .map_err(|e| ImportError::new(&at, e.to_string()))?;
        let mut made = new_client(realm_id, rep, &defaults, sealer, now)
            .map_err(|e| ImportError::new(&at, e.to_string()))?
            .record;
        // The file's secret keeps the time it was made, so exports compare.
        if let (Some(t), Some(attrs)) = (created, made.rep.attributes.as_mut())
            && made.secret_sealed.is_some()
        {
            attrs.insert(SECRET_CREATION_TIME.into(), t);
        }
        ids.clients.insert(client_id, made.id.clone());
        out.push(made);
    }
    // The built-in clients the file lacks; those it has are replaced by its own, and their
    // roles follow (`roles.rs` points them at the file's client).
    for builtin in std::mem::take(&mut b.clients) {
        if let Some(uuid) = ids.clients.get(&builtin.client_id) {
            for role in &mut b.roles {
                if role.client.as_deref() == Some(&builtin.id) {
                    role.client = Some(uuid.clone());
                    role.rep.container_id = Some(uuid.clone());
                }
            }
        } else {
            ids.clients
                .insert(builtin.client_id.clone(), builtin.id.clone());
            out.push(builtin);
        }
    }
    b.clients = out;
    Ok(ids)
}
