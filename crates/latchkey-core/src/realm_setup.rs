//! What a new realm starts with (Keycloak's `RealmManager.setupRealmDefaults`): settings
//! defaults, the registration switches, signing keys, built-in client scopes, roles, the
//! `realm-management`, `admin-cli` and `security-admin-console` clients, and, for the
//! master realm, the bootstrap admin.

use std::collections::BTreeMap;

use crate::Millis;
use crate::clients::{ADMIN_CLI, ADMIN_CONSOLE, ScopeDefaults, new_client};
use crate::crypto::{SecretBox, hash_password, new_uuid};
use crate::keys::{self, Alg};
use crate::rep::{ClientRep, ClientScopeRep, Composites, RealmRep, RoleRep, StringMap, UserRep};
use crate::roles::{
    ADMIN_ROLES, CREATE_REALM_ROLE, MASTER_ADMIN_ROLE, MASTER_REALM, REALM_ADMIN_ROLE,
    REALM_MANAGEMENT,
};
use crate::store::{KeyRecord, RealmBundle, RealmRecord, RoleRecord, ScopeRecord, UserRecord};

/// Realm attributes that switch client registration (anonymous, authenticated, policies),
/// with their defaults; a new realm's representation shows all three.
pub const REGISTRATION_SWITCHES: [(&str, &str); 3] = [
    ("clientRegistrationAnonymousEnabled", "false"),
    ("clientRegistrationAuthenticatedEnabled", "true"),
    ("clientRegistrationPoliciesEnabled", "true"),
];

/// Built-in OIDC client scopes: (name, default?, included in the token's `scope`).
/// `None` for default means the realm keeps it in neither set.
const BUILTIN_SCOPES: &[(&str, Option<bool>, bool)] = &[
    ("basic", Some(true), false),
    ("profile", Some(true), true),
    ("email", Some(true), true),
    ("roles", Some(true), false),
    ("web-origins", Some(true), false),
    ("acr", Some(true), false),
    ("address", Some(false), true),
    ("phone", Some(false), true),
    ("offline_access", Some(false), true),
    ("service_account", None, false),
];

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("Realm name cannot be empty")]
    MissingName,
    #[error("defaultSignatureAlgorithm must be RS256 or ES256")]
    BadAlgorithm,
    #[error("key generation failed")]
    Keys(#[from] keys::KeyError),
    #[error("password hashing failed")]
    Password,
}

/// The associated data a realm's sealed private key is bound to.
pub fn key_context(kid: &str) -> String {
    format!("signing-key:{kid}")
}

/// Fills Keycloak's defaults into a realm representation (creation only).
pub fn realm_defaults(mut rep: RealmRep) -> Result<RealmRep, SetupError> {
    let name = rep
        .realm
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or(SetupError::MissingName)?;
    let id = rep
        .id
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(new_uuid);
    rep.id = Some(id.clone());
    rep.enabled.get_or_insert(false);
    rep.ssl_required.get_or_insert_with(|| "external".into());
    let alg = rep
        .default_signature_algorithm
        .get_or_insert_with(|| "RS256".into());
    if Alg::parse(alg).is_none() {
        return Err(SetupError::BadAlgorithm);
    }
    rep.access_token_lifespan.get_or_insert(300);
    rep.sso_session_idle_timeout.get_or_insert(1800);
    rep.sso_session_max_lifespan.get_or_insert(36000);
    rep.access_code_lifespan.get_or_insert(60);
    rep.offline_session_idle_timeout.get_or_insert(2_592_000);
    rep.revoke_refresh_token.get_or_insert(false);
    rep.refresh_token_max_reuse.get_or_insert(0);
    rep.not_before.get_or_insert(0);
    rep.registration_allowed.get_or_insert(false);
    rep.login_with_email_allowed.get_or_insert(true);
    rep.duplicate_emails_allowed.get_or_insert(false);
    rep.reset_password_allowed.get_or_insert(false);
    rep.remember_me.get_or_insert(false);
    rep.verify_email.get_or_insert(false);
    // On by default, unlike Keycloak (a deliberate difference); the numbers are Keycloak's defaults
    // (`RealmManager.setupRealmDefaults`).
    rep.brute_force_protected.get_or_insert(true);
    rep.permanent_lockout.get_or_insert(false);
    rep.max_temporary_lockouts.get_or_insert(0);
    rep.brute_force_strategy
        .get_or_insert_with(|| "MULTIPLE".into());
    rep.max_failure_wait_seconds.get_or_insert(900);
    rep.minimum_quick_login_wait_seconds.get_or_insert(60);
    rep.wait_increment_seconds.get_or_insert(60);
    rep.quick_login_check_milli_seconds.get_or_insert(1000);
    rep.max_delta_time_seconds.get_or_insert(43_200);
    rep.failure_factor.get_or_insert(30);
    rep.events_enabled.get_or_insert(false);
    rep.admin_events_enabled.get_or_insert(false);
    rep.admin_events_details_enabled.get_or_insert(false);
    let attrs = rep.attributes.get_or_insert_with(StringMap::new);
    for (k, v) in REGISTRATION_SWITCHES
        .into_iter()
        .chain(crate::registration::cimd::SETTINGS)
    {
        attrs.entry(k.into()).or_insert_with(|| v.into());
    }
    rep.default_role = Some(RoleRep {
        id: None,
        name: Some(default_role_name(&name)),
        description: Some("${role_default-roles}".into()),
        composite: Some(true),
        client_role: Some(false),
        container_id: Some(id),
        ..Default::default()
    });
    Ok(rep)
}

