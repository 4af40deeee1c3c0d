//! Who may administer: a realm's own admins and service accounts act through
//! `realm-management` roles, only in their realm, read from the store on every request.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, assert_error_body};

/// A realm's own admins act through `realm-management` roles, only in their realm.
async fn realm_management_roles_decide(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    app.create_realm(&admin, "other").await;
    let viewer = app
        .user_token(&admin, "acme", "viewer", &["view-clients"])
        .await;
    let realm_admin = app
        .user_token(&admin, "acme", "boss", &["realm-admin"])
        .await;
    let nobody = app.user_token(&admin, "acme", "nobody", &[]).await;

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
    assert_error_body(
        &forbidden,
        StatusCode::FORBIDDEN,
        json!({"error": "HTTP 403 Forbidden"}),
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
    let admin = app.admin_with_realm("acme").await;
    let (cid, secret) = app.create_service_client(&admin, "acme", "ci").await;
    let sa = app.service_account_id(&admin, "acme", &cid).await;
    app.grant_realm_management(&admin, "acme", &sa, &["manage-clients"])
        .await;
    let token = app.client_token("acme", "ci", &secret).await;
    let claims = app.verify("acme", &token).await;
    assert_eq!(
        claims["resource_access"]["realm-management"]["roles"],
        json!(["manage-clients"])
    );
    assert_eq!(claims["aud"], "realm-management");
    assert_eq!(
        app.post(
            "/admin/realms/acme/clients",
            &token,
            json!({"clientId": "made-by-ci"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
}

/// A role granted to a service account whose client already had a token (the client, its
/// account and the account's roles now cached, read together) is in the next token: the
/// grant reaches the cache.
async fn a_role_granted_after_a_token_is_in_the_next(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (cid, secret) = app.create_service_client(&admin, "acme", "ci").await;
    let before = app.client_token("acme", "ci", &secret).await;
    let claims = app.verify("acme", &before).await;
    assert!(claims["resource_access"].get("realm-management").is_none());
    let sa = app.service_account_id(&admin, "acme", &cid).await;
    app.grant_realm_management(&admin, "acme", &sa, &["manage-clients"])
        .await;
    let after = app.client_token("acme", "ci", &secret).await;
    let claims = app.verify("acme", &after).await;
    assert_eq!(
        claims["resource_access"]["realm-management"]["roles"],
        json!(["manage-clients"])
    );
}

crate::on_both_backends!(
    realm_management_roles_decide,
    service_accounts_can_hold_admin_roles,
    a_role_granted_after_a_token_is_in_the_next,
);
