//! Updates: RFC 7592 full replacement (§2.2), Keycloak's partial update through the
//! `default` provider, and the server's own client secret.

use axum::http::StatusCode;
use serde_json::json;

use super::{BASE, Provider, REDIRECT, admin_client, assert_error, created, new_iat};
use crate::support::TestApp;

async fn put_replaces_the_registration(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 1, &[]).await;
    let p = Provider::Oidc;
    let c = created(
        app,
        p,
        Some(&iat),
        json!({"redirect_uris": [REDIRECT], "client_name": "One",
            "logo_uri": "https://app.example/logo.png"}),
    )
    .await;
    let id = p.client_id(&c);
    let secret = p.secret(&c).unwrap();
    let issued = c.body["client_id_issued_at"].clone();
    let path = p.client_path("acme", &id);
    let mut rat = p.rat(&c);

    // No client_id: the client in the path. Omitted members fall back to defaults.
    let r = app
        .put(
            &path,
            &rat,
            json!({"redirect_uris": [REDIRECT], "client_name": "Two"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["client_id"], id.as_str());
    assert_eq!(r.body["client_name"], "Two");
    assert!(r.body.get("logo_uri").is_none(), "omitted: {}", r.text);
    assert_eq!(
        r.body["client_secret"],
        secret.as_str(),
        "the secret is kept"
    );
    assert_eq!(r.body["client_secret_expires_at"], 0);
    assert_eq!(r.body["client_id_issued_at"], issued);
    assert_eq!(r.body["registration_client_uri"], format!("{BASE}{path}"));
    assert_eq!(r.body["response_types"], json!(["code"]));
    rat = p.rat(&r);

    // Refusals leave the token and the client as they were.
    let refusals = [
        (
            json!({"client_id": "someone-else", "redirect_uris": [REDIRECT]}),
            "Client Identifier modified",
        ),
        (
            json!({"client_secret": "not-the-secret", "redirect_uris": [REDIRECT]}),
            "client_secret",
        ),
        (
            json!({"registration_client_uri": "https://evil.example/x", "redirect_uris": [REDIRECT]}),
            "registration_client_uri",
        ),
        (
            json!({"client_id_issued_at": 12345, "redirect_uris": [REDIRECT]}),
            "client_id_issued_at",
        ),
        (
            json!({"client_secret_expires_at": 99, "redirect_uris": [REDIRECT]}),
            "client_secret_expires_at",
        ),
        (
            json!({"registration_access_token": "forged", "redirect_uris": [REDIRECT]}),
            "registration_access_token",
        ),
    ];
    for (body, why) in refusals {
        let r = app.put(&path, &rat, body).await;
        assert_error(
            &r,
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            Some(why),
        );
    }
    let r = app
        .put(
            &path,
            &rat,
            json!({"redirect_uris": ["https://app.example/cb#frag"], "client_name": "Bad"}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_redirect_uri", None);
    let r = app
        .put(
            &path,
            &rat,
            json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_client_metadata", None);
    let current = app.get(&path, &rat).await;
    assert_eq!(
        current.status,
        StatusCode::OK,
        "the old token still works: {}",
        current.text
    );
    assert_eq!(current.body["client_name"], "Two");
    assert_eq!(current.body["redirect_uris"], json!([REDIRECT]));

    // Server-managed members repeated unchanged: the GET body, renamed, goes back.
    let mut body = current.body.clone();
    body["client_name"] = json!("Three");
    let r = app.put(&path, &rat, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["client_name"], "Three");
    rat = p.rat(&r);
    // …also with the current registration access token repeated.
    let mut body = r.body.clone();
    body["client_name"] = json!("Four");
    let r = app.put(&path, &rat, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    rat = p.rat(&r);

    // Without client_name the name is gone, on read too.
    let r = app
        .put(&path, &rat, json!({"redirect_uris": [REDIRECT]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body.get("client_name").is_none(), "{}", r.text);
    rat = p.rat(&r);
    let r = app.get(&path, &rat).await;
    assert!(r.body.get("client_name").is_none(), "{}", r.text);
    assert_eq!(r.body["client_id_issued_at"], issued);
    assert_eq!(admin_client(app, &admin, &id).await.get("name"), None);

    // Becoming a machine client works at once, with the same secret.
    let r = app
        .put(&path, &rat, json!({"grant_types": ["client_credentials"]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["grant_types"], json!(["client_credentials"]));
    assert_eq!(r.body["response_types"], json!([]));
    assert_eq!(r.body["client_secret"], secret.as_str());
    let t = app.client_credentials("acme", &id, &secret).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    assert_eq!(
        admin_client(app, &admin, &id).await["serviceAccountsEnabled"],
        true
    );
}

/// Keycloak's update through the `default` provider: members sent replace the stored
/// ones, `clientId` may not change (a sent `secret` is ignored: see
/// `registration_ignores_a_chosen_secret`), the token rotates, refusals change nothing.
async fn default_provider_updates_like_keycloak(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 1, &[]).await;
    let d = Provider::Default;
    let r = created(
        app,
        d,
        Some(&iat),
        json!({"clientId": "kc-app", "name": "A", "redirectUris": [REDIRECT]}),
    )
    .await;
    let path = d.client_path("acme", "kc-app");
    let rat = d.rat(&r);

    for (body, error) in [
        (json!({"clientId": "kc-other"}), "invalid_client_metadata"),
        (
            json!({"redirectUris": ["https://a.example/*"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirectUris": ["https://a.example/cb#x"]}),
            "invalid_redirect_uri",
        ),
    ] {
        let u = app.put(&path, &rat, body.clone()).await;
        assert_error(&u, StatusCode::BAD_REQUEST, error, None);
    }
    let u = app.put(&path, &rat, json!({"clientId": "kc-other"})).await;
    assert_error(
        &u,
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        Some("Client Identifier modified"),
    );
    let read = app.get(&path, &rat).await;
    assert_eq!(
        read.status,
        StatusCode::OK,
        "refusals keep the token: {}",
        read.text
    );
    assert_eq!(read.body["name"], "A");
    assert_eq!(read.body["redirectUris"], json!([REDIRECT]));

    let u = app.put(&path, &rat, json!({"name": "B"})).await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(u.body["name"], "B");
    assert_eq!(u.body["redirectUris"], json!([REDIRECT]), "partial update");
    let rat2 = d.rat(&u);
    assert_ne!(rat2, rat);
    assert_eq!(app.get(&path, &rat).await.status, StatusCode::UNAUTHORIZED);
    let read = app.get(&path, &rat2).await;
    assert_eq!(read.body["name"], "B");
    assert!(read.body.get("registrationAccessToken").is_none());
    // The same client through the openid-connect provider, with the same token.
    let oidc = app
        .get(&Provider::Oidc.client_path("acme", "kc-app"), &rat2)
        .await;
    assert_eq!(oidc.status, StatusCode::OK, "{}", oidc.text);
    assert_eq!(oidc.body["client_id"], "kc-app");
    assert_eq!(oidc.body["client_name"], "B");
}

/// A registration's secret is the server's: one the registrant sends is ignored on create
/// and on update, and does not authenticate.
async fn registration_ignores_a_chosen_secret(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 1, &[]).await;
    let d = Provider::Default;
    let chosen = "chosen-by-the-registrant-0123456789";
    let r = created(app,
        d,
        Some(&iat),
        json!({"clientId": "kc-sec", "secret": chosen, "serviceAccountsEnabled": true, "publicClient": false}),
    ).await;
    let issued = d.secret(&r).unwrap();
    assert_ne!(issued, chosen);
    assert_eq!(issued.len(), 43, "256 random bits, base64url");
    let grant =
        |secret: String| async move { app.client_credentials("acme", "kc-sec", &secret).await };
    assert_eq!(
        grant(chosen.to_string()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let ok = grant(issued.clone()).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);

    let path = d.client_path("acme", "kc-sec");
    let again = "chosen-again-by-the-registrant-0123";
    let u = app
        .put(
            &path,
            &d.rat(&r),
            json!({"clientId": "kc-sec", "secret": again}),
        )
        .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(d.secret(&u).unwrap(), issued, "the secret did not change");
    assert_eq!(
        grant(again.to_string()).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(grant(issued).await.status, StatusCode::OK);
    // The admin API may still set one.
    let id = app.client_uuid(&admin, "acme", "kc-sec").await;
    let r = app
        .put(
            &format!("/admin/realms/acme/clients/{id}"),
            &admin,
            json!({"secret": chosen}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(grant(chosen.to_string()).await.status, StatusCode::OK);
}

crate::on_both_backends!(
    put_replaces_the_registration,
    default_provider_updates_like_keycloak,
    registration_ignores_a_chosen_secret,
);
