//! Clients (create, secrets, search, partial update, service accounts, delete) and client
//! scopes (create, realm defaults, delete).

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, assert_error_body, assert_oauth_error};

async fn client_crud_and_secrets(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
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
    assert_error_body(
        &dup,
        StatusCode::CONFLICT,
        json!({"errorMessage": "Client web already exists"}),
    );
    let missing = app.post(base, &admin, json!({"name": "x"})).await;
    assert_oauth_error(&missing, StatusCode::BAD_REQUEST, "invalid_input");

    // "protocol" without publicClient makes a public client with direct grants (Keycloak).
    let spa = app
        .create_client(
            &admin,
            "acme",
            json!({"clientId": "spa", "protocol": "openid-connect"}),
        )
        .await;
    let spa = app.get(&format!("{base}/{spa}"), &admin).await.body;
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
    assert_error_body(
        &sa,
        StatusCode::BAD_REQUEST,
        json!({"error": "Service account not enabled for the client 'web'"}),
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
    assert_error_body(
        &missing,
        StatusCode::NOT_FOUND,
        json!({"error": "Could not find client"}),
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

async fn client_scopes_crud(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let id = app
        .create_client_scope(
            &admin,
            "acme",
            json!({"name": "orders:read", "protocol": "openid-connect"}),
        )
        .await;
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
    assert_error_body(
        &missing,
        StatusCode::NOT_FOUND,
        json!({"error": "Client scope not found"}),
    );
}

/// `id.token.signed.response.alg` names an algorithm Latchkey signs with, or is empty (the
/// realm's default), on every surface that writes client attributes: the admin API's
/// create and update, Keycloak's `default` registration provider, and partial import.
async fn the_id_token_algorithm_is_checked_at_write(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    app.open_to_anonymous_registration(&admin, "acme").await;
    let base = "/admin/realms/acme/clients";
    let with = |client_id: &str, alg: &str| json!({"clientId": client_id, "attributes": {"id.token.signed.response.alg": alg}});
    let refused = app.post(base, &admin, with("ps", "PS256")).await;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "invalid_input");
    assert!(
        refused.body["error_description"]
            .as_str()
            .unwrap()
            .contains("\"PS256\""),
        "{}",
        refused.text
    );
    let id = app.create_client(&admin, "acme", with("es", "ES256")).await;
    let r = app
        .put(&format!("{base}/{id}"), &admin, with("es", "HS256"))
        .await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_input");
    let r = app
        .put(&format!("{base}/{id}"), &admin, with("es", ""))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let c = app.get(&format!("{base}/{id}"), &admin).await.body;
    assert_eq!(c["attributes"]["id.token.signed.response.alg"], "");
    let r = app
        .json(
            Method::POST,
            "/realms/acme/clients-registrations/default",
            None,
            Some(with("reg", "none")),
        )
        .await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_client_metadata");
    let r = app
        .post(
            "/admin/realms/acme/partialImport",
            &admin,
            json!({"ifResourceExists": "FAIL", "clients": [with("imported", "PS256")]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("PS256"), "{}", r.text);
}

crate::on_both_backends!(
    client_crud_and_secrets,
    client_scopes_crud,
    the_id_token_algorithm_is_checked_at_write,
);
