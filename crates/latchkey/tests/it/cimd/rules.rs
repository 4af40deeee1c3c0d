//! What the server refuses before a document client exists, each with its reason on the
//! error page (never a redirect) and a `CLIENT_REGISTER_ERROR` event: the draft's URL rules
//! (before any fetch), the fetch rules (no redirects, 200 only, special-use addresses,
//! the size limit) and the document rules.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use latchkey_server::fetch::{FetchPolicy, Fetcher};
use serde_json::{Value, json};

use super::{Answer, Documents, REALM, authorize, events, page_error, realm};
use crate::support::{Backend, TestApp};

/// Asserts the authorization request of `client_id` is an error page naming `reason`.
async fn refused(app: &TestApp, client_id: &str, reason: &str) {
    let r = authorize(app, client_id).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{client_id}: {}", r.text);
    assert!(r.header("location").is_none(), "never a redirect");
    let message = page_error(&r);
    assert!(
        message.contains(reason),
        "{client_id}: {message:?} does not name {reason:?}"
    );
}

/// Draft §3: each URL rule, refused before anything is fetched.
async fn url_rules_are_checked_before_any_fetch(app: &TestApp) {
    let admin = realm(app, false, json!({})).await;
    let docs = Documents::start().await;
    let port = docs.base.rsplit(':').next().unwrap().to_string();
    let cases: Vec<(String, &str)> = vec![
        ("http://app.example/client.json".into(), "must use https"),
        (docs.base.clone(), "must contain a path"),
        (format!("{}/", docs.base), "must contain a path"),
        (docs.url("/client.json#me"), "must not contain a fragment"),
        (
            format!("http://me@127.0.0.1:{port}/client.json"),
            "must not contain user info",
        ),
        (
            docs.url("/a/../client.json"),
            "must not contain . or .. path segments",
        ),
        (
            docs.url("/./client.json"),
            "must not contain . or .. path segments",
        ),
        (docs.url("/client.json?v=1"), "must not contain a query"),
    ];
    for (url, reason) in &cases {
        refused(app, url, reason).await;
    }
    assert_eq!(
        docs.hits("/client.json") + docs.hits("/a/../client.json") + docs.hits("/"),
        0,
        "nothing was fetched"
    );
    let errors = events(app, &admin, "CLIENT_REGISTER_ERROR").await;
    assert_eq!(errors.len(), cases.len(), "{errors:?}");
    assert!(
        errors
            .iter()
            .all(|e| e["details"]["registration_auth"] == "cimd")
    );
}

/// The fetch rules: 200 only, no redirect followed, the size limit (a realm setting).
async fn fetch_rules(app: &TestApp) {
    let admin = realm(app, false, json!({})).await;
    let docs = Documents::start().await;
    let valid = docs.serve_client("/valid.json", json!({}));
    docs.serve(
        "/moved.json",
        Answer {
            status: StatusCode::FOUND,
            body: String::new(),
            headers: vec![("location", valid.clone())],
            delay_ms: 0,
        },
    );
    refused(app, &docs.url("/moved.json"), "redirects are not followed").await;
    assert_eq!(docs.hits("/valid.json"), 0, "the redirect was not followed");

    refused(app, &docs.url("/missing.json"), "http status 404").await;
    docs.serve(
        "/broken.json",
        Answer {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: "{}".into(),
            headers: vec![],
            delay_ms: 0,
        },
    );
    refused(app, &docs.url("/broken.json"), "http status 500").await;

    // Over 5,000 bytes: refused by default, served once the realm allows more.
    let big = docs.serve_client("/big.json", json!({"padding": "x".repeat(6_000)}));
    refused(app, &big, "exceeds the size limit").await;
    app.update_realm(
        &admin,
        REALM,
        json!({"attributes": {"clientIdMetadataDocumentMaxBytes": "10000"}}),
    )
    .await;
    let ok = authorize(app, &big).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);

    let errors = events(app, &admin, "CLIENT_REGISTER_ERROR").await;
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(
        errors
            .iter()
            .all(|e| e["error"] == "invalid_client" && e["clientId"].is_string())
    );
}

