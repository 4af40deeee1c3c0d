//! `resource` at the authorization endpoint (RFC 8707 §2.1): refused to the client's
//! redirect URI as `invalid_target`, kept with the code, which is redeemed only for the
//! resources it was issued for.

use axum::http::StatusCode;
use serde_json::json;

use super::*;
use crate::support::assert_oauth_error;
use crate::support::browser::{Browser, challenge, location, query};

const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9kaBq4f3W1MsKNhcgs8I4aBh0s9E3QwmR";

fn auth_url(resources: &[&str]) -> String {
    format!(
        "{AUTH}?client_id=web&response_type=code&redirect_uri={}&scope=openid&state=st-1&code_challenge={}&code_challenge_method=S256{}",
        "https%3A%2F%2Fapp.example%2Fcb",
        challenge(VERIFIER),
        resource_query(resources),
    )
}

/// A code for alice (signing her in first if the browser has no session).
async fn code(app: &TestApp, b: &mut Browser, resources: &[&str]) -> String {
    let page = b.get(app, &auth_url(resources)).await;
    let r = if page.status == StatusCode::OK {
        b.submit(
            app,
            &page,
            &[("username", "alice"), ("password", "alice-pass")],
        )
        .await
    } else {
        page
    };
    let q = query(&location(&r));
    q.get("code")
        .unwrap_or_else(|| panic!("a code: {q:?}"))
        .clone()
}

async fn exchange(app: &TestApp, s: &Setup, code: &str, resources: &[&str]) -> Resp {
    token_request(
        app,
        ("web", &s.web),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("code_verifier", VERIFIER),
        ],
        resources,
    )
    .await
}

async fn unacceptable_resources_go_back_to_the_client(app: &TestApp) {
    let _s = setup(app).await;
    let mut b = Browser::default();
    for (resources, why) in [
        (vec![UNKNOWN], "on no list"),
        (vec![A, GATED], "not for a client without the scope mcp"),
        (vec!["/mcp"], "relative"),
        (vec!["https://a.example/mcp#x"], "with a fragment"),
    ] {
        let r = b.get(app, &auth_url(&resources)).await;
        let to = location(&r);
        assert!(to.starts_with(CB), "{why}: sent to the client: {to}");
        let q = query(&to);
        assert_eq!(q["error"], "invalid_target", "{why}: {q:?}");
        assert_eq!(q["state"], "st-1", "{why}");
        assert!(q["error_description"].contains("resource"), "{why}: {q:?}");
    }
}

async fn a_code_is_redeemed_only_for_its_resources(app: &TestApp) {
    let s = setup(app).await;
    let mut b = Browser::default();
    // Without a resource the audience is what it is at the password grant.
    let plain = exchange(app, &s, &code(app, &mut b, &[]).await, &[]).await;
    let password = token_request(
        app,
        ("web", &s.web),
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice-pass"),
        ],
        &[],
    )
    .await;
    assert_eq!(
        access_claims(app, &plain).await.get("aud"),
        access_claims(app, &password).await.get("aud"),
    );

    let for_a = code(app, &mut b, &[A]).await;
    let r = exchange(app, &s, &for_a, &[B]).await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_target");
    let r = exchange(app, &s, &for_a, &[A, B]).await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_target");
    // Refused before it was spent: the code still buys what it was issued for.
    let r = exchange(app, &s, &for_a, &[A]).await;
    assert_eq!(access_claims(app, &r).await["aud"], json!(A));

    let both = code(app, &mut b, &[A, B]).await;
    let r = exchange(app, &s, &both, &[]).await;
    assert_eq!(
        access_claims(app, &r).await["aud"],
        json!([A, B]),
        "absent: all of them"
    );
    let rt = r.body["refresh_token"].as_str().unwrap().to_string();
    let seen = app
        .form(INTROSPECT, &[("token", &rt)], Some(("web", &s.web)))
        .await;
    assert_eq!(
        seen.body["aud"],
        json!([A, B]),
        "the refresh token keeps them"
    );

    let both = code(app, &mut b, &[A, B]).await;
    let r = exchange(app, &s, &both, &[B]).await;
    assert_eq!(
        access_claims(app, &r).await["aud"],
        json!(B),
        "narrowed at redemption"
    );

    // A code issued without resources cannot be widened at redemption.
    let none = code(app, &mut b, &[]).await;
    let r = exchange(app, &s, &none, &[A]).await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_target");
}

async fn resources_come_by_post_too(app: &TestApp) {
    let s = setup(app).await;
    let mut b = Browser::default();
    let pkce = challenge(VERIFIER);
    let pairs = [
        ("client_id", "web"),
        ("response_type", "code"),
        ("redirect_uri", CB),
        ("scope", "openid"),
        ("code_challenge", pkce.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", A),
        ("resource", B),
    ];
    let page = b.post(app, AUTH, &pairs, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let r = b
        .submit(
            app,
            &page,
            &[("username", "alice"), ("password", "alice-pass")],
        )
        .await;
    let code = query(&location(&r))["code"].clone();
    let r = exchange(app, &s, &code, &[]).await;
    assert_eq!(access_claims(app, &r).await["aud"], json!([A, B]));
}

crate::on_both_backends!(
    unacceptable_resources_go_back_to_the_client,
    a_code_is_redeemed_only_for_its_resources,
    resources_come_by_post_too,
);
