//! Every refusal of the device grant: the device endpoint's (`unauthorized_client`,
//! `invalid_client`, `invalid_scope`), the polls' (`authorization_pending`, `slow_down`,
//! `expired_token`, `access_denied`, `invalid_grant`), and the verification page's
//! (wrong codes all look alike, and guessing is limited per address).

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use super::*;

crate::on_both_backends!(
    clients_without_the_grant_are_unauthorized_client,
    confidential_clients_authenticate_at_the_device_endpoint,
    polls_before_the_answer_are_pending_and_too_fast_ones_slow_down,
    an_expired_device_code_is_expired_token,
    a_denied_device_gets_access_denied,
    unknown_and_foreign_device_codes_are_invalid_grant,
    wrong_user_codes_reveal_nothing_and_guessing_is_limited,
);

async fn clients_without_the_grant_are_unauthorized_client(app: &TestApp) {
    let admin = realm(app).await;
    app.create_client(
        &admin,
        REALM,
        json!({"clientId": "plain", "publicClient": true, "redirectUris": ["https://app.example/cb"]}),
    )
    .await;
    device_client(app, &admin, "off", &[]).await;
    let off = app.client_uuid(&admin, REALM, "off").await;
    let r = app
        .put(
            &format!("/admin/realms/dev/clients/{off}"),
            &admin,
            json!({"attributes": { ENABLED: "false" }}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    for client in ["plain", "off"] {
        let r = authorize(app, client, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(error_of(&r), "unauthorized_client");
        assert_eq!(
            r.body["error_description"],
            "Client not allowed for OAuth 2.0 Device Authorization Grant"
        );
        let p = poll(app, client, "whatever").await;
        assert_eq!(error_of(&p), "unauthorized_client", "{}", p.text);
    }
    // The admin turns the switch on: the same client may start a flow.
    let r = app
        .put(
            &format!("/admin/realms/dev/clients/{off}"),
            &admin,
            json!({"attributes": { ENABLED: "true" }}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    codes(&authorize(app, "off", &[]).await);
    // A scope the client does not have is refused as at the authorization endpoint.
    let r = authorize(app, "off", &[("scope", "no-such-scope")]).await;
    assert_eq!(error_of(&r), "invalid_scope", "{}", r.text);
}

async fn confidential_clients_authenticate_at_the_device_endpoint(app: &TestApp) {
    let admin = realm(app).await;
    let id = app
        .create_client(
            &admin,
            REALM,
            json!({"clientId": "box", "publicClient": false, "standardFlowEnabled": false,
                "attributes": { ENABLED: "true", "oauth2.device.polling.interval": "0" }}),
        )
        .await;
    let secret = app.client_secret(&admin, REALM, &id).await;
    let wrong = app.form(DEVICE, &[], Some(("box", "wrong"))).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
    assert_eq!(error_of(&wrong), "invalid_client");
    let none = app.form(DEVICE, &[("client_id", "box")], None).await;
    assert_eq!(error_of(&none), "invalid_client", "{}", none.text);
    let unknown = authorize(app, "nobody", &[]).await;
    assert_eq!(error_of(&unknown), "invalid_client", "{}", unknown.text);

    let (device_code, code) = codes(&app.form(DEVICE, &[], Some(("box", &secret))).await);
    answer(app, &mut Browser::default(), &code, "accept").await;
    let pairs = [("grant_type", GRANT), ("device_code", device_code.as_str())];
    let unauthenticated = app
        .form(TOKEN, &[pairs[0], pairs[1], ("client_id", "box")], None)
        .await;
    assert_eq!(error_of(&unauthenticated), "invalid_client");
    let r = app.form(TOKEN, &pairs, Some(("box", &secret))).await;
    assert_eq!(access_claims(app, &r).await["azp"], "box");
}

async fn polls_before_the_answer_are_pending_and_too_fast_ones_slow_down(app: &TestApp) {
    let admin = realm(app).await;
    device_client(
        app,
        &admin,
        "tv",
        &[("oauth2.device.polling.interval", "1")],
    )
    .await;
    let (device_code, _) = codes(&authorize(app, "tv", &[]).await);
    let first = poll(app, "tv", &device_code).await;
    assert_eq!(first.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&first), "authorization_pending");
    assert_eq!(
        first.body["error_description"],
        "The authorization request is still pending"
    );
    let fast = poll(app, "tv", &device_code).await;
    assert_eq!(error_of(&fast), "slow_down", "{}", fast.text);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        error_of(&poll(app, "tv", &device_code).await),
        "authorization_pending"
    );
    let missing = app
        .form(TOKEN, &[("grant_type", GRANT), ("client_id", "tv")], None)
        .await;
    assert_eq!(error_of(&missing), "invalid_request", "{}", missing.text);
}

async fn an_expired_device_code_is_expired_token(app: &TestApp) {
    let admin = realm(app).await;
    device_client(
        app,
        &admin,
        "tv",
        &[
            ("oauth2.device.code.lifespan", "1"),
            ("oauth2.device.polling.interval", "0"),
        ],
    )
    .await;
    let r = authorize(app, "tv", &[]).await;
    assert_eq!(r.body["expires_in"], 1, "{}", r.text);
    let (device_code, code) = codes(&r);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let p = poll(app, "tv", &device_code).await;
    assert_eq!(error_of(&p), "expired_token", "{}", p.text);
    assert_eq!(p.body["error_description"], "Device code is expired");
    // The user can no longer start its approval either.
    let mut b = Browser::default();
    let page = b.post(app, VERIFY, &[("user_code", &code)], None).await;
    assert!(
        page.text.contains("Invalid or expired code"),
        "{}",
        page.text
    );
}

async fn a_denied_device_gets_access_denied(app: &TestApp) {
    let admin = realm(app).await;
    device_client(
        app,
        &admin,
        "tv0",
        &[("oauth2.device.polling.interval", "0")],
    )
    .await;
    let (device_code, code) = codes(&authorize(app, "tv0", &[]).await);
    let done = answer(app, &mut Browser::default(), &code, "deny").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.text.contains("not connected"), "{}", done.text);
    for _ in 0..2 {
        let p = poll(app, "tv0", &device_code).await;
        assert_eq!(error_of(&p), "access_denied", "{}", p.text);
        assert_eq!(
            p.body["error_description"],
            "The end user denied the authorization request"
        );
    }
}

async fn unknown_and_foreign_device_codes_are_invalid_grant(app: &TestApp) {
    let admin = realm(app).await;
    device_client(
        app,
        &admin,
        "tv0",
        &[("oauth2.device.polling.interval", "0")],
    )
    .await;
    device_client(
        app,
        &admin,
        "other",
        &[("oauth2.device.polling.interval", "0")],
    )
    .await;
    let p = poll(app, "tv0", "not-a-device-code").await;
    assert_eq!(error_of(&p), "invalid_grant", "{}", p.text);
    assert_eq!(p.body["error_description"], "Device code not valid");

    let (device_code, code) = codes(&authorize(app, "tv0", &[]).await);
    answer(app, &mut Browser::default(), &code, "accept").await;
    // Another client presenting it gets nothing and spends nothing.
    let foreign = poll(app, "other", &device_code).await;
    assert_eq!(error_of(&foreign), "invalid_grant", "{}", foreign.text);
    access_claims(app, &poll(app, "tv0", &device_code).await).await;
    // Nor does another realm know it.
    let admin2 = app.admin_token().await;
    app.create_realm(&admin2, "elsewhere").await;
    let r = app
        .form(
            "/realms/elsewhere/protocol/openid-connect/token",
            &[
                ("grant_type", GRANT),
                ("client_id", "tv0"),
                ("device_code", &device_code),
            ],
            None,
        )
        .await;
    assert_eq!(error_of(&r), "invalid_client", "{}", r.text);
}

async fn wrong_user_codes_reveal_nothing_and_guessing_is_limited(app: &TestApp) {
    let admin = realm(app).await;
    device_client(
        app,
        &admin,
        "tv0",
        &[("oauth2.device.polling.interval", "0")],
    )
    .await;
    // A used code, an unknown one and a malformed one get the same page.
    let (used_device, used) = codes(&authorize(app, "tv0", &[]).await);
    answer(app, &mut Browser::default(), &used, "accept").await;
    access_claims(app, &poll(app, "tv0", &used_device).await).await;
    let mut b = Browser::default();
    let mut pages = Vec::new();
    for typed in [
        used.as_str(),
        "BCDF-GHJK",
        "<script>",
        "x".repeat(3000).as_str(),
    ] {
        let r = b.post(app, VERIFY, &[("user_code", typed)], None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(!r.text.contains("<script>"), "{}", r.text);
        pages.push(r.text);
    }
    assert!(pages.windows(2).all(|w| w[0] == w[1]), "{pages:?}");
    assert!(pages[0].contains("Invalid or expired code"));

    // Ten wrong codes in the window, then even the right code is refused (429) from
    // this address; nothing is counted for a form without a code.
    let (_, code) = codes(&authorize(app, "tv0", &[]).await);
    for _ in 0..6 {
        b.post(app, VERIFY, &[("user_code", "ZZZZ-ZZZZ")], None)
            .await;
    }
    assert_eq!(b.get(app, VERIFY).await.status, StatusCode::OK);
    let blocked = b.post(app, VERIFY, &[("user_code", &code)], None).await;
    assert_eq!(
        blocked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        blocked.text
    );
    assert!(blocked.header("retry-after").is_some());
    let blocked = b.get(app, &format!("{VERIFY}?user_code={code}")).await;
    assert_eq!(
        blocked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        blocked.text
    );
}
