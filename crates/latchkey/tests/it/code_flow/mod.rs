//! The authorization code flow through the router, one file per concern: codes, PKCE and
//! refresh tokens (`codes.rs`), what the authorization endpoint checks before it shows
//! anything (`authorize.rs`), the login and consent pages (`login.rs`), logout and the end
//! of a session (`logout.rs`), refresh tokens at the revocation endpoint
//! (`revocation.rs`). The browser is `support::browser`.

mod authorize;
mod codes;
mod login;
mod logout;
mod revocation;

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::browser::{Browser, challenge, form, location, query};
use crate::support::{Resp, TestApp, user};

const AUTH: &str = "/realms/acme/protocol/openid-connect/auth";
const TOKEN: &str = "/realms/acme/protocol/openid-connect/token";
const CB: &str = "https://app.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9kaBq4f3W1MsKNhcgs8I4aBh0s9E3QwmR";
/// Alice's right credentials, as the login form takes them.
const ALICE: [(&str, &str); 2] = [("username", "alice"), ("password", "alice-pass")];

/// Realm `acme`, user alice, a confidential client (CB registered); returns the admin's
/// token and the client's secret.
async fn setup(app: &TestApp, client: Value) -> (String, String) {
    let admin = app.admin_with_realm("acme").await;
    let mut alice = user("alice", "alice-pass");
    alice["email"] = json!("alice@example.com");
    alice["firstName"] = json!("Alice");
    app.create_user(&admin, "acme", alice).await;
    let id = app.create_client(&admin, "acme", client).await;
    let secret = app.client_secret(&admin, "acme", &id).await;
    (admin, secret)
}

fn web_client() -> Value {
    json!({"clientId": "web", "redirectUris": [CB], "publicClient": false})
}

fn auth_url(extra: &str) -> String {
    format!(
        "{AUTH}?client_id=web&response_type=code&redirect_uri={}&scope=openid%20profile&state=st-1&nonce=n-1&code_challenge={}&code_challenge_method=S256{extra}",
        "https%3A%2F%2Fapp.example%2Fcb",
        challenge(VERIFIER)
    )
}

/// Signs alice in on the login page of the authorization URL; returns the answer to the
/// form.
async fn sign_in(app: &TestApp, b: &mut Browser, url: &str) -> Resp {
    let page = b.get(app, url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    b.submit(app, &page, &ALICE).await
}

/// Logs alice in from the authorization URL; returns the final redirect's query.
async fn login(app: &TestApp, b: &mut Browser, url: &str) -> HashMap<String, String> {
    let r = sign_in(app, b, url).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    query(&location(&r))
}

/// Redeems `code` for `web` (redirect URI CB).
async fn exchange(app: &TestApp, secret: &str, code: &str, verifier: &str) -> Resp {
    exchange_as(app, "web", secret, code, verifier).await
}

/// Redeems `code` for `client_id` (redirect URI CB).
async fn exchange_as(
    app: &TestApp,
    client_id: &str,
    secret: &str,
    code: &str,
    verifier: &str,
) -> Resp {
    app.form(
        TOKEN,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("code_verifier", verifier),
        ],
        Some((client_id, secret)),
    )
    .await
}

/// A refresh token grant at `token_path` for `client_id`.
async fn refresh_at(
    app: &TestApp,
    token_path: &str,
    client_id: &str,
    secret: &str,
    refresh_token: &str,
) -> Resp {
    app.form(
        token_path,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
        Some((client_id, secret)),
    )
    .await
}

/// A refresh token grant in `acme` for `client_id`.
async fn refresh(app: &TestApp, client_id: &str, secret: &str, refresh_token: &str) -> Resp {
    refresh_at(app, TOKEN, client_id, secret, refresh_token).await
}

/// Registers a client over DCR with CB and a post-logout redirect URI
/// (`https://app.example/bye`); returns its client id and secret.
async fn register_with_logout_uri(app: &TestApp, admin: &str) -> (String, String) {
    let iat = app
        .initial_access_token(admin, "acme", json!({"count": 1}))
        .await;
    let reg = app
        .register(
            "acme",
            Some(&iat),
            json!({"redirect_uris": [CB], "post_logout_redirect_uris": ["https://app.example/bye"]}),
        )
        .await;
    assert_eq!(reg.status, StatusCode::CREATED, "{}", reg.text);
    (
        reg.body["client_id"].as_str().unwrap().to_string(),
        reg.body["client_secret"].as_str().unwrap().to_string(),
    )
}

/// The userinfo answer for an access token of `acme`.
async fn userinfo(app: &TestApp, access: &str) -> Resp {
    app.json(
        Method::GET,
        "/realms/acme/protocol/openid-connect/userinfo",
        Some(access),
        None,
    )
    .await
}

/// Whether introspection, asked by `client_id`, says `token` is active.
async fn active(app: &TestApp, client_id: &str, secret: &str, token: &str) -> bool {
    let r = app
        .form(
            "/realms/acme/protocol/openid-connect/token/introspect",
            &[("token", token)],
            Some((client_id, secret)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["active"].as_bool().unwrap()
}

/// Asserts that every token of a token response `issued` to `client_id` in `acme` is dead:
/// the access token inactive at introspection and refused at userinfo, the refresh token
/// `invalid_grant`. `what` names the response in a failure.
async fn assert_dead(app: &TestApp, client_id: &str, secret: &str, issued: &Resp, what: &str) {
    let access = issued.body["access_token"].as_str().unwrap();
    assert!(
        !active(app, client_id, secret, access).await,
        "{what}: the access token"
    );
    assert_eq!(
        userinfo(app, access).await.status,
        StatusCode::UNAUTHORIZED,
        "{what}: userinfo"
    );
    let refreshed = refresh(
        app,
        client_id,
        secret,
        issued.body["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        refreshed.body["error"], "invalid_grant",
        "{what}: the refresh token: {}",
        refreshed.text
    );
}

/// The `Set-Cookie` header that sets the browser session cookie.
fn session_cookie(r: &Resp) -> String {
    r.headers
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("LATCHKEY_SESSION="))
        .unwrap()
}

#[test]
fn the_form_parser_reads_actions_and_hidden_inputs() {
    let (action, hidden) = form(
        "<form method=\"post\" action=\"/a?x=1&amp;y=2\"><input type=\"hidden\" name=\"k\" value=\"v&amp;w\"><input type=\"text\" name=\"u\"></form>",
    );
    assert_eq!(action, "/a?x=1&y=2");
    assert_eq!(hidden, vec![("k".to_string(), "v&w".to_string())]);
}
