//! Client authentication by JWT assertion (RFC 7523): `private_key_jwt` with registered
//! `jwks` or `jwks_uri`, and `client_secret_jwt`.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_core::keys::{self, Alg, SigningKey};
use serde_json::{Value, json};

use crate::support::{Resp, TestApp, assert_oauth_error, serve_locally, unix_now};

const TOKEN: &str = "/realms/acme/protocol/openid-connect/token";
const ISSUER: &str = "http://localhost:8080/realms/acme";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

async fn register(app: &TestApp, body: Value) -> Value {
    let admin = app.admin_token().await;
    if app.get("/admin/realms/acme", &admin).await.status == StatusCode::NOT_FOUND {
        app.create_realm(&admin, "acme").await;
    }
    let iat = app
        .initial_access_token(&admin, "acme", json!({"count": 1}))
        .await;
    let r = app.register("acme", Some(&iat), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

fn claims(client_id: &str, aud: &str, exp_in: i64, jti: &str) -> Value {
    let now = unix_now();
    json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": now + exp_in, "iat": now, "jti": jti})
}

async fn token_with(app: &TestApp, assertion: &str) -> Resp {
    app.client_assertion_grant("acme", assertion).await
}

fn hs256(secret: &str, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{body}");
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let sig = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

async fn private_key_jwt_with_registered_jwks(app: &TestApp) {
    for alg in [Alg::Es256, Alg::Rs256] {
        let generated = keys::generate(alg).unwrap();
        let key = SigningKey::from_pkcs8(generated.kid.clone(), alg, &generated.pkcs8).unwrap();
        let reg = register(app, json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [generated.public_jwk]}})).await;
        assert!(
            reg.get("client_secret").is_none(),
            "no secret for private_key_jwt"
        );
        let id = reg["client_id"].as_str().unwrap();
        let ok = latchkey_core::jwt::sign(&key, &claims(id, ISSUER, 60, "a1")).unwrap();
        let r = token_with(app, &ok).await;
        assert_eq!(r.status, StatusCode::OK, "{alg:?}: {}", r.text);
        assert_eq!(
            app.verify("acme", r.body["access_token"].as_str().unwrap())
                .await["azp"],
            json!(id)
        );
        // RFC 7523 §3: a jti is accepted once.
        let replay = token_with(app, &ok).await;
        assert_oauth_error(&replay, StatusCode::UNAUTHORIZED, "invalid_client");
        // The token endpoint URL is an audience too.
        let to_endpoint = latchkey_core::jwt::sign(
            &key,
            &claims(id, &format!("http://localhost:8080{TOKEN}"), 60, "a2"),
        )
        .unwrap();
        assert_eq!(token_with(app, &to_endpoint).await.status, StatusCode::OK);
        for (why, c) in [
            (
                "foreign audience",
                claims(id, "https://other.example", 60, "a3"),
            ),
            ("expired", claims(id, ISSUER, -120, "a4")),
            // Its jti would be kept until then: years of storage for one request.
            (
                "expires in years",
                claims(id, ISSUER, 300 * 24 * 3600 * 365, "a7"),
            ),
            ("expires past the hour", claims(id, ISSUER, 3700, "a8")),
            (
                "a jti of 1,000 characters",
                claims(id, ISSUER, 60, &"j".repeat(1000)),
            ),
            ("another subject", claims("someone-else", ISSUER, 60, "a5")),
        ] {
            let bad = latchkey_core::jwt::sign(&key, &c).unwrap();
            let r = token_with(app, &bad).await;
            assert_eq!(
                (r.status, r.body["error"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("invalid_client")),
                "{why}"
            );
        }
        let stranger = keys::generate(alg).unwrap();
        let stranger = SigningKey::from_pkcs8(generated.kid.clone(), alg, &stranger.pkcs8).unwrap();
        let forged = latchkey_core::jwt::sign(&stranger, &claims(id, ISSUER, 60, "a6")).unwrap();
        assert_eq!(
            token_with(app, &forged).await.status,
            StatusCode::UNAUTHORIZED,
            "signed by a key the client did not register"
        );
        // Its secretless registration cannot authenticate any other way.
        let plain = app
            .form(
                TOKEN,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", id),
                    ("client_secret", ""),
                ],
                None,
            )
            .await;
        assert_eq!(plain.status, StatusCode::UNAUTHORIZED);
    }
}

