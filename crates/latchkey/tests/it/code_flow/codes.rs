//! Authorization codes and what they buy: the whole flow with PKCE, PKCE's rules, one
//! redemption per code, refresh token rotation, and tokens refused without being spent when
//! someone else presents them.

use axum::http::StatusCode;
use serde_json::json;

use super::{
    ALICE, AUTH, CB, TOKEN, VERIFIER, active, assert_dead, auth_url, exchange, exchange_as, login,
    refresh, refresh_at, session_cookie, setup, userinfo, web_client,
};
use crate::support::browser::{Browser, location, query};
use crate::support::{TestApp, form_request};

async fn code_flow_with_pkce(app: &TestApp) {
    let (_, secret) = setup(app, web_client()).await;
    let mut b = Browser::default();
    let page = b.get(app, &auth_url("")).await;
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text.contains("name=\"password\""), "a login form");
    let wrong = b
        .submit(app, &page, &[("username", "alice"), ("password", "nope")])
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(wrong.text.contains("Invalid username or password."));
    let r = b.submit(app, &wrong, &ALICE).await;
    let cb = location(&r);
    assert!(cb.starts_with(CB), "{cb}");
    let q = query(&cb);
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], "http://localhost:8080/realms/acme", "RFC 9207");
    let session_cookie = session_cookie(&r);
    assert!(
        session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"),
        "{session_cookie}"
    );

    let t = exchange(app, &secret, &q["code"], VERIFIER).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let id = app
        .verify("acme", t.body["id_token"].as_str().unwrap())
        .await;
    assert_eq!(
        (id["nonce"].clone(), id["aud"].clone(), id["azp"].clone()),
        (json!("n-1"), json!("web"), json!("web"))
    );
    assert!(id["auth_time"].is_i64() && id["at_hash"].is_string() && id["sid"].is_string());
    let access = t.body["access_token"].as_str().unwrap().to_string();
    let at = app.verify("acme", &access).await;
    assert_eq!(at["preferred_username"], "alice");
    assert_eq!(at["sid"], id["sid"]);
    let ui = userinfo(app, &access).await;
    assert_eq!(ui.body["preferred_username"], "alice");

    // The session signs alice in without a form next time (SSO).
    let r = b.get(app, &auth_url("")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(query(&location(&r)).contains_key("code"));

    // A code works once; a second redemption fails and revokes what the first issued.
    let again = exchange(app, &secret, &q["code"], VERIFIER).await;
    assert_eq!(again.body["error"], "invalid_grant");
    let revoked = userinfo(app, &access).await;
    assert_eq!(
        revoked.status,
        StatusCode::UNAUTHORIZED,
        "the first access token is revoked"
    );
    let spent = refresh(
        app,
        "web",
        &secret,
        t.body["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        spent.body["error"], "invalid_grant",
        "and its refresh token"
    );

    // The revoked session is over in the browser too: tokens it went on issuing would be
    // refused, so alice signs in again.
    let r = b.get(app, &auth_url("")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("name=\"password\""), "a login form");
}

async fn pkce_is_enforced(app: &TestApp) {
    let (_, secret) = setup(app, web_client()).await;
    let mut b = Browser::default();
    let q = login(app, &mut b, &auth_url("")).await;
    let wrong = exchange(app, &secret, &q["code"], "x".repeat(43).as_str()).await;
    assert_eq!(
        (wrong.status, wrong.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let q = query(&location(&b.get(app, &auth_url("")).await));
    let missing = app
        .form(
            TOKEN,
            &[
                ("grant_type", "authorization_code"),
                ("code", &q["code"]),
                ("redirect_uri", CB),
            ],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(missing.body["error"], "invalid_grant");
    let plain = b
        .get(app, &format!("{AUTH}?client_id=web&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_challenge=abc&code_challenge_method=plain&state=s"))
        .await;
    let q = query(&location(&plain));
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("invalid_request", "s")
    );
    // Public clients must use PKCE (OAuth 2.1).
    let admin = app.admin_token().await;
    app.create_client(
        &admin,
        "acme",
        json!({"clientId": "spa", "publicClient": true, "redirectUris": [CB]}),
    )
    .await;
    let r = b.get(app, &format!("{AUTH}?client_id=spa&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb")).await;
    assert_eq!(query(&location(&r))["error"], "invalid_request");
    let token = b.get(app, &format!("{AUTH}?client_id=web&response_type=token&redirect_uri=https%3A%2F%2Fapp.example%2Fcb")).await;
    assert_eq!(
        query(&location(&token))["error"],
        "unsupported_response_type"
    );
}

async fn refresh_reuse_revokes_the_session(app: &TestApp) {
    let (_, secret) = setup(app, web_client()).await;
    let mut b = Browser::default();
    let q = login(app, &mut b, &auth_url("")).await;
    let t = exchange(app, &secret, &q["code"], VERIFIER).await;
    let first = t.body["refresh_token"].as_str().unwrap().to_string();
    let r2 = refresh(app, "web", &secret, &first).await;
    assert_eq!(r2.status, StatusCode::OK);
    let second = r2.body["refresh_token"].as_str().unwrap().to_string();
    let replay = refresh(app, "web", &secret, &first).await;
    assert_eq!(replay.body["error"], "invalid_grant");
    let after = refresh(app, "web", &secret, &second).await;
    assert_eq!(
        after.body["error"], "invalid_grant",
        "reusing a spent refresh token revokes the family"
    );
    // Its access tokens too, as Keycloak checks the session behind an access token; and
    // the browser's session is over: the next authorization asks for a login.
    for access in [&t.body["access_token"], &r2.body["access_token"]] {
        let access = access.as_str().unwrap();
        assert!(!active(app, "web", &secret, access).await);
        assert_eq!(userinfo(app, access).await.status, StatusCode::UNAUTHORIZED);
    }
    let again = b.get(app, &auth_url("")).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "the login form: {}",
        again.text
    );
}

/// A code or refresh token presented by anyone but its owner (another client of the realm,
/// or a same-named client of another realm) is refused *without being spent*: the owner
/// can still use it, and a spent token replayed by anyone but its owner revokes nothing
/// (Keycloak checks the token's client before anything else).
async fn foreign_codes_and_refresh_tokens_are_not_spent(app: &TestApp) {
    let (admin, secret) = setup(app, web_client()).await;
    let (_, other_secret) = app.create_service_client(&admin, "acme", "other").await;
    app.create_client(
        &admin,
        "acme",
        json!({"clientId": "pub", "publicClient": true}),
    )
    .await;
    app.create_realm(&admin, "beta").await;
    let beta_web = app.create_client(&admin, "beta", web_client()).await;
    let beta_secret = app.client_secret(&admin, "beta", &beta_web).await;
    const BETA_TOKEN: &str = "/realms/beta/protocol/openid-connect/token";
    let mut b = Browser::default();
    let q = login(app, &mut b, &auth_url("")).await;
    let code = q["code"].clone();
    let code_pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", VERIFIER),
    ];
    let thief = exchange_as(app, "other", &other_secret, &code, VERIFIER).await;
    assert_eq!(thief.body["error"], "invalid_grant", "{}", thief.text);
    let thief = app
        .form(BETA_TOKEN, &code_pairs, Some(("web", &beta_secret)))
        .await;
    assert_eq!(thief.body["error"], "invalid_grant", "{}", thief.text);
    let t = exchange(app, &secret, &code, VERIFIER).await;
    assert_eq!(
        t.status,
        StatusCode::OK,
        "the owner's code survived: {}",
        t.text
    );
    let first = t.body["refresh_token"].as_str().unwrap().to_string();
    let access = t.body["access_token"].as_str().unwrap().to_string();
    let thief = refresh(app, "other", &other_secret, &first).await;
    assert_eq!(thief.body["error"], "invalid_grant", "{}", thief.text);
    let thief = refresh_at(app, BETA_TOKEN, "web", &beta_secret, &first).await;
    assert_eq!(thief.body["error"], "invalid_grant", "{}", thief.text);
    let r = refresh(app, "web", &secret, &first).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the owner's refresh token survived: {}",
        r.text
    );
    let second = r.body["refresh_token"].as_str().unwrap().to_string();
    // The spent first token replayed by another client of the realm, confidential or
    // public and secretless, or in another realm (or the code again there): refused, and
    // the owner's session is untouched (only the owner's replay revokes it).
    let thief = refresh(app, "other", &other_secret, &first).await;
    assert_eq!(thief.body["error"], "invalid_grant", "{}", thief.text);
    let public_pairs = [
        ("grant_type", "refresh_token"),
        ("client_id", "pub"),
        ("refresh_token", first.as_str()),
    ];
    let thief = app.form(TOKEN, &public_pairs, None).await;
    assert_eq!(thief.body["error"], "invalid_grant", "{}", thief.text);
    let thief = refresh_at(app, BETA_TOKEN, "web", &beta_secret, &first).await;
    assert_eq!(thief.body["error"], "invalid_grant");
    let thief = app
        .form(BETA_TOKEN, &code_pairs, Some(("web", &beta_secret)))
        .await;
    assert_eq!(thief.body["error"], "invalid_grant");
    let ui = userinfo(app, &access).await;
    assert_eq!(
        ui.status,
        StatusCode::OK,
        "the code's access token was not revoked"
    );
    let r = refresh(app, "web", &secret, &second).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the session was not revoked: {}",
        r.text
    );
}

