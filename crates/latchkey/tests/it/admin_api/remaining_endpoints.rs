//! The remaining endpoints' success and error paths: client roles, the realm's default
//! scopes, realm role mappings, unknown users, public clients' secrets, the body limit.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, assert_error_body, assert_error_message};

/// The remaining endpoints' success and error paths.
async fn remaining_endpoints_and_their_errors(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
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
    assert_error_message(
        &default_role,
        StatusCode::BAD_REQUEST,
        "Can't delete default role",
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
    let t = app.client_credentials("acme", "no-email", &secret).await;
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
    let uid = app
        .create_user(&admin, "acme", json!({"username": "u1"}))
        .await;
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
        assert_error_body(
            &resp,
            StatusCode::NOT_FOUND,
            json!({"error": "User not found"}),
        );
    }
    // Public clients have no secret to regenerate; realm-management cannot be deleted.
    let spa_id = app
        .create_client(
            &admin,
            "acme",
            json!({"clientId": "spa", "publicClient": true}),
        )
        .await;
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
    let rm_id = app.client_uuid(&admin, "acme", "realm-management").await;
    let r = app
        .delete(&format!("/admin/realms/acme/clients/{rm_id}"), &admin)
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

crate::on_both_backends!(remaining_endpoints_and_their_errors,);
