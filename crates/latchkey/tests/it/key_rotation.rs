//! Signing key rotation through key provider components: tokens issued before a rotation
//! keep verifying (JWKS, introspection), tokens after it carry the new `kid`; a disabled
//! key leaves the JWKS; deleting a provider deletes its key; bad configs are 400; a second
//! node on the same PostgreSQL follows at once; concurrent changes never take a realm's
//! last signing key of an algorithm.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use latchkey_core::crypto::SecretBox;
use latchkey_server::{AppState, Limits, ServerSettings};
use latchkey_store::SqlStore;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, assert_error_message, send_to, serde_urlencoded_pairs};

const KEY_PROVIDER: &str = "org.keycloak.keys.KeyProvider";

fn kid(token: &str) -> String {
    latchkey_core::jwt::parse(token)
        .expect("a JWT")
        .kid()
        .expect("a kid")
        .to_string()
}

async fn keys(app: &TestApp, admin: &str) -> Value {
    let r = app.get("/admin/realms/acme/keys", admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// The realm's RS256 provider component, by id.
async fn rsa_providers(app: &TestApp, admin: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/admin/realms/acme/components?type={KEY_PROVIDER}"),
            admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
        .as_array()
        .expect("list")
        .iter()
        .filter(|c| c["providerId"] == "rsa-generated")
        .cloned()
        .collect()
}

/// Adds an `rsa-generated` provider of `priority`; returns its id (the new key's kid).
async fn add_rsa(app: &TestApp, admin: &str, priority: i64) -> String {
    let r = app
        .post(
            "/admin/realms/acme/components",
            admin,
            json!({"name": "rotated", "providerId": "rsa-generated", "providerType": KEY_PROVIDER,
                   "config": {"priority": [priority.to_string()], "keySize": ["2048"]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.location_id()
}

async fn set_active(app: &TestApp, admin: &str, id: &str, name: &str, value: bool) {
    let mut c = app
        .get(&format!("/admin/realms/acme/components/{id}"), admin)
        .await
        .body;
    c["config"][name] = json!([value.to_string()]);
    let r = app
        .put(&format!("/admin/realms/acme/components/{id}"), admin, c)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

async fn active(app: &TestApp, realm: &str, token: &str, client: &str, secret: &str) -> bool {
    let r = app
        .form(
            &format!("/realms/{realm}/protocol/openid-connect/token/introspect"),
            &[("token", token)],
            Some((client, secret)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["active"] == true
}

/// Tokens issued continuously while an admin rotates the RS256 key.
async fn rotation_under_load_keeps_every_token_verifying(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, secret) = app.create_service_client(&admin, "acme", "api").await;
    let old = keys(app, &admin).await["active"]["RS256"]
        .as_str()
        .expect("kid")
        .to_string();
    let providers = rsa_providers(app, &admin).await;
    assert_eq!(providers.len(), 1);
    assert_eq!(
        providers[0]["id"],
        old.as_str(),
        "a provider per generated key"
    );
    assert_eq!(providers[0]["config"]["priority"], json!(["100"]));
    assert!(
        providers[0].get("subType").is_none(),
        "no subType, as in Keycloak"
    );

    // A task issues tokens without pause on the multi-threaded runtime while this one
    // rotates; each token is tagged with whether the rotation had finished when it was asked.
    let rotated = Arc::new(AtomicBool::new(false));
    let issued = Arc::new(AtomicUsize::new(0));
    let issuing = tokio::spawn({
        let (router, rotated, issued, secret) = (
            app.router.clone(),
            rotated.clone(),
            issued.clone(),
            secret.clone(),
        );
        async move {
            let mut tokens = Vec::new();
            let mut after = 0;
            while after < 100 {
                let was_rotated = rotated.load(Ordering::SeqCst);
                let r = send_to(router.clone(), token_request("acme", "api", &secret)).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                let t = r.body["access_token"].as_str().expect("token").to_string();
                after += usize::from(was_rotated);
                tokens.push((was_rotated, t));
                issued.fetch_add(1, Ordering::SeqCst);
                // A breath between requests, so that the admin's rotation is not starved
                // on two worker threads and the count stays one the checks can go through.
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            tokens
        }
    });
    while issued.load(Ordering::SeqCst) < 50 {
        tokio::task::yield_now().await;
    }
    let new = add_rsa(app, &admin, 200).await;
    set_active(app, &admin, &old, "active", false).await;
    rotated.store(true, Ordering::SeqCst);
    let tokens = issuing.await.expect("the issuing task");
    let before = tokens.iter().filter(|(after, _)| !after).count();
    let after: Vec<_> = tokens.iter().filter(|(after, _)| *after).collect();
    for (_, t) in &tokens {
        app.verify("acme", t).await;
        assert!(
            active(app, "acme", t, "api", &secret).await,
            "introspection"
        );
    }
    assert!(
        after.iter().all(|(_, t)| kid(t) == new),
        "after: the new kid"
    );
    assert!(
        tokens.iter().any(|(_, t)| kid(t) == old),
        "some tokens before"
    );
    println!(
        "rotation under load: {before} tokens issued before the rotation, {} after, {} verified",
        after.len(),
        tokens.len()
    );

    // Both keys are published; the old one is passive.
    let listed = keys(app, &admin).await;
    assert_eq!(listed["active"]["RS256"], new.as_str());
    let status = |kid: &str| {
        listed["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["kid"] == kid)
            .map(|k| k["status"].clone())
    };
    assert_eq!(status(&old), Some(json!("PASSIVE")));
    assert_eq!(status(&new), Some(json!("ACTIVE")));
    let jwks = app.jwks("acme").await;
    assert!(jwks.iter().any(|k| k["kid"] == old.as_str()));
    assert!(jwks.iter().any(|k| k["kid"] == new.as_str()));

    // Disabled: the old key leaves the JWKS and its tokens stop verifying.
    let (_, old_token) = tokens.iter().find(|(_, t)| kid(t) == old).expect("old");
    set_active(app, &admin, &old, "enabled", false).await;
    assert!(
        !app.jwks("acme")
            .await
            .iter()
            .any(|k| k["kid"] == old.as_str())
    );
    assert_eq!(
        keys(app, &admin).await["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["kid"] == old.as_str())
            .map(|k| k["status"].clone()),
        Some(json!("DISABLED"))
    );
    assert!(!active(app, "acme", old_token, "api", &secret).await);
    let jwks = app.jwks("acme").await;
    assert!(
        latchkey_core::jwt::parse(old_token)
            .unwrap()
            .verify(&jwks)
            .is_err()
    );
    // Deleted: the key is gone from the keys API too.
    let r = app
        .delete(&format!("/admin/realms/acme/components/{old}"), &admin)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let listed = keys(app, &admin).await;
    assert!(
        !listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == old.as_str())
    );
    assert_eq!(kid(&app.client_token("acme", "api", &secret).await), new);
}

/// Bad provider configs are Keycloak-style 400s.
async fn bad_provider_configs_are_400(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    for (provider, config, message) in [
        (
            "rsa-generated",
            json!({"keySize": ["1024"]}),
            "'Key size' should be 2048, 3072 or 4096",
        ),
        (
            "rsa-generated",
            json!({"priority": ["high"]}),
            "'Priority' should be a number",
        ),
        (
            "ecdsa-generated",
            json!({"ecdsaEllipticCurveKey": ["P-384"]}),
            "'Elliptic Curve' \"P-384\" is not supported: P-256",
        ),
        (
            "hmac-generated",
            json!({}),
            "Unknown key provider \"hmac-generated\": rsa-generated or ecdsa-generated",
        ),
    ] {
        let r = app
            .post(
                "/admin/realms/acme/components",
                &admin,
                json!({"providerId": provider, "providerType": KEY_PROVIDER, "config": config}),
            )
            .await;
        assert_error_message(&r, StatusCode::BAD_REQUEST, message);
    }
    // An EC provider of higher priority takes over ES256.
    let r = app
        .post(
            "/admin/realms/acme/components",
            &admin,
            json!({"providerId": "ecdsa-generated", "providerType": KEY_PROVIDER,
                   "config": {"priority": ["500"]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        keys(app, &admin).await["active"]["ES256"],
        r.location_id().as_str()
    );
    // The realm's only RS256 key can be neither deleted nor made passive.
    let only = rsa_providers(app, &admin).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let message =
        "The realm would have no active RS256 key: add or activate another key provider first";
    let r = app
        .delete(&format!("/admin/realms/acme/components/{only}"), &admin)
        .await;
    assert_error_message(&r, StatusCode::BAD_REQUEST, message);
    let r = app
        .put(
            &format!("/admin/realms/acme/components/{only}"),
            &admin,
            json!({"config": {"active": ["false"]}}),
        )
        .await;
    assert_error_message(&r, StatusCode::BAD_REQUEST, message);
    let (_, secret) = app.create_service_client(&admin, "acme", "api").await;
    app.client_token("acme", "api", &secret).await;
}

/// Concurrent changes that each leave another RSA key active must not together leave none:
/// four RS256 providers deleted (then made passive) all at once, in 8 rounds. Each round
/// keeps an active RS256 key, refuses at least one change with the 400, and still issues
/// tokens; no change answers 5xx.
async fn concurrent_changes_never_remove_the_last_signer(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, secret) = app.create_service_client(&admin, "acme", "api").await;
    for round in 0..8 {
        while rsa_providers(app, &admin).await.len() < 4 {
            add_rsa(app, &admin, 50 + round).await;
        }
        let providers = rsa_providers(app, &admin).await;
        let tasks: Vec<_> = providers
            .iter()
            .map(|c| {
                let id = c["id"].as_str().unwrap();
                let path = format!("/admin/realms/acme/components/{id}");
                let builder = Request::builder()
                    .uri(path)
                    .header(header::HOST, "localhost:8080")
                    .header(header::AUTHORIZATION, format!("Bearer {admin}"));
                let req = if round % 2 == 0 {
                    builder.method(Method::DELETE).body(Body::empty())
                } else {
                    let mut passive = c.clone();
                    passive["config"]["active"] = json!(["false"]);
                    builder
                        .method(Method::PUT)
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(passive.to_string()))
                };
                tokio::spawn(send_to(app.router.clone(), req.unwrap()))
            })
            .collect();
        let mut refused = 0;
        for t in tasks {
            let r = t.await.unwrap();
            match r.status {
                StatusCode::NO_CONTENT => {}
                StatusCode::BAD_REQUEST => {
                    refused += 1;
                    assert!(
                        r.body["errorMessage"]
                            .as_str()
                            .is_some_and(|m| m.starts_with("The realm would have no active")),
                        "{}",
                        r.text
                    );
                }
                other => panic!("round {round}: {other} {}", r.text),
            }
        }
        assert!(refused >= 1, "round {round}: every change went through");
        assert!(
            keys(app, &admin).await["active"]["RS256"].is_string(),
            "round {round}: no active RS256 key left"
        );
        kid(&app.client_token("acme", "api", &secret).await);
        // Passive keys from an odd round are deleted, so the next round starts from active ones.
        for c in rsa_providers(app, &admin).await {
            if c["config"]["active"] == json!(["false"]) {
                let id = c["id"].as_str().unwrap();
                let r = app
                    .delete(&format!("/admin/realms/acme/components/{id}"), &admin)
                    .await;
                assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
            }
        }
    }
}

crate::on_both_backends!(
    rotation_under_load_keeps_every_token_verifying,
    bad_provider_configs_are_400,
    concurrent_changes_never_remove_the_last_signer,
);

fn token_request(realm: &str, client: &str, secret: &str) -> Request<Body> {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client}:{secret}"));
    Request::builder()
        .method(Method::POST)
        .uri(format!("/realms/{realm}/protocol/openid-connect/token"))
        .header(header::HOST, "localhost:8080")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .body(Body::from(serde_urlencoded_pairs(&[(
            "grant_type",
            "client_credentials",
        )])))
        .expect("request")
}

/// Two nodes on one PostgreSQL: after a rotation on node A, node B signs with the new kid
/// at once and publishes both keys.
#[tokio::test]
async fn a_second_node_follows_a_rotation_at_once() {
    let Some(app) = TestApp::new(Backend::Postgres).await else {
        return;
    };
    let store2 = Arc::new(SqlStore::connect(&app.db.url).await.unwrap());
    let settings = ServerSettings {
        hostname: None,
        relative_path: String::new(),
        proxy_headers: None,
        proxy_trusted: Default::default(),
        dev_mode: true,
        max_body_size: latchkey_server::DEFAULT_BODY_LIMIT,
        limits: Limits::off(),
    };
    let sealer = Arc::new(SecretBox::new(&[9u8; 32]).unwrap());
    let router2 = latchkey_server::router(Arc::new(AppState::new(store2, sealer, settings)));
    let admin = app.admin_with_realm("acme").await;
    let (_, secret) = app.create_service_client(&admin, "acme", "api").await;
    let on_b = || async {
        let r = send_to(router2.clone(), token_request("acme", "api", &secret)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        kid(r.body["access_token"].as_str().expect("token"))
    };
    let old = on_b().await;
    let before_b = app
        .get_public("/realms/acme/protocol/openid-connect/certs")
        .await;
    assert_eq!(before_b.status, StatusCode::OK);

    let new = add_rsa(&app, &admin, 200).await;
    set_active(&app, &admin, &old, "active", false).await;
    assert_eq!(on_b().await, new, "node B signs with the new key at once");
    let certs = send_to(
        router2.clone(),
        Request::builder()
            .uri("/realms/acme/protocol/openid-connect/certs")
            .header(header::HOST, "localhost:8080")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let kids: Vec<&str> = certs.body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        kids.contains(&old.as_str()) && kids.contains(&new.as_str()),
        "{kids:?}"
    );
}
