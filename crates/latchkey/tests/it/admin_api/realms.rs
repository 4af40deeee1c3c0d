//! Realms: authentication first, create/read/update/rename/delete with Keycloak's bodies,
//! and what a new realm is given (built-in clients, `realm-management` roles, client scopes);
//! numbers beyond Keycloak's `Integer` refused.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, assert_error_body, assert_error_message, strings};

async fn authentication_is_required(app: &TestApp) {
    let none = app.get_public("/admin/realms").await;
    assert_error_body(
        &none,
        StatusCode::UNAUTHORIZED,
        json!({"error": "HTTP 401 Unauthorized"}),
    );
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
    assert_error_body(
        &r,
        StatusCode::NOT_FOUND,
        json!({"error": "Realm not found."}),
    );
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
    assert_error_body(
        &dup,
        StatusCode::CONFLICT,
        json!({"errorMessage": "Realm acme already exists"}),
    );
    let empty = app
        .post("/admin/realms", &admin, json!({"enabled": true}))
        .await;
    assert_error_message(
        &empty,
        StatusCode::BAD_REQUEST,
        "Realm name cannot be empty",
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
    assert_error_body(
        &bad_json,
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_request", "error_description": "Cannot parse the JSON"}),
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
    let names = strings(&list, "realm");
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
    assert_error_message(&r, StatusCode::BAD_REQUEST, "Can't remove master realm");
    assert_eq!(
        app.delete("/admin/realms/acme2", &admin).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/admin/realms/acme2", &admin).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get_public("/realms/acme2/protocol/openid-connect/certs")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn a_new_realm_has_its_builtins(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let clients = app.get("/admin/realms/acme/clients", &admin).await.body;
    let ids = strings(&clients, "clientId");
    for builtin in ["admin-cli", "realm-management", "security-admin-console"] {
        assert!(ids.contains(&builtin), "{builtin} in {ids:?}");
    }
    let (rm_id, realm_admin) = app
        .realm_management_roles(&admin, "acme", &["realm-admin"])
        .await;
    let roles = app
        .get(&format!("/admin/realms/acme/clients/{rm_id}/roles"), &admin)
        .await
        .body;
    let names = strings(&roles, "name");
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
    assert_eq!(realm_admin[0]["composite"], true);
    let scopes = app
        .get("/admin/realms/acme/client-scopes", &admin)
        .await
        .body;
    let scope_names = strings(&scopes, "name");
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
    let d = strings(&defaults, "name");
    assert_eq!(d.len(), 6, "{d:?}");
    let optional = app
        .get("/admin/realms/acme/default-optional-client-scopes", &admin)
        .await
        .body;
    assert_eq!(optional.as_array().unwrap().len(), 3);
}

/// Lifespans and other Keycloak `Integer`s beyond 32 bits are a 400 naming the field, on
/// create and update (they overflowed the token's `exp`); the largest 32-bit lifespan
/// still issues tokens.
async fn numbers_beyond_keycloaks_range_are_400(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    for (field, value) in [
        ("accessTokenLifespan", json!(i64::MAX)),
        ("ssoSessionMaxLifespan", json!(1_i64 << 31)),
        ("offlineSessionIdleTimeout", json!(i64::MIN)),
        ("oauth2DeviceCodeLifespan", json!(-(1_i64 << 40))),
        ("eventsExpiration", json!(i64::MAX)),
    ] {
        let r = app
            .put("/admin/realms/acme", &admin, json!({ field: value }))
            .await;
        assert_error_message(
            &r,
            StatusCode::BAD_REQUEST,
            &format!("{field} is out of range"),
        );
        let r = app
            .post(
                "/admin/realms",
                &admin,
                json!({"realm": "other", "enabled": true, field: value}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {}", r.text);
    }
    let max = i64::from(i32::MAX);
    app.update_realm(
        &admin,
        "acme",
        json!({"accessTokenLifespan": max, "ssoSessionMaxLifespan": max,
               "offlineSessionIdleTimeout": max}),
    )
    .await;
    let (_, secret) = app.create_service_client(&admin, "acme", "api").await;
    let token = app.client_token("acme", "api", &secret).await;
    let claims = app.verify("acme", &token).await;
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        max
    );
}

crate::on_both_backends!(
    authentication_is_required,
    realm_crud,
    a_new_realm_has_its_builtins,
    numbers_beyond_keycloaks_range_are_400,
);
