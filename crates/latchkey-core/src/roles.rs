//! Effective roles: a user's direct role mappings expanded through composite roles, and
//! what the admin API lets a holder of them do (`realm-management`'s roles in a realm; the
//! master realm's `admin` role in every realm).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::store::RoleRecord;

/// The client every realm keeps the admin roles on.
pub const REALM_MANAGEMENT: &str = "realm-management";
/// The master realm role that may do everything in every realm.
pub const MASTER_ADMIN_ROLE: &str = "admin";
pub const CREATE_REALM_ROLE: &str = "create-realm";
pub const MASTER_REALM: &str = "master";
/// The realm-management composite of every admin role of a realm.
pub const REALM_ADMIN_ROLE: &str = "realm-admin";

/// The realm-management roles; `realm-admin` is the composite of all of them.
pub const ADMIN_ROLES: &[&str] = &[
    "manage-realm",
    "view-realm",
    "manage-clients",
    "view-clients",
    "query-clients",
    "create-client",
    "manage-users",
    "view-users",
    "query-users",
    "query-groups",
    "query-realms",
    "view-events",
    "manage-events",
];

/// A user's roles after composite expansion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effective {
    pub role_ids: BTreeSet<String>,
    pub realm: BTreeSet<String>,
    /// clientId → role names
    pub client: BTreeMap<String, BTreeSet<String>>,
}

impl Effective {
    pub fn has_client_role(&self, client_id: &str, role: &str) -> bool {
        self.client.get(client_id).is_some_and(|r| r.contains(role))
    }
}

/// Expands `direct` role ids through the composites of `all` (the realm's roles).
/// Cycles are harmless: each role is visited once.
pub fn expand(direct: &[String], all: &[RoleRecord]) -> Effective {
    let by_id: HashMap<&str, &RoleRecord> = all.iter().map(|r| (r.id.as_str(), r)).collect();
    let by_name: HashMap<(Option<&str>, &str), &RoleRecord> = all
        .iter()
        .map(|r| ((r.client_client_id.as_deref(), r.name.as_str()), r))
        .collect();
    let mut out = Effective::default();
    let mut stack: Vec<&RoleRecord> = direct
        .iter()
        .filter_map(|id| by_id.get(id.as_str()).copied())
        .collect();
    while let Some(role) = stack.pop() {
        if !out.role_ids.insert(role.id.clone()) {
            continue;
        }
        match &role.client_client_id {
            None => {
                out.realm.insert(role.name.clone());
            }
            Some(client_id) => {
                out.client
                    .entry(client_id.clone())
                    .or_default()
                    .insert(role.name.clone());
            }
        }
        if let Some(c) = &role.rep.composites {
            for name in &c.realm {
                if let Some(r) = by_name.get(&(None, name.as_str())) {
                    stack.push(r);
                }
            }
            for (client_id, names) in &c.client {
                for name in names {
                    if let Some(r) = by_name.get(&(Some(client_id.as_str()), name.as_str())) {
                        stack.push(r);
                    }
                }
            }
        }
    }
    out
}

/// What an admin caller may do in one realm, from the roles of the token's realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRights {
    superuser: bool,
    roles: BTreeSet<String>,
}

/// An admin action and the realm-management roles that allow it (manage-X implies view-X).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    ViewRealm,
    ManageRealm,
    QueryClients,
    ViewClients,
    ManageClients,
    CreateClient,
    QueryUsers,
    ViewUsers,
    ManageUsers,
    ViewEvents,
    ManageEvents,
    /// any admin role at all (e.g. listing roles)
    Any,
}

