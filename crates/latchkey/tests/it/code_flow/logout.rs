//! Logout: with an `id_token_hint` at once, without one only after the user confirms;
//! the session's tokens end with it (refresh and access), offline tokens do not; an admin
//! ending the session ends the browser's sign-in too; a client ends the session of its
//! own refresh token by POSTing it (Keycloak's back-channel logout).

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::json;

use super::{
    VERIFIER, active, assert_dead, auth_url, exchange, exchange_as, login, refresh,
    register_with_logout_uri, setup, userinfo, web_client,
};
use crate::support::TestApp;
use crate::support::browser::{Browser, form, location, query};

/// A user signed in through a client registered over DCR with a post-logout redirect URI:
/// the client's id and secret, the browser, the authorization URL and the token response.
async fn signed_in(app: &TestApp) -> (String, String, Browser, String, crate::support::Resp) {
    let (admin, _) = setup(
        app,
        json!({"clientId": "other", "redirectUris": ["https://x.example/cb"]}),
    )
    .await;
    let (id, secret) = register_with_logout_uri(app, &admin).await;
    let mut b = Browser::default();
    let url = auth_url("").replace("client_id=web", &format!("client_id={id}"));
    let q = login(app, &mut b, &url).await;
    let t = exchange_as(app, &id, &secret, &q["code"], VERIFIER).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    (id, secret, b, url, t)
}

async fn logout_ends_the_session(app: &TestApp) {
    let (id, secret, mut b, url, t) = signed_in(app).await;
    let id_token = t.body["id_token"].as_str().unwrap();
    let bad = b.get(app, &format!("/realms/acme/protocol/openid-connect/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.header("location").is_none());
    let out = b.get(app, &format!("/realms/acme/protocol/openid-connect/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye&state=bye-1")).await;
    assert_eq!(location(&out), "https://app.example/bye?state=bye-1");
    let r = refresh(app, &id, &secret, t.body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        r.body["error"], "invalid_grant",
        "the session's refresh tokens end with it"
    );
    let access = t.body["access_token"].as_str().unwrap();
    assert!(
        !active(app, &id, &secret, access).await,
        "and its access tokens (Keycloak checks the session behind one)"
    );
    assert_eq!(userinfo(app, access).await.status, StatusCode::UNAUTHORIZED);
    let again = b.get(app, &url).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "signed out: the login form again"
    );
    let plain = Browser::default()
        .get(app, "/realms/acme/protocol/openid-connect/logout")
        .await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(
        plain.text.contains("Do you want to log out?"),
        "{}",
        plain.text
    );
}

/// A logout with an `id_token_hint` and no browser session (a client's back end, another
/// browser) ends the hint's session: its refresh tokens stop working, as in Keycloak.
async fn a_hint_without_a_browser_session_ends_the_hints_session(app: &TestApp) {
    let (id, secret, _, _, t) = signed_in(app).await;
    let id_token = t.body["id_token"].as_str().unwrap();
    let out = Browser::default()
        .get(
            app,
            &format!("/realms/acme/protocol/openid-connect/logout?id_token_hint={id_token}"),
        )
        .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text);
    let r = refresh(app, &id, &secret, t.body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.body["error"], "invalid_grant", "{}", r.text);
    let access = t.body["access_token"].as_str().unwrap();
    assert!(!active(app, &id, &secret, access).await);
    assert_eq!(userinfo(app, access).await.status, StatusCode::UNAUTHORIZED);
}

