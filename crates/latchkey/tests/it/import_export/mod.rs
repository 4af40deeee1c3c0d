//! Keycloak realm files in and out (`latchkey_core::import`): the project's own fixtures in
//! the shape Keycloak 24–26 export (`tests/fixtures/keycloak/`) imported, exported, imported
//! again into an empty database and exported identically; what is skipped counted per
//! fixture; a refused file or a failing replacement changing nothing; imported Keycloak
//! password hashes at login (`login.rs`); the `import` and `export` commands (`cli.rs`).

mod cli;
mod http;
mod login;

use std::path::PathBuf;

use latchkey_core::crypto::SecretBox;
use latchkey_core::import::export::{Secrets, read_realm, to_keycloak};
use latchkey_core::import::{Report, add_users, realm_from_keycloak};
use latchkey_core::store::Store;
use serde_json::Value;

use crate::support::{Backend, TestApp, store};

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keycloak")
}

pub fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The directory export: the realm file with its two users files.
pub fn dir_fixture() -> Value {
    let mut doc = fixture("dir/dirrealm-realm.json");
    for users in ["dir/dirrealm-users-0.json", "dir/dirrealm-users-1.json"] {
        add_users(&mut doc, &fixture(users)).unwrap();
    }
    doc
}

fn backend(app: &TestApp) -> Backend {
    if app.db.sqlite_path.is_some() {
        Backend::Sqlite
    } else {
        Backend::Postgres
    }
}

/// Imports `doc` into `store`; the report.
pub async fn import(store: &dyn Store, sealer: &SecretBox, doc: &Value) -> Report {
    let imported = realm_from_keycloak(doc, sealer, 1_733_100_000_000).unwrap();
    store.create_realm(imported.bundle).await.unwrap();
    imported.report
}

pub async fn export(store: &dyn Store, sealer: &SecretBox, realm: &str) -> Value {
    let realm = store.realm_by_name(realm).await.unwrap().unwrap();
    let data = read_realm(store, realm, true).await.unwrap();
    to_keycloak(&data, sealer, Secrets::Clear)
}

fn names<'a>(doc: &'a Value, list: &str, field: &str) -> Vec<&'a str> {
    doc[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap())
        .collect()
}

/// Imports the fixture, exports it, imports the export into an empty database of the same
/// backend and exports again: both exports are the same document.
async fn round_trip(app: &TestApp, doc: &Value) -> (Report, Value) {
    let sealer = &app.state.sealer;
    let name = doc["realm"].as_str().unwrap();
    let report = import(app.store.as_ref(), sealer, doc).await;
    let first = export(app.store.as_ref(), sealer, name).await;
    let (empty, _db) = store(backend(app)).await.unwrap();
    let again = import(empty.as_ref(), sealer, &first).await;
    assert!(
        again.skipped.is_empty(),
        "an export holds only what Latchkey models: {:?}",
        again.skipped
    );
    assert_eq!(
        again.imported_keys,
        first["components"]["org.keycloak.keys.KeyProvider"]
            .as_array()
            .unwrap()
            .len(),
        "the exported keys come back with their private keys"
    );
    let second = export(empty.as_ref(), sealer, name).await;
    assert_eq!(first, second, "export → import → export changes nothing");
    (report, first)
}

