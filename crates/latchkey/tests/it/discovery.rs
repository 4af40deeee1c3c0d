//! Discovery documents, the JWKS, health, metrics and the relative path; realm names
//! percent-encoded in every emitted URL.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Backend, TestApp};

async fn every_advertised_endpoint_answers(app: &TestApp) {
    for path in [
        "/realms/master/.well-known/openid-configuration",
        "/realms/master/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/realms/master",
        "/.well-known/openid-configuration/realms/master",
    ] {
        let r = app.get_public(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let doc = &r.body;
        assert_eq!(doc["issuer"], "http://localhost:8080/realms/master");
        for (key, value) in doc.as_object().unwrap() {
            let Some(url) = value
                .as_str()
                .filter(|_| key.ends_with("_endpoint") || key.ends_with("_uri"))
            else {
                continue;
            };
            let path = url
                .strip_prefix("http://localhost:8080")
                .expect("same origin");
            // GET for documents and userinfo, POST for the endpoints that take forms or JSON;
            // either way never 404/405.
            let method = if matches!(
                key.as_str(),
                "token_endpoint"
                    | "registration_endpoint"
                    | "introspection_endpoint"
                    | "revocation_endpoint"
                    | "device_authorization_endpoint"
            ) {
                Method::POST
            } else {
                Method::GET
            };
            let r = app.json(method, path, None, None).await;
            assert!(
                r.status != StatusCode::NOT_FOUND && r.status != StatusCode::METHOD_NOT_ALLOWED,
                "{key} {url} answered {}",
                r.status
            );
        }
        let grants: Vec<&str> = doc["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            grants,
            [
                "authorization_code",
                "client_credentials",
                "password",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code"
            ]
        );
        assert_eq!(
            doc["device_authorization_endpoint"],
            "http://localhost:8080/realms/master/protocol/openid-connect/auth/device"
        );
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        // Public clients register and use `none`, so it is advertised where they use it.
        for key in [
            "token_endpoint_auth_methods_supported",
            "revocation_endpoint_auth_methods_supported",
        ] {
            assert!(
                doc[key].as_array().unwrap().contains(&json!("none")),
                "{key}"
            );
        }
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    }
}

async fn unknown_realm_is_404(app: &TestApp) {
    for path in [
        "/realms/nope/.well-known/openid-configuration",
        "/realms/nope/protocol/openid-connect/certs",
    ] {
        assert_eq!(
            app.get_public(path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

async fn jwks_has_public_rs256_and_es256_keys(app: &TestApp) {
    let keys = app.jwks("master").await;
    let algs: Vec<&str> = keys.iter().filter_map(|k| k["alg"].as_str()).collect();
    assert!(
        algs.contains(&"RS256") && algs.contains(&"ES256"),
        "{algs:?}"
    );
    for k in &keys {
        assert!(k["kid"].is_string());
        assert_eq!(k["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "JWKS leaks {private}");
        }
    }
}

async fn health_and_metrics(app: &TestApp) {
    assert_eq!(app.get_public("/health/live").await.status, StatusCode::OK);
    let ready = app.get_public("/health/ready").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["status"], "UP");
    app.admin_token().await;
    let m = app.get_public("/metrics").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(
        m.text.contains(
            "latchkey_http_requests_total{method=\"GET\",route=\"/health/ready\",status=\"200\"} 1"
        ),
        "{}",
        m.text
    );
    assert!(
        m.text
            .contains("latchkey_tokens_issued_total{grant_type=\"password\"} 1")
    );
    assert!(m.text.contains("latchkey_http_request_duration_seconds_bucket{route=\"/realms/{realm}/protocol/openid-connect/token\""));
    assert!(
        m.header("x-request-id").is_some(),
        "every response carries its request id"
    );
}

/// A realm name with a space, `?` and `#` is percent-encoded in every URL the server emits
/// (issuer, endpoints, a token's `iss`), and that realm's tokens are still recognised; the
/// names `.` and `..`, which no URL path can hold, are refused.
async fn realm_names_are_encoded_in_urls(app: &TestApp) {
    let admin = app.admin_token().await;
    let r = app
        .post(
            "/admin/realms",
            &admin,
            json!({"realm": "team a?b#c", "enabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let enc = "team%20a%3Fb%23c";
    let issuer = format!("http://localhost:8080/realms/{enc}");
    let doc = app
        .get_public(&format!("/realms/{enc}/.well-known/openid-configuration"))
        .await;
    assert_eq!(doc.status, StatusCode::OK, "{}", doc.text);
    assert_eq!(doc.body["issuer"], issuer.as_str());
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "device_authorization_endpoint",
        "registration_endpoint",
    ] {
        let url = doc.body[key].as_str().unwrap_or_default();
        assert!(url.starts_with(&format!("{issuer}/")), "{key}: {url}");
    }
    let (_, secret) = app.create_service_client(&admin, enc, "api").await;
    let token = app.client_token(enc, "api", &secret).await;
    assert_eq!(app.verify(enc, &token).await["iss"], issuer.as_str());
    let r = app
        .form(
            &format!("/realms/{enc}/protocol/openid-connect/token/introspect"),
            &[("token", &token)],
            Some(("api", &secret)),
        )
        .await;
    assert_eq!(r.body["active"], true, "{}", r.text);
    for name in [".", ".."] {
        let r = app
            .post(
                "/admin/realms",
                &admin,
                json!({"realm": name, "enabled": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}: {}", r.text);
    }
}

/// The document is built again when what it says changes: a new client scope of the realm,
/// a realm deleted and made again under its name, and each `Host` names its own URLs.
async fn the_document_follows_the_realm_and_the_host(app: &TestApp) {
    let path = "/realms/acme/.well-known/openid-configuration";
    let admin = app.admin_with_realm("acme").await;
    let scopes = |r: &crate::support::Resp| -> Vec<String> {
        serde_json::from_value(r.body["scopes_supported"].clone()).unwrap()
    };
    let before = app.get_public(path).await;
    assert!(!scopes(&before).contains(&"reports".to_string()));
    let r = app
        .post(
            "/admin/realms/acme/client-scopes",
            &admin,
            json!({"name": "reports", "protocol": "openid-connect"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let after = app.get_public(path).await;
    assert!(
        scopes(&after).contains(&"reports".to_string()),
        "{}",
        after.text
    );

    let r = app.delete("/admin/realms/acme", &admin).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get_public(path).await.status, StatusCode::NOT_FOUND);
    app.create_realm(&admin, "acme").await;
    let again = app.get_public(path).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(
        !scopes(&again).contains(&"reports".to_string()),
        "{}",
        again.text
    );

    for host in ["a.example", "b.example:8443"] {
        let req = axum::http::Request::get(path)
            .header("host", host)
            .body(axum::body::Body::empty())
            .unwrap();
        let r = app.send(req).await;
        assert_eq!(
            r.body["issuer"],
            format!("http://{host}/realms/acme"),
            "{}",
            r.text
        );
        assert_eq!(
            r.body["token_endpoint"],
            format!("http://{host}/realms/acme/protocol/openid-connect/token")
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}

crate::on_both_backends!(
    every_advertised_endpoint_answers,
    unknown_realm_is_404,
    jwks_has_public_rs256_and_es256_keys,
    health_and_metrics,
    realm_names_are_encoded_in_urls,
    the_document_follows_the_realm_and_the_host,
);

#[tokio::test]
async fn the_auth_relative_path_serves_pre_keycloak_17_urls() {
    let app = TestApp::with_relative_path(Backend::Sqlite, "/auth")
        .await
        .unwrap();
    let r = app
        .get_public("/auth/realms/master/.well-known/openid-configuration")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["issuer"], "http://localhost:8080/auth/realms/master");
    assert_eq!(
        r.body["token_endpoint"],
        "http://localhost:8080/auth/realms/master/protocol/openid-connect/token"
    );
    assert_eq!(
        app.get_public("/auth/health/ready").await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get_public("/realms/master/.well-known/openid-configuration")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let token = app
        .form(
            "/auth/realms/master/protocol/openid-connect/token",
            &[
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", "admin"),
                ("password", "admin-password"),
            ],
            None,
        )
        .await;
    assert_eq!(token.status, StatusCode::OK);
    let at = token.body["access_token"].as_str().unwrap();
    let r = app.get("/auth/admin/realms/master", at).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