async fn offline_access_outlives_logout(app: &TestApp) {
    let (_, secret) = setup(app, web_client()).await;
    let mut b = Browser::default();
    let q = login(
        app,
        &mut b,
        &auth_url("").replace("scope=openid%20profile", "scope=openid%20offline_access"),
    )
    .await;
    let t = exchange(app, &secret, &q["code"], VERIFIER).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    assert_eq!(
        t.body["refresh_expires_in"], 0,
        "Keycloak reports 0 for offline tokens"
    );
    let offline = t.body["refresh_token"].as_str().unwrap().to_string();
    let intro = app
        .form(
            "/realms/acme/protocol/openid-connect/token/introspect",
            &[("token", &offline)],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(intro.body["token_type"], "Offline");
    let offline_access = t.body["access_token"].as_str().unwrap().to_string();
    let q2 = query(&location(&b.get(app, &auth_url("")).await));
    let t2 = exchange(app, &secret, &q2["code"], VERIFIER).await;
    let online = t2.body["refresh_token"].as_str().unwrap().to_string();
    let online_access = t2.body["access_token"].as_str().unwrap();
    let confirm = b
        .get(app, "/realms/acme/protocol/openid-connect/logout")
        .await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
    b.submit(app, &confirm, &[]).await;
    let r = refresh(app, "web", &secret, &online).await;
    assert_eq!(
        r.body["error"], "invalid_grant",
        "logout ends the session's refresh tokens"
    );
    assert!(!active(app, "web", &secret, online_access).await);
    assert_eq!(
        userinfo(app, online_access).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        active(app, "web", &secret, &offline_access).await,
        "an offline access token outlives the logout"
    );
    assert_eq!(userinfo(app, &offline_access).await.status, StatusCode::OK);
    let r = refresh(app, "web", &secret, &offline).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "but not offline access: {}",
        r.text
    );
    let renewed = r.body["access_token"].as_str().unwrap();
    assert!(active(app, "web", &secret, renewed).await);
}

/// No id_token_hint: the logout endpoint asks first (Keycloak's "Do you want to log
/// out?"), so another site can neither end the session (CSRF) nor bounce the browser
/// through a registered post-logout URI; only the confirmation page's POST, from the
/// browser that was shown it, does either.
async fn logout_without_a_hint_asks_first(app: &TestApp) {
    let (admin, _) = setup(app, web_client()).await;
    let (id, secret) = register_with_logout_uri(app, &admin).await;
    let url = auth_url("").replace("client_id=web", &format!("client_id={id}"));
    let logout = format!(
        "/realms/acme/protocol/openid-connect/logout?client_id={id}&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye&state=s-9"
    );

    // Without a session: still a page, not a redirect.
    let stranger = Browser::default().get(app, &logout).await;
    assert_eq!(stranger.status, StatusCode::OK, "{}", stranger.text);
    assert!(stranger.header("location").is_none());
    assert!(stranger.text.contains("Do you want to log out?"));

    let mut b = Browser::default();
    let q = login(app, &mut b, &url).await;
    let t = exchange_as(app, &id, &secret, &q["code"], VERIFIER).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);

    // A link from anywhere shows the question; the session lives on.
    let page = b.get(app, &logout).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.header("location").is_none(),
        "no redirect before confirming"
    );
    let still = b.get(app, &url).await;
    assert_eq!(
        still.status,
        StatusCode::SEE_OTHER,
        "still signed in: {}",
        still.text
    );

    // A forged POST: the page's values without this browser's cookie, or a wrong token.
    let (action, hidden) = form(&page.text);
    let values: HashMap<String, String> = hidden.into_iter().collect();
    let forged = Browser::default()
        .post(
            app,
            &action,
            &[
                ("logout_request", &values["logout_request"]),
                ("csrf", &values["csrf"]),
            ],
            None,
        )
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{}", forged.text);
    let mut attacker = Browser::default();
    let theirs = attacker.get(app, &logout).await;
    let (_, their_hidden) = form(&theirs.text);
    let their_values: HashMap<String, String> = their_hidden.into_iter().collect();
    let wrong_csrf = b
        .post(
            app,
            &action,
            &[
                ("logout_request", &values["logout_request"]),
                ("csrf", &their_values["csrf"]),
            ],
            None,
        )
        .await;
    assert_eq!(
        wrong_csrf.status,
        StatusCode::FORBIDDEN,
        "{}",
        wrong_csrf.text
    );
    assert!(wrong_csrf.header("location").is_none());
    let r = refresh(app, &id, &secret, t.body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "not signed out yet: {}", r.text);

    // The user confirms: signed out, sent to the registered URI with the state.
    let page = b.get(app, &logout).await;
    let (_, hidden) = form(&page.text);
    let out = b.submit(app, &page, &[]).await;
    assert_eq!(location(&out), "https://app.example/bye?state=s-9");
    let again = b.get(app, &url).await;
    assert_eq!(again.status, StatusCode::OK, "the login form again");
    let r = refresh(app, &id, &secret, r.body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.body["error"], "invalid_grant", "the session's tokens end");
    // The confirmation is used once.
    let pairs: Vec<(&str, &str)> = hidden
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.cookies.insert(
        "LATCHKEY_LOGOUT_REQ".into(),
        values_of(&pairs, "logout_request"),
    );
    let replay = b.post(app, &action, &pairs, None).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.text);
}