impl AdminRights {
    /// `token_realm` is the realm that issued the caller's token, `target` the realm acted
    /// on. A master-realm `admin` may do everything everywhere; otherwise the caller's
    /// `realm-management` roles count only in their own realm.
    pub fn new(token_realm: &str, target: &str, roles: &Effective) -> Option<AdminRights> {
        let superuser = token_realm == MASTER_REALM && roles.realm.contains(MASTER_ADMIN_ROLE);
        if superuser {
            return Some(AdminRights {
                superuser,
                roles: BTreeSet::new(),
            });
        }
        if token_realm != target {
            return None;
        }
        let mut held: BTreeSet<String> = roles
            .client
            .get(REALM_MANAGEMENT)
            .cloned()
            .unwrap_or_default();
        if held.contains(REALM_ADMIN_ROLE) {
            held.extend(ADMIN_ROLES.iter().map(|r| r.to_string()));
        }
        Some(AdminRights {
            superuser,
            roles: held,
        })
    }

    pub fn is_superuser(&self) -> bool {
        self.superuser
    }

    pub fn allows(&self, right: Right) -> bool {
        if self.superuser {
            return true;
        }
        let has = |r: &str| self.roles.contains(r);
        match right {
            Right::ViewRealm => has("view-realm") || has("manage-realm"),
            Right::ManageRealm => has("manage-realm"),
            Right::QueryClients => {
                has("query-clients") || has("view-clients") || has("manage-clients")
            }
            Right::ViewClients => has("view-clients") || has("manage-clients"),
            Right::ManageClients => has("manage-clients"),
            Right::CreateClient => has("create-client") || has("manage-clients"),
            Right::QueryUsers => has("query-users") || has("view-users") || has("manage-users"),
            Right::ViewUsers => has("view-users") || has("manage-users"),
            Right::ManageUsers => has("manage-users"),
            Right::ViewEvents => has("view-events") || has("manage-events"),
            Right::ManageEvents => has("manage-events"),
            Right::Any => !self.roles.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rep::{Composites, RoleRep};

    fn role(
        id: &str,
        client: Option<&str>,
        name: &str,
        composites: Option<Composites>,
    ) -> RoleRecord {
        RoleRecord {
            id: id.into(),
            realm_id: "r".into(),
            client: client.map(|_| "uuid".into()),
            name: name.into(),
            rep: RoleRep {
                composites,
                ..Default::default()
            },
            client_client_id: client.map(str::to_string),
        }
    }

    #[test]
    fn composites_expand_across_realm_and_client_roles() {
        let mut client = BTreeMap::new();
        client.insert(
            REALM_MANAGEMENT.to_string(),
            vec!["view-clients".to_string()],
        );
        let all = vec![
            role(
                "1",
                None,
                "boss",
                Some(Composites {
                    realm: vec!["worker".into()],
                    client,
                }),
            ),
            role(
                "2",
                None,
                "worker",
                Some(Composites {
                    realm: vec!["boss".into()],
                    ..Default::default()
                }),
            ),
            role("3", Some(REALM_MANAGEMENT), "view-clients", None),
            role("4", None, "other", None),
        ];
        let e = expand(&["1".to_string()], &all);
        assert!(e.realm.contains("boss") && e.realm.contains("worker"));
        assert!(!e.realm.contains("other"));
        assert!(e.has_client_role(REALM_MANAGEMENT, "view-clients"));
        let rights = AdminRights::new("r", "r", &e).unwrap();
        assert!(rights.allows(Right::ViewClients));
        assert!(rights.allows(Right::QueryClients));
        assert!(!rights.allows(Right::ManageClients));
        assert!(AdminRights::new("r", "other", &e).is_none());
    }

    #[test]
    fn master_admin_may_do_everything_everywhere() {
        let all = vec![role("1", None, MASTER_ADMIN_ROLE, None)];
        let e = expand(&["1".to_string()], &all);
        let rights = AdminRights::new(MASTER_REALM, "any", &e).unwrap();
        assert!(rights.allows(Right::ManageUsers));
        let e2 = expand(&["1".to_string()], &all);
        assert!(AdminRights::new("other", "any", &e2).is_none());
    }
}
