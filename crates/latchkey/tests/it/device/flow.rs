//! The device flow end to end: the device's request, the user's code, login and consent
//! over the HTML forms, the polls and the tokens (verified through the JWKS and
//! introspection); the complete verification URI with a signed-in browser; `aud` from
//! `resource`; a device that honours `slow_down`; concurrent polls; the events.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use super::*;

crate::on_both_backends!(
    the_whole_flow_over_the_forms_gives_tokens_once,
    a_signed_in_browser_follows_the_complete_uri_to_consent,
    resources_at_the_device_endpoint_are_the_tokens_audience,
    a_device_that_adds_five_seconds_after_slow_down_gets_its_tokens,
    of_concurrent_polls_after_approval_exactly_one_gets_tokens,
    the_flow_records_keycloaks_device_events,
);

async fn the_whole_flow_over_the_forms_gives_tokens_once(app: &TestApp) {
    let admin = realm(app).await;
    device_client(app, &admin, "tv", &[]).await;
    device_client(
        app,
        &admin,
        "tv0",
        &[("oauth2.device.polling.interval", "0")],
    )
    .await;

    // Keycloak's defaults, its user code format and its verification URIs.
    let r = authorize(app, "tv", &[("scope", "openid")]).await;
    let (_, user_code) = codes(&r);
    assert_eq!(r.body["expires_in"], 600);
    assert_eq!(r.body["interval"], 5);
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert_eq!(&user_code[4..5], "-");
    assert!(
        user_code
            .chars()
            .all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "{user_code}"
    );
    let uri = "http://localhost:8080/realms/dev/device";
    assert_eq!(r.body["verification_uri"], uri);
    assert_eq!(
        r.body["verification_uri_complete"],
        format!("{uri}?user_code={user_code}")
    );
    assert_eq!(
        r.header("cache-control"),
        Some("no-store"),
        "RFC 8628 §3.2 answers like the token endpoint"
    );

    // The realm's settings (Keycloak's realm fields) replace the defaults; the client's
    // attributes win over them.
    app.update_realm(
        &admin,
        REALM,
        json!({"oauth2DeviceCodeLifespan": 120, "oauth2DevicePollingInterval": 2}),
    )
    .await;
    let read = app.get("/admin/realms/dev", &admin).await;
    assert_eq!(read.body["oauth2DeviceCodeLifespan"], 120, "{}", read.text);
    let r = authorize(app, "tv", &[]).await;
    assert_eq!(
        (&r.body["expires_in"], &r.body["interval"]),
        (&json!(120), &json!(2))
    );
    let r = authorize(app, "tv0", &[]).await;
    assert_eq!(
        (&r.body["expires_in"], &r.body["interval"]),
        (&json!(120), &json!(0))
    );

    let (device_code, user_code) = codes(&authorize(app, "tv0", &[("scope", "openid")]).await);
    assert_eq!(
        error_of(&poll(app, "tv0", &device_code).await),
        "authorization_pending"
    );
    // Lower case and without the dash: the page reads it as the same code.
    let typed = user_code.replace('-', "").to_lowercase();
    let mut b = Browser::default();
    let done = answer(app, &mut b, &typed, "accept").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.text.contains("Device connected"), "{}", done.text);

    let r = poll(app, "tv0", &device_code).await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let claims = access_claims(app, &r).await;
    assert_eq!(claims["azp"], "tv0");
    assert_eq!(claims["preferred_username"], "alice");
    assert!(r.body["refresh_token"].is_string(), "{}", r.text);
    let id_token = r.body["id_token"]
        .as_str()
        .expect("an ID token with openid");
    let id = app.verify(REALM, id_token).await;
    assert_eq!(id["aud"], "tv0");
    assert_eq!(id["sub"], claims["sub"]);

    // Introspection by a confidential client of the realm says the token is live.
    let (_, secret) = app.create_service_client(&admin, REALM, "rs").await;
    let access = r.body["access_token"].as_str().unwrap();
    let i = app
        .form(
            "/realms/dev/protocol/openid-connect/token/introspect",
            &[("token", access)],
            Some(("rs", &secret)),
        )
        .await;
    assert_eq!(i.body["active"], true, "{}", i.text);
    assert_eq!(i.body["client_id"], "tv0");

    // The refresh token works like the code flow's.
    let refresh = r.body["refresh_token"].as_str().unwrap();
    let rr = app
        .form(
            TOKEN,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "tv0"),
                ("refresh_token", refresh),
            ],
            None,
        )
        .await;
    assert_eq!(rr.status, StatusCode::OK, "{}", rr.text);

    // Spent: the code gives nothing again, and the user code is gone too.
    let again = poll(app, "tv0", &device_code).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&again), "invalid_grant");
    let reuse = b
        .post(app, VERIFY, &[("user_code", &user_code)], None)
        .await;
    assert!(
        reuse.text.contains("Invalid or expired code"),
        "{}",
        reuse.text
    );
}