pub fn default_role_name(realm: &str) -> String {
    format!("default-roles-{}", realm.to_lowercase())
}

/// A bootstrap administrator for the master realm.
pub struct BootstrapAdmin {
    pub username: String,
    pub password: String,
}

/// Keycloak's attribute of an admin made by `bootstrap-admin` to recover access: it is
/// meant to be replaced by a permanent admin and deleted.
pub const TEMPORARY_ADMIN_ATTRIBUTE: &str = "is_temporary_admin";

/// An enabled user with a password, as a bootstrap admin is made (its roles are mapped by
/// the caller); `temporary` marks it with [`TEMPORARY_ADMIN_ATTRIBUTE`].
pub fn admin_user(
    realm_id: &str,
    username: &str,
    password_hash: Option<String>,
    temporary: bool,
    now: Millis,
) -> UserRecord {
    let id = new_uuid();
    let username = username.to_lowercase();
    let attributes = temporary.then(|| {
        let mut attrs = std::collections::BTreeMap::new();
        attrs.insert(
            TEMPORARY_ADMIN_ATTRIBUTE.to_string(),
            vec!["true".to_string()],
        );
        attrs
    });
    UserRecord {
        id: id.clone(),
        realm_id: realm_id.to_string(),
        username: username.clone(),
        email: None,
        rep: UserRep {
            id: Some(id),
            username: Some(username),
            enabled: Some(true),
            email_verified: Some(false),
            totp: Some(false),
            created_timestamp: Some(now),
            attributes,
            ..Default::default()
        },
        password_hash,
        service_account_client: None,
        created_at: now,
    }
}

