//! Around the registration endpoint: CORS for an initial access token's origins,
//! `install/{client_id}` (the adapter configuration) and discovery.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Provider, REDIRECT, assert_error, basic, created, new_iat, raw};
use crate::support::TestApp;

/// Preflights are answered for origins an initial access token allows, and only those.
async fn cors_allows_initial_access_token_origins(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 2, &["https://app.example"]).await;
    let path = Provider::Oidc.path("acme");
    let preflight = |origin: &'static str, path: String| async move {
        raw(
            app,
            Method::OPTIONS,
            &path,
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type",
                ),
            ],
            None,
        )
        .await
    };
    let ok = preflight("https://app.example", path.clone()).await;
    assert!(ok.status.is_success(), "{}", ok.status);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let methods = ok.header("access-control-allow-methods").unwrap_or("");
    for m in ["POST", "GET", "PUT", "DELETE"] {
        assert!(methods.contains(m), "{m} in {methods:?}");
    }
    let headers = ok
        .header("access-control-allow-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(headers.contains("authorization") && headers.contains("content-type"));

    let evil = preflight("https://evil.example", path.clone()).await;
    assert_eq!(evil.header("access-control-allow-origin"), None);

    // The actual request carries the header for the allowed origin only.
    let auth = format!("Bearer {iat}");
    let body = Provider::Oidc.body("from-browser").to_string();
    let r = raw(
        app,
        Method::POST,
        &path,
        &[
            ("origin", "https://app.example"),
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let id = Provider::Oidc.client_id(&r);
    let ok = preflight(
        "https://app.example",
        Provider::Oidc.client_path("acme", &id),
    )
    .await;
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let r = raw(
        app,
        Method::POST,
        &path,
        &[
            ("origin", "https://evil.example"),
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        Some(body),
    )
    .await;
    assert_eq!(r.header("access-control-allow-origin"), None, "{}", r.text);
}

/// `install/{client_id}`: keycloak.json for the registration access token, the client's
/// own Basic credentials, or nobody for a public client.
async fn install_gives_the_adapter_config(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, iat) = new_iat(app, &admin, 2, &[]).await;
    let p = Provider::Oidc;
    let c = created(app, p, Some(&iat), p.body("adapter")).await;
    let id = p.client_id(&c);
    let secret = p.secret(&c).unwrap();
    let path = format!("/realms/acme/clients-registrations/install/{id}");

    let r = app.get(&path, p.rat(&c).as_str()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["realm"], "acme");
    assert_eq!(r.body["resource"], id.as_str());
    assert_eq!(r.body["credentials"]["secret"], secret.as_str());
    assert_eq!(r.body["auth-server-url"], "http://localhost:8080/");
    assert!(r.body.get("public-client").is_none());

    let with_basic = raw(
        app,
        Method::GET,
        &path,
        &[("authorization", basic(&id, &secret).as_str())],
        None,
    )
    .await;
    assert_eq!(with_basic.status, StatusCode::OK, "{}", with_basic.text);
    assert_eq!(with_basic.body, r.body);

    let wrong = raw(
        app,
        Method::GET,
        &path,
        &[("authorization", basic(&id, "wrong").as_str())],
        None,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
    let nothing = app.get_public(&path).await;
    assert_error(&nothing, StatusCode::UNAUTHORIZED, "invalid_token", None);

    let public = created(
        app,
        p,
        Some(&iat),
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert!(
        public.body.get("client_secret").is_none(),
        "{}",
        public.text
    );
    assert_eq!(public.body["token_endpoint_auth_method"], "none");
    let pid = p.client_id(&public);
    let r = app
        .get_public(&format!("/realms/acme/clients-registrations/install/{pid}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["public-client"], true);
    assert_eq!(r.body["resource"], pid.as_str());
    assert!(r.body.get("credentials").is_none());
}

/// Discovery advertises the `openid-connect` registration endpoint.
async fn discovery_advertises_the_registration_endpoint(app: &TestApp) {
    app.admin_with_realm("acme").await;
    let r = app
        .get_public("/realms/acme/.well-known/openid-configuration")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["registration_endpoint"],
        "http://localhost:8080/realms/acme/clients-registrations/openid-connect"
    );
    for p in Provider::ALL {
        let r = app
            .json(Method::POST, &p.path("nope"), None, Some(p.body("x")))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{p:?}: {}", r.text);
    }
}

crate::on_both_backends!(
    cors_allows_initial_access_token_origins,
    install_gives_the_adapter_config,
    discovery_advertises_the_registration_endpoint,
);
