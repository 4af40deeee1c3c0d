//! The per-node document cache: HTTP lifetimes clamped to the realm's bounds (short bounds
//! here, so the tests wait a second or two), one fetch for many concurrent first requests,
//! failures never kept, changed and gone documents seen at the next fetch.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use super::{
    Answer, Documents, REALM, REDIRECT, VERIFIER, auth_url, authorize, events, listed, page_error,
    realm,
};
use crate::support::browser::{Browser, location, query};
use crate::support::{TestApp, send_to};

/// Realm bounds of `min`..`max` seconds.
fn bounds(min: u64, max: u64) -> serde_json::Value {
    json!({
        "clientIdMetadataDocumentCacheMinSeconds": min.to_string(),
        "clientIdMetadataDocumentCacheMaxSeconds": max.to_string(),
    })
}

async fn wait_secs(s: f64) {
    tokio::time::sleep(Duration::from_secs_f64(s)).await;
}

/// RFC 9111 lifetimes within the realm's bounds: `max-age=3600` is cut to the maximum;
/// `no-store` is kept for the minimum (never fetched more often than that).
async fn the_cache_follows_http_within_the_realm_bounds(app: &TestApp) {
    realm(app, false, bounds(1, 2)).await;
    let docs = Documents::start().await;
    let url = docs.serve_client("/long.json", json!({}));
    let long = docs.url("/long.json");
    docs.serve(
        "/long.json",
        Answer::json(&json!({"client_id": long, "redirect_uris": [REDIRECT]}))
            .with_header("cache-control", "public, max-age=3600"),
    );
    assert_eq!(authorize(app, &url).await.status, StatusCode::OK);
    assert_eq!(authorize(app, &url).await.status, StatusCode::OK);
    assert_eq!(docs.hits("/long.json"), 1, "kept");
    wait_secs(2.3).await;
    assert_eq!(authorize(app, &url).await.status, StatusCode::OK);
    assert_eq!(docs.hits("/long.json"), 2, "an hour cut to the realm's 2 s");

    let no_store = docs.url("/no-store.json");
    docs.serve(
        "/no-store.json",
        Answer::json(&json!({"client_id": no_store, "redirect_uris": [REDIRECT]}))
            .with_header("cache-control", "no-store"),
    );
    assert_eq!(authorize(app, &no_store).await.status, StatusCode::OK);
    assert_eq!(authorize(app, &no_store).await.status, StatusCode::OK);
    assert_eq!(docs.hits("/no-store.json"), 1, "kept for the minimum");
    wait_secs(1.2).await;
    assert_eq!(authorize(app, &no_store).await.status, StatusCode::OK);
    assert_eq!(docs.hits("/no-store.json"), 2);
}

/// 50 concurrent first authorizations of one URL: one fetch, one client, one event.
async fn concurrent_first_requests_cause_one_fetch(app: &TestApp) {
    let admin = realm(app, false, json!({})).await;
    let docs = Documents::start().await;
    let url = docs.url("/client.json");
    let mut answer = Answer::json(&json!({"client_id": url, "redirect_uris": [REDIRECT]}));
    answer.delay_ms = 300;
    docs.serve("/client.json", answer);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let req = Request::get(auth_url(&url))
                .header(header::HOST, "localhost:8080")
                .body(Body::empty())
                .unwrap();
            tokio::spawn(send_to(app.router.clone(), req))
        })
        .collect();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    assert_eq!(docs.hits("/client.json"), 1, "exactly one fetch");
    assert!(listed(app, &admin, &url).await.is_some());
    let registered = events(app, &admin, "CLIENT_REGISTER").await;
    assert_eq!(registered.len(), 1, "{registered:?}");
    assert!(
        registered[0]["details"]["fetch"]
            .as_str()
            .unwrap()
            .starts_with("http 200"),
        "{registered:?}"
    );
}

/// A failed fetch is not kept: once the document is fixed, the next request gets it.
async fn errors_are_never_cached(app: &TestApp) {
    realm(app, false, json!({})).await;
    let docs = Documents::start().await;
    let url = docs.url("/client.json");
    docs.serve(
        "/client.json",
        Answer {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: String::new(),
            headers: vec![("cache-control", "max-age=3600".into())],
            delay_ms: 0,
        },
    );
    assert_eq!(authorize(app, &url).await.status, StatusCode::BAD_REQUEST);
    // An invalid document is not kept either.
    docs.serve("/client.json", Answer::json(&json!({"client_id": url})));
    assert_eq!(authorize(app, &url).await.status, StatusCode::BAD_REQUEST);
    docs.serve_client("/client.json", json!({}));
    let ok = authorize(app, &url).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(docs.hits("/client.json"), 3);
}

/// A changed document is honoured at the next fetch (`CLIENT_UPDATE`); a document gone at
/// that fetch stops new authorizations, while tokens already issued keep working.
async fn changed_and_gone_documents(app: &TestApp) {
    let admin = realm(app, false, bounds(1, 1)).await;
    let docs = Documents::start().await;
    let url = docs.serve_client("/client.json", json!({"client_name": "First Name"}));
    let access = sign_in_and_redeem(app, &url).await;
    assert_eq!(
        listed(app, &admin, &url).await.unwrap()["name"],
        "First Name"
    );

    docs.serve_client("/client.json", json!({"client_name": "Second Name"}));
    wait_secs(1.2).await;
    assert_eq!(authorize(app, &url).await.status, StatusCode::OK);
    let stored = listed(app, &admin, &url).await.unwrap();
    assert_eq!(stored["name"], "Second Name");
    assert_eq!(stored["attributes"]["registration.auth"], "cimd");
    assert_eq!(events(app, &admin, "CLIENT_UPDATE").await.len(), 1);
    // The same document again changes nothing.
    wait_secs(1.2).await;
    assert_eq!(authorize(app, &url).await.status, StatusCode::OK);
    assert_eq!(events(app, &admin, "CLIENT_UPDATE").await.len(), 1);

    docs.forget("/client.json");
    wait_secs(1.2).await;
    let gone = authorize(app, &url).await;
    assert_eq!(gone.status, StatusCode::BAD_REQUEST, "{}", gone.text);
    assert!(page_error(&gone).contains("404"), "{}", gone.text);
    let userinfo = app
        .get(
            &format!("/realms/{REALM}/protocol/openid-connect/userinfo"),
            &access,
        )
        .await;
    assert_eq!(userinfo.status, StatusCode::OK, "{}", userinfo.text);
}

/// Signs alice in for the public client `url`, accepts the consent page and redeems the
/// code with PKCE; returns the access token.
pub async fn sign_in_and_redeem(app: &TestApp, url: &str) -> String {
    let mut browser = Browser::default();
    let login = browser.get(app, &auth_url(url)).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let consent = browser
        .submit(
            app,
            &login,
            &[("username", "alice"), ("password", "alice-pass")],
        )
        .await;
    assert_eq!(
        consent.status,
        StatusCode::OK,
        "consent page: {}",
        consent.text
    );
    let done = browser
        .submit(app, &consent, &[("consent", "accept")])
        .await;
    let to = location(&done);
    assert!(to.starts_with(REDIRECT), "{to}");
    let code = query(&to)["code"].clone();
    let token = app
        .form(
            &format!("/realms/{REALM}/protocol/openid-connect/token"),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", url),
            ],
            None,
        )
        .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    token.body["access_token"].as_str().unwrap().to_string()
}

crate::on_both_backends!(
    the_cache_follows_http_within_the_realm_bounds,
    concurrent_first_requests_cause_one_fetch,
    errors_are_never_cached,
    changed_and_gone_documents,
);
