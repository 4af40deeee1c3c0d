//! Brute-force detection: the realm's Keycloak settings through the admin
//! API, and what they do at the password grant; the login form's side (one count for
//! both) is in `code_flow/login.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use latchkey_server::Limits;
use serde_json::{Value, json};

use crate::support::{Backend, Resp, TestApp, send_to, serde_urlencoded_pairs, user};

const TOKEN: &str = "/realms/acme/protocol/openid-connect/token";

/// Realm `acme` with user `bob` (password `bob-pass`), its brute-force settings changed by
/// `settings`; returns the admin token and bob's id.
async fn setup(app: &TestApp, settings: Value) -> (String, String) {
    let admin = app.admin_with_realm("acme").await;
    let bob = app
        .create_user(&admin, "acme", user("bob", "bob-pass"))
        .await;
    app.update_realm(&admin, "acme", settings).await;
    (admin, bob)
}

/// A server on SQLite that limits failed passwords per address to `failed_passwords`
/// (`dev_mode`: as `start-dev`), with the realm and user of [`setup`].
async fn limited(dev_mode: bool, failed_passwords: u32) -> TestApp {
    let limits = Limits {
        failed_passwords,
        ..Limits::off()
    };
    let app = TestApp::with_limits(Backend::Sqlite, "", dev_mode, limits)
        .await
        .unwrap();
    setup(&app, json!({})).await;
    app
}

/// A password grant through acme's public `admin-cli`, from `from`.
fn grant_request(from: &str, username: &str, password: &str) -> Request<Body> {
    let body = serde_urlencoded_pairs(&[
        ("grant_type", "password"),
        ("client_id", "admin-cli"),
        ("username", username),
        ("password", password),
    ]);
    let peer: SocketAddr = format!("{from}:40000").parse().unwrap();
    Request::post(TOKEN)
        .header(header::HOST, "localhost:8080")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .extension(ConnectInfo(peer))
        .body(Body::from(body))
        .unwrap()
}

async fn grant_from(app: &TestApp, from: &str, username: &str, password: &str) -> Resp {
    app.send(grant_request(from, username, password)).await
}

async fn grant(app: &TestApp, password: &str) -> Resp {
    grant_from(app, "192.0.2.1", "bob", password).await
}

/// A wrong password's answer (Keycloak's): a locked user gets exactly this.
fn assert_refused(r: &Resp, what: &str) {
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_grant", "error_description": "Invalid user credentials"})
        ),
        "{what}"
    );
}

/// On in new realms with Keycloak's numbers, and every setting round-trips.
async fn new_realms_have_brute_force_on_with_keycloaks_numbers(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let r = app.get("/admin/realms/acme", &admin).await;
    let expected = json!({
        "bruteForceProtected": true, "permanentLockout": false, "maxTemporaryLockouts": 0,
        "bruteForceStrategy": "MULTIPLE", "failureFactor": 30, "waitIncrementSeconds": 60,
        "maxFailureWaitSeconds": 900, "maxDeltaTimeSeconds": 43200,
        "quickLoginCheckMilliSeconds": 1000, "minimumQuickLoginWaitSeconds": 60,
    });
    for (k, v) in expected.as_object().unwrap() {
        assert_eq!(&r.body[k], v, "{k}: {}", r.text);
    }
    let changed = json!({
        "bruteForceProtected": false, "permanentLockout": true, "maxTemporaryLockouts": 2,
        "bruteForceStrategy": "LINEAR", "failureFactor": 5, "waitIncrementSeconds": 7,
        "maxFailureWaitSeconds": 70, "maxDeltaTimeSeconds": 700,
        "quickLoginCheckMilliSeconds": 10, "minimumQuickLoginWaitSeconds": 3,
    });
    app.update_realm(&admin, "acme", changed.clone()).await;
    let r = app.get("/admin/realms/acme", &admin).await;
    for (k, v) in changed.as_object().unwrap() {
        assert_eq!(&r.body[k], v, "{k}: {}", r.text);
    }
    // A partial update leaves the others alone (Keycloak's PUT).
    app.update_realm(&admin, "acme", json!({"failureFactor": 6}))
        .await;
    let r = app.get("/admin/realms/acme", &admin).await;
    assert_eq!(r.body["failureFactor"], 6);
    assert_eq!(r.body["waitIncrementSeconds"], 7);
}