async fn client_secret_jwt_signs_with_the_secret(app: &TestApp) {
    let reg = register(app, json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_jwt"})).await;
    let id = reg["client_id"].as_str().unwrap();
    let secret = reg["client_secret"].as_str().unwrap();
    let r = token_with(app, &hs256(secret, &claims(id, ISSUER, 60, "s1"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let wrong = token_with(app, &hs256("not-the-secret", &claims(id, ISSUER, 60, "s2"))).await;
    assert_oauth_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_client");
    // An exp at either end of i64 is refused like any other bad exp (i64::MAX overflowed
    // the expiry check: a panic and a dropped connection).
    for (exp, jti) in [(i64::MAX, "s-max"), (i64::MIN, "s-min")] {
        let mut c = claims(id, ISSUER, 60, jti);
        c["exp"] = json!(exp);
        let r = token_with(app, &hs256(secret, &c)).await;
        assert_oauth_error(&r, StatusCode::UNAUTHORIZED, "invalid_client");
    }
    // alg none is never a signature.
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims(id, ISSUER, 60, "s3").to_string());
    assert_eq!(
        token_with(app, &format!("{header}.{body}.")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let wrong_type = app
        .form(
            TOKEN,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", "urn:example"),
                ("client_assertion", "x"),
            ],
            None,
        )
        .await;
    assert_eq!(wrong_type.body["error"], "invalid_client");
}

/// RFC 6749 §2.3: one client authentication method per request. A valid assertion beside
/// a Basic header with a wrong secret (or a body secret beside Basic) is `invalid_request`
/// at the token, introspection and revocation endpoints, and spends nothing.
async fn two_client_authentication_methods_are_invalid_request(app: &TestApp) {
    let generated = keys::generate(Alg::Es256).unwrap();
    let key = SigningKey::from_pkcs8(generated.kid.clone(), Alg::Es256, &generated.pkcs8).unwrap();
    let reg = register(app, json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [generated.public_jwk]}})).await;
    let id = reg["client_id"].as_str().unwrap();
    let assertion = latchkey_core::jwt::sign(&key, &claims(id, ISSUER, 60, "twice")).unwrap();
    let with_assertion = |extra: &'static [(&'static str, &'static str)]| {
        let mut pairs = vec![
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ];
        pairs.extend_from_slice(extra);
        pairs
    };
    for (path, extra) in [
        (TOKEN, &[("grant_type", "client_credentials")][..]),
        (
            "/realms/acme/protocol/openid-connect/token/introspect",
            &[("token", "x")][..],
        ),
        (
            "/realms/acme/protocol/openid-connect/revoke",
            &[("token", "x")][..],
        ),
    ] {
        let r = app
            .form(path, &with_assertion(extra), Some((id, "wrong")))
            .await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{path}: {}",
            r.text
        );
        let r = app
            .form(
                path,
                &[extra, &[("client_secret", "wrong")][..]].concat(),
                Some((id, "wrong")),
            )
            .await;
        assert_eq!(r.body["error"], "invalid_request", "{path}: {}", r.text);
    }
    // The assertion alone was valid and is still unspent.
    let ok = token_with(app, &assertion).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

