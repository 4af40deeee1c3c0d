//! Realms: which ones a caller administers, creation, Keycloak's partial update, deletion.

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

/// Keycloak's `RealmRepresentation` holds these as Java `Integer`s, so a value outside 32
/// bits is a 400 there; here it would overflow the arithmetic of token lifetimes
/// (`iat + accessTokenLifespan`). Its two `Long`s are kept below what a conversion to
/// milliseconds can hold.
fn check_numbers(rep: &RealmRep) -> Result<(), AdminError> {
    let int = i64::from(i32::MIN)..=i64::from(i32::MAX);
    let long = -(i64::MAX / 4000)..=i64::MAX / 4000;
    let fields = [
        ("accessTokenLifespan", rep.access_token_lifespan, &int),
        ("ssoSessionIdleTimeout", rep.sso_session_idle_timeout, &int),
        ("ssoSessionMaxLifespan", rep.sso_session_max_lifespan, &int),
        ("accessCodeLifespan", rep.access_code_lifespan, &int),
        (
            "oauth2DeviceCodeLifespan",
            rep.oauth2_device_code_lifespan,
            &int,
        ),
        (
            "oauth2DevicePollingInterval",
            rep.oauth2_device_polling_interval,
            &int,
        ),
        (
            "offlineSessionIdleTimeout",
            rep.offline_session_idle_timeout,
            &int,
        ),
        ("refreshTokenMaxReuse", rep.refresh_token_max_reuse, &int),
        ("notBefore", rep.not_before, &int),
        ("maxTemporaryLockouts", rep.max_temporary_lockouts, &int),
        ("maxFailureWaitSeconds", rep.max_failure_wait_seconds, &int),
        (
            "minimumQuickLoginWaitSeconds",
            rep.minimum_quick_login_wait_seconds,
            &int,
        ),
        ("waitIncrementSeconds", rep.wait_increment_seconds, &int),
        ("maxDeltaTimeSeconds", rep.max_delta_time_seconds, &int),
        ("failureFactor", rep.failure_factor, &int),
        (
            "quickLoginCheckMilliSeconds",
            rep.quick_login_check_milli_seconds,
            &long,
        ),
        ("eventsExpiration", rep.events_expiration, &long),
    ];
    match fields
        .into_iter()
        .find(|(_, v, range)| v.is_some_and(|v| !range.contains(&v)))
    {
        Some((name, _, _)) => Err(AdminError::Invalid(format!("{name} is out of range"))),
        None => Ok(()),
    }
}

/// Creates a realm with what a new realm gets (keys, roles, clients, scopes); returns its
/// name. The admin event goes to the caller's own realm, as Keycloak records it.
pub async fn create(
    state: &SharedState,
    creator: RealmCreator<'_>,
    rep: RealmRep,
) -> Result<String, AdminError> {
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
    let bundle = tokio::task::spawn_blocking(move || new_realm(rep, &sealer, None, now_millis()))
        .await
        .map_err(AdminError::internal)?
        .map_err(|e| AdminError::Invalid(e.to_string()))?;
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