fn values_of(pairs: &[(&str, &str)], key: &str) -> String {
    pairs.iter().find(|(k, _)| *k == key).unwrap().1.to_string()
}

/// An admin ending a session (`DELETE sessions/{id}`) or a user's sessions (`POST
/// users/{id}/logout`) ends the browser's sign-in too: the next authorization request
/// shows the login form instead of a code.
async fn an_admin_ends_the_browser_sign_in(app: &TestApp) {
    let (admin, secret) = setup(app, web_client()).await;
    let users = app
        .get("/admin/realms/acme/users?username=alice&exact=true", &admin)
        .await;
    let alice = users.body[0]["id"].as_str().unwrap().to_string();
    for end in ["session", "user"] {
        let mut b = Browser::default();
        let q = login(app, &mut b, &auth_url("")).await;
        let t = exchange(app, &secret, &q["code"], VERIFIER).await;
        let sid = app
            .verify("acme", t.body["access_token"].as_str().unwrap())
            .await["sid"]
            .as_str()
            .unwrap()
            .to_string();
        let sso = b.get(app, &auth_url("")).await;
        assert_eq!(sso.status, StatusCode::SEE_OTHER, "signed in: {}", sso.text);
        let r = match end {
            "session" => {
                app.delete(&format!("/admin/realms/acme/sessions/{sid}"), &admin)
                    .await
            }
            _ => {
                app.post(
                    &format!("/admin/realms/acme/users/{alice}/logout"),
                    &admin,
                    json!({}),
                )
                .await
            }
        };
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{end}: {}", r.text);
        let page = b.get(app, &auth_url("")).await;
        assert_eq!(page.status, StatusCode::OK, "{end}: {}", page.text);
        assert!(
            page.text.contains("name=\"password\""),
            "{end}: a login form"
        );
    }
}

const LOGOUT: &str = "/realms/acme/protocol/openid-connect/logout";

/// A client created by an admin names its post-logout redirect URIs in Keycloak's
/// attribute `post.logout.redirect.uris`: `##`-joined, a trailing `*` as in redirect URIs,
/// `+` for the client's redirect URIs. Logout honours them as it does DCR metadata.
async fn the_keycloak_attribute_names_post_logout_uris(app: &TestApp) {
    let mut client = web_client();
    client["attributes"] = json!({"post.logout.redirect.uris": "https://app.example/out/*##+"});
    let (_, secret) = setup(app, client).await;
    for (target, expected) in [
        (
            "https%3A%2F%2Fapp.example%2Fout%2Fdone",
            "https://app.example/out/done?state=z",
        ),
        (
            "https%3A%2F%2Fapp.example%2Fcb",
            "https://app.example/cb?state=z",
        ),
        ("https%3A%2F%2Fapp.example%2Foutside", ""),
    ] {
        let mut b = Browser::default();
        let q = login(app, &mut b, &auth_url("")).await;
        let t = exchange(app, &secret, &q["code"], VERIFIER).await;
        let id_token = t.body["id_token"].as_str().unwrap();
        let out = b
            .get(
                app,
                &format!(
                    "{LOGOUT}?id_token_hint={id_token}&post_logout_redirect_uri={target}&state=z"
                ),
            )
            .await;
        if expected.is_empty() {
            assert_eq!(
                out.status,
                StatusCode::BAD_REQUEST,
                "{target}: {}",
                out.text
            );
            assert!(
                out.text
                    .contains("Invalid parameter: post_logout_redirect_uri")
            );
        } else {
            assert_eq!(location(&out), expected, "{target}");
        }
    }
}

