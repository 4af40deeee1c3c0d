//! The admin operations, one file per aggregate, below every surface that changes a realm:
//! the admin REST API (`admin/`) and the console (`console/`) call them, and dynamic
//! client registration shares their client helpers and the realm's registration switches.
//! Each operation takes the state, a caller cleared for the realm ([`RealmAdmin`]) and typed
//! input, and records its own admin event (`audit.rs`).

pub mod audit;
pub mod client_bulk;
pub mod clients;
pub mod components;
pub mod events;
pub mod expiry;
pub mod initial_access;
pub mod key_providers;
pub mod realm_import;
pub mod realms;
pub mod resource_servers;
pub mod roles;
pub mod scopes;
pub mod secrets;
pub mod sessions;
pub mod switches;
pub mod users;

use latchkey_core::roles::{
    AdminRights, CREATE_REALM_ROLE, Effective, MASTER_ADMIN_ROLE, MASTER_REALM, Right,
};
use latchkey_core::store::{RealmRecord, StoreError, UserRecord};

use crate::error::AdminError;
use crate::state::SharedState;

/// An authenticated admin caller: a user of some realm, with the roles the store gives them
/// now (not the token's), and what an admin event says about them. The admin API's
/// extractor makes one from a bearer token, the console from its session.
#[derive(Clone)]
pub struct AdminAuth {
    /// The name of the caller's own realm.
    pub realm: String,
    pub user: UserRecord,
    pub effective: Effective,
    /// The UUID of the client the caller acts through (the token's client; the console's
    /// own client for the console).
    pub client: String,
    /// The caller's address, `""` when unknown.
    pub ip_address: String,
}

/// A caller cleared for one realm: the realm, loaded first, and what the caller may do
/// there. Only [`AdminAuth::realm`] makes one, after checking a right.
pub struct RealmAdmin<'a> {
    pub auth: &'a AdminAuth,
    pub realm: RealmRecord,
    rights: AdminRights,
}

impl RealmAdmin<'_> {
    /// What the caller may do in the realm.
    pub fn rights(&self) -> &AdminRights {
        &self.rights
    }
}

/// A caller cleared to create realms: only [`AdminAuth::realm_creator`] makes one.
pub struct RealmCreator<'a>(&'a AdminAuth);

impl AdminAuth {
    /// Loads the target realm (404 first, as Keycloak checks it before roles) and checks
    /// the caller may do `right` there (403).
    pub async fn realm(
        &self,
        state: &SharedState,
        name: &str,
        right: Right,
    ) -> Result<RealmAdmin<'_>, AdminError> {
        let realm = state
            .store
            .realm_by_name(name)
            .await?
            .ok_or(AdminError::NotFound("Realm not found."))?;
        let rights =
            AdminRights::new(&self.realm, name, &self.effective).ok_or(AdminError::Forbidden)?;
        if !rights.allows(right) {
            return Err(AdminError::Forbidden);
        }
        Ok(RealmAdmin {
            auth: self,
            realm,
            rights,
        })
    }

    /// Whether the caller may create realms: a master-realm admin or `create-realm` holder.
    pub fn may_create_realm(&self) -> bool {
        self.realm == MASTER_REALM
            && (self.effective.realm.contains(MASTER_ADMIN_ROLE)
                || self.effective.realm.contains(CREATE_REALM_ROLE))
    }

    /// The caller cleared to create realms, or 403.
    pub fn realm_creator(&self) -> Result<RealmCreator<'_>, AdminError> {
        if self.may_create_realm() {
            Ok(RealmCreator(self))
        } else {
            Err(AdminError::Forbidden)
        }
    }
}

/// A write's result, a uniqueness violation becoming Keycloak's 409 with `message`.
pub fn or_conflict<T>(
    r: Result<T, StoreError>,
    message: impl FnOnce() -> String,
) -> Result<T, AdminError> {
    match r {
        Err(StoreError::Conflict { .. }) => Err(AdminError::Conflict(message())),
        r => Ok(r?),
    }
}
