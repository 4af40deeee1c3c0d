//! What the authorization endpoint checks before it shows a page or redirects: the client
//! and its redirect URI (exact, loopback ports aside; never a dangerous URI, even a stored
//! one), the size of what it echoes back, and that no parameter comes twice.

use axum::http::StatusCode;
use serde_json::json;

use super::{AUTH, CB, VERIFIER, auth_url, setup, web_client};
use crate::support::TestApp;
use crate::support::browser::{Browser, challenge, location, query};

/// What the client sends to be echoed back is stored with the pending request until the
/// user signs in, so its size is bounded before anything is stored.
async fn echoed_parameters_are_bounded(app: &TestApp) {
    setup(app, web_client()).await;
    let mut b = Browser::default();
    let url = |state: &str, nonce: &str| {
        format!(
            "{AUTH}?client_id=web&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state={state}&nonce={nonce}&code_challenge={}&code_challenge_method=S256",
            challenge(VERIFIER)
        )
    };
    for (state, nonce) in [
        ("s".repeat(2049), "n".to_string()),
        ("s".into(), "n".repeat(2049)),
    ] {
        let r = b.get(app, &url(&state, &nonce)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(query(&location(&r))["error"], "invalid_request");
    }
    let r = b.get(app, &url(&"s".repeat(2048), &"n".repeat(2048))).await;
    assert_eq!(r.status, StatusCode::OK, "the login page: {}", r.text);
}

async fn redirect_uris_are_checked_before_anything_is_shown(app: &TestApp) {
    let (admin, _) = setup(app, json!({"clientId": "web", "redirectUris": [CB, "https://app.example/other?x=1"], "publicClient": false})).await;
    let mut b = Browser::default();
    for url in [
        format!(
            "{AUTH}?client_id=nobody&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"
        ),
        format!(
            "{AUTH}?client_id=web&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcb"
        ),
        format!("{AUTH}?client_id=web&response_type=code"),
        // Conformance `oidcc-redirect-uri-query-mismatch`: the query must match exactly.
        format!(
            "{AUTH}?client_id=web&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fother%3Fx%3D2"
        ),
        format!(
            "{AUTH}?client_id=web&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%2F"
        ),
        // A fragment never matches (conformance `oidcc-redirect-uri-regfrag`).
        format!(
            "{AUTH}?client_id=web&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%23frag"
        ),
    ] {
        let r = b.get(app, &url).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}");
        assert!(r.header("location").is_none(), "never a redirect: {url}");
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
    }
    let exact = b.get(app, &format!("{AUTH}?client_id=web&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fother%3Fx%3D1&code_challenge={}&code_challenge_method=S256", challenge(VERIFIER))).await;
    assert_eq!(exact.status, StatusCode::OK);
    // RFC 8252 §7.3: a loopback IP redirect URI matches any port.
    app.create_client(&admin, "acme", json!({"clientId": "cli", "publicClient": true, "redirectUris": ["http://127.0.0.1/callback"]})).await;
    let any_port = b.get(app, &format!("{AUTH}?client_id=cli&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fcallback&code_challenge={}&code_challenge_method=S256", challenge(VERIFIER))).await;
    assert_eq!(any_port.status, StatusCode::OK, "{}", any_port.text);
    let other_path = b.get(app, &format!("{AUTH}?client_id=cli&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fother")).await;
    assert_eq!(other_path.status, StatusCode::BAD_REQUEST);
}

/// Defence in depth: the authorization endpoint never redirects to a dangerous
/// URI, even one that is stored, nor through a prefix match into user info.
async fn dangerous_redirect_uris_are_never_followed(app: &TestApp) {
    setup(
        app,
        json!({"clientId": "web", "redirectUris": ["https://app.example*"], "publicClient": false}),
    )
    .await;
    let mut b = Browser::default();
    let ok = b.get(app, &auth_url("")).await;
    assert_eq!(
        ok.status,
        StatusCode::OK,
        "the prefix matches CB: {}",
        ok.text
    );
    let userinfo = auth_url("").replace(
        "redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
        "redirect_uri=https%3A%2F%2Fapp.example%40evil.example%2Fcb",
    );
    assert_ne!(userinfo, auth_url(""));
    let r = b.get(app, &userinfo).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.header("location").is_none());

    app.smuggle_redirect_uris("acme", "web", &["javascript:alert(document.cookie)//"])
        .await;
    let js = auth_url("").replace(
        "redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
        "redirect_uri=javascript%3Aalert(document.cookie)%2F%2F",
    );
    for url in [
        js.clone(),
        js.replace("response_type=code", "response_type=token"),
    ] {
        let r = b.get(app, &url).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}: {}", r.text);
        assert!(r.header("location").is_none(), "{url}");
    }
    // Without redirect_uri the one registered URI would be used: not this one.
    let bare = auth_url("").replace("redirect_uri=https%3A%2F%2Fapp.example%2Fcb&", "");
    assert_ne!(bare, auth_url(""));
    let r = b.get(app, &bare).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.header("location").is_none());
}

/// RFC 6749 §3.1: a parameter sent twice is refused, not read as its last value. A second
/// client id or redirect URI leaves nothing to trust: a page, never a redirect; any other
/// is `invalid_request` at the redirect URI (`state` echoed unless it is the repeat).
/// `resource` may repeat (RFC 8707 §2).
async fn repeated_parameters_are_refused(app: &TestApp) {
    setup(app, web_client()).await;
    let mut b = Browser::default();
    for extra in [
        "&client_id=web",
        "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
    ] {
        let r = b.get(app, &auth_url(extra)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{extra}: {}", r.text);
        assert!(r.header("location").is_none(), "never a redirect: {extra}");
        assert!(r.text.contains("duplicate parameter"), "{}", r.text);
    }
    for (extra, name) in [
        ("&scope=openid%20email", "scope"),
        (
            &format!(
                "&code_challenge={}",
                challenge("other-verifier-other-verifier-other-verifier")
            )[..],
            "code_challenge",
        ),
        ("&response_type=code", "response_type"),
        ("&state=st-2", "state"),
    ] {
        let r = b.get(app, &auth_url(extra)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{extra}: {}", r.text);
        let q = query(&location(&r));
        assert_eq!(q["error"], "invalid_request", "{extra}");
        assert_eq!(
            q["error_description"],
            format!("duplicate parameter: {name}")
        );
        assert_eq!(
            q.get("state").map(String::as_str),
            (name != "state").then_some("st-1")
        );
    }
    // The same request once each goes on to the login page.
    let r = b.get(app, &auth_url("")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

crate::on_both_backends!(
    repeated_parameters_are_refused,
    echoed_parameters_are_bounded,
    redirect_uris_are_checked_before_anything_is_shown,
    dangerous_redirect_uris_are_never_followed,
);
