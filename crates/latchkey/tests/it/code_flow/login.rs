//! The login and consent pages: prompt and max_age (32-bit), consent asked once, forms bound to
//! their browser and CSRF token, one failure count shared with the password grant, limits
//! per address and Secure cookies outside start-dev.

use axum::http::StatusCode;
use latchkey_server::Limits;
use serde_json::json;

use super::{
    ALICE, CB, VERIFIER, auth_url, exchange, login, session_cookie, setup, sign_in, web_client,
};
use crate::support::browser::{Browser, form, location, query};
use crate::support::{Backend, TestApp};

async fn prompt_and_max_age(app: &TestApp) {
    setup(app, web_client()).await;
    let mut b = Browser::default();
    let none = b.get(app, &auth_url("&prompt=none")).await;
    assert_eq!(query(&location(&none))["error"], "login_required");
    login(app, &mut b, &auth_url("")).await;
    let again = b.get(app, &auth_url("&prompt=none")).await;
    assert!(
        query(&location(&again)).contains_key("code"),
        "a session answers prompt=none"
    );
    let forced = b.get(app, &auth_url("&prompt=login")).await;
    assert_eq!(forced.status, StatusCode::OK, "prompt=login shows the form");
    let old = b.get(app, &auth_url("&max_age=0")).await;
    assert_eq!(
        old.status,
        StatusCode::OK,
        "a session older than max_age needs a new login"
    );
    // max_age is a 32-bit number, as Keycloak reads it: the largest still keeps the
    // session, a larger one is invalid_request (it overflowed the age comparison: a panic
    // and a dropped connection for a signed-in browser).
    let long = b
        .get(app, &auth_url("&max_age=2147483647&prompt=none"))
        .await;
    assert!(
        query(&location(&long)).contains_key("code"),
        "{}",
        long.text
    );
    for huge in ["2147483648", "9223372036854775807"] {
        let r = b.get(app, &auth_url(&format!("&max_age={huge}"))).await;
        assert_eq!(
            query(&location(&r))["error"],
            "invalid_request",
            "{huge}: {}",
            r.text
        );
    }
    let hinted = Browser::default()
        .get(app, &auth_url("&login_hint=alice%40example.com"))
        .await;
    assert!(hinted.text.contains("value=\"alice@example.com\""));
}

async fn consent_is_asked_once(app: &TestApp) {
    let (_, secret) = setup(app, json!({"clientId": "web", "redirectUris": [CB], "publicClient": false, "consentRequired": true})).await;
    let mut b = Browser::default();
    let consent = sign_in(app, &mut b, &auth_url("")).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.text);
    assert!(
        consent.text.contains("app.example") && consent.text.contains("profile"),
        "client, host and scopes shown"
    );
    let denied = b.submit(app, &consent, &[("consent", "deny")]).await;
    let q = query(&location(&denied));
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("access_denied", "st-1")
    );
    let consent = b.get(app, &auth_url("")).await;
    assert_eq!(
        consent.status,
        StatusCode::OK,
        "still no consent: asked again"
    );
    let ok = b.submit(app, &consent, &[("consent", "accept")]).await;
    let q = query(&location(&ok));
    assert_eq!(
        exchange(app, &secret, &q["code"], VERIFIER).await.status,
        StatusCode::OK
    );
    let remembered = b.get(app, &auth_url("")).await;
    assert!(
        query(&location(&remembered)).contains_key("code"),
        "consent is remembered"
    );
    let forced = b.get(app, &auth_url("&prompt=consent")).await;
    assert_eq!(forced.status, StatusCode::OK);
}