async fn a_signed_in_browser_follows_the_complete_uri_to_consent(app: &TestApp) {
    let admin = realm(app).await;
    device_client(
        app,
        &admin,
        "tv0",
        &[("oauth2.device.polling.interval", "0")],
    )
    .await;
    let mut b = Browser::default();
    let (first, code) = codes(&authorize(app, "tv0", &[]).await);
    answer(app, &mut b, &code, "accept").await;
    assert_eq!(poll(app, "tv0", &first).await.status, StatusCode::OK);

    // The second device: the complete URI, a live browser session, straight to consent,
    // which shows the code to compare with the device's.
    let r = authorize(app, "tv0", &[]).await;
    let (device_code, code) = codes(&r);
    let complete = r.body["verification_uri_complete"].as_str().unwrap();
    let consent = b.get(app, complete).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.text);
    assert!(
        !consent.text.contains("name=\"password\""),
        "{}",
        consent.text
    );
    assert!(consent.text.contains(&code), "{}", consent.text);
    let done = b.submit(app, &consent, &[("consent", "accept")]).await;
    assert!(done.text.contains("Device connected"), "{}", done.text);
    let claims = access_claims(app, &poll(app, "tv0", &device_code).await).await;
    assert_eq!(claims["preferred_username"], "alice");
}