/// Builds everything a new realm starts with. `admin` is only honoured for the master realm.
pub fn new_realm(
    rep: RealmRep,
    sealer: &SecretBox,
    admin: Option<&BootstrapAdmin>,
    now: Millis,
) -> Result<RealmBundle, SetupError> {
    let rep = realm_defaults(rep)?;
    let name = rep.realm.clone().unwrap_or_default();
    let realm_id = rep.id.clone().unwrap_or_default();
    let mut b = RealmBundle::default();

    // The two slow steps of a first start, RSA key generation and the admin's Argon2id
    // hash, run side by side (start-to-ready, BENCHMARKS.md).
    let (generated, admin_hash) = std::thread::scope(|scope| {
        let hashing = admin
            .filter(|_| name == MASTER_REALM)
            .map(|a| scope.spawn(move || hash_password(&a.password)));
        let generated: Result<Vec<_>, _> = Alg::ALL
            .iter()
            .map(|alg| keys::generate_quickly(*alg))
            .collect();
        let hash = hashing.map(|h| {
            h.join()
                .unwrap_or(Err(crate::crypto::CryptoError::Password))
        });
        (generated, hash)
    });
    let admin_hash = admin_hash.transpose().map_err(|_| SetupError::Password)?;
    for g in generated? {
        let alg = g.alg;
        b.components
            .push(crate::key_providers::generated(&realm_id, &g.kid, alg));
        b.keys.push(KeyRecord {
            private_sealed: sealer.seal(&g.pkcs8, &key_context(&g.kid)),
            kid: g.kid,
            realm_id: realm_id.clone(),
            alg: alg.as_str().into(),
            public_jwk: g.public_jwk,
            created_at: now,
        });
    }

    let mut scope_defaults = ScopeDefaults::default();
    for (scope, default, in_token) in BUILTIN_SCOPES {
        let id = new_uuid();
        let mut attrs = StringMap::new();
        attrs.insert("include.in.token.scope".into(), in_token.to_string());
        attrs.insert(
            "display.on.consent.screen".into(),
            (!matches!(*scope, "basic" | "acr" | "web-origins" | "service_account")).to_string(),
        );
        b.scopes.push(ScopeRecord {
            id: id.clone(),
            realm_id: realm_id.clone(),
            name: scope.to_string(),
            rep: ClientScopeRep {
                id: Some(id.clone()),
                name: Some(scope.to_string()),
                description: Some(format!("OpenID Connect built-in scope: {scope}")),
                protocol: Some("openid-connect".into()),
                attributes: Some(attrs),
                protocol_mappers: Some(Vec::new()),
            },
        });
        match default {
            Some(true) => scope_defaults.default.push(scope.to_string()),
            Some(false) => scope_defaults.optional.push(scope.to_string()),
            None => continue,
        }
        b.default_scopes.push((id, default.unwrap_or(false)));
    }

    // Realm roles: the default role and what it is a composite of.
    let realm_role = |b: &mut RealmBundle, name: &str, composites: Option<Composites>| {
        let id = new_uuid();
        b.roles.push(RoleRecord {
            id: id.clone(),
            realm_id: realm_id.clone(),
            client: None,
            name: name.into(),
            rep: RoleRep {
                id: Some(id.clone()),
                name: Some(name.into()),
                composite: Some(composites.is_some()),
                composites,
                client_role: Some(false),
                container_id: Some(realm_id.clone()),
                ..Default::default()
            },
            client_client_id: None,
        });
        id
    };
    realm_role(&mut b, "offline_access", None);
    realm_role(&mut b, "uma_authorization", None);
    let default_role_id = realm_role(
        &mut b,
        &default_role_name(&name),
        Some(Composites {
            realm: vec!["offline_access".into(), "uma_authorization".into()],
            client: BTreeMap::new(),
        }),
    );
    let is_master = name == MASTER_REALM;
    let mut admin_role_ids = Vec::new();
    if is_master {
        admin_role_ids.push(realm_role(&mut b, CREATE_REALM_ROLE, None));
        admin_role_ids.push(realm_role(
            &mut b,
            MASTER_ADMIN_ROLE,
            Some(Composites {
                realm: vec![CREATE_REALM_ROLE.into()],
                client: BTreeMap::new(),
            }),
        ));
    }
    let mut realm_default_rep = rep.default_role.clone().unwrap_or_default();
    realm_default_rep.id = Some(default_role_id.clone());
    let rep = RealmRep {
        default_role: Some(realm_default_rep),
        ..rep
    };

    // Built-in clients.
    let builtin = |client_id: &str, f: &dyn Fn(&mut ClientRep)| -> ClientRep {
        let mut c = ClientRep {
            client_id: Some(client_id.into()),
            name: Some(format!("${{client_{client_id}}}")),
            ..Default::default()
        };
        f(&mut c);
        c
    };
    let management = builtin(REALM_MANAGEMENT, &|c| {
        c.bearer_only = Some(true);
        c.standard_flow_enabled = Some(true);
    });
    let cli = builtin(ADMIN_CLI, &|c| {
        c.public_client = Some(true);
        c.standard_flow_enabled = Some(false);
        c.direct_access_grants_enabled = Some(true);
    });
    let console = builtin(ADMIN_CONSOLE, &|c| {
        c.public_client = Some(true);
        c.base_url = Some("/admin/".into());
        c.redirect_uris = Some(vec!["/admin/*".into()]);
        c.web_origins = Some(vec!["+".into()]);
        let mut attrs = StringMap::new();
        attrs.insert("pkce.code.challenge.method".into(), "S256".into());
        c.attributes = Some(attrs);
    });
    let mut management_uuid = String::new();
    for rep in [management, cli, console] {
        let n = new_client(&realm_id, rep, &scope_defaults, sealer, now)
            .map_err(|_| SetupError::MissingName)?;
        if n.record.client_id == REALM_MANAGEMENT {
            management_uuid = n.record.id.clone();
        }
        b.clients.push(n.record);
    }

    // realm-management roles; realm-admin is the composite of them all.
    let client_role = |b: &mut RealmBundle, name: &str, composites: Option<Composites>| {
        let id = new_uuid();
        b.roles.push(RoleRecord {
            id: id.clone(),
            realm_id: realm_id.clone(),
            client: Some(management_uuid.clone()),
            name: name.into(),
            rep: RoleRep {
                id: Some(id.clone()),
                name: Some(name.into()),
                description: Some(format!("${{role_{name}}}")),
                composite: Some(composites.is_some()),
                composites,
                client_role: Some(true),
                container_id: Some(management_uuid.clone()),
                ..Default::default()
            },
            client_client_id: Some(REALM_MANAGEMENT.into()),
        });
        id
    };
    let on_management = |names: &[&str]| {
        let mut client = BTreeMap::new();
        client.insert(
            REALM_MANAGEMENT.to_string(),
            names.iter().map(|s| s.to_string()).collect(),
        );
        Some(Composites {
            realm: Vec::new(),
            client,
        })
    };
    for role in ADMIN_ROLES {
        let composites = match *role {
            "view-clients" => on_management(&["query-clients"]),
            "view-users" => on_management(&["query-users", "query-groups"]),
            _ => None,
        };
        client_role(&mut b, role, composites);
    }
    client_role(&mut b, REALM_ADMIN_ROLE, on_management(ADMIN_ROLES));

    if let (true, Some(admin)) = (is_master, admin) {
        let user = admin_user(&realm_id, &admin.username, admin_hash.clone(), false, now);
        b.user_roles.push((user.id.clone(), default_role_id));
        for role in admin_role_ids {
            b.user_roles.push((user.id.clone(), role));
        }
        b.users.push(user);
    }

    b.components.extend(crate::policies::defaults(&realm_id));
    b.realm = Some(RealmRecord {
        id: realm_id,
        name,
        rep,
    });
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_realm_has_keys_scopes_roles_clients_and_switches() {
        let sealer = SecretBox::new(&[2u8; 32]).unwrap();
        let rep = RealmRep {
            realm: Some("acme".into()),
            ..Default::default()
        };
        let b = new_realm(rep, &sealer, None, 0).unwrap();
        let realm = b.realm.unwrap();
        assert_eq!(
            realm.rep.enabled,
            Some(false),
            "Keycloak: enabled false if omitted"
        );
        let attrs = realm.rep.attributes.unwrap();
        assert_eq!(attrs["clientRegistrationAnonymousEnabled"], "false");
        assert_eq!(attrs["clientRegistrationAuthenticatedEnabled"], "true");
        assert_eq!(attrs["clientRegistrationPoliciesEnabled"], "true");
        assert_eq!(attrs["clientIdMetadataDocumentEnabled"], "false");
        assert_eq!(attrs["clientIdMetadataDocumentTrustedDomains"], "");
        assert_eq!(b.keys.len(), 2);
        let clients: Vec<_> = b.clients.iter().map(|c| c.client_id.as_str()).collect();
        assert_eq!(clients, [REALM_MANAGEMENT, ADMIN_CLI, ADMIN_CONSOLE]);
        assert!(b.clients.iter().all(|c| c.secret_sealed.is_none()));
        for role in ADMIN_ROLES.iter().chain(&[REALM_ADMIN_ROLE]) {
            assert!(
                b.roles
                    .iter()
                    .any(|r| r.name == *role && r.client.is_some()),
                "{role}"
            );
        }
        assert_eq!(b.scopes.len(), BUILTIN_SCOPES.len());
        assert!(b.users.is_empty(), "only master gets a bootstrap admin");
    }
}
