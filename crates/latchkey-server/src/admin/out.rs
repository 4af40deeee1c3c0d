//! Representations: how the admin API shows stored users and roles, shared by the
//! resources that answer with them.

use latchkey_core::rep::{RoleRep, UserRep};
use latchkey_core::store::{RoleRecord, UserRecord};

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