/// Draft §4 and RFC 7591: each document rule, one case each.
async fn document_rules(app: &TestApp) {
    let admin = realm(app, false, json!({})).await;
    let docs = Documents::start().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/other-id.json",
            json!({"client_id": "https://other.example/c.json"}),
            "not the URL it was fetched from",
        ),
        (
            "/no-id.json",
            json!({"client_id": null}),
            "has no client_id",
        ),
        (
            "/no-redirects.json",
            json!({"redirect_uris": null}),
            "must list its redirect_uris",
        ),
        (
            "/bad-redirect.json",
            json!({"redirect_uris": ["https://app.example/cb#x"]}),
            "fragment not allowed",
        ),
        (
            "/bad-name.json",
            json!({"client_name": 42}),
            "client_name must be",
        ),
        (
            "/secret.json",
            json!({"client_secret": "s3cret"}),
            "must not contain client_secret",
        ),
        (
            "/secret-expiry.json",
            json!({"client_secret_expires_at": 0}),
            "must not contain client_secret_expires_at",
        ),
        (
            "/basic.json",
            json!({"token_endpoint_auth_method": "client_secret_basic"}),
            "is a shared secret",
        ),
        (
            "/post.json",
            json!({"token_endpoint_auth_method": "client_secret_post"}),
            "is a shared secret",
        ),
        (
            "/jwt.json",
            json!({"token_endpoint_auth_method": "client_secret_jwt"}),
            "is a shared secret",
        ),
        (
            "/no-keys.json",
            json!({"token_endpoint_auth_method": "private_key_jwt"}),
            "private_key_jwt needs the client's keys",
        ),
        (
            "/implicit.json",
            json!({"grant_types": ["implicit"]}),
            "not allowed (OAuth 2.1)",
        ),
    ];
    for (path, extra, reason) in &cases {
        let url = docs.serve_client(path, extra.clone());
        refused(app, &url, reason).await;
    }
    docs.serve(
        "/not-json.json",
        Answer {
            status: StatusCode::OK,
            body: "<html>".into(),
            headers: vec![],
            delay_ms: 0,
        },
    );
    refused(app, &docs.url("/not-json.json"), "not a JSON object").await;
    docs.serve("/array.json", Answer::json(&json!([1, 2])));
    refused(app, &docs.url("/array.json"), "not a JSON object").await;

    let errors = events(app, &admin, "CLIENT_REGISTER_ERROR").await;
    assert_eq!(errors.len(), cases.len() + 2, "{errors:?}");
    let named: Vec<&str> = errors
        .iter()
        .filter_map(|e| e["details"]["fetch"].as_str())
        .collect();
    assert_eq!(named.len(), errors.len(), "each names the fetch outcome");
    assert!(named.iter().all(|f| f.starts_with("http 200")), "{named:?}");

    // Tolerated: unknown members ignored, unsupported grant types dropped.
    let url = docs.serve_client(
        "/tolerated.json",
        json!({"grant_types": ["authorization_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"], "software_flavour": "x"}),
    );
    let ok = authorize(app, &url).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    // Nothing refused was stored.
    let all = app
        .get(&format!("/admin/realms/{REALM}/clients"), &admin)
        .await;
    let document_clients = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["attributes"]["registration.auth"] == "cimd")
        .count();
    assert_eq!(document_clients, 1);
}

/// Special-use addresses: an IP literal, and a host name resolving to one (the guard in
/// the fetcher's resolver; names answered by a static table here).
async fn special_use_addresses_are_refused(backend: Backend) {
    let dns: HashMap<String, Vec<IpAddr>> = [
        (
            "metadata.evil.example".to_string(),
            vec!["169.254.169.254".parse().unwrap()],
        ),
        (
            "intranet.evil.example".to_string(),
            vec!["10.1.2.3".parse().unwrap()],
        ),
    ]
    .into_iter()
    .collect();
    let Some(app) = TestApp::with_state(
        backend,
        |_| {},
        |state| state.fetcher = Fetcher::with_static_dns(FetchPolicy::dev(), Arc::new(dns)),
    )
    .await
    else {
        return;
    };
    let admin = realm(&app, false, json!({})).await;
    refused(
        &app,
        "https://10.0.0.1/client.json",
        "address 10.0.0.1 is not allowed",
    )
    .await;
    refused(&app, "https://[fd00::1]/client.json", "is not allowed").await;
    refused(
        &app,
        "https://metadata.evil.example/client.json",
        "169.254.169.254",
    )
    .await;
    refused(&app, "https://intranet.evil.example/c.json", "10.1.2.3").await;
    assert_eq!(events(&app, &admin, "CLIENT_REGISTER_ERROR").await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn special_use_addresses_are_refused_sqlite() {
    special_use_addresses_are_refused(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn special_use_addresses_are_refused_postgres() {
    special_use_addresses_are_refused(Backend::Postgres).await;
}

/// Trusted domains: a URL whose host is not listed is refused before any fetch.
async fn trusted_domains_are_checked_before_any_fetch(app: &TestApp) {
    let admin = realm(
        app,
        false,
        json!({"clientIdMetadataDocumentTrustedDomains": "tools.example, *.apps.example"}),
    )
    .await;
    let docs = Documents::start().await;
    let url = docs.serve_client("/client.json", json!({}));
    refused(app, &url, "not one of the realm's trusted domains").await;
    assert_eq!(docs.hits("/client.json"), 0);
    app.update_realm(
        &admin,
        REALM,
        json!({"attributes": {"clientIdMetadataDocumentTrustedDomains": "tools.example,127.0.0.1"}}),
    )
    .await;
    let ok = authorize(app, &url).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(docs.hits("/client.json"), 1);
}

crate::on_both_backends!(
    url_rules_are_checked_before_any_fetch,
    fetch_rules,
    document_rules,
    trusted_domains_are_checked_before_any_fetch,
);
