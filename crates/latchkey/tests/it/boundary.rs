//! Hostile input at the boundary, on both backends: NUL and other control
//! characters and over-long identifiers are a 4xx with a JSON error body wherever they come
//! in (path, query, form, Basic header, JSON, a token's claims), never a 5xx; and every
//! route answers the same with one trailing slash; admin bodies that are not JSON are 415.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use serde_json::{Value, json};

use crate::support::{Backend, Resp, TestApp};

const DEFAULT_REG: &str = "/realms/open/clients-registrations/default";

fn assert_refused(what: &str, r: &Resp) {
    assert!(
        r.status.is_client_error(),
        "{what}: {} {}",
        r.status,
        r.text
    );
    assert!(
        r.body["error"].is_string() || r.body["errorMessage"].is_string(),
        "{what}: no error body: {}",
        r.text
    );
}

/// A realm `open` with anonymous registration on and no policies.
async fn open_realm(app: &TestApp, admin: &str) {
    app.create_realm(admin, "open").await;
    app.open_to_anonymous_registration(admin, "open").await;
}

/// A raw body with a content type and optional Authorization header.
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: &str,
    authorization: Option<&str>,
    body: &str,
) -> Resp {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost:8080")
        .header(header::CONTENT_TYPE, content_type);
    if let Some(a) = authorization {
        b = b.header(header::AUTHORIZATION, a);
    }
    app.send(b.body(Body::from(body.to_string())).unwrap())
        .await
}