/// `failureFactor` failures lock the user; while locked the right password gets the wrong
/// password's answer; the lock ends after `waitIncrementSeconds`; a success resets.
async fn password_grant_locks_after_the_failure_factor(app: &TestApp) {
    setup(
        app,
        json!({"failureFactor": 3, "waitIncrementSeconds": 2, "quickLoginCheckMilliSeconds": 0}),
    )
    .await;
    for _ in 0..2 {
        assert_refused(&grant(app, "wrong").await, "a wrong password");
    }
    assert_eq!(grant(app, "bob-pass").await.status, StatusCode::OK);
    for _ in 0..2 {
        assert_refused(&grant(app, "wrong").await, "the count started over");
    }
    assert_eq!(
        grant(app, "bob-pass").await.status,
        StatusCode::OK,
        "two failures after a success do not lock"
    );
    for _ in 0..3 {
        assert_refused(&grant(app, "wrong").await, "a wrong password");
    }
    assert_refused(
        &grant(app, "bob-pass").await,
        "the right password while locked",
    );
    assert_refused(
        &grant_from(app, "198.51.100.9", "bob", "bob-pass").await,
        "from another address too: the lock is the user's",
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = grant(app, "bob-pass").await;
    assert_eq!(r.status, StatusCode::OK, "the lock ended: {}", r.text);
}

/// Two failures within `quickLoginCheckMilliSeconds` lock, with a new realm's defaults:
/// the password grant is protected out of the box.
async fn quick_failures_lock_with_the_default_settings(app: &TestApp) {
    setup(app, json!({})).await;
    assert_refused(&grant(app, "wrong").await, "a wrong password");
    assert_refused(&grant(app, "wrong").await, "a wrong password");
    assert_refused(
        &grant(app, "bob-pass").await,
        "locked for minimumQuickLoginWaitSeconds",
    );
}

async fn brute_force_protected_false_turns_it_off(app: &TestApp) {
    setup(
        app,
        json!({"bruteForceProtected": false, "failureFactor": 1}),
    )
    .await;
    for _ in 0..5 {
        assert_refused(&grant(app, "wrong").await, "a wrong password");
    }
    let r = grant(app, "bob-pass").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// `permanentLockout` disables the user in the store (Keycloak's `disabledReason`); an
/// admin enables it again.
async fn permanent_lockout_disables_the_user(app: &TestApp) {
    let (admin, bob) = setup(
        app,
        json!({"permanentLockout": true, "failureFactor": 2, "quickLoginCheckMilliSeconds": 0}),
    )
    .await;
    assert_refused(&grant(app, "wrong").await, "a wrong password");
    assert_refused(&grant(app, "wrong").await, "a wrong password");
    let user = app
        .get(&format!("/admin/realms/acme/users/{bob}"), &admin)
        .await;
    assert_eq!(user.body["enabled"], false, "{}", user.text);
    assert_eq!(
        user.body["attributes"]["disabledReason"],
        json!(["permanentLockout"])
    );
    assert_refused(
        &grant(app, "bob-pass").await,
        "a locked-out user's right password: the same answer",
    );
    let r = app
        .put(
            &format!("/admin/realms/acme/users/{bob}"),
            &admin,
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = grant(app, "bob-pass").await;
    assert_eq!(r.status, StatusCode::OK, "enabled again: {}", r.text);
}

/// Guesses sent at once are checked one at a time: once the lock falls, the ones still
/// waiting are refused uncounted. Otherwise all eight would pass the lock check before the
/// first failure was counted, be checked, and count (8 / 2 × 1 s: a 4 s lock, not 1 s).
async fn concurrent_guesses_are_checked_one_at_a_time(app: &TestApp) {
    setup(
        app,
        json!({"failureFactor": 2, "waitIncrementSeconds": 1, "quickLoginCheckMilliSeconds": 0}),
    )
    .await;
    let guesses: Vec<_> = (0..8)
        .map(|_| {
            let router = app.router.clone();
            let req = grant_request("192.0.2.1", "bob", "wrong");
            tokio::spawn(async move { send_to(router, req).await.status })
        })
        .collect();
    for g in guesses {
        assert_eq!(g.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = grant(app, "bob-pass").await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "two failures counted, a 1 s lock: {}",
        r.text
    );
}

/// A right password that waited its turn behind the guesses that locked the user out for
/// good is refused: the stored user decides, not the one read before the wait.
async fn a_waiting_right_password_is_refused_after_a_permanent_lockout(app: &TestApp) {
    let (admin, bob) = setup(
        app,
        json!({"permanentLockout": true, "failureFactor": 2, "quickLoginCheckMilliSeconds": 0}),
    )
    .await;
    let send = |password: &'static str| {
        let router = app.router.clone();
        let req = grant_request("192.0.2.1", "bob", password);
        tokio::spawn(async move { send_to(router, req).await.status })
    };
    let mut guesses: Vec<_> = (0..6).map(|_| send("wrong")).collect();
    // Once one guess is answered the others, sent with it, wait at the user's gate (or
    // are through it): the right password queues behind them. A fixed pause instead let a
    // loaded machine schedule the right password first.
    assert_eq!(guesses.remove(0).await.unwrap(), StatusCode::UNAUTHORIZED);
    let right = send("bob-pass");
    for g in guesses {
        assert_eq!(g.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(right.await.unwrap(), StatusCode::UNAUTHORIZED);
    let user = app
        .get(&format!("/admin/realms/acme/users/{bob}"), &admin)
        .await;
    assert_eq!(user.body["enabled"], false, "{}", user.text);
}

crate::on_both_backends!(
    a_waiting_right_password_is_refused_after_a_permanent_lockout,
    concurrent_guesses_are_checked_one_at_a_time,
    new_realms_have_brute_force_on_with_keycloaks_numbers,
    password_grant_locks_after_the_failure_factor,
    quick_failures_lock_with_the_default_settings,
    brute_force_protected_false_turns_it_off,
    permanent_lockout_disables_the_user,
);

/// In `start`, failed passwords are limited per address (a spray over many user names):
/// 429 with `Retry-After`, whatever the user; other addresses are unaffected; `start-dev`
/// has no such limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_passwords_are_limited_per_address_in_production() {
    let app = limited(false, 3).await;
    for user in ["ann", "ben", "cy"] {
        assert_refused(
            &grant_from(&app, "203.0.113.5", user, "guess").await,
            "an unknown user",
        );
    }
    let r = grant_from(&app, "203.0.113.5", "bob", "bob-pass").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.header("retry-after").is_some());
    let r = grant_from(&app, "203.0.113.6", "bob", "bob-pass").await;
    assert_eq!(r.status, StatusCode::OK, "another address: {}", r.text);

    let dev = limited(true, 3).await;
    for user in ["ann", "ben", "cy", "dee", "eve"] {
        assert_refused(
            &grant_from(&dev, "127.0.0.1", user, "guess").await,
            "an unknown user",
        );
    }
    let r = grant_from(&dev, "127.0.0.1", "bob", "bob-pass").await;
    assert_eq!(r.status, StatusCode::OK, "start-dev: {}", r.text);
}

/// Guesses sent at once from one address count before they are checked, so they cannot
/// all pass the address check before the first failure counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_guesses_from_one_address_are_limited() {
    let app = limited(false, 3).await;
    let guesses: Vec<_> = (0..10)
        .map(|i| {
            let router = app.router.clone();
            let req = grant_request("203.0.113.7", &format!("user{i}"), "guess");
            tokio::spawn(async move { send_to(router, req).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for g in guesses {
        statuses.push(g.await.unwrap());
    }
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    // 3, or 4 when two threads pass `Throttle::hit`'s check together before either counts.
    assert!((3..=4).contains(&checked), "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| matches!(*s, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS))
    );
}
