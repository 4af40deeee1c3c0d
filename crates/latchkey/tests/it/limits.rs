//! Abuse limits (only failing attempts are throttled, a valid credential always served):
//! per-address rate limits on anonymous registration and on failed
//! registration/initial access tokens (429 + `Retry-After`), header (431) and body (413)
//! size limits with JSON bodies. The limits are in-memory and per node, so SQLite suffices.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use latchkey_server::Limits;
use serde_json::{Value, json};

use crate::support::{Backend, Resp, TestApp, json_request};

const REG: &str = "/realms/acme/clients-registrations/openid-connect";

fn limits(anonymous: u32, failed: u32, window: Duration) -> Limits {
    Limits {
        anonymous_registrations: anonymous,
        failed_tokens: failed,
        window,
        ..Limits::off()
    }
}

async fn app_with(limits: Limits) -> TestApp {
    let app = TestApp::with_limits(Backend::Sqlite, "", true, limits)
        .await
        .expect("sqlite");
    let admin = app.admin_with_realm("acme").await;
    app.open_to_anonymous_registration(&admin, "acme").await;
    app
}

/// A JSON request from `from` (the connection's peer address).
async fn send_from(
    app: &TestApp,
    from: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let peer: SocketAddr = format!("{from}:40000").parse().unwrap();
    let mut req = json_request(method, path, token, body);
    req.extensions_mut().insert(ConnectInfo(peer));
    app.send(req).await
}

async fn register_from(app: &TestApp, from: &str, token: Option<&str>) -> Resp {
    send_from(
        app,
        from,
        Method::POST,
        REG,
        token,
        Some(json!({"redirect_uris": ["https://app.example/cb"]})),
    )
    .await
}