async fn nul_bytes_are_refused_everywhere(app: &TestApp) {
    let admin = app.admin_token().await;
    open_realm(app, &admin).await;
    let token = "/realms/master/protocol/openid-connect/token";
    for path in [
        "/realms/a%00b/.well-known/openid-configuration",
        "/realms/a%00b/protocol/openid-connect/certs",
        "/realms/open/clients-registrations/openid-connect/a%00b",
        "/realms/open/clients-registrations/default/a%00b",
        "/admin/realms/a%00b",
        "/admin/realms/master/clients?clientId=a%00b",
        "/admin/realms/master/users?username=a%00b",
        "/admin/realms/master/clients/a%00b",
        "/realms/master/protocol/openid-connect/auth?client_id=a%00b&response_type=code",
    ] {
        let r = app.json(Method::GET, path, Some(&admin), None).await;
        assert_refused(path, &r);
    }
    let form = "application/x-www-form-urlencoded";
    for body in [
        "grant_type=client_credentials&client_id=a%00b&client_secret=x",
        "grant_type=password&client_id=admin-cli&username=a%00b&password=x",
    ] {
        let r = raw(app, Method::POST, token, form, None, body).await;
        assert_refused(body, &r);
    }
    for path in [
        "/realms/master/protocol/openid-connect/token/introspect",
        "/realms/master/protocol/openid-connect/revoke",
    ] {
        let r = raw(
            app,
            Method::POST,
            path,
            form,
            None,
            "token=x&client_id=a%00b",
        )
        .await;
        assert_refused(path, &r);
    }
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(b"conf\0:x")
    );
    let r = raw(
        app,
        Method::POST,
        token,
        form,
        Some(&basic),
        "grant_type=client_credentials",
    )
    .await;
    assert_refused("Basic", &r);
    // An unsigned token whose issuer names a realm with a NUL: refused, not looked up.
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let forged = format!(
        "{}.{}.c2ln",
        b64(json!({"alg": "RS256"})),
        b64(json!({"iss": "http://localhost:8080/realms/a\u{0}b"}))
    );
    let r = app.get("/admin/realms/master/clients", &forged).await;
    assert_refused("a forged token's iss", &r);
    // A client assertion whose iss/sub carry a NUL.
    let assertion = format!(
        "{}.{}.c2ln",
        b64(json!({"alg": "HS256"})),
        b64(json!({"iss": "a\u{0}b", "sub": "a\u{0}b", "aud": "x", "exp": 4_000_000_000u64}))
    );
    let r = app.client_assertion_grant("master", &assertion).await;
    assert_refused("client assertion", &r);
    // JSON names, through the admin API and anonymously through the default provider.
    let json_bodies = [
        ("/admin/realms/master/clients", r#"{"clientId":"a\u0000b"}"#),
        ("/admin/realms/master/users", r#"{"username":"a\u0000b"}"#),
        ("/admin/realms/master/roles", r#"{"name":"a\u0000b"}"#),
        (
            "/admin/realms/master/clients",
            r#"{"clientId":"ok","name":"x\u0000"}"#,
        ),
        ("/admin/realms", r#"{"realm":"a\u0000b"}"#),
    ];
    let bearer = format!("Bearer {admin}");
    for (path, body) in json_bodies {
        let r = raw(
            app,
            Method::POST,
            path,
            "application/json",
            Some(&bearer),
            body,
        )
        .await;
        assert_refused(body, &r);
    }
    let r = raw(
        app,
        Method::POST,
        DEFAULT_REG,
        "application/json",
        None,
        r#"{"clientId":"a\u0000b"}"#,
    )
    .await;
    assert_refused("anonymous default provider", &r);
    // Text that only looks like an escape is text.
    let r = raw(
        app,
        Method::POST,
        "/admin/realms/master/clients",
        "application/json",
        Some(&bearer),
        r#"{"clientId":"backslash-u","description":"\\u0000 is how JSON writes NUL"}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

async fn long_identifiers_are_400_naming_the_field(app: &TestApp) {
    let admin = app.admin_token().await;
    open_realm(app, &admin).await;
    let long = "x".repeat(3000);
    let cases = [
        (
            "/admin/realms/master/clients",
            json!({"clientId": long}),
            "clientId",
        ),
        (
            "/admin/realms/master/users",
            json!({"username": long}),
            "username",
        ),
        (
            "/admin/realms/master/users",
            json!({"username": "u1", "email": format!("{long}@example.com")}),
            "email",
        ),
        ("/admin/realms/master/roles", json!({"name": long}), "name"),
        (
            "/admin/realms/master/client-scopes",
            json!({"name": long, "protocol": "openid-connect"}),
            "name",
        ),
        ("/admin/realms", json!({"realm": long}), "realm"),
    ];
    for (path, body, field) in cases {
        let r = app.post(path, &admin, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text);
        assert!(
            r.text.to_lowercase().contains(&field.to_lowercase())
                && r.text.contains("longer than 255"),
            "{path}: says the field and that it is too long: {}",
            r.text
        );
    }
    // Anonymously, through the default provider: 400 and nothing stored.
    let r = app
        .json(
            Method::POST,
            DEFAULT_REG,
            None,
            Some(json!({"clientId": long})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("clientId"), "{}", r.text);
    // Exactly the limit is fine, and a service account still fits behind its prefix.
    let max = "y".repeat(255);
    let r = app
        .post(
            "/admin/realms/master/clients",
            &admin,
            json!({"clientId": max, "publicClient": false, "serviceAccountsEnabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // A path segment over the limit is refused before anything is looked up or recorded.
    let path = format!("{DEFAULT_REG}/{long}");
    let r = app.json(Method::GET, &path, Some("bad"), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let events = app
        .get("/admin/realms/open/events?max=1000", &admin)
        .await
        .body;
    assert!(
        !events.to_string().contains(&long),
        "an event recorded the long id"
    );
}

async fn one_trailing_slash_answers_the_same(app: &TestApp) {
    let admin = app.admin_token().await;
    let r = app
        .post(
            "/admin/realms/",
            &admin,
            json!({"realm": "slashed", "enabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for path in [
        "/realms/slashed/.well-known/openid-configuration/",
        "/.well-known/openid-configuration/realms/slashed/",
        "/realms/slashed/protocol/openid-connect/certs/",
        "/admin/realms/slashed/",
        "/admin/realms/slashed/clients/",
        "/health/ready/",
    ] {
        let with = app.get(path, &admin).await;
        let without = app.get(path.trim_end_matches('/'), &admin).await;
        assert_eq!(with.status, StatusCode::OK, "{path}: {}", with.text);
        assert_eq!(with.body, without.body, "{path}");
    }
    let r = app
        .form(
            "/realms/master/protocol/openid-connect/token/",
            &[
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", crate::support::ADMIN),
                ("password", crate::support::ADMIN_PASSWORD),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Two slashes are not one, and an unknown path stays unknown.
    let r = app.get("/admin/realms/slashed//", &admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get("/no/such/path/", &admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// What no route serves is still an answer a client can read: a 404 or 405 with Keycloak's
/// JSON error body (the 405 with its `Allow` header), under the relative path and outside
/// it, never an empty body.
#[tokio::test]
async fn unrouted_requests_get_a_json_error() {
    for (prefix, app) in [
        ("", TestApp::new(Backend::Sqlite).await.unwrap()),
        (
            "/auth",
            TestApp::with_relative_path(Backend::Sqlite, "/auth")
                .await
                .unwrap(),
        ),
    ] {
        for path in [format!("{prefix}/no/such/path"), "/elsewhere".to_string()] {
            let r = app.get_public(&path).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(
                r.body["error"], "Unable to find matching target resource method",
                "{path}: {}",
                r.text
            );
        }
        let r = raw(
            &app,
            Method::DELETE,
            &format!("{prefix}/realms/master/protocol/openid-connect/token"),
            "text/plain",
            None,
            "",
        )
        .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            r.headers.get(header::ALLOW).map(|v| v.to_str().unwrap()),
            Some("POST")
        );
        assert_refused("405", &r);
        // A handler's own 404 keeps its body.
        let r = app
            .get_public(&format!(
                "{prefix}/realms/nope/.well-known/openid-configuration"
            ))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_ne!(
            r.body["error"], "Unable to find matching target resource method",
            "{}",
            r.text
        );
    }
}

/// The admin API takes JSON bodies only when they say they are JSON: `text/plain`, a form
/// or no `Content-Type` is Keycloak's 415 and writes nothing; `application/json` with a
/// charset, and `application/*+json`, are JSON.
async fn admin_bodies_must_say_they_are_json(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let bearer = format!("Bearer {admin}");
    let clients = "/admin/realms/acme/clients";
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
        "application/jsonx",
        "text/json",
    ] {
        let body = json!({"clientId": "typed"}).to_string();
        let r = raw(
            app,
            Method::POST,
            clients,
            content_type,
            Some(&bearer),
            &body,
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}: {}",
            r.text
        );
        assert_eq!(
            r.body["error"], "HTTP 415 Unsupported Media Type",
            "{}",
            r.text
        );
        let r = raw(
            app,
            Method::PUT,
            "/admin/realms/acme",
            content_type,
            Some(&bearer),
            "{}",
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
    }
    let listed = app.get(&format!("{clients}?clientId=typed"), &admin).await;
    assert_eq!(listed.body, json!([]), "a refused body wrote nothing");
    for (i, content_type) in [
        "application/json",
        "Application/JSON; charset=utf-8",
        "application/vnd.example+json",
    ]
    .into_iter()
    .enumerate()
    {
        let body = json!({"clientId": format!("typed{i}")}).to_string();
        let r = raw(
            app,
            Method::POST,
            clients,
            content_type,
            Some(&bearer),
            &body,
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "{content_type:?}: {}",
            r.text
        );
    }
}

crate::on_both_backends!(
    nul_bytes_are_refused_everywhere,
    long_identifiers_are_400_naming_the_field,
    one_trailing_slash_answers_the_same,
    admin_bodies_must_say_they_are_json,
);

#[tokio::test]
async fn a_trailing_slash_works_under_the_relative_path() {
    let app = TestApp::with_relative_path(Backend::Sqlite, "/auth")
        .await
        .unwrap();
    let r = app
        .get_public("/auth/realms/master/.well-known/openid-configuration/")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["issuer"], "http://localhost:8080/auth/realms/master");
    let r = app
        .get_public("/auth/.well-known/openid-configuration/realms/master")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
