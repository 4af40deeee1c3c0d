//! `javascript:`, `data:`, `vbscript:` and `file:` URIs, user info and a bare `*`
//! are refused however a client is created or updated: the admin API, Keycloak's `default`
//! registration provider and the RFC 7591 `openid-connect` provider (the console's case is
//! in console/pages.rs, the authorization endpoint's in code_flow/authorize.rs).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

const BAD_REDIRECTS: [&str; 5] = [
    "javascript:alert(document.cookie)//",
    "data:text/html,<script>alert(1)</script>",
    "https://user:pass@evil.example/cb",
    "*",
    "FILE:///etc/passwd",
];

const DEFAULT: &str = "/realms/acme/clients-registrations/default";
const OIDC: &str = "/realms/acme/clients-registrations/openid-connect";

async fn initial_access(app: &TestApp, admin: &str) -> String {
    app.initial_access_token(admin, "acme", json!({"count": 20}))
        .await
}

async fn admin_api_refuses_dangerous_uris(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    for uri in BAD_REDIRECTS {
        let r = app
            .post(
                "/admin/realms/acme/clients",
                &admin,
                json!({"clientId": "bad", "redirectUris": [uri]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.text);
        assert_eq!(r.body["error"], "invalid_input", "{uri}: {}", r.text);
        let d = r.body["error_description"].as_str().unwrap();
        assert!(d.starts_with("A redirect URI "), "{uri}: {d}");
    }
    for (field, uri) in [
        ("rootUrl", "javascript:alert(1)"),
        ("baseUrl", "javascript:alert(1)"),
        ("adminUrl", "vbscript:msgbox"),
    ] {
        let r = app
            .post(
                "/admin/realms/acme/clients",
                &admin,
                json!({"clientId": "bad", field: uri}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {}", r.text);
        assert!(
            r.body["error_description"]
                .as_str()
                .unwrap()
                .ends_with("uses an illegal scheme"),
            "{}",
            r.text
        );
    }
    let r = app
        .post(
            "/admin/realms/acme/clients",
            &admin,
            json!({"clientId": "bad", "attributes": {"post.logout.redirect.uris": "https://ok.example/##javascript:alert(1)"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let list = app
        .get("/admin/realms/acme/clients?clientId=bad", &admin)
        .await;
    assert_eq!(list.body, json!([]), "nothing was stored");

    // Update: the same rule; the client keeps its URIs.
    let r = app
        .post(
            "/admin/realms/acme/clients",
            &admin,
            json!({"clientId": "good", "redirectUris": ["https://app.example/*"], "rootUrl": "https://app.example"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let path = format!("/admin/realms/acme/clients/{}", r.location_id());
    for patch in [
        json!({"redirectUris": ["javascript:alert(1)"]}),
        json!({"redirectUris": ["*"]}),
        json!({"baseUrl": "javascript:alert(1)"}),
        json!({"attributes": {"jwks.url": "https://u@evil.example/jwks"}}),
    ] {
        let r = app.put(&path, &admin, patch.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{patch}: {}", r.text);
        assert_eq!(r.body["error"], "invalid_input");
    }
    let now = app.get(&path, &admin).await;
    assert_eq!(now.body["redirectUris"], json!(["https://app.example/*"]));
    assert_eq!(now.body["rootUrl"], "https://app.example");
}

async fn default_provider_refuses_dangerous_uris(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let iat = initial_access(app, &admin).await;
    for uri in BAD_REDIRECTS {
        let r = app
            .json(
                Method::POST,
                DEFAULT,
                Some(&iat),
                Some(json!({"clientId": "bad", "redirectUris": [uri]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.text);
        assert_eq!(r.body["error"], "invalid_redirect_uri", "{uri}: {}", r.text);
    }
    let r = app
        .json(
            Method::POST,
            DEFAULT,
            Some(&iat),
            Some(json!({"clientId": "bad", "rootUrl": "javascript:alert(1)"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"], "invalid_client_metadata");
    // A registrant cannot smuggle URIs in through the registered-metadata attribute.
    let smuggled = json!({"clientId": "bad", "attributes": {
        "oidc.registration.metadata": "{\"post_logout_redirect_uris\":[\"javascript:alert(1)\"]}"}});
    let r = app
        .json(Method::POST, DEFAULT, Some(&iat), Some(smuggled))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"], "invalid_client_metadata");

    let r = app
        .json(
            Method::POST,
            DEFAULT,
            Some(&iat),
            Some(json!({"clientId": "good", "redirectUris": ["https://app.example/cb"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let rat = r.body["registrationAccessToken"].as_str().unwrap();
    for patch in [
        json!({"clientId": "good", "redirectUris": ["https://user@evil.example/cb"]}),
        json!({"clientId": "good", "attributes": {"jwks.url": "data:,x"}}),
    ] {
        let r = app
            .json(
                Method::PUT,
                &format!("{DEFAULT}/good"),
                Some(rat),
                Some(patch.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{patch}: {}", r.text);
    }
}

async fn openid_connect_provider_refuses_dangerous_uris(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let iat = initial_access(app, &admin).await;
    let cases: [(Value, &str); 5] = [
        (
            json!({"redirect_uris": ["https://user:pass@evil.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"application_type": "native", "redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (json!({"redirect_uris": ["*"]}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["https://app.example/cb"], "post_logout_redirect_uris": ["https://a@evil.example/"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb"], "initiate_login_uri": "https://a:b@evil.example/"}),
            "invalid_client_metadata",
        ),
    ];
    for (body, code) in &cases {
        let r = app
            .json(Method::POST, OIDC, Some(&iat), Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert_eq!(r.body["error"], *code, "{body}: {}", r.text);
    }
    let r = app
        .json(
            Method::POST,
            OIDC,
            Some(&iat),
            Some(json!({"redirect_uris": ["https://app.example/cb"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["client_id"].as_str().unwrap();
    let rat = r.body["registration_access_token"].as_str().unwrap();
    let r = app
        .json(
            Method::PUT,
            &format!("{OIDC}/{id}"),
            Some(rat),
            Some(json!({"client_id": id, "redirect_uris": ["https://x@evil.example/cb"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"], "invalid_redirect_uri");
}

/// One body cannot store an unbounded list: more redirect URIs than the bound are refused
/// on every surface (the rule is `client_uris::validate`, which every creation passes);
/// a URI listed twice is registered once.
async fn redirect_uri_lists_are_bounded(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let iat = initial_access(app, &admin).await;
    let many: Vec<String> = (0..101)
        .map(|i| format!("https://app.example/{i}"))
        .collect();
    let r = app
        .json(
            Method::POST,
            OIDC,
            Some(&iat),
            Some(json!({"redirect_uris": many})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"], "invalid_redirect_uri", "{}", r.text);
    let r = app
        .post(
            "/admin/realms/acme/clients",
            &admin,
            json!({"clientId": "many", "redirectUris": many}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app
        .json(
            Method::POST,
            OIDC,
            Some(&iat),
            Some(json!({"redirect_uris": ["https://app.example/cb", "https://app.example/cb"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["redirect_uris"], json!(["https://app.example/cb"]));
}

crate::on_both_backends!(
    redirect_uri_lists_are_bounded,
    admin_api_refuses_dangerous_uris,
    default_provider_refuses_dangerous_uris,
    openid_connect_provider_refuses_dangerous_uris,
);