fn assert_throttled(r: &Resp) -> u64 {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.body["error"], "too_many_requests", "{}", r.text);
    assert!(r.body["error_description"].is_string());
    let secs: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in seconds");
    secs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_registration_is_limited_per_address() {
    let app = app_with(limits(3, 0, Duration::from_secs(60))).await;
    for _ in 0..3 {
        let r = register_from(&app, "198.51.100.7", None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let r = register_from(&app, "198.51.100.7", None).await;
    let secs = assert_throttled(&r);
    assert!((1..=60).contains(&secs), "{secs}");
    // Another address is unaffected.
    let r = register_from(&app, "198.51.100.8", None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // Authenticated registration (an initial access token) is not anonymous: not limited.
    let admin = app.admin_token().await;
    let iat = app
        .initial_access_token(&admin, "acme", json!({"count": 2, "expiration": 600}))
        .await;
    let r = register_from(&app, "198.51.100.7", Some(&iat)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// One IPv6 host holds a whole /64: its addresses share one allowance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_addresses_count_per_64() {
    let app = app_with(limits(2, 0, Duration::from_secs(60))).await;
    for from in ["[2001:db8:5:6::1]", "[2001:db8:5:6::2]"] {
        let r = register_from(&app, from, None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    assert_throttled(&register_from(&app, "[2001:db8:5:6:ffff::3]", None).await);
    let r = register_from(&app, "[2001:db8:5:7::1]", None).await;
    assert_eq!(r.status, StatusCode::CREATED, "another /64: {}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_expires() {
    let app = app_with(limits(1, 1, Duration::from_secs(1))).await;
    assert_eq!(
        register_from(&app, "203.0.113.1", None).await.status,
        StatusCode::CREATED
    );
    assert_throttled(&register_from(&app, "203.0.113.1", None).await);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        register_from(&app, "203.0.113.1", None).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_initial_access_tokens_are_limited_per_address() {
    let app = app_with(limits(0, 2, Duration::from_secs(60))).await;
    let admin = app.admin_token().await;
    let iat = app
        .initial_access_token(&admin, "acme", json!({"count": 5, "expiration": 600}))
        .await;
    // A good token does not count as a failure.
    let r = register_from(&app, "192.0.2.10", Some(&iat)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for _ in 0..2 {
        let r = register_from(&app, "192.0.2.10", Some("not-a-real-token")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    // Further failures are throttled, but a valid token is always served: many
    // callers can share an address behind a proxy.
    assert_throttled(&register_from(&app, "192.0.2.10", Some("guess")).await);
    let r = register_from(&app, "192.0.2.10", Some(&iat)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_throttled(&register_from(&app, "192.0.2.10", Some("guess again")).await);
    // Another address still may.
    let r = register_from(&app, "192.0.2.11", Some(&iat)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // Anonymous registration is a different limit (off here).
    let r = register_from(&app, "192.0.2.10", None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_registration_access_tokens_are_limited_per_address() {
    let app = app_with(limits(0, 3, Duration::from_secs(60))).await;
    let r = register_from(&app, "192.0.2.20", None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let client_id = r.body["client_id"].as_str().unwrap().to_string();
    let rat = r.body["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("{REG}/{client_id}");
    let r = send_from(&app, "192.0.2.20", Method::GET, &path, Some(&rat), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Guessing: read, update and delete with wrong tokens all count.
    let wrong = [Method::GET, Method::DELETE, Method::GET];
    for m in wrong {
        let r = send_from(&app, "192.0.2.20", m, &path, Some("wrong-token"), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    assert_throttled(&send_from(&app, "192.0.2.20", Method::GET, &path, Some("wrong"), None).await);
    // The valid token is still served from that address, and from any other.
    let r = send_from(&app, "192.0.2.20", Method::GET, &path, Some(&rat), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = send_from(&app, "192.0.2.21", Method::GET, &path, Some(&rat), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// A realm's own anonymous limit (`clientRegistrationAnonymousLimit`) overrides the
/// server's, in either direction, and counts per realm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realm_sets_its_own_anonymous_limit() {
    let app = app_with(limits(1, 0, Duration::from_secs(60))).await;
    let admin = app.admin_token().await;
    let anonymous_limit = |limit: &str| json!({"attributes": {"clientRegistrationAnonymousEnabled": "true", "clientRegistrationPoliciesEnabled": "false", "clientRegistrationAnonymousLimit": limit}});
    app.update_realm(&admin, "acme", anonymous_limit("3")).await;
    for _ in 0..3 {
        let r = register_from(&app, "198.51.100.30", None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    assert_throttled(&register_from(&app, "198.51.100.30", None).await);
    // "0": no limit for this realm.
    app.update_realm(&admin, "acme", anonymous_limit("0")).await;
    for _ in 0..5 {
        let r = register_from(&app, "198.51.100.31", None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
}

/// A flood of refused unauthenticated requests (a bad token on random client ids, POSTs to
/// a realm closed to anonymous registration) stores a bounded number of events per address;
/// the rest are counted in the metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_store_a_bounded_number_of_events() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = TestApp::with_limits(backend, "", true, Limits::off()).await else {
            continue;
        };
        let admin = app.admin_with_realm("closed").await;
        for i in 0..300 {
            let path = format!(
                "/realms/closed/clients-registrations/openid-connect/{}-{i}",
                "x".repeat(200)
            );
            let r = send_from(&app, "203.0.113.99", Method::GET, &path, Some("bad"), None).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
            let r = send_from(
                &app,
                "203.0.113.99",
                Method::POST,
                "/realms/closed/clients-registrations/openid-connect",
                None,
                Some(json!({"redirect_uris": ["https://a.example/cb"]})),
            )
            .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        }
        let events = app
            .get("/admin/realms/closed/events?max=10000", &admin)
            .await;
        let stored = events.body.as_array().unwrap().len() as u32;
        assert_eq!(
            stored,
            latchkey_server::limits::REFUSED_EVENTS_STORED,
            "{backend:?}: 600 refusals stored {stored} events"
        );
        let metrics = app.get_public("/metrics").await.text;
        assert!(
            metrics.contains("latchkey_events_not_stored_total"),
            "{metrics}"
        );
        // Another address still gets its refusals recorded.
        let r = send_from(
            &app,
            "203.0.113.100",
            Method::GET,
            "/realms/closed/clients-registrations/openid-connect/other",
            Some("bad"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let events = app
            .get("/admin/realms/closed/events?max=10000", &admin)
            .await;
        assert_eq!(
            events.body.as_array().unwrap().len() as u32,
            latchkey_server::limits::REFUSED_EVENTS_STORED + 1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_off_in_the_default_test_app() {
    // The harness every other test uses: no rate limit (many registrations from TEST_PEER).
    let app = TestApp::new(Backend::Sqlite).await.unwrap();
    let admin = app.admin_with_realm("acme").await;
    app.open_to_anonymous_registration(&admin, "acme").await;
    for _ in 0..(Limits::DEFAULT_ANONYMOUS_REGISTRATIONS + 2) {
        let r = register_from(&app, "127.0.0.1", None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_get_431_with_json() {
    let app = app_with(Limits {
        max_header_bytes: 4096,
        ..Limits::off()
    })
    .await;
    let req = Request::builder()
        .uri("/realms/acme/.well-known/openid-configuration")
        .header(header::HOST, "localhost:8080")
        .header("x-padding", "a".repeat(5000))
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(r.body["error"], "invalid_request", "{}", r.text);
    // Just under the limit passes.
    let req = Request::builder()
        .uri("/realms/acme/.well-known/openid-configuration")
        .header(header::HOST, "localhost:8080")
        .header("x-padding", "a".repeat(3000))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413_with_json() {
    let app = app_with(Limits::off()).await;
    let big =
        json!({"redirect_uris": ["https://app.example/cb"], "client_name": "x".repeat(70 * 1024)});
    // With Content-Length (refused before reading) …
    let r = register_from(&app, "127.0.0.1", None).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let req = Request::builder()
        .method(Method::POST)
        .uri(REG)
        .header(header::HOST, "localhost:8080")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, big.to_string().len())
        .body(Body::from(big.to_string()))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.body["error"], "invalid_request", "{}", r.text);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    // … and without one (refused while reading).
    let req = Request::builder()
        .method(Method::POST)
        .uri(REG)
        .header(header::HOST, "localhost:8080")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(big.to_string()))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.body["error"], "invalid_request", "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_without_a_token() {
    let app = TestApp::with_relative_path(Backend::Sqlite, "/auth")
        .await
        .unwrap();
    let req = Request::builder()
        .uri("/auth/openapi.json")
        .header(header::HOST, "localhost:8080")
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["openapi"], "3.0.3");
    assert_eq!(r.body["servers"][0]["url"], "/auth");
    let ops: usize = r.body["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(ops, latchkey_server::table().operations().count());
    assert!(
        r.body["paths"]["/realms/{realm}/clients-registrations/openid-connect"]["post"]
            ["responses"]["429"]
            .is_object()
    );
}

/// An anonymous registration through a proxy (`--proxy-headers xforwarded`, the peer is the
/// proxy) with the given `X-Forwarded-For`.
async fn register_forwarded(app: &TestApp, xff: &str) -> Resp {
    let req = Request::builder()
        .method(Method::POST)
        .uri(REG)
        .header(header::HOST, "localhost:8080")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-for", xff)
        .body(Body::from(
            json!({"grant_types": ["client_credentials"]}).to_string(),
        ))
        .unwrap();
    app.send(req).await
}

/// The client's address is the entry the proxy appended, not one the client wrote: a forged
/// leftmost `X-Forwarded-For` neither passes Trusted Hosts nor escapes the per-address limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_forwarded_for_passes_no_policy_and_no_limit() {
    let app = TestApp::with_server_settings(Backend::Sqlite, |s| {
        s.proxy_headers = Some(latchkey_server::ProxyHeaders::XForwarded);
        s.limits = limits(2, 0, Duration::from_secs(60));
    })
    .await
    .unwrap();
    let admin = app.admin_with_realm("acme").await;
    app.update_realm(
        &admin,
        "acme",
        json!({"attributes": {"clientRegistrationAnonymousEnabled": "true"}}),
    )
    .await;
    app.configure_policy(
        &admin,
        "acme",
        "Trusted Hosts",
        "anonymous",
        json!({
            "trusted-hosts": ["10.0.0.5"],
            "host-sending-registration-request-must-match": ["true"],
            "client-uris-must-match": ["false"],
        }),
    )
    .await;

    // The client at 203.0.113.50 wrote 10.0.0.5; the proxy appended what it saw.
    let r = register_forwarded(&app, "10.0.0.5, 203.0.113.50").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // The proxy says 10.0.0.5 itself: trusted.
    let r = register_forwarded(&app, "203.0.113.50, 10.0.0.5").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = register_forwarded(&app, "10.0.0.5").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // 10.0.0.5 has used its two; rotating a forged leftmost entry does not help.
    let r = register_forwarded(&app, "192.0.2.77, 10.0.0.5").await;
    assert_throttled(&r);
}

/// In `start`, authorization requests are limited per address: each stores a pending request
/// until the user signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_requests_are_limited_per_address() {
    let app = TestApp::with_limits(
        Backend::Sqlite,
        "",
        false,
        Limits {
            authorization_requests: 3,
            ..Limits::off()
        },
    )
    .await
    .unwrap();
    let auth = "/realms/master/protocol/openid-connect/auth?client_id=security-admin-console&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fadmin%2Fconsole%2Fcallback&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    for _ in 0..3 {
        let r = send_from(&app, "198.51.100.40", Method::GET, auth, None, None).await;
        assert_ne!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    }
    let r = send_from(&app, "198.51.100.40", Method::GET, auth, None, None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.header("retry-after").is_some());
    let r = send_from(&app, "198.51.100.41", Method::GET, auth, None, None).await;
    assert_ne!(r.status, StatusCode::TOO_MANY_REQUESTS, "another address");
}