async fn small_realm_round_trips_with_its_counts(app: &TestApp) {
    let (r, out) = round_trip(app, &fixture("acme-realm.json")).await;
    assert_eq!(
        (
            r.clients,
            r.users,
            r.realm_roles,
            r.client_roles,
            r.client_scopes,
            r.policies,
            r.imported_keys
        ),
        (8, 2, 5, 24, 11, 7, 0),
        "{}",
        r.summary()
    );
    assert_eq!(
        r.skipped_count("defaultDefaultClientScopes (no such client scope)"),
        1
    );
    assert_eq!(r.skipped_count("scopeMappings"), 1);
    assert_eq!(r.skipped_count("clientScopeMappings"), 1);
    assert_eq!(
        r.skipped_count("realm settings"),
        REALM_SETTINGS_SKIPPED,
        "{}",
        r.summary()
    );
    assert_eq!(r.skipped.len(), 4, "{}", r.summary());
    // What came in is what the file said.
    let orders = out["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clientId"] == "orders-api")
        .unwrap();
    assert_eq!(orders["secret"], "orders-secret-0123456789abcdef");
    assert_eq!(orders["protocolMappers"][0]["name"], "orders audience");
    let staff = out["roles"]["realm"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "staff")
        .unwrap();
    assert_eq!(
        staff["composites"]["client"]["orders-api"],
        serde_json::json!(["orders:read", "orders:write"])
    );
    let users = names(&out, "users", "username");
    assert_eq!(users, ["alice", "bob", "service-account-batch-job"]);
    let alice = &out["users"][0];
    assert_eq!(
        alice["realmRoles"],
        serde_json::json!(["default-roles-acme", "staff"])
    );
    assert_eq!(
        alice["clientRoles"]["orders-api"],
        serde_json::json!(["orders:read"])
    );
    assert!(
        alice["credentials"][0]["credentialData"]
            .as_str()
            .unwrap()
            .contains("pbkdf2-sha256"),
        "the hash is kept as Keycloak made it until the next login"
    );
    assert!(
        out["defaultOptionalClientScopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "orders")
    );
    let policies = out["components"]["org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy"]
        .as_array()
        .unwrap();
    assert_eq!(policies.len(), 7);
    assert!(
        policies
            .iter()
            .any(|p| p["config"]["trusted-hosts"] == serde_json::json!(["app.acme.test"]))
    );
    // Generated keys (the file has none) go out with their private keys and come back.
    assert_eq!(
        out["components"]["org.keycloak.keys.KeyProvider"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// Settings of the acme fixture Latchkey does not model (`accessTokenLifespanForImplicitFlow`,
/// `otpPolicyType`, `browserFlow`, …): each named in the report.
const REALM_SETTINGS_SKIPPED: usize = 19;

async fn what_latchkey_does_not_model_is_reported_by_name(app: &TestApp) {
    let (r, out) = round_trip(app, &fixture("partners-realm.json")).await;
    assert_eq!(
        (r.clients, r.users, r.realm_roles, r.policies),
        (4, 1, 4, 2),
        "{}",
        r.summary()
    );
    let text = r.summary();
    for (what, n) in [
        ("identityProviders", 1),
        ("identityProviderMappers", 1),
        ("authenticationFlows", 1),
        ("authenticatorConfig", 1),
        ("requiredActions", 2),
        ("groups", 2),
        ("defaultGroups", 1),
        ("users.credentials (otp)", 1),
        ("users.groups", 1),
        ("users.federatedIdentities", 1),
        ("clients (not openid-connect)", 1),
        ("clients.authorizationSettings", 1),
        ("components.org.keycloak.userprofile.UserProfileProvider", 1),
        ("key providers (not supported, generated keys used)", 2),
    ] {
        assert_eq!(r.skipped_count(what), n, "{what} in\n{text}");
    }
    assert!(text.contains("identityProviders: 1 (google)"), "{text}");
    assert!(
        text.contains("groups: 2 (/suppliers, /suppliers/eu)"),
        "{text}"
    );
    assert!(
        text.contains("authenticationFlows: 1 (browser with otp)"),
        "{text}"
    );
    // The built-in clients the file lacks are added, as Keycloak's import does.
    let clients = names(&out, "clients", "clientId");
    assert_eq!(
        clients,
        [
            "admin-cli",
            "portal",
            "realm-management",
            "security-admin-console"
        ]
    );
    assert_eq!(
        out["clientScopes"].as_array().unwrap().len(),
        10,
        "built-in scopes"
    );
}

async fn a_directory_export_with_users_files_round_trips(app: &TestApp) {
    let (r, out) = round_trip(app, &dir_fixture()).await;
    assert_eq!(
        (r.clients, r.users, r.client_scopes),
        (4, 3, 10),
        "{}",
        r.summary()
    );
    assert_eq!(names(&out, "users", "username"), ["dave", "erin", "frank"]);
}

/// A file with a duplicate clientId in the middle is refused naming it, before anything is
/// written; a replacement the database refuses leaves the realm it would have replaced
/// whole.
async fn a_failing_import_changes_nothing(app: &TestApp) {
    let sealer = &app.state.sealer;
    let realms_before = app.store.list_realms().await.unwrap().len();
    let e = realm_from_keycloak(&fixture("duplicate-client-realm.json"), sealer, 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "clients[5] \"orders-api\": clientId: a client with this clientId comes twice"
    );
    assert_eq!(app.store.list_realms().await.unwrap().len(), realms_before);

    import(app.store.as_ref(), sealer, &fixture("acme-realm.json")).await;
    import(app.store.as_ref(), sealer, &fixture("partners-realm.json")).await;
    let before = export(app.store.as_ref(), sealer, "acme").await;
    // A client whose id another realm's client has: valid on its own, refused by the
    // database in the middle of the replacement.
    let mut doc = fixture("acme-realm.json");
    let portal = fixture("partners-realm.json")["clients"][1]["id"].clone();
    doc["clients"][7]["id"] = portal;
    doc["displayName"] = "Changed".into();
    let old = app.store.realm_by_name("acme").await.unwrap().unwrap();
    let imported = realm_from_keycloak(&doc, sealer, 0).unwrap();
    let failed = app.store.replace_realm(&old.id, imported.bundle).await;
    assert!(failed.is_err(), "the duplicate id is refused");
    let after = export(app.store.as_ref(), sealer, "acme").await;
    assert_eq!(before, after, "the old realm is whole");
    // And a replacement that succeeds replaces.
    let mut doc = fixture("acme-realm.json");
    doc["displayName"] = "Changed".into();
    let imported = realm_from_keycloak(&doc, sealer, 0).unwrap();
    app.store
        .replace_realm(&old.id, imported.bundle)
        .await
        .unwrap();
    let after = export(app.store.as_ref(), sealer, "acme").await;
    assert_eq!(after["displayName"], "Changed");
}

/// Bad files are refused naming the object and the field.
async fn bad_files_are_refused_naming_object_and_field(app: &TestApp) {
    let sealer = &app.state.sealer;
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Change, &str)> = vec![
        (
            Box::new(|d| d["users"][0]["realmRoles"] = serde_json::json!(["nope"])),
            "users[0] \"alice\": realmRoles: no realm role \"nope\"",
        ),
        (
            Box::new(|d| d["users"][1]["username"] = "ALICE".into()),
            "users[1] \"alice\": username: a user of this name comes twice",
        ),
        (
            Box::new(|d| {
                d["roles"]["realm"][4]["composites"]["realm"] = serde_json::json!(["ghost"])
            }),
            "roles.realm \"staff\": composites.realm: no realm role \"ghost\"",
        ),
        (
            Box::new(|d| {
                d["clients"][7]["redirectUris"] = serde_json::json!(["javascript:alert(1)"])
            }),
            "clients[7] \"web-shop\"",
        ),
        (
            Box::new(|d| {
                d["users"][0]["credentials"][0]["credentialData"] =
                    "{\"algorithm\":\"bcrypt\",\"hashIterations\":10}".into()
            }),
            "users[0] \"alice\": credentials: password hash algorithm \"bcrypt\" is not supported",
        ),
        (
            Box::new(|d| d["users"][2]["serviceAccountClientId"] = "web-shop".into()),
            "serviceAccountClientId: no client \"web-shop\" with service accounts enabled",
        ),
        (
            Box::new(|d| d["roles"]["client"]["ghost-client"] = serde_json::json!([])),
            "roles.client.ghost-client: no client has this clientId",
        ),
        (
            Box::new(|d| d["users"][1]["lastName"] = "B\u{0}ker".into()),
            "/users/1/lastName: contains a NUL character",
        ),
        (
            Box::new(|d| d["users"][1]["firstName"] = "x".repeat(300).into()),
            "users[1] \"bob\": firstName",
        ),
        (
            Box::new(|d| d["accessTokenLifespan"] = i64::MAX.into()),
            "accessTokenLifespan: out of range",
        ),
    ];
    for (change, message) in cases {
        let mut doc = fixture("acme-realm.json");
        change(&mut doc);
        let e = realm_from_keycloak(&doc, sealer, 0)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(message) || e.contains(message),
            "{e}\n  expected {message}"
        );
    }
    assert!(app.store.realm_by_name("acme").await.unwrap().is_none());
}

/// A realm file imported under another name keeps the default role it names (Keycloak's
/// `defaultRole`), and new users and service accounts get it.
async fn a_renamed_realm_keeps_its_default_role(app: &TestApp) {
    let mut doc = fixture("acme-realm.json");
    doc["realm"] = "renamed".into();
    let r = import(app.store.as_ref(), &app.state.sealer, &doc).await;
    assert_eq!(r.realm_roles, 5, "no second default role: {}", r.summary());
    let realm = app.store.realm_by_name("renamed").await.unwrap().unwrap();
    let default = realm.rep.default_role.unwrap();
    assert_eq!(default.name.as_deref(), Some("default-roles-acme"));
    let role = app
        .store
        .role_by_name(&realm.id, None, "default-roles-acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(default.id, Some(role.id));
}

crate::on_both_backends!(
    a_renamed_realm_keeps_its_default_role,
    small_realm_round_trips_with_its_counts,
    what_latchkey_does_not_model_is_reported_by_name,
    a_directory_export_with_users_files_round_trips,
    a_failing_import_changes_nothing,
    bad_files_are_refused_naming_object_and_field,
);
