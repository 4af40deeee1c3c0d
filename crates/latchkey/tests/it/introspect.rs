//! Introspection (RFC 7662), revocation (RFC 7009) and userinfo (OIDC Core §5.3).

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{Resp, TestApp, assert_oauth_error, user};

const BASE: &str = "/realms/acme/protocol/openid-connect";

struct Setup {
    admin: String,
    svc_secret: String,
    access: String,
    refresh: String,
}

/// A realm with a confidential client `svc` and a user `bob` logged in through the public
/// `admin-cli` (password grant, scope openid).
async fn setup(app: &TestApp) -> Setup {
    let admin = app.admin_with_realm("acme").await;
    let (_, svc_secret) = app.create_service_client(&admin, "acme", "svc").await;
    let mut bob = user("bob", "pw");
    bob["email"] = json!("bob@example.com");
    app.create_user(&admin, "acme", bob).await;
    let t = app
        .form(
            &format!("{BASE}/token"),
            &[
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", "bob"),
                ("password", "pw"),
                ("scope", "openid"),
            ],
            None,
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    Setup {
        admin,
        svc_secret,
        access: t.body["access_token"].as_str().unwrap().into(),
        refresh: t.body["refresh_token"].as_str().unwrap().into(),
    }
}

async fn introspect(app: &TestApp, s: &Setup, token: &str) -> Resp {
    app.form(
        &format!("{BASE}/token/introspect"),
        &[("token", token)],
        Some(("svc", &s.svc_secret)),
    )
    .await
}

async fn userinfo(app: &TestApp, token: &str) -> Resp {
    app.json(Method::GET, &format!("{BASE}/userinfo"), Some(token), None)
        .await
}

async fn introspection_reports_live_and_dead_tokens(app: &TestApp) {
    let s = setup(app).await;
    let access = introspect(app, &s, &s.access).await;
    assert_eq!(access.status, StatusCode::OK, "{}", access.text);
    assert_eq!(access.header("cache-control"), Some("no-store"));
    assert_eq!(access.body["active"], true);
    assert_eq!(access.body["username"], "bob");
    assert_eq!(access.body["client_id"], "admin-cli");
    assert_eq!(access.body["token_type"], "Bearer");
    assert!(access.body["exp"].is_i64() && access.body["sub"].is_string());
    let refresh = introspect(app, &s, &s.refresh).await;
    assert_eq!(
        (
            refresh.body["active"].clone(),
            refresh.body["token_type"].clone()
        ),
        (json!(true), json!("Refresh"))
    );
    assert_eq!(refresh.body["username"], "bob");
    for dead in ["garbage", "a.b.c"] {
        assert_eq!(
            introspect(app, &s, dead).await.body,
            json!({"active": false}),
            "{dead}"
        );
    }
    // A token of another realm is inactive here.
    let master = app.admin_token().await;
    assert_eq!(
        introspect(app, &s, &master).await.body,
        json!({"active": false})
    );
    // Callers must authenticate as a confidential client of the realm.
    let public = app
        .form(
            &format!("{BASE}/token/introspect"),
            &[("token", &s.access), ("client_id", "admin-cli")],
            None,
        )
        .await;
    assert_oauth_error(&public, StatusCode::UNAUTHORIZED, "invalid_client");
    let wrong = app
        .form(
            &format!("{BASE}/token/introspect"),
            &[("token", &s.access)],
            Some(("svc", "wrong")),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let missing = app
        .form(
            &format!("{BASE}/token/introspect"),
            &[],
            Some(("svc", &s.svc_secret)),
        )
        .await;
    assert_oauth_error(&missing, StatusCode::BAD_REQUEST, "invalid_request");
    // A deleted user's tokens go inactive.
    let users = app
        .get("/admin/realms/acme/users?username=bob&exact=true", &s.admin)
        .await
        .body;
    app.delete(
        &format!(
            "/admin/realms/acme/users/{}",
            users[0]["id"].as_str().unwrap()
        ),
        &s.admin,
    )
    .await;
    assert_eq!(introspect(app, &s, &s.access).await.body["active"], false);
    assert_eq!(introspect(app, &s, &s.refresh).await.body["active"], false);
}

async fn revocation_stops_access_and_refresh_tokens(app: &TestApp) {
    let s = setup(app).await;
    let revoke = |token: String, client: Option<(&'static str, String)>| {
        let path = format!("{BASE}/revoke");
        async move {
            match client {
                Some((id, secret)) => {
                    app.form(&path, &[("token", &token)], Some((id, &secret)))
                        .await
                }
                None => {
                    app.form(
                        &path,
                        &[("token", &token), ("client_id", "admin-cli")],
                        None,
                    )
                    .await
                }
            }
        }
    };
    assert_eq!(userinfo(app, &s.access).await.status, StatusCode::OK);
    // Another client cannot revoke admin-cli's token: refused as Keycloak does (RFC 7009
    // §2.1), and nothing happens.
    let other = revoke(s.access.clone(), Some(("svc", s.svc_secret.clone()))).await;
    assert_oauth_error(&other, StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(other.body["error_description"], "Unmatching clients");
    assert_eq!(userinfo(app, &s.access).await.status, StatusCode::OK);
    // The owner revokes: inactive at introspection, refused at userinfo.
    assert_eq!(revoke(s.access.clone(), None).await.status, StatusCode::OK);
    assert_eq!(introspect(app, &s, &s.access).await.body["active"], false);
    let refused = userinfo(app, &s.access).await;
    assert_oauth_error(&refused, StatusCode::UNAUTHORIZED, "invalid_token");
    // Refresh tokens.
    assert_eq!(revoke(s.refresh.clone(), None).await.status, StatusCode::OK);
    let r = app
        .form(
            &format!("{BASE}/token"),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "admin-cli"),
                ("refresh_token", &s.refresh),
            ],
            None,
        )
        .await;
    assert_eq!(r.body["error"], "invalid_grant");
    // Unknown tokens are fine (RFC 7009 §2.2); unknown hints are not.
    assert_eq!(
        revoke("never-issued".into(), None).await.status,
        StatusCode::OK
    );
    let hint = app
        .form(
            &format!("{BASE}/revoke"),
            &[
                ("token", "x"),
                ("client_id", "admin-cli"),
                ("token_type_hint", "id_token"),
            ],
            None,
        )
        .await;
    assert_oauth_error(&hint, StatusCode::BAD_REQUEST, "unsupported_token_type");
    // A revoked access token is refused at the registration endpoint too.
    let (cid, secret) = app.create_service_client(&s.admin, "acme", "ci").await;
    let sa = app.service_account_id(&s.admin, "acme", &cid).await;
    app.grant_realm_management(&s.admin, "acme", &sa, &["create-client"])
        .await;
    let ci_token = app.client_token("acme", "ci", &secret).await;
    let body = json!({"grant_types": ["client_credentials"]});
    assert_eq!(
        app.register("acme", Some(&ci_token), body.clone())
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        revoke(ci_token.clone(), Some(("ci", secret.clone())))
            .await
            .status,
        StatusCode::OK
    );
    let after = app.register("acme", Some(&ci_token), body).await;
    assert_oauth_error(&after, StatusCode::UNAUTHORIZED, "invalid_token");
}

async fn userinfo_returns_the_users_claims(app: &TestApp) {
    let s = setup(app).await;
    let r = userinfo(app, &s.access).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["preferred_username"], "bob");
    assert_eq!(r.body["email"], "bob@example.com");
    assert!(r.body["sub"].is_string());
    let post = app
        .send(
            axum::http::Request::post(format!("{BASE}/userinfo"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(format!("access_token={}", s.access)))
                .unwrap(),
        )
        .await;
    assert_eq!(
        post.status,
        StatusCode::OK,
        "RFC 6750 §2.2 form body: {}",
        post.text
    );
    let none = app.get_public(&format!("{BASE}/userinfo")).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(
        none.header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    // Without the openid scope: 403 insufficient_scope (OIDC Core §5.3).
    let t = app.client_token("acme", "svc", &s.svc_secret).await;
    let no_openid = userinfo(app, &t).await;
    assert_oauth_error(&no_openid, StatusCode::FORBIDDEN, "insufficient_scope");
    let discovery = app
        .get_public("/realms/acme/.well-known/openid-configuration")
        .await
        .body;
    assert_eq!(
        discovery["userinfo_endpoint"],
        format!("http://localhost:8080{BASE}/userinfo")
    );
    assert_eq!(
        discovery["introspection_endpoint"],
        format!("http://localhost:8080{BASE}/token/introspect")
    );
    assert_eq!(
        discovery["revocation_endpoint"],
        format!("http://localhost:8080{BASE}/revoke")
    );
}

/// A database failure behind userinfo or discovery is a 500 with the protocol's generic
/// JSON body, as at every other endpoint: never an empty answer, never the database's words.
async fn a_database_failure_is_a_json_server_error(app: &TestApp) {
    let s = setup(app).await;
    assert_eq!(userinfo(app, &s.access).await.status, StatusCode::OK);
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    for statement in [
        "DROP TABLE revoked_tokens",
        "ALTER TABLE realms RENAME TO realms_gone",
    ] {
        sqlx::query(statement).execute(&raw).await.unwrap();
    }
    raw.close().await;
    for r in [
        userinfo(app, &s.access).await,
        app.json(
            Method::GET,
            "/realms/never-read/.well-known/openid-configuration",
            None,
            None,
        )
        .await,
    ] {
        assert_oauth_error(&r, StatusCode::INTERNAL_SERVER_ERROR, "server_error");
        assert_eq!(r.body["error_description"], "internal error", "{}", r.text);
    }
}

crate::on_both_backends!(
    introspection_reports_live_and_dead_tokens,
    revocation_stops_access_and_refresh_tokens,
    userinfo_returns_the_users_claims,
    a_database_failure_is_a_json_server_error,
);
