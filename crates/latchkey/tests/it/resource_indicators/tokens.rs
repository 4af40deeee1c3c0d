//! `resource` at the token endpoint (RFC 8707 §2.2): client credentials and password
//! grants name theirs, a refresh narrows and never widens, introspection shows `aud`.

use axum::http::StatusCode;
use serde_json::json;

use super::*;
use crate::support::assert_oauth_error;

async fn the_audience_is_the_resources(app: &TestApp) {
    let s = setup(app).await;
    let svc = ("svc", s.svc.as_str());
    // Without a resource the audience is what it always was (Keycloak's: the clients
    // whose roles the token carries).
    let old = access_claims(app, &client_credentials(app, svc, &[]).await).await;
    assert_eq!(old["aud"], json!("realm-management"), "{old}");
    let one = access_claims(app, &client_credentials(app, svc, &[A]).await).await;
    assert_eq!(
        one["aud"],
        json!(A),
        "one resource: a string, and nothing else"
    );
    let two = access_claims(app, &client_credentials(app, svc, &[A, B]).await).await;
    assert_eq!(
        two["aud"],
        json!([A, B]),
        "two: an array, in the order asked"
    );
    let again = access_claims(app, &client_credentials(app, svc, &[B, B]).await).await;
    assert_eq!(again["aud"], json!(B), "a repeat counts once");
    let r = client_credentials(app, svc, &[A, B]).await;
    let seen = app
        .form(
            INTROSPECT,
            &[("token", r.body["access_token"].as_str().unwrap())],
            Some(svc),
        )
        .await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.text);
    assert_eq!(seen.body["active"], json!(true));
    assert_eq!(seen.body["aud"], json!([A, B]), "introspection shows aud");
}

async fn unacceptable_resources_are_invalid_target(app: &TestApp) {
    let s = setup(app).await;
    let svc = ("svc", s.svc.as_str());
    for (resources, why) in [
        (vec![UNKNOWN], "on no list"),
        (vec![A, UNKNOWN], "one of them on no list"),
        (vec![GATED], "not for a client without the scope mcp"),
        (vec!["/mcp"], "relative"),
        (vec!["https://a.example/mcp#top"], "a fragment"),
        (
            vec!["https://a.example/mcp?x=1"],
            "another URI than the registered one",
        ),
    ] {
        let r = client_credentials(app, svc, &resources).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {}", r.text);
        assert_eq!(r.body["error"], "invalid_target", "{why}: {}", r.text);
    }
    let gated = client_credentials(app, ("svc-mcp", &s.svc_mcp), &[GATED]).await;
    let claims = access_claims(app, &gated).await;
    assert_eq!(
        claims["aud"],
        json!(GATED),
        "a client with the scope mcp may"
    );
    // Another realm's resource servers are not this realm's.
    let admin = s.admin.clone();
    app.create_realm(&admin, "other").await;
    let (_, other) = app.create_service_client(&admin, "other", "svc").await;
    let r = app
        .form(
            "/realms/other/protocol/openid-connect/token",
            &[("grant_type", "client_credentials"), ("resource", A)],
            Some(("svc", &other)),
        )
        .await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_target");
}

/// A password grant for alice on `web` asking for `resources`.
async fn password(app: &TestApp, s: &Setup, resources: &[&str]) -> Resp {
    token_request(
        app,
        ("web", &s.web),
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice-pass"),
        ],
        resources,
    )
    .await
}

async fn refresh(app: &TestApp, s: &Setup, refresh_token: &str, resources: &[&str]) -> Resp {
    token_request(
        app,
        ("web", &s.web),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
        resources,
    )
    .await
}

fn refresh_token(r: &Resp) -> String {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .into()
}

async fn a_refresh_narrows_and_never_widens(app: &TestApp) {
    let s = setup(app).await;
    let r = password(app, &s, &[A, B]).await;
    assert_eq!(access_claims(app, &r).await["aud"], json!([A, B]));
    let rt = refresh_token(&r);
    let seen = app
        .form(INTROSPECT, &[("token", &rt)], Some(("web", &s.web)))
        .await;
    assert_eq!(
        seen.body["aud"],
        json!([A, B]),
        "a refresh token's aud: {}",
        seen.text
    );

    for (resources, why) in [
        (vec![UNKNOWN], "unknown"),
        (vec![A, GATED], "not granted"),
        (vec!["not a uri"], "malformed"),
    ] {
        let r = refresh(app, &s, &rt, &resources).await;
        assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_target");
        assert!(r.text.contains("resource"), "{why}: {}", r.text);
    }
    // The refused requests spent nothing: the token still works, narrowed to A.
    let narrowed = refresh(app, &s, &rt, &[A]).await;
    assert_eq!(access_claims(app, &narrowed).await["aud"], json!(A));
    // The rotated refresh token keeps the whole grant: B may be asked for next.
    let rt = refresh_token(&narrowed);
    let b = refresh(app, &s, &rt, &[B]).await;
    assert_eq!(access_claims(app, &b).await["aud"], json!(B));
    let all = refresh(app, &s, &refresh_token(&b), &[]).await;
    assert_eq!(
        access_claims(app, &all).await["aud"],
        json!([A, B]),
        "absent: all of them"
    );

    // A grant made without resources cannot be widened to one at refresh.
    let plain = password(app, &s, &[]).await;
    let plain_aud = access_claims(app, &plain).await.get("aud").cloned();
    let wider = refresh(app, &s, &refresh_token(&plain), &[A]).await;
    assert_oauth_error(&wider, StatusCode::BAD_REQUEST, "invalid_target");
    let same = refresh(app, &s, &refresh_token(&plain), &[]).await;
    assert_eq!(
        access_claims(app, &same).await.get("aud").cloned(),
        plain_aud
    );

    // The password grant checks like the others.
    let r = password(app, &s, &[GATED]).await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_target");
}

async fn a_removed_resource_server_is_refused_at_refresh(app: &TestApp) {
    let s = setup(app).await;
    let rt = refresh_token(&password(app, &s, &[A, B]).await);
    let list = app.get(SERVERS, &s.admin).await;
    let a = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["uri"] == A)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.delete(&format!("{SERVERS}/{a}"), &s.admin).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = refresh(app, &s, &rt, &[]).await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_target");
    let r = refresh(app, &s, &rt, &[B]).await;
    assert_eq!(
        access_claims(app, &r).await["aud"],
        json!(B),
        "what remains still works"
    );
}

crate::on_both_backends!(
    the_audience_is_the_resources,
    unacceptable_resources_are_invalid_target,
    a_refresh_narrows_and_never_widens,
    a_removed_resource_server_is_refused_at_refresh,
);
