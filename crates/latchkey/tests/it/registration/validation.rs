//! Registrations refused over HTTP: bad metadata, bodies and content types (RFC 7591 errors,
//! nothing left behind), and client ids that pose as built-in clients.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{
    Provider, REDIRECT, assert_created, assert_error, count_clients, create, created, new_iat, raw,
};
use crate::support::TestApp;

/// Bad metadata, bodies and content types are refused with RFC 7591 errors and leave no
/// client behind.
async fn invalid_registrations_are_refused_and_leave_nothing(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 50, &[]).await;
    let auth = format!("Bearer {iat}");
    let before = count_clients(app, &admin).await;
    let post = |p: Provider, content_type: &'static str, body: String| {
        let auth = auth.clone();
        async move {
            raw(
                app,
                Method::POST,
                &p.path("acme"),
                &[
                    ("authorization", auth.as_str()),
                    ("content-type", content_type),
                ],
                Some(body),
            )
            .await
        }
    };
    let json_post = |p: Provider, body: Value| post(p, "application/json", body.to_string());

    let oidc = Provider::Oidc;
    let cases = [
        (
            json!({"redirect_uris": ["https://a.example/cb#frag"]}),
            "invalid_redirect_uri",
            "fragment",
        ),
        (
            json!({"redirect_uris": ["https://a.example/*"]}),
            "invalid_redirect_uri",
            "wildcard",
        ),
        (
            json!({"redirect_uris": ["/relative/cb"]}),
            "invalid_redirect_uri",
            "absolute",
        ),
        (
            json!({"redirect_uris": ["http://a.example/cb"]}),
            "invalid_redirect_uri",
            "https",
        ),
        (
            json!({"client_name": "no redirect"}),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}),
            "invalid_client_metadata",
            "token",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "client_id": "chosen"}),
            "invalid_client_metadata",
            "Client Identifier included",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "magic"}),
            "invalid_client_metadata",
            "token_endpoint_auth_method",
        ),
        (
            json!({"redirect_uris": "https://a.example/cb"}),
            "invalid_client_metadata",
            "redirect_uris",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "jwks": {"keys": []}, "jwks_uri": "https://a.example/jwks"}),
            "invalid_client_metadata",
            "jwks",
        ),
    ];
    for (body, error, why) in cases {
        let r = json_post(oidc, body.clone()).await;
        assert_error(&r, StatusCode::BAD_REQUEST, error, Some(why));
    }
    let d = Provider::Default;
    for (body, error) in [
        (
            json!({"redirectUris": ["https://a.example/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirectUris": ["https://a.example/*"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirectUris": "not-a-list"}),
            "invalid_client_metadata",
        ),
    ] {
        let r = json_post(d, body).await;
        assert_error(&r, StatusCode::BAD_REQUEST, error, None);
    }
    for p in Provider::ALL {
        let r = post(p, "application/json", "{not json".into()).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "invalid_client_metadata", None);
        let r = post(p, "text/plain", p.body("typed").to_string()).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "invalid_client_metadata", None);
        let huge = match p {
            Provider::Oidc => {
                json!({"redirect_uris": [REDIRECT], "client_name": "x".repeat(70_000)})
            }
            Provider::Default => json!({"redirectUris": [REDIRECT], "name": "x".repeat(70_000)}),
        };
        let r = json_post(p, huge).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{p:?}: {}", r.text);
    }
    assert_eq!(
        count_clients(app, &admin).await,
        before,
        "refusals leave nothing"
    );

    // Default provider: a duplicate clientId.
    let r = json_post(d, json!({"clientId": "dup", "redirectUris": [REDIRECT]})).await;
    assert_created(d, &r);
    let r = json_post(d, json!({"clientId": "dup", "redirectUris": [REDIRECT]})).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        Some("Client Identifier in use"),
    );
    assert_eq!(count_clients(app, &admin).await, before + 1);

    // A media type with parameters is still JSON.
    for p in Provider::ALL {
        let r = post(
            p,
            "application/json; charset=utf-8",
            p.body("charset").to_string(),
        )
        .await;
        assert_created(p, &r);
    }
    assert_eq!(count_clients(app, &admin).await, before + 3);
}

/// A registrant cannot choose a client id that differs from a built-in client's only by
/// case or surrounding whitespace; nobody can create one with surrounding whitespace.
async fn registrants_cannot_pose_as_built_in_clients(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 20, &[]).await;
    let d = Provider::Default;
    for id in [
        "Admin-CLI",
        "admin-cli ",
        " security-admin-console",
        "Security-Admin-Console",
        "REALM-MANAGEMENT",
        "Account",
        "account-console",
        "broker",
        "Master-Realm",
        "app\u{a0}",
    ] {
        let r = create(
            app,
            d,
            Some(&iat),
            json!({"clientId": id, "redirectUris": [REDIRECT]}),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{id:?}: {}", r.text);
        assert_eq!(r.body["error"], "invalid_client_metadata", "{id:?}");
    }
    created(
        app,
        d,
        Some(&iat),
        json!({"clientId": "acme-realm", "redirectUris": [REDIRECT]}),
    )
    .await;
    // In master, `<realm>-realm` is the built-in client of every realm.
    let master_iat = app
        .initial_access_token(&admin, "master", json!({"count": 1}))
        .await;
    let r = app
        .json(
            Method::POST,
            &d.path("master"),
            Some(&master_iat),
            Some(json!({"clientId": "Acme-Realm"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    // The admin API refuses surrounding whitespace on create and on a rename.
    for id in ["app ", " app", "\tapp"] {
        let r = app
            .post(
                "/admin/realms/acme/clients",
                &admin,
                json!({"clientId": id}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{id:?}: {}", r.text);
        assert_eq!(r.body["error"], "invalid_input");
    }
    let plain = app
        .create_client(&admin, "acme", json!({"clientId": "plain"}))
        .await;
    let path = format!("/admin/realms/acme/clients/{plain}");
    let r = app
        .put(&path, &admin, json!({"clientId": "admin-cli "}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(app.get(&path, &admin).await.body["clientId"], "plain");
}

crate::on_both_backends!(
    invalid_registrations_are_refused_and_leave_nothing,
    registrants_cannot_pose_as_built_in_clients,
);