/// Weak or unsupported client keys are refused at registration (RFC 7518 §3.3: RSA of
/// 2048 bits at least; ES256 is P-256 only).
async fn weak_client_keys_are_refused_at_registration(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let ec = keys::generate(Alg::Es256).unwrap().public_jwk;
    for jwk in [
        json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
        json!({"kty": "EC", "crv": "P-384", "x": ec["x"], "y": ec["y"]}),
    ] {
        let iat = app
            .initial_access_token(&admin, "acme", json!({"count": 1}))
            .await;
        let r = app
            .register(
                "acme",
                Some(&iat),
                json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [jwk]}}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")),
            "{jwk}: {}",
            r.text
        );
    }
}

crate::on_both_backends!(
    private_key_jwt_with_registered_jwks,
    client_secret_jwt_signs_with_the_secret,
    two_client_authentication_methods_are_invalid_request,
    weak_client_keys_are_refused_at_registration,
);

/// `jwks_uri` keys come through the safe fetcher (dev mode: loopback http allowed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_key_jwt_with_a_jwks_uri() {
    let app = TestApp::new(crate::support::Backend::Sqlite).await.unwrap();
    let generated = keys::generate(Alg::Es256).unwrap();
    let key = SigningKey::from_pkcs8(generated.kid.clone(), Alg::Es256, &generated.pkcs8).unwrap();
    let jwks = json!({"keys": [generated.public_jwk]});
    let doc = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let addr = serve_locally(doc).await;
    let reg = register(&app, json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": format!("http://{addr}/jwks"), "token_endpoint_auth_signing_alg": "ES256"})).await;
    let id = reg["client_id"].as_str().unwrap();
    let r = token_with(
        &app,
        &latchkey_core::jwt::sign(&key, &claims(id, ISSUER, 60, "u1")).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Outbound fetches at the endpoint: a `jwks_uri` that redirects (here to the server that
/// does hold the keys) or names a private address is never followed or fetched; the client
/// cannot authenticate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_uri_is_not_followed_through_redirects_nor_to_private_addresses() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let app = TestApp::new(crate::support::Backend::Sqlite).await.unwrap();
    let generated = keys::generate(Alg::Es256).unwrap();
    let key = SigningKey::from_pkcs8(generated.kid.clone(), Alg::Es256, &generated.pkcs8).unwrap();
    let jwks = json!({"keys": [generated.public_jwk]});
    let key_hits = Arc::new(AtomicUsize::new(0));
    let hits = key_hits.clone();
    let doc = axum::Router::new()
        .route(
            "/jwks",
            axum::routing::get(move || {
                let jwks = jwks.clone();
                hits.fetch_add(1, Ordering::SeqCst);
                async move { axum::Json(jwks) }
            }),
        )
        .route(
            "/moved",
            axum::routing::get(|| async { axum::response::Redirect::temporary("/jwks") }),
        );
    let addr = serve_locally(doc).await;
    for uri in [
        format!("http://{addr}/moved"),
        "https://169.254.169.254/latest/jwks".to_string(),
        "https://10.1.2.3/jwks".to_string(),
        "https://[fd00::1]/jwks".to_string(),
    ] {
        let reg = register(&app, json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": uri, "token_endpoint_auth_signing_alg": "ES256"})).await;
        let id = reg["client_id"].as_str().expect("registered");
        let r = token_with(
            &app,
            &latchkey_core::jwt::sign(&key, &claims(id, ISSUER, 60, &format!("j-{id}"))).unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}: {}", r.text);
        assert_eq!(r.body["error"], "invalid_client", "{uri}");
    }
    assert_eq!(
        key_hits.load(Ordering::SeqCst),
        0,
        "the keys behind the redirect were never fetched"
    );
    // Control: the same registration with the keys' own URL authenticates.
    let reg = register(&app, json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": format!("http://{addr}/jwks"), "token_endpoint_auth_signing_alg": "ES256"})).await;
    let id = reg["client_id"].as_str().unwrap();
    let r = token_with(
        &app,
        &latchkey_core::jwt::sign(&key, &claims(id, ISSUER, 60, "j-control")).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(key_hits.load(Ordering::SeqCst), 1);
}