async fn resources_at_the_device_endpoint_are_the_tokens_audience(app: &TestApp) {
    let admin = realm(app).await;
    device_client(
        app,
        &admin,
        "tv0",
        &[("oauth2.device.polling.interval", "0")],
    )
    .await;
    let api = "https://api.example/mcp";
    let r = app
        .post(
            "/admin/realms/dev/resource-servers",
            &admin,
            json!({"uri": api, "name": "api", "scopes": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let unknown = authorize(app, "tv0", &[("resource", "https://other.example/")]).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.text);
    assert_eq!(error_of(&unknown), "invalid_target");

    let (device_code, code) = codes(&authorize(app, "tv0", &[("resource", api)]).await);
    answer(app, &mut Browser::default(), &code, "accept").await;
    // A resource the flow was not granted is refused without spending the code.
    let wider = app
        .form(
            TOKEN,
            &[
                ("grant_type", GRANT),
                ("client_id", "tv0"),
                ("device_code", &device_code),
                ("resource", "https://other.example/"),
            ],
            None,
        )
        .await;
    assert_eq!(error_of(&wider), "invalid_target", "{}", wider.text);
    let claims = access_claims(app, &poll(app, "tv0", &device_code).await).await;
    assert_eq!(claims["aud"], api);
}

async fn a_device_that_adds_five_seconds_after_slow_down_gets_its_tokens(app: &TestApp) {
    let admin = realm(app).await;
    device_client(
        app,
        &admin,
        "tv",
        &[("oauth2.device.polling.interval", "1")],
    )
    .await;
    let r = authorize(app, "tv", &[]).await;
    let (device_code, code) = codes(&r);
    let mut interval = r.body["interval"].as_u64().unwrap();
    assert_eq!(interval, 1);
    // A device that polls as RFC 8628 §3.5 says, except that its second poll comes at
    // once; after `slow_down` it adds five seconds to its interval for good.
    let (mut polls, mut slowed) = (0, 0);
    loop {
        let r = poll(app, "tv", &device_code).await;
        polls += 1;
        if r.status == StatusCode::OK {
            access_claims(app, &r).await;
            break;
        }
        match error_of(&r) {
            "authorization_pending" => {}
            "slow_down" => {
                slowed += 1;
                interval += 5;
            }
            other => panic!("poll {polls}: {other}: {}", r.text),
        }
        if polls == 2 {
            answer(app, &mut Browser::default(), &code, "accept").await;
        }
        assert!(polls < 5, "tokens within a few polls");
        if polls > 1 {
            tokio::time::sleep(Duration::from_secs(interval)).await;
        }
    }
    assert_eq!((polls, slowed), (3, 1), "slowed down once, then served");
}

async fn of_concurrent_polls_after_approval_exactly_one_gets_tokens(app: &TestApp) {
    let admin = realm(app).await;
    device_client(
        app,
        &admin,
        "tv0",
        &[("oauth2.device.polling.interval", "0")],
    )
    .await;
    for round in 0..3 {
        let (device_code, code) = codes(&authorize(app, "tv0", &[]).await);
        answer(app, &mut Browser::default(), &code, "accept").await;
        let racers: Vec<_> = (0..16)
            .map(|_| {
                let router = app.router.clone();
                let body = crate::support::serde_urlencoded_pairs(&[
                    ("grant_type", GRANT),
                    ("client_id", "tv0"),
                    ("device_code", &device_code),
                ]);
                tokio::spawn(async move {
                    let req = axum::http::Request::post(TOKEN)
                        .header("host", "localhost:8080")
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(axum::body::Body::from(body))
                        .unwrap();
                    crate::support::send_to(router, req).await
                })
            })
            .collect();
        let mut won = 0;
        for racer in racers {
            let r = racer.await.unwrap();
            match r.status {
                StatusCode::OK => won += 1,
                _ => assert_eq!(error_of(&r), "invalid_grant", "round {round}: {}", r.text),
            }
        }
        assert_eq!(won, 1, "round {round}: one poll spends the code");
    }
}

async fn the_flow_records_keycloaks_device_events(app: &TestApp) {
    let admin = realm(app).await;
    app.update_realm(&admin, REALM, json!({"eventsEnabled": true}))
        .await;
    device_client(
        app,
        &admin,
        "tv0",
        &[("oauth2.device.polling.interval", "0")],
    )
    .await;
    let (device_code, code) = codes(&authorize(app, "tv0", &[]).await);
    let mut b = Browser::default();
    b.post(app, VERIFY, &[("user_code", "BCDF-GHJK")], None)
        .await;
    answer(app, &mut b, &code, "accept").await;
    assert_eq!(poll(app, "tv0", &device_code).await.status, StatusCode::OK);
    poll(app, "tv0", &device_code).await;
    let events = app.get("/admin/realms/dev/events?max=100", &admin).await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.text);
    let list = events.body.as_array().unwrap();
    let types: Vec<&str> = list.iter().filter_map(|e| e["type"].as_str()).collect();
    for expected in [
        "OAUTH2_DEVICE_AUTH",
        "OAUTH2_DEVICE_VERIFY_USER_CODE",
        "OAUTH2_DEVICE_VERIFY_USER_CODE_ERROR",
        "OAUTH2_DEVICE_CODE_TO_TOKEN",
        "OAUTH2_DEVICE_CODE_TO_TOKEN_ERROR",
    ] {
        assert!(types.contains(&expected), "{expected} in {types:?}");
    }
    let wrong = list
        .iter()
        .find(|e| e["type"] == "OAUTH2_DEVICE_VERIFY_USER_CODE_ERROR")
        .unwrap();
    assert_eq!(wrong["error"], "invalid_oauth2_user_code", "{wrong}");
    let to_token = list
        .iter()
        .find(|e| e["type"] == "OAUTH2_DEVICE_CODE_TO_TOKEN")
        .unwrap();
    assert_eq!(to_token["clientId"], "tv0");
    assert!(to_token["userId"].is_string(), "{to_token}");
}