async fn forms_are_protected(app: &TestApp) {
    setup(app, web_client()).await;
    let mut b = Browser::default();
    let page = b.get(app, &auth_url("")).await;
    let (action, hidden) = form(&page.text);
    let id = hidden
        .iter()
        .find(|(k, _)| k == "auth_request")
        .unwrap()
        .1
        .clone();
    let forged = b
        .post(
            app,
            &action,
            &[
                ("auth_request", &id),
                ("csrf", "forged"),
                ("username", "alice"),
                ("password", "alice-pass"),
            ],
            None,
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "a wrong CSRF token");
    let mut stranger = Browser::default();
    let csrf = hidden.iter().find(|(k, _)| k == "csrf").unwrap().1.clone();
    let other_browser = stranger
        .post(
            app,
            &action,
            &[
                ("auth_request", &id),
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", "alice-pass"),
            ],
            None,
        )
        .await;
    assert_eq!(
        other_browser.status,
        StatusCode::BAD_REQUEST,
        "the request is bound to the browser that began it"
    );
    // Quick failed sign-ins lock the user (the realm's default brute-force settings): the
    // right password then gets the wrong password's page, so the lock does not show.
    let mut page = b.get(app, &auth_url("")).await;
    for _ in 0..2 {
        page = b
            .submit(app, &page, &[("username", "alice"), ("password", "wrong")])
            .await;
    }
    let locked = b.submit(app, &page, &ALICE).await;
    assert_eq!(locked.status, StatusCode::OK, "{}", locked.text);
    assert!(locked.text.contains("Invalid username or password."));
}

/// The login form and the password grant share one count per user, with the realm's
/// settings: two failures at the form and one at the grant lock alice at both.
async fn login_form_and_password_grant_share_the_count(app: &TestApp) {
    let (admin, _) = setup(app, web_client()).await;
    app.update_realm(
        &admin,
        "acme",
        json!({"failureFactor": 3, "quickLoginCheckMilliSeconds": 0}),
    )
    .await;
    let grant = |password| app.password_grant("acme", "admin-cli", "alice", password);
    let mut b = Browser::default();
    let mut page = b.get(app, &auth_url("")).await;
    for _ in 0..2 {
        page = b
            .submit(app, &page, &[("username", "alice"), ("password", "wrong")])
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text.contains("Invalid username or password."));
    }
    let r = grant("wrong").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let locked = b.submit(app, &page, &ALICE).await;
    assert_eq!(
        locked.status,
        StatusCode::OK,
        "locked at the form: {}",
        locked.text
    );
    assert!(locked.text.contains("Invalid username or password."));
    let r = grant("alice-pass").await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_grant")),
        "locked at the grant: {}",
        r.text
    );
}

crate::on_both_backends!(
    prompt_and_max_age,
    consent_is_asked_once,
    forms_are_protected,
    login_form_and_password_grant_share_the_count,
);

/// Failures from one address no longer lock anyone else: five failed sign-ins over five
/// user names leave alice free (the realm's per-user settings decide). In `start`, failed
/// passwords per address are limited (password spraying): past the limit the address gets
/// 429, whoever it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_limited_per_address_only_in_production() {
    for (dev_mode, expected) in [
        (true, StatusCode::SEE_OTHER),
        (false, StatusCode::TOO_MANY_REQUESTS),
    ] {
        let limits = Limits {
            failed_passwords: 5,
            ..Limits::off()
        };
        let app = TestApp::with_limits(Backend::Sqlite, "", dev_mode, limits)
            .await
            .unwrap();
        setup(&app, web_client()).await;
        let mut b = Browser::default();
        let mut page = b.get(&app, &auth_url("")).await;
        for user in ["u1", "u2", "u3", "u4", "u5"] {
            page = b
                .submit(&app, &page, &[("username", user), ("password", "wrong")])
                .await;
            assert_eq!(page.status, StatusCode::OK);
        }
        let r = b.submit(&app, &page, &ALICE).await;
        assert_eq!(r.status, expected, "dev mode {dev_mode}: {}", r.text);
    }
}

/// Outside start-dev the browser session cookie is Secure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookies_are_secure_outside_start_dev() {
    let app = TestApp::with_settings(Backend::Sqlite, "", false)
        .await
        .unwrap();
    setup(&app, web_client()).await;
    let r = sign_in(&app, &mut Browser::default(), &auth_url("")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let session = session_cookie(&r);
    assert!(session.contains("; Secure"), "{session}");
    let dev = TestApp::new(Backend::Sqlite).await.unwrap();
    setup(&dev, web_client()).await;
    let r = sign_in(&dev, &mut Browser::default(), &auth_url("")).await;
    let dev_cookie = session_cookie(&r);
    assert!(
        !dev_cookie.contains("Secure"),
        "start-dev serves plain http: {dev_cookie}"
    );
}
