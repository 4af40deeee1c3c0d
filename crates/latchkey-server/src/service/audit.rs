//! Admin events, the audit trail of the admin operations: each operation that changes a
//! realm records what it did, with Keycloak's operation type, resource type and resource
//! path, when the realm's `adminEventsEnabled` is on (Keycloak's default: off); read back
//! with Keycloak's filters.

use latchkey_core::crypto::new_row_id;
use latchkey_core::store::{AdminEventQuery, AdminEventRecord, RealmRecord};
use serde::Serialize;
use serde_json::Value;

use super::events::{new_window, parse_query};
use super::{AdminAuth, RealmAdmin};
use crate::error::AdminError;
use crate::state::{SharedState, now_millis};

/// Keycloak's `OperationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    /// a change that is not an edit of the resource (a new secret, a password reset); it
    /// never carries a representation
    Action,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Action => "ACTION",
        }
    }
}

/// Keycloak's `ResourceType`, the ones Latchkey's admin operations change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Realm,
    Client,
    ClientRole,
    RealmRole,
    User,
    UserSession,
    RealmRoleMapping,
    ClientRoleMapping,
    ClientScope,
    RealmScopeMapping,
    ClientInitialAccessModel,
    Component,
    /// Latchkey's own: a resource server (RFC 8707), which Keycloak does not have.
    ResourceServer,
}

impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Realm => "REALM",
            Resource::Client => "CLIENT",
            Resource::ClientRole => "CLIENT_ROLE",
            Resource::RealmRole => "REALM_ROLE",
            Resource::User => "USER",
            Resource::UserSession => "USER_SESSION",
            Resource::RealmRoleMapping => "REALM_ROLE_MAPPING",
            Resource::ClientRoleMapping => "CLIENT_ROLE_MAPPING",
            Resource::ClientScope => "CLIENT_SCOPE",
            Resource::RealmScopeMapping => "REALM_SCOPE_MAPPING",
            Resource::ClientInitialAccessModel => "CLIENT_INITIAL_ACCESS_MODEL",
            Resource::Component => "COMPONENT",
            Resource::ResourceServer => "RESOURCE_SERVER",
        }
    }
}

/// One change as an admin event records it. `path` is Keycloak's resource path: the admin
/// API path of the resource below `/admin/realms/{realm}` (`clients/{uuid}`,
/// `users/{id}/role-mappings/realm`), or a new realm's name.
#[derive(Debug)]
pub struct Change {
    operation: Operation,
    resource: Resource,
    path: String,
    representation: Option<Value>,
}

impl Change {
    fn new(operation: Operation, resource: Resource, path: impl Into<String>) -> Self {
        Change {
            operation,
            resource,
            path: path.into(),
            representation: None,
        }
    }

    pub fn create(resource: Resource, path: impl Into<String>) -> Self {
        Change::new(Operation::Create, resource, path)
    }

    pub fn update(resource: Resource, path: impl Into<String>) -> Self {
        Change::new(Operation::Update, resource, path)
    }

    pub fn delete(resource: Resource, path: impl Into<String>) -> Self {
        Change::new(Operation::Delete, resource, path)
    }

    pub fn action(resource: Resource, path: impl Into<String>) -> Self {
        Change::new(Operation::Action, resource, path)
    }

    /// The representation the caller sent, from [`sent`].
    pub fn with(mut self, sent: Option<Value>) -> Self {
        self.representation = sent;
        self
    }
}

/// What a change's event keeps of the representation `rep` the caller sent: `None` unless
/// `realm` records admin events with their details, so a realm that records nothing
/// (Keycloak's default) pays for no copy. Taken before the operation changes `rep`.
pub fn sent(realm: &RealmRecord, rep: &impl Serialize) -> Option<Value> {
    let wanted = realm.rep.admin_events_enabled == Some(true)
        && realm.rep.admin_events_details_enabled == Some(true);
    wanted.then(|| serde_json::to_value(rep).ok()).flatten()
}

/// Records `change`, made by `admin` in its realm.
pub async fn record(state: &SharedState, admin: &RealmAdmin<'_>, change: Change) {
    record_in(state, admin.auth, &admin.realm, change).await;
}

/// Records `change`, made by `caller`, in `realm` if that realm records admin events. A
/// failure to record is logged and does not undo the change.
pub async fn record_in(
    state: &SharedState,
    caller: &AdminAuth,
    realm: &RealmRecord,
    change: Change,
) {
    if realm.rep.admin_events_enabled != Some(true) {
        return;
    }
    let details = realm.rep.admin_events_details_enabled == Some(true)
        && change.operation != Operation::Action;
    let event = AdminEventRecord {
        id: new_row_id(),
        realm_id: realm.id.clone(),
        time: now_millis(),
        operation_type: change.operation.as_str().to_string(),
        resource_type: change.resource.as_str().to_string(),
        resource_path: change.path,
        auth_realm_id: caller.user.realm_id.clone(),
        auth_client_id: caller.client.clone(),
        auth_user_id: caller.user.id.clone(),
        ip_address: caller.ip_address.clone(),
        representation: change
            .representation
            .filter(|_| details)
            .map(without_credentials),
    };
    if let Err(e) = state.store.insert_admin_event(&event).await {
        tracing::warn!(error = %e, "could not record an admin event");
    }
}

/// The representation as stored, without credentials: Keycloak keeps whatever was sent,
/// but a database dump alone must reveal no usable credential (secrets, tokens and
/// passwords are stored only hashed or encrypted).
fn without_credentials(mut v: Value) -> String {
    fn scrub(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in ["secret", "credentials", "registrationAccessToken", "value"] {
                    map.remove(key);
                }
                map.values_mut().for_each(scrub);
            }
            Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    scrub(&mut v);
    v.to_string()
}

/// Parses Keycloak's `admin-events` query (`operationTypes` and `resourceTypes` repeat).
pub fn query(raw: Option<&str>) -> Result<AdminEventQuery, AdminError> {
    let mut q = AdminEventQuery::default();
    let mut window = new_window();
    parse_query(raw, &mut window, |k, v| match k {
        "operationTypes" => q.operation_types.push(v),
        "resourceTypes" => q.resource_types.push(v),
        "authRealm" => q.auth_realm_id = Some(v),
        "authClient" => q.auth_client_id = Some(v),
        "authUser" => q.auth_user_id = Some(v),
        "authIpAddress" => q.ip_address = Some(v),
        "resourcePath" => q.resource_path = Some(v),
        _ => {}
    })?;
    q.window = window;
    Ok(q)
}

/// The realm's admin events that match `q`.
pub async fn list(
    state: &SharedState,
    admin: &RealmAdmin<'_>,
    q: &AdminEventQuery,
) -> Result<Vec<AdminEventRecord>, AdminError> {
    Ok(state.store.list_admin_events(&admin.realm.id, q).await?)
}

/// Forgets the realm's admin events.
pub async fn clear(state: &SharedState, admin: &RealmAdmin<'_>) -> Result<(), AdminError> {
    Ok(state.store.clear_admin_events(&admin.realm.id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn representations_lose_credentials() {
        let sent = serde_json::json!({"clientId": "a", "secret": "s3cret", "attributes": {"x": "y"},
            "credentials": [{"type": "password", "value": "pw"}]});
        let r = without_credentials(sent);
        assert!(!r.contains("s3cret") && !r.contains("pw"), "{r}");
        assert!(r.contains("\"clientId\":\"a\""));
    }
}