/// Keycloak's `LogoutEndpoint` for a POST with `refresh_token` (python-keycloak's
/// `logout(refresh_token)`): the client authenticates (here `client_secret` in the form),
/// the token must be its own; 204, and the token's session is over: refresh, access token,
/// browser sign-in. Another client's token is `invalid_grant` and ends nothing; a
/// confidential client without its secret is `invalid_client`.
async fn a_client_logs_out_its_refresh_token(app: &TestApp) {
    let (admin, other_secret) = setup(app, web_client()).await;
    let (id, secret) = register_with_logout_uri(app, &admin).await;
    let mut b = Browser::default();
    let url = auth_url("").replace("client_id=web", &format!("client_id={id}"));
    let q = login(app, &mut b, &url).await;
    let t = exchange_as(app, &id, &secret, &q["code"], VERIFIER).await;
    let rt = t.body["refresh_token"].as_str().unwrap();
    let access = t.body["access_token"].as_str().unwrap();

    let unauthenticated = app
        .form(LOGOUT, &[("client_id", &id), ("refresh_token", rt)], None)
        .await;
    assert_eq!(
        unauthenticated.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        unauthenticated.text
    );
    assert_eq!(unauthenticated.body["error"], "invalid_client");
    let foreign = app
        .form(
            LOGOUT,
            &[("refresh_token", rt)],
            Some(("web", &other_secret)),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST, "{}", foreign.text);
    assert_eq!(foreign.body["error"], "invalid_grant");
    let twice = app
        .form(
            LOGOUT,
            &[("refresh_token", rt), ("refresh_token", rt)],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST, "{}", twice.text);
    assert_eq!(twice.body["error"], "invalid_request");
    assert!(active(app, &id, &secret, access).await, "nothing ended yet");

    let out = app
        .form(
            LOGOUT,
            &[
                ("client_id", &id),
                ("client_secret", &secret),
                ("refresh_token", rt),
            ],
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    let r = refresh(app, &id, &secret, rt).await;
    assert_eq!(r.body["error"], "invalid_grant", "{}", r.text);
    assert!(!active(app, &id, &secret, access).await);
    let again = b.get(app, &url).await;
    assert_eq!(again.status, StatusCode::OK, "the login form again");

    // An offline token ends its offline session.
    let offline_url = url.replace("scope=openid%20profile", "scope=openid%20offline_access");
    let q = login(app, &mut b, &offline_url).await;
    let t = exchange_as(app, &id, &secret, &q["code"], VERIFIER).await;
    let offline = t.body["refresh_token"].as_str().unwrap();
    let out = app
        .form(LOGOUT, &[("refresh_token", offline)], Some((&id, &secret)))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    let r = refresh(app, &id, &secret, offline).await;
    assert_eq!(r.body["error"], "invalid_grant", "{}", r.text);
}

/// A client logging out with a refresh token it rotated away already (its own refresh won a
/// race with the logout) is a replay that ends the session: the logout is done, 204, and
/// every token of the session is dead. Another client presenting that spent token ends
/// nothing; the tombstone is spent by the owner's first use.
async fn logging_out_with_a_rotated_token_ends_the_session(app: &TestApp) {
    let (admin, other_secret) = setup(app, web_client()).await;
    let (id, secret) = register_with_logout_uri(app, &admin).await;
    let url = auth_url("").replace("client_id=web", &format!("client_id={id}"));
    let q = login(app, &mut Browser::default(), &url).await;
    let t = exchange_as(app, &id, &secret, &q["code"], VERIFIER).await;
    let spent = t.body["refresh_token"].as_str().unwrap();
    let r = refresh(app, &id, &secret, spent).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let foreign = app
        .form(
            LOGOUT,
            &[("refresh_token", spent)],
            Some(("web", &other_secret)),
        )
        .await;
    assert_eq!(foreign.body["error"], "invalid_grant", "{}", foreign.text);
    let current = r.body["access_token"].as_str().unwrap();
    assert!(
        active(app, &id, &secret, current).await,
        "nothing ended yet"
    );

    let out = app
        .form(LOGOUT, &[("refresh_token", spent)], Some((&id, &secret)))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    assert_dead(app, &id, &secret, &r, "after the logout").await;
    let again = app
        .form(LOGOUT, &[("refresh_token", spent)], Some((&id, &secret)))
        .await;
    assert_eq!(again.body["error"], "invalid_grant", "{}", again.text);
}

crate::on_both_backends!(
    the_keycloak_attribute_names_post_logout_uris,
    a_client_logs_out_its_refresh_token,
    logging_out_with_a_rotated_token_ends_the_session,
    an_admin_ends_the_browser_sign_in,
    logout_ends_the_session,
    a_hint_without_a_browser_session_ends_the_hints_session,
    offline_access_outlives_logout,
    logout_without_a_hint_asks_first,
);