/// Concurrent redemptions of one code: one wins, and the others, finding the code gone,
/// find the tombstone its take left and revoke the session, so none of the winner's
/// tokens works afterwards (RFC 6749 §4.1.2), whenever it minted them.
async fn concurrent_redemptions_of_a_code_leave_no_working_token(app: &TestApp) {
    let (_, secret) = setup(app, web_client()).await;
    for round in 0..5 {
        let q = login(app, &mut Browser::default(), &auth_url("")).await;
        let pairs = [
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", CB),
            ("code_verifier", VERIFIER),
        ];
        let answers = app
            .send_all(
                (0..8)
                    .map(|_| form_request(TOKEN, &pairs, Some(("web", &secret))))
                    .collect(),
            )
            .await;
        let won: Vec<_> = answers
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .collect();
        assert_eq!(won.len(), 1, "round {round}: one redemption wins");
        assert_dead(
            app,
            "web",
            &secret,
            won[0],
            &format!("round {round}: the winner"),
        )
        .await;
    }
}

crate::on_both_backends!(
    code_flow_with_pkce,
    pkce_is_enforced,
    refresh_reuse_revokes_the_session,
    foreign_codes_and_refresh_tokens_are_not_spent,
    concurrent_redemptions_of_a_code_leave_no_working_token,
);
