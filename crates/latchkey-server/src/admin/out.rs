//! Representations: how the admin API shows what the services return, shared by the
//! resources that answer with them.

use std::collections::BTreeMap;

use latchkey_core::clients::open_secret;
use latchkey_core::last_used::{LAST_USED_ATTRIBUTE, iso_date};
use latchkey_core::rep::{ClientRep, ClientScopeRep, RealmRep, RoleRep, UserRep};
use latchkey_core::store::{
    AdminEventRecord, ClientRecord, ComponentRecord, EventRecord, InitialAccessRecord, RoleRecord,
    ScopeRecord, UserRecord,
};
use serde_json::{Value, json};

use crate::state::SharedState;

/// The client as the admin API shows it: with its secret when the caller may view it.
pub fn client_out(state: &SharedState, c: &ClientRecord, with_secret: bool) -> ClientRep {
    let mut rep = c.rep.clone();
    rep.id = Some(c.id.clone());
    rep.client_id = Some(c.client_id.clone());
    if with_secret {
        rep.secret = open_secret(c, &state.sealer);
    }
    let access: BTreeMap<String, bool> = ["view", "configure", "manage"]
        .into_iter()
        .map(|k| (k.to_string(), true))
        .collect();
    rep.access = Some(access);
    if let Some(day) = c.last_used {
        rep.attributes
            .get_or_insert_with(Default::default)
            .insert(LAST_USED_ATTRIBUTE.into(), iso_date(day));
    }
    rep
}

/// The user as the admin API shows it (never a credential).
pub fn user_out(u: &UserRecord) -> UserRep {
    let mut rep = u.rep.clone();
    rep.id = Some(u.id.clone());
    rep.username = Some(u.username.clone());
    rep.email = u.email.clone();
    rep.enabled.get_or_insert(false);
    rep.email_verified.get_or_insert(false);
    rep.totp = Some(false);
    rep.created_timestamp = Some(u.created_at);
    rep.required_actions.get_or_insert_with(Vec::new);
    rep.not_before.get_or_insert(0);
    rep.disableable_credential_types = Some(Vec::new());
    rep.credentials = None;
    rep.access = Some(
        [
            "manageGroupMembership",
            "view",
            "mapRoles",
            "impersonate",
            "manage",
        ]
        .into_iter()
        .map(|k| (k.to_string(), k != "impersonate"))
        .collect(),
    );
    rep
}

/// The role as the admin API shows it.
pub fn role_out(r: &RoleRecord, brief: bool) -> RoleRep {
    let mut rep = r.rep.clone();
    rep.id = Some(r.id.clone());
    rep.name = Some(r.name.clone());
    rep.client_role = Some(r.client.is_some());
    rep.container_id = Some(r.client.clone().unwrap_or_else(|| r.realm_id.clone()));
    let composite = rep
        .composites
        .as_ref()
        .is_some_and(|c| !c.realm.is_empty() || !c.client.is_empty());
    rep.composite = Some(composite);
    if brief {
        rep.attributes = None;
        rep.composites = None;
    } else {
        rep.attributes.get_or_insert_with(Default::default);
    }
    rep
}

/// The client scope as the admin API shows it.
pub fn scope_out(s: &ScopeRecord) -> ClientScopeRep {
    let mut rep = s.rep.clone();
    rep.id = Some(s.id.clone());
    rep.name = Some(s.name.clone());
    rep
}

/// A component (`ComponentRepresentation`).
/// A component; `subType` is left out when it has none (key providers), as Keycloak does.
pub fn component_out(c: &ComponentRecord) -> Value {
    let mut v = json!({
        "id": c.id, "name": c.name, "providerId": c.provider_id, "providerType": c.provider_type,
        "parentId": c.parent_id, "config": c.config,
    });
    if let Some(sub_type) = &c.sub_type {
        v["subType"] = sub_type.as_str().into();
    }
    v
}

/// An initial access token (`ClientInitialAccessPresentation`); `token` only when created.
pub fn initial_access_out(t: &InitialAccessRecord, token: Option<&str>) -> Value {
    let mut v = json!({
        "id": t.id,
        "timestamp": t.created_at,
        "expiration": t.expiration,
        "count": t.count,
        "remainingCount": t.remaining,
        "webOrigins": t.web_origins,
    });
    if let Some(token) = token {
        v["token"] = json!(token);
    }
    v
}

/// Keycloak's brief realm representation; absent members are omitted, never `null`
/// (Jackson's NON_NULL, as everywhere else in the API).
pub fn realm_brief(rep: &RealmRep) -> Value {
    let mut v = json!({"id": rep.id, "realm": rep.realm, "displayName": rep.display_name, "enabled": rep.enabled});
    if let Some(o) = v.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    v
}

/// An event (`EventRepresentation`).
pub fn event_out(e: &EventRecord) -> Value {
    let mut v = json!({
        "id": e.id,
        "time": e.time,
        "type": e.kind,
        "realmId": e.realm_id,
        "details": e.details,
    });
    for (key, value) in [
        ("clientId", &e.client_id),
        ("userId", &e.user_id),
        ("ipAddress", &e.ip_address),
        ("error", &e.error),
    ] {
        if let Some(x) = value {
            v[key] = json!(x);
        }
    }
    v
}

/// An admin event (`AdminEventRepresentation`).
pub fn admin_event_out(e: &AdminEventRecord) -> Value {
    let mut v = json!({
        "id": e.id,
        "time": e.time,
        "realmId": e.realm_id,
        "authDetails": {
            "realmId": e.auth_realm_id,
            "clientId": e.auth_client_id,
            "userId": e.auth_user_id,
            "ipAddress": e.ip_address,
        },
        "operationType": e.operation_type,
        "resourceType": e.resource_type,
        "resourcePath": e.resource_path,
    });
    if let Some(r) = &e.representation {
        v["representation"] = json!(r);
    }
    v
}
