//! Realms: which ones a caller administers, creation, Keycloak's partial update, deletion.

use latchkey_core::import::realm_from_keycloak;
use latchkey_core::keys::Alg;
use latchkey_core::merge::merge;
use latchkey_core::realm_setup::new_realm;
use latchkey_core::registration::cimd;
use latchkey_core::rep::RealmRep;
use latchkey_core::roles::{AdminRights, MASTER_REALM, Right};
use latchkey_core::store::RealmRecord;

use super::audit::{self, Change, Resource};
use super::{AdminAuth, RealmAdmin, RealmCreator, or_conflict};
use crate::error::AdminError;
use crate::state::{SharedState, now_millis};

/// The realms the caller holds any admin right in, with those rights.
pub async fn visible(
    state: &SharedState,
    auth: &AdminAuth,
) -> Result<Vec<(RealmRecord, AdminRights)>, AdminError> {
    Ok(state
        .store
        .list_realms()
        .await?
        .into_iter()
        .filter_map(|realm| {
            let rights = AdminRights::new(&auth.realm, &realm.name, &auth.effective)?;
            rights.allows(Right::Any).then_some((realm, rights))
        })
        .collect())
}

/// Realm names end up in URLs and issuers: no slashes, no control characters, and not `.`
/// or `..`, which a URL path cannot hold as a segment (RFC 3986 §5.2.4 removes them, so
/// every URL of such a realm would name another path).
fn check_name(name: &str) -> Result<(), AdminError> {
    if name.trim().is_empty() {
        return Err(AdminError::Invalid("Realm name cannot be empty".into()));
    }
    if name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(AdminError::Invalid(
            "Realm name contains invalid characters".into(),
        ));
    }
    // The identifier rule's length, said as such (not as "invalid characters").
    latchkey_core::ident::check("Realm name", name).map_err(|e| AdminError::Invalid(e.to_string()))
}

fn check_algorithm(rep: &RealmRep) -> Result<(), AdminError> {
    match &rep.default_signature_algorithm {
        Some(alg) if Alg::parse(alg).is_none() => Err(AdminError::Invalid(
            "defaultSignatureAlgorithm must be RS256 or ES256".into(),
        )),
        _ => Ok(()),
    }
}

/// Members of a realm representation that make `POST /admin/realms` an import.
const IMPORTED: [&str; 7] = [
    "clients",
    "users",
    "roles",
    "clientScopes",
    "components",
    "defaultDefaultClientScopes",
    "defaultOptionalClientScopes",
];

/// A number outside Keycloak's range is a 400 naming the field (`RealmRep::out_of_range`).
fn check_numbers(rep: &RealmRep) -> Result<(), AdminError> {
    match rep.out_of_range() {
        Some(name) => Err(AdminError::Invalid(format!("{name} is out of range"))),
        None => Ok(()),
    }
}

/// Creates a realm with what a new realm gets (keys, roles, clients, scopes); returns its
/// name. The admin event goes to the caller's own realm, as Keycloak records it.
pub async fn create(
    state: &SharedState,
    creator: RealmCreator<'_>,
    doc: serde_json::Value,
) -> Result<String, AdminError> {
    let rep: RealmRep = serde_json::from_value(doc.clone())
        .map_err(|e| AdminError::Invalid(format!("Invalid realm representation: {e}")))?;
    let sent = rep.clone();
    let name = rep.realm.clone().unwrap_or_default();
    check_name(&name)?;
    check_algorithm(&rep)?;
    check_numbers(&rep)?;
    cimd::check_attributes(rep.attributes.as_ref()).map_err(AdminError::Invalid)?;
    let exists = || format!("Realm {name} already exists");
    if state.store.realm_by_name(&name).await?.is_some() {
        return Err(AdminError::Conflict(exists()));
    }
    // RSA key generation is CPU work: off the async workers.
    let sealer = state.sealer.clone();
    // A full representation (clients, roles, users, scopes, components) is imported as
    // Keycloak's `POST /admin/realms` does, through the same conversion as `latchkey import`;
    // a bare one gets what every new realm gets.
    let full = IMPORTED
        .iter()
        .any(|k| doc.get(*k).is_some_and(|v| !v.is_null()));
    let bundle = tokio::task::spawn_blocking(move || {
        if full {
            realm_from_keycloak(&doc, &sealer, now_millis())
                .map(|i| i.bundle)
                .map_err(|e| e.to_string())
        } else {
            new_realm(rep, &sealer, None, now_millis()).map_err(|e| e.to_string())
        }
    })
    .await
    .map_err(AdminError::internal)?
    .map_err(AdminError::Invalid)?;
    or_conflict(state.store.create_realm(bundle).await, exists)?;
    let caller = creator.0;
    if let Ok(Some(own)) = state.store.realm_by_name(&caller.realm).await {
        let change = Change::create(Resource::Realm, name.clone()).with(audit::sent(&own, &sent));
        audit::record_in(state, caller, &own, change).await;
    }
    Ok(name)
}

/// Keycloak's partial update of the realm (a new name, settings, attributes). Recorded
/// when the realm records admin events both before and after the change, so switching
/// them on or off is not itself an event.
pub async fn update(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    mut patch: RealmRep,
) -> Result<(), AdminError> {
    let mut realm = admin.realm.clone();
    // As in Keycloak's realm update, whose event builder reads the events settings when
    // the request starts, the realm as it was decides: turning admin events on is not
    // itself recorded, turning them off is (`audit::record` with the realm before).
    let sent = audit::sent(&admin.realm, &patch);
    patch.id = None;
    patch.default_role = None;
    check_algorithm(&patch)?;
    check_numbers(&patch)?;
    if let Some(new_name) = patch.realm.clone().filter(|n| *n != realm.name) {
        if realm.name == MASTER_REALM {
            return Err(AdminError::Invalid("Can't rename master realm".into()));
        }
        check_name(&new_name)?;
        realm.name = new_name;
    }
    realm.rep = merge(&realm.rep, &patch, &["attributes"]).map_err(AdminError::internal)?;
    realm.rep.realm = Some(realm.name.clone());
    cimd::check_attributes(realm.rep.attributes.as_ref()).map_err(AdminError::Invalid)?;
    or_conflict(state.store.update_realm(&realm).await, || {
        "Realm with same name exists".into()
    })?;
    audit::record(state, admin, Change::update(Resource::Realm, "").with(sent)).await;
    Ok(())
}

/// Deletes the realm and everything in it; the master realm stays. No admin event: its
/// events go with it.
pub async fn delete(state: &SharedState, admin: &RealmAdmin<'_>) -> Result<(), AdminError> {
    let realm = &admin.realm;
    if realm.name == MASTER_REALM {
        return Err(AdminError::Invalid("Can't remove master realm".into()));
    }
    state.store.delete_realm(&realm.id).await?;
    state.forget_realm_keys(&realm.id);
    Ok(())
}
