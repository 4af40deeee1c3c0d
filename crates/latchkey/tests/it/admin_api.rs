//! The admin REST API: Keycloak's shapes, statuses and error bodies, and who may do what.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

async fn authentication_is_required(app: &TestApp) {
    let none = app.json(Method::GET, "/admin/realms", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.body, json!({"error": "HTTP 401 Unauthorized"}));
    let garbage = app.get("/admin/realms", "not-a-jwt").await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    // A token signed by a key the realm does not have.
    let admin = app.admin_token().await;
    let mut parts: Vec<&str> = admin.split('.').collect();
    parts[2] = "AAAA";
    let forged = parts.join(".");
    assert_eq!(
        app.get("/admin/realms", &forged).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app.get("/admin/realms/nope", &admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"error": "Realm not found."}));
}

async fn realm_crud(app: &TestApp) {
    let admin = app.admin_token().await;
    let r = app
        .post(
            "/admin/realms",
            &admin,
            json!({"realm": "acme", "displayName": "Acme", "unknownMember": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.header("location"),
        Some("http://localhost:8080/admin/realms/acme")
    );
    assert!(r.text.is_empty(), "201 with an empty body");
    let got = app.get("/admin/realms/acme", &admin).await.body;
    assert_eq!(got["realm"], "acme");
    assert_eq!(
        got["enabled"], false,
        "Keycloak: enabled false when omitted"
    );
    assert_eq!(got["accessTokenLifespan"], 300);
    assert_eq!(got["defaultSignatureAlgorithm"], "RS256");
    assert_eq!(
        got["attributes"]["clientRegistrationAnonymousEnabled"],
        "false"
    );
    assert_eq!(
        got["attributes"]["clientRegistrationAuthenticatedEnabled"],
        "true"
    );
    assert_eq!(
        got["attributes"]["clientRegistrationPoliciesEnabled"],
        "true"
    );
    assert_eq!(got["defaultRole"]["name"], "default-roles-acme");
    assert!(got.get("unknownMember").is_none());

    let dup = app
        .post("/admin/realms", &admin, json!({"realm": "acme"}))
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(
        dup.body,
        json!({"errorMessage": "Realm acme already exists"})
    );
    let empty = app
        .post("/admin/realms", &admin, json!({"enabled": true}))
        .await;
    assert_eq!(
        (empty.status, empty.body["errorMessage"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Realm name cannot be empty"))
    );
    let bad_json = app
        .send(
            axum::http::Request::post("/admin/realms")
                .header("authorization", format!("Bearer {admin}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(bad_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_json.body,
        json!({"error": "invalid_request", "error_description": "Cannot parse the JSON"})
    );

    // Partial update: only the members sent change; attributes merge per key.
    let r = app
        .put("/admin/realms/acme", &admin, json!({"enabled": true, "accessTokenLifespan": 120, "attributes": {"clientRegistrationAnonymousEnabled": "true"}}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let got = app.get("/admin/realms/acme", &admin).await.body;
    assert_eq!(
        (
            got["enabled"].clone(),
            got["accessTokenLifespan"].clone(),
            got["displayName"].clone()
        ),
        (json!(true), json!(120), json!("Acme"))
    );
    assert_eq!(
        got["attributes"]["clientRegistrationAnonymousEnabled"],
        "true"
    );
    assert_eq!(
        got["attributes"]["clientRegistrationPoliciesEnabled"],
        "true"
    );
    let bad_alg = app
        .put(
            "/admin/realms/acme",
            &admin,
            json!({"defaultSignatureAlgorithm": "none"}),
        )
        .await;
    assert_eq!(bad_alg.status, StatusCode::BAD_REQUEST);

    let list = app.get("/admin/realms", &admin).await.body;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["realm"].as_str())
        .collect();
    assert_eq!(names, ["acme", "master"]);
    let brief = app
        .get("/admin/realms?briefRepresentation=true", &admin)
        .await
        .body;
    assert!(brief[0].get("accessTokenLifespan").is_none());
    // Absent members are left out, not `null` (found by schemathesis).
    for r in brief.as_array().unwrap() {
        assert!(r.as_object().unwrap().values().all(|v| !v.is_null()), "{r}");
    }

    // Rename, then delete; master can be neither.
    assert_eq!(
        app.put("/admin/realms/acme", &admin, json!({"realm": "acme2"}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/admin/realms/acme", &admin).await.status,
        StatusCode::NOT_FOUND
    );
    let r = app
        .put("/admin/realms/master", &admin, json!({"realm": "other"}))
        .await;
    assert_eq!(r.body["errorMessage"], "Can't rename master realm");
    let r = app.delete("/admin/realms/master", &admin).await;
    assert_eq!(
        (r.status, r.body["errorMessage"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Can't remove master realm"))
    );
    assert_eq!(
        app.delete("/admin/realms/acme2", &admin).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/admin/realms/acme2", &admin).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.json(
            Method::GET,
            "/realms/acme2/protocol/openid-connect/certs",
            None,
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

async fn a_new_realm_has_its_builtins(app: &TestApp) {
    let admin = app.admin_token().await;
    app.create_realm(&admin, "acme").await;
    let clients = app.get("/admin/realms/acme/clients", &admin).await.body;
    let ids: Vec<&str> = clients
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["clientId"].as_str())
        .collect();
    for builtin in ["admin-cli", "realm-management", "security-admin-console"] {
        assert!(ids.contains(&builtin), "{builtin} in {ids:?}");
    }
    let rm = app
        .get(
            "/admin/realms/acme/clients?clientId=realm-management",
            &admin,
        )
        .await
        .body;
    let rm_id = rm[0]["id"].as_str().unwrap();
    let roles = app
        .get(&format!("/admin/realms/acme/clients/{rm_id}/roles"), &admin)
        .await
        .body;
    let names: Vec<&str> = roles
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    for role in [
        "manage-clients",
        "view-clients",
        "create-client",
        "query-clients",
        "manage-realm",
        "view-realm",
        "manage-users",
        "view-users",
        "view-events",
        "manage-events",
        "realm-admin",
    ] {
        assert!(names.contains(&role), "{role} missing from {names:?}");
    }
    let realm_admin = app
        .get(
            &format!("/admin/realms/acme/clients/{rm_id}/roles/realm-admin"),
            &admin,
        )
        .await
        .body;
    assert_eq!(realm_admin["composite"], true);
    let scopes = app
        .get("/admin/realms/acme/client-scopes", &admin)
        .await
        .body;
    let scope_names: Vec<&str> = scopes
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    for s in [
        "basic",
        "profile",
        "email",
        "roles",
        "web-origins",
        "acr",
        "address",
        "phone",
        "offline_access",
        "service_account",
    ] {
        assert!(scope_names.contains(&s), "scope {s}");
    }
    let defaults = app
        .get("/admin/realms/acme/default-default-client-scopes", &admin)
        .await
        .body;
    let d: Vec<&str> = defaults
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(d.len(), 6, "{d:?}");
    let optional = app
        .get("/admin/realms/acme/default-optional-client-scopes", &admin)
        .await
        .body;
    assert_eq!(optional.as_array().unwrap().len(), 3);
}

async fn client_crud_and_secrets(app: &TestApp) {
    let admin = app.admin_token().await;
    app.create_realm(&admin, "acme").await;
    let base = "/admin/realms/acme/clients";
    let r = app
        .post(
            base,
            &admin,
            json!({"clientId": "web", "redirectUris": ["https://app.example/cb"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.location_id();
    assert_eq!(
        r.header("location").unwrap(),
        format!("http://localhost:8080{base}/{id}")
    );
    let c = app.get(&format!("{base}/{id}"), &admin).await.body;
    assert_eq!(c["clientId"], "web");
    assert_eq!(c["publicClient"], false);
    assert_eq!(c["enabled"], true);
    assert_eq!(c["clientAuthenticatorType"], "client-secret");
    assert_eq!(c["protocol"], "openid-connect");
    assert_eq!(c["fullScopeAllowed"], true);
    let secret = c["secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 32);
    let got = app
        .get(&format!("{base}/{id}/client-secret"), &admin)
        .await
        .body;
    assert_eq!(got, json!({"type": "secret", "value": secret}));
    let regen = app
        .json(
            Method::POST,
            &format!("{base}/{id}/client-secret"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(regen.status, StatusCode::OK);
    assert_ne!(regen.body["value"], json!(secret));
    assert_eq!(
        app.get(&format!("{base}/{id}/client-secret"), &admin)
            .await
            .body["value"],
        regen.body["value"]
    );

    let dup = app.post(base, &admin, json!({"clientId": "web"})).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(
        dup.body,
        json!({"errorMessage": "Client web already exists"})
    );
    let missing = app.post(base, &admin, json!({"name": "x"})).await;
    assert_eq!(
        (missing.status, missing.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_input"))
    );

    // "protocol" without publicClient makes a public client with direct grants (Keycloak).
    let r = app
        .post(
            base,
            &admin,
            json!({"clientId": "spa", "protocol": "openid-connect"}),
        )
        .await;
    let spa = app
        .get(&format!("{base}/{}", r.location_id()), &admin)
        .await
        .body;
    assert_eq!(
        (
            spa["publicClient"].clone(),
            spa["directAccessGrantsEnabled"].clone()
        ),
        (json!(true), json!(true))
    );
    assert!(spa.get("secret").is_none());

    let filtered = app.get(&format!("{base}?clientId=web"), &admin).await.body;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let search = app
        .get(&format!("{base}?clientId=WE&search=true"), &admin)
        .await
        .body;
    assert_eq!(search.as_array().unwrap().len(), 1);
    let paged = app.get(&format!("{base}?first=1&max=2"), &admin).await.body;
    assert_eq!(paged.as_array().unwrap().len(), 2);

    // Partial update keeps what is not sent; attributes merge.
    let r = app
        .put(
            &format!("{base}/{id}"),
            &admin,
            json!({"name": "Web", "attributes": {"a": "1"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let c = app.get(&format!("{base}/{id}"), &admin).await.body;
    assert_eq!(c["name"], "Web");
    assert_eq!(c["redirectUris"], json!(["https://app.example/cb"]));
    assert_eq!(c["attributes"]["a"], "1");
    assert!(c["attributes"]["client.secret.creation.time"].is_string());

    let sa = app
        .get(&format!("{base}/{id}/service-account-user"), &admin)
        .await;
    assert_eq!(sa.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        sa.body,
        json!({"error": "Service account not enabled for the client 'web'"})
    );
    app.put(
        &format!("{base}/{id}"),
        &admin,
        json!({"serviceAccountsEnabled": true}),
    )
    .await;
    let sa = app
        .get(&format!("{base}/{id}/service-account-user"), &admin)
        .await;
    assert_eq!(sa.status, StatusCode::OK);
    assert_eq!(sa.body["username"], "service-account-web");

    let missing = app
        .get(
            &format!("{base}/00000000-0000-0000-0000-000000000000"),
            &admin,
        )
        .await;
    assert_eq!(
        (missing.status, missing.body.clone()),
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Could not find client"})
        )
    );
    assert_eq!(
        app.delete(&format!("{base}/{id}"), &admin).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("{base}/{id}"), &admin).await.status,
        StatusCode::NOT_FOUND
    );
    let users = app
        .get(
            "/admin/realms/acme/users?username=service-account-web&exact=true",
            &admin,
        )
        .await
        .body;
    assert_eq!(users, json!([]), "the service account goes with its client");
}

async fn users_roles_and_mappings(app: &TestApp) {
    let admin = app.admin_token().await;
    app.create_realm(&admin, "acme").await;
    let r = app
        .post(
            "/admin/realms/acme/users",
            &admin,
            json!({"username": "Alice", "email": "alice@example.com", "enabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let uid = r.location_id();
    let u = app
        .get(&format!("/admin/realms/acme/users/{uid}"), &admin)
        .await
        .body;
    assert_eq!(u["username"], "alice", "usernames are stored lowercase");
    assert!(u["createdTimestamp"].is_i64());
    assert!(u.get("credentials").is_none());
    let dup = app
        .post(
            "/admin/realms/acme/users",
            &admin,
            json!({"username": "alice"}),
        )
        .await;
    assert_eq!(
        (dup.status, dup.body.clone()),
        (
            StatusCode::CONFLICT,
            json!({"errorMessage": "User exists with same username"})
        )
    );
    let dup = app
        .post(
            "/admin/realms/acme/users",
            &admin,
            json!({"username": "al2", "email": "ALICE@example.com"}),
        )
        .await;
    assert_eq!(
        dup.body,
        json!({"errorMessage": "User exists with same email"})
    );
    let nameless = app
        .post("/admin/realms/acme/users", &admin, json!({"email": "x@y"}))
        .await;
    assert_eq!(
        nameless.body,
        json!({"errorMessage": "User name is missing"})
    );
    app.post(
        "/admin/realms/acme/users",
        &admin,
        json!({"username": "alfred", "lastName": "Pennyworth"}),
    )
    .await;

    let exact = app
        .get(
            "/admin/realms/acme/users?username=alice&exact=True&max=1",
            &admin,
        )
        .await
        .body;
    assert_eq!(exact.as_array().unwrap().len(), 1);
    let fuzzy = app
        .get("/admin/realms/acme/users?username=al", &admin)
        .await
        .body;
    assert_eq!(fuzzy.as_array().unwrap().len(), 2);
    let search = app
        .get("/admin/realms/acme/users?search=penny", &admin)
        .await
        .body;
    assert_eq!(search[0]["username"], "alfred");
    assert_eq!(
        app.get("/admin/realms/acme/users/count", &admin).await.body,
        json!(2)
    );
    assert_eq!(
        app.get("/admin/realms/acme/users?first=1&max=5", &admin)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let r = app
        .put(
            &format!("/admin/realms/acme/users/{uid}"),
            &admin,
            json!({"firstName": "Alice"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/admin/realms/acme/users/{uid}"), &admin)
            .await
            .body["email"],
        "alice@example.com"
    );
    let r = app
        .put(
            &format!("/admin/realms/acme/users/{uid}/reset-password"),
            &admin,
            json!({"type": "password"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "No password provided"})
        )
    );

    // Realm role: create, 409, map by id and name, read back.
    let r = app
        .post(
            "/admin/realms/acme/roles",
            &admin,
            json!({"name": "reader", "description": "reads"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        r.header("location"),
        Some("http://localhost:8080/admin/realms/acme/roles/reader")
    );
    let dup = app
        .post(
            "/admin/realms/acme/roles",
            &admin,
            json!({"name": "reader"}),
        )
        .await;
    assert_eq!(
        dup.body,
        json!({"errorMessage": "Role with name reader already exists"})
    );
    let role = app
        .get("/admin/realms/acme/roles/reader", &admin)
        .await
        .body;
    assert_eq!(role["clientRole"], false);
    let missing = app.get("/admin/realms/acme/roles/nope", &admin).await;
    assert_eq!(
        (missing.status, missing.body.clone()),
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Could not find role"})
        )
    );
    let mapping_path = format!("/admin/realms/acme/users/{uid}/role-mappings/realm");
    let bad = app
        .post(
            &mapping_path,
            &admin,
            json!([{"id": "nope", "name": "reader"}]),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body.clone()),
        (StatusCode::NOT_FOUND, json!({"error": "Role not found"}))
    );
    let r = app
        .post(
            &mapping_path,
            &admin,
            json!([{"id": role["id"], "name": "reader"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let direct = app.get(&mapping_path, &admin).await.body;
    let names: Vec<&str> = direct
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"reader") && names.contains(&"default-roles-acme"),
        "{names:?}"
    );
    let composite = app
        .get(&format!("{mapping_path}/composite"), &admin)
        .await
        .body;
    let names: Vec<&str> = composite
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"offline_access"),
        "composites expand: {names:?}"
    );

    // Client role mapping.
    let (cid, _) = app.create_service_client(&admin, "acme", "api").await;
    let r = app
        .post(
            &format!("/admin/realms/acme/clients/{cid}/roles"),
            &admin,
            json!({"name": "invoke"}),
        )
        .await;
    assert_eq!(
        r.header("location").unwrap(),
        format!("http://localhost:8080/admin/realms/acme/clients/{cid}/roles/invoke")
    );
    let invoke = app
        .get(
            &format!("/admin/realms/acme/clients/{cid}/roles/invoke"),
            &admin,
        )
        .await
        .body;
    assert_eq!(invoke["clientRole"], true);
    assert_eq!(invoke["containerId"], json!(cid));
    let cm = format!("/admin/realms/acme/users/{uid}/role-mappings/clients/{cid}");
    assert_eq!(
        app.post(&cm, &admin, json!([invoke])).await.status,
        StatusCode::NO_CONTENT
    );
    let all = app
        .get(
            &format!("/admin/realms/acme/users/{uid}/role-mappings"),
            &admin,
        )
        .await
        .body;
    assert_eq!(
        all["clientMappings"]["api"]["mappings"][0]["name"],
        "invoke"
    );
    assert_eq!(all["clientMappings"]["api"]["id"], json!(cid));
    assert_eq!(
        app.json(Method::DELETE, &cm, Some(&admin), Some(json!([invoke])))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&cm, &admin).await.body, json!([]));

    let r = app
        .put(
            "/admin/realms/acme/roles/reader",
            &admin,
            json!({"description": "changed"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/admin/realms/acme/roles/reader", &admin)
            .await
            .body["description"],
        "changed"
    );
    assert_eq!(
        app.delete("/admin/realms/acme/roles/reader", &admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let direct = app.get(&mapping_path, &admin).await.body;
    assert!(
        !direct.to_string().contains("reader"),
        "deleting a role removes its mappings"
    );
    assert_eq!(
        app.delete(&format!("/admin/realms/acme/users/{uid}"), &admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/admin/realms/acme/users/{uid}"), &admin)
            .await
            .body,
        json!({"error": "User not found"})
    );
}

async fn client_scopes_crud(app: &TestApp) {
    let admin = app.admin_token().await;
    app.create_realm(&admin, "acme").await;
    let r = app
        .post(
            "/admin/realms/acme/client-scopes",
            &admin,
            json!({"name": "orders:read", "protocol": "openid-connect"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.location_id();
    let dup = app
        .post(
            "/admin/realms/acme/client-scopes",
            &admin,
            json!({"name": "orders:read"}),
        )
        .await;
    assert_eq!(
        dup.body,
        json!({"errorMessage": "Client Scope orders:read already exists"})
    );
    let bad = app
        .post(
            "/admin/realms/acme/client-scopes",
            &admin,
            json!({"name": "has space"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.put(
            &format!("/admin/realms/acme/client-scopes/{id}"),
            &admin,
            json!({"description": "d"})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/admin/realms/acme/client-scopes/{id}"), &admin)
            .await
            .body["description"],
        "d"
    );
    assert_eq!(
        app.put(
            &format!("/admin/realms/acme/default-optional-client-scopes/{id}"),
            &admin,
            json!({})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let optional = app
        .get("/admin/realms/acme/default-optional-client-scopes", &admin)
        .await
        .body;
    assert!(optional.to_string().contains("orders:read"));
    // New clients get it as an optional scope and may request it.
    let (_, secret) = app.create_service_client(&admin, "acme", "svc").await;
    let t = app
        .form(
            "/realms/acme/protocol/openid-connect/token",
            &[
                ("grant_type", "client_credentials"),
                ("scope", "orders:read"),
            ],
            Some(("svc", &secret)),
        )
        .await;
    assert_eq!(t.body["scope"], "email profile orders:read", "{}", t.text);
    assert_eq!(
        app.delete(
            &format!("/admin/realms/acme/default-optional-client-scopes/{id}"),
            &admin
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&format!("/admin/realms/acme/client-scopes/{id}"), &admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let missing = app
        .get(&format!("/admin/realms/acme/client-scopes/{id}"), &admin)
        .await;
    assert_eq!(
        (missing.status, missing.body.clone()),
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Client scope not found"})
        )
    );
}

/// A realm's own admins act through `realm-management` roles, only in their realm.
async fn realm_management_roles_decide(app: &TestApp) {
    let admin = app.admin_token().await;
    app.create_realm(&admin, "acme").await;
    app.create_realm(&admin, "other").await;
    let rm = app
        .get(
            "/admin/realms/acme/clients?clientId=realm-management",
            &admin,
        )
        .await
        .body;
    let rm_id = rm[0]["id"].as_str().unwrap().to_string();
    let role = |name: &str| {
        let (app, admin, rm_id, name) = (app, admin.clone(), rm_id.clone(), name.to_string());
        async move {
            app.get(
                &format!("/admin/realms/acme/clients/{rm_id}/roles/{name}"),
                &admin,
            )
            .await
            .body
        }
    };
    let mk_user = |username: &str, roles: Vec<Value>| {
        let (app, admin, rm_id, username) =
            (app, admin.clone(), rm_id.clone(), username.to_string());
        async move {
            let r = app
                .post(
                    "/admin/realms/acme/users",
                    &admin,
                    json!({"username": username, "enabled": true,
                    "credentials": [{"type": "password", "value": "pw", "temporary": false}]}),
                )
                .await;
            let uid = r.location_id();
            if !roles.is_empty() {
                let r = app
                    .post(
                        &format!("/admin/realms/acme/users/{uid}/role-mappings/clients/{rm_id}"),
                        &admin,
                        json!(roles),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::NO_CONTENT);
            }
            app.password_token("acme", "admin-cli", &username, "pw")
                .await
        }
    };
    let viewer = mk_user("viewer", vec![role("view-clients").await]).await;
    let realm_admin = mk_user("boss", vec![role("realm-admin").await]).await;
    let nobody = mk_user("nobody", vec![]).await;

    assert_eq!(
        app.get("/admin/realms/acme/clients", &viewer).await.status,
        StatusCode::OK
    );
    let forbidden = app
        .post(
            "/admin/realms/acme/clients",
            &viewer,
            json!({"clientId": "x"}),
        )
        .await;
    assert_eq!(
        (forbidden.status, forbidden.body.clone()),
        (
            StatusCode::FORBIDDEN,
            json!({"error": "HTTP 403 Forbidden"})
        )
    );
    assert_eq!(
        app.get("/admin/realms/acme/users", &viewer).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/admin/realms/acme/clients", &nobody).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/admin/realms", &nobody).await.status,
        StatusCode::FORBIDDEN
    );

    assert_eq!(
        app.post(
            "/admin/realms/acme/clients",
            &realm_admin,
            json!({"clientId": "x"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.get("/admin/realms/acme/users", &realm_admin)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.put(
            "/admin/realms/acme",
            &realm_admin,
            json!({"displayName": "A"})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let listed = app.get("/admin/realms", &realm_admin).await.body;
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "a realm admin sees only their realm"
    );
    assert_eq!(
        app.get("/admin/realms/other/clients", &realm_admin)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post("/admin/realms", &realm_admin, json!({"realm": "mine"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Deleting the user revokes at once: roles are read per request.
    let users = app
        .get("/admin/realms/acme/users?username=boss&exact=true", &admin)
        .await
        .body;
    app.delete(
        &format!(
            "/admin/realms/acme/users/{}",
            users[0]["id"].as_str().unwrap()
        ),
        &admin,
    )
    .await;
    assert_eq!(
        app.get("/admin/realms/acme/clients", &realm_admin)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

/// A service account with realm-management roles administers its realm (the Keycloak
/// "Access Tokens" flow that automation uses).
async fn service_accounts_can_hold_admin_roles(app: &TestApp) {
    let admin = app.admin_token().await;
    app.create_realm(&admin, "acme").await;
    let (cid, secret) = app.create_service_client(&admin, "acme", "ci").await;
    let sa = app
        .get(
            &format!("/admin/realms/acme/clients/{cid}/service-account-user"),
            &admin,
        )
        .await
        .body;
    let rm = app
        .get(
            "/admin/realms/acme/clients?clientId=realm-management",
            &admin,
        )
        .await
        .body;
    let rm_id = rm[0]["id"].as_str().unwrap();
    let manage = app
        .get(
            &format!("/admin/realms/acme/clients/{rm_id}/roles/manage-clients"),
            &admin,
        )
        .await
        .body;
    let r = app
        .post(
            &format!(
                "/admin/realms/acme/users/{}/role-mappings/clients/{rm_id}",
                sa["id"].as_str().unwrap()
            ),
            &admin,
            json!([manage]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let t = app
        .form(
            "/realms/acme/protocol/openid-connect/token",
            &[("grant_type", "client_credentials")],
            Some(("ci", &secret)),
        )
        .await;
    let token = t.body["access_token"].as_str().unwrap();
    let claims = app.verify("acme", token).await;
    assert_eq!(
        claims["resource_access"]["realm-management"]["roles"],
        json!(["manage-clients"])
    );
    assert_eq!(claims["aud"], "realm-management");
    assert_eq!(
        app.post(
            "/admin/realms/acme/clients",
            token,
            json!({"clientId": "made-by-ci"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
}

/// The remaining endpoints' success and error paths.
async fn remaining_endpoints_and_their_errors(app: &TestApp) {
    let admin = app.admin_token().await;
    app.create_realm(&admin, "acme").await;
    let (cid, _) = app.create_service_client(&admin, "acme", "api").await;
    let roles = format!("/admin/realms/acme/clients/{cid}/roles");
    assert_eq!(
        app.post(&roles, &admin, json!({"name": "write"}))
            .await
            .status,
        StatusCode::CREATED
    );
    let dup = app.post(&roles, &admin, json!({"name": "write"})).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(
        app.put(
            &format!("{roles}/write"),
            &admin,
            json!({"description": "w"})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let listed = app.get(&roles, &admin).await.body;
    assert_eq!(listed[0]["description"], "w");
    assert_eq!(
        app.delete(&format!("{roles}/write"), &admin).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("{roles}/write"), &admin).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/admin/realms/acme/clients/nope/roles", &admin)
            .await
            .body,
        json!({"error": "Could not find client"})
    );
    let default_role = app
        .delete("/admin/realms/acme/roles/default-roles-acme", &admin)
        .await;
    assert_eq!(
        (
            default_role.status,
            default_role.body["errorMessage"].as_str()
        ),
        (StatusCode::BAD_REQUEST, Some("Can't delete default role"))
    );

    // The default-default scope set: remove, then put back.
    let defaults = app
        .get("/admin/realms/acme/default-default-client-scopes", &admin)
        .await
        .body;
    let email = defaults
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "email")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/admin/realms/acme/default-default-client-scopes/{email}");
    assert_eq!(
        app.delete(&path, &admin).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/admin/realms/acme/default-default-client-scopes", &admin)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let (_, secret) = app.create_service_client(&admin, "acme", "no-email").await;
    let t = app
        .form(
            "/realms/acme/protocol/openid-connect/token",
            &[("grant_type", "client_credentials")],
            Some(("no-email", &secret)),
        )
        .await;
    assert_eq!(
        t.body["scope"], "profile",
        "new clients get the realm's current default scopes"
    );
    assert_eq!(
        app.put(&path, &admin, json!({})).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/admin/realms/acme/default-default-client-scopes", &admin)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        app.put(
            "/admin/realms/acme/default-default-client-scopes/nope",
            &admin,
            json!({})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Realm role mappings can be removed again; unknown users are 404.
    let r = app
        .post(
            "/admin/realms/acme/users",
            &admin,
            json!({"username": "u1"}),
        )
        .await;
    let uid = r.location_id();
    let reader = {
        app.post(
            "/admin/realms/acme/roles",
            &admin,
            json!({"name": "reader"}),
        )
        .await;
        app.get("/admin/realms/acme/roles/reader", &admin)
            .await
            .body
    };
    let mappings = format!("/admin/realms/acme/users/{uid}/role-mappings/realm");
    app.post(&mappings, &admin, json!([reader])).await;
    assert_eq!(
        app.json(
            Method::DELETE,
            &mappings,
            Some(&admin),
            Some(json!([reader]))
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert!(!app.get(&mappings, &admin).await.text.contains("reader"));
    let ghost = "/admin/realms/acme/users/00000000-0000-0000-0000-000000000000";
    for resp in [
        app.get(ghost, &admin).await,
        app.put(ghost, &admin, json!({"firstName": "x"})).await,
        app.delete(ghost, &admin).await,
        app.get(&format!("{ghost}/role-mappings"), &admin).await,
    ] {
        assert_eq!(
            (resp.status, resp.body.clone()),
            (StatusCode::NOT_FOUND, json!({"error": "User not found"}))
        );
    }
    // Public clients have no secret to regenerate; realm-management cannot be deleted.
    let spa = app
        .post(
            "/admin/realms/acme/clients",
            &admin,
            json!({"clientId": "spa", "publicClient": true}),
        )
        .await;
    let spa_id = spa.location_id();
    let regen = app
        .json(
            Method::POST,
            &format!("/admin/realms/acme/clients/{spa_id}/client-secret"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(regen.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.get(
            &format!("/admin/realms/acme/clients/{spa_id}/client-secret"),
            &admin
        )
        .await
        .body,
        json!({"type": "secret"})
    );
    let rm = app
        .get(
            "/admin/realms/acme/clients?clientId=realm-management",
            &admin,
        )
        .await
        .body;
    let r = app
        .delete(
            &format!(
                "/admin/realms/acme/clients/{}",
                rm[0]["id"].as_str().unwrap()
            ),
            &admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Turning a public client confidential gives it a secret.
    app.put(
        &format!("/admin/realms/acme/clients/{spa_id}"),
        &admin,
        json!({"publicClient": false}),
    )
    .await;
    assert!(
        app.get(
            &format!("/admin/realms/acme/clients/{spa_id}/client-secret"),
            &admin
        )
        .await
        .body["value"]
            .is_string()
    );
    // A body over the size limit is refused before it is read.
    let big = json!({"realm": "x".repeat(70 * 1024)});
    assert_eq!(
        app.post("/admin/realms", &admin, big).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

crate::on_both_backends!(
    remaining_endpoints_and_their_errors,
    authentication_is_required,
    realm_crud,
    a_new_realm_has_its_builtins,
    client_crud_and_secrets,
    users_roles_and_mappings,
    client_scopes_crud,
    realm_management_roles_decide,
    service_accounts_can_hold_admin_roles,
);
