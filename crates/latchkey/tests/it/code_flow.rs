//! The authorization code flow through the router: the authorization endpoint, the login
//! and consent forms (as a browser would post them), PKCE, codes, sessions, logout.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::support::{Resp, TestApp, serde_urlencoded_pairs};

const AUTH: &str = "/realms/acme/protocol/openid-connect/auth";
const TOKEN: &str = "/realms/acme/protocol/openid-connect/token";
const CB: &str = "https://app.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9kaBq4f3W1MsKNhcgs8I4aBh0s9E3QwmR";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// A browser: a cookie jar and form handling.
#[derive(Default)]
struct Browser {
    cookies: HashMap<String, String>,
}

impl Browser {
    fn absorb(&mut self, r: &Resp) {
        for v in r.headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            if val.is_empty() || v.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), val.into());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, app: &TestApp, uri: &str) -> Resp {
        let req = Request::get(uri)
            .header(header::HOST, "localhost:8080")
            .header(header::COOKIE, self.cookie_header())
            .body(Body::empty())
            .unwrap();
        let r = app.send(req).await;
        self.absorb(&r);
        r
    }

    async fn post_form(&mut self, app: &TestApp, uri: &str, pairs: &[(&str, &str)]) -> Resp {
        let req = Request::post(uri)
            .header(header::HOST, "localhost:8080")
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(serde_urlencoded_pairs(pairs)))
            .unwrap();
        let r = app.send(req).await;
        self.absorb(&r);
        r
    }

    /// Fills the page's form: its hidden fields plus `extra`, posted to its action.
    async fn submit(&mut self, app: &TestApp, page: &Resp, extra: &[(&str, &str)]) -> Resp {
        let (action, hidden) = form(&page.text);
        let mut pairs: Vec<(&str, &str)> = hidden
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.extend_from_slice(extra);
        self.post_form(app, &action, &pairs).await
    }
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The first form's action and hidden inputs.
fn form(html: &str) -> (String, Vec<(String, String)>) {
    let f = html.find("<form").expect("a form");
    let tag_end = html[f..].find('>').unwrap() + f;
    let action = attr(&html[f..tag_end], "action").unwrap();
    let mut hidden = Vec::new();
    for part in html[f..].split("<input").skip(1) {
        let tag = &part[..part.find('>').unwrap()];
        if tag.contains("type=\"hidden\"") {
            hidden.push((attr(tag, "name").unwrap(), attr(tag, "value").unwrap()));
        }
    }
    (action, hidden)
}

/// For the real-binary tests: the first form's action and hidden inputs.
pub(crate) fn form_of(html: &str) -> (String, Vec<(String, String)>) {
    form(html)
}

/// For the real-binary tests: a URI's query pairs.
pub(crate) fn query_of(uri: &str) -> HashMap<String, String> {
    query(uri)
}

fn location(r: &Resp) -> String {
    r.header("location")
        .unwrap_or_else(|| panic!("a redirect, got {}: {}", r.status, r.text))
        .to_string()
}

fn query(uri: &str) -> HashMap<String, String> {
    let q = uri.split_once('?').map(|(_, q)| q).unwrap_or("");
    url_pairs(q).into_iter().collect()
}

/// `application/x-www-form-urlencoded` pairs, percent- and plus-decoded.
fn url_pairs(q: &str) -> Vec<(String, String)> {
    let decode = |v: &str| {
        let mut out = Vec::new();
        let b = v.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'%' if i + 2 < b.len() => {
                    out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                    i += 3;
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).unwrap()
    };
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// Realm `acme`, user alice, a confidential client `web` (CB registered), and its secret.
async fn setup(app: &TestApp, client: Value) -> (String, String) {
    let admin = app.admin_token().await;
    app.create_realm(&admin, "acme").await;
    let r = app
        .post("/admin/realms/acme/users", &admin, json!({"username": "alice", "email": "alice@example.com", "firstName": "Alice", "enabled": true,
            "credentials": [{"type": "password", "value": "alice-pass", "temporary": false}]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app.post("/admin/realms/acme/clients", &admin, client).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let secret = app
        .get(
            &format!(
                "/admin/realms/acme/clients/{}/client-secret",
                r.location_id()
            ),
            &admin,
        )
        .await
        .body["value"]
        .as_str()
        .unwrap_or("")
        .to_string();
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

/// Logs alice in from the authorization URL; returns the final redirect's query.
async fn login(app: &TestApp, b: &mut Browser, url: &str) -> HashMap<String, String> {
    let page = b.get(app, url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let r = b
        .submit(
            app,
            &page,
            &[("username", "alice"), ("password", "alice-pass")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    query(&location(&r))
}

async fn exchange(app: &TestApp, secret: &str, code: &str, verifier: &str) -> Resp {
    app.form(
        TOKEN,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("code_verifier", verifier),
        ],
        Some(("web", secret)),
    )
    .await
}

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
    let r = b
        .submit(
            app,
            &wrong,
            &[("username", "alice"), ("password", "alice-pass")],
        )
        .await;
    let cb = location(&r);
    assert!(cb.starts_with(CB), "{cb}");
    let q = query(&cb);
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], "http://localhost:8080/realms/acme", "RFC 9207");
    let session_cookie = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("LATCHKEY_SESSION="))
        .unwrap();
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
    let userinfo = app
        .json(
            axum::http::Method::GET,
            "/realms/acme/protocol/openid-connect/userinfo",
            Some(&access),
            None,
        )
        .await;
    assert_eq!(userinfo.body["preferred_username"], "alice");

    // A code works once; a second redemption fails and revokes what the first issued.
    let again = exchange(app, &secret, &q["code"], VERIFIER).await;
    assert_eq!(again.body["error"], "invalid_grant");
    let revoked = app
        .json(
            axum::http::Method::GET,
            "/realms/acme/protocol/openid-connect/userinfo",
            Some(&access),
            None,
        )
        .await;
    assert_eq!(
        revoked.status,
        StatusCode::UNAUTHORIZED,
        "the first access token is revoked"
    );
    let refresh = app
        .form(
            TOKEN,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t.body["refresh_token"].as_str().unwrap()),
            ],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(
        refresh.body["error"], "invalid_grant",
        "and its refresh token"
    );

    // The session signs alice in without a form next time (SSO).
    let r = b.get(app, &auth_url("")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(query(&location(&r)).contains_key("code"));
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
    app.post(
        "/admin/realms/acme/clients",
        &admin,
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
    app.post("/admin/realms/acme/clients", &admin, json!({"clientId": "cli", "publicClient": true, "redirectUris": ["http://127.0.0.1/callback"]})).await;
    let any_port = b.get(app, &format!("{AUTH}?client_id=cli&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fcallback&code_challenge={}&code_challenge_method=S256", challenge(VERIFIER))).await;
    assert_eq!(any_port.status, StatusCode::OK, "{}", any_port.text);
    let other_path = b.get(app, &format!("{AUTH}?client_id=cli&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fother")).await;
    assert_eq!(other_path.status, StatusCode::BAD_REQUEST);
}

async fn prompt_and_max_age(app: &TestApp) {
    let (_, _) = setup(app, web_client()).await;
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
    let hinted = Browser::default()
        .get(app, &auth_url("&login_hint=alice%40example.com"))
        .await;
    assert!(hinted.text.contains("value=\"alice@example.com\""));
}

async fn consent_is_asked_once(app: &TestApp) {
    let (_, secret) = setup(app, json!({"clientId": "web", "redirectUris": [CB], "publicClient": false, "consentRequired": true})).await;
    let mut b = Browser::default();
    let page = b.get(app, &auth_url("")).await;
    let consent = b
        .submit(
            app,
            &page,
            &[("username", "alice"), ("password", "alice-pass")],
        )
        .await;
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
        .post_form(
            app,
            &action,
            &[
                ("auth_request", &id),
                ("csrf", "forged"),
                ("username", "alice"),
                ("password", "alice-pass"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "a wrong CSRF token");
    let mut stranger = Browser::default();
    let csrf = hidden.iter().find(|(k, _)| k == "csrf").unwrap().1.clone();
    let other_browser = stranger
        .post_form(
            app,
            &action,
            &[
                ("auth_request", &id),
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", "alice-pass"),
            ],
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
    let locked = b
        .submit(
            app,
            &page,
            &[("username", "alice"), ("password", "alice-pass")],
        )
        .await;
    assert_eq!(locked.status, StatusCode::OK, "{}", locked.text);
    assert!(locked.text.contains("Invalid username or password."));
}

/// The login form and the password grant share one count per user, with the realm's
/// settings: two failures at the form and one at the grant lock alice at both.
async fn login_form_and_password_grant_share_the_count(app: &TestApp) {
    let (admin, _) = setup(app, web_client()).await;
    let r = app
        .put(
            "/admin/realms/acme",
            &admin,
            json!({"failureFactor": 3, "quickLoginCheckMilliSeconds": 0}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let grant = |password: &'static str| async move {
        app.form(
            TOKEN,
            &[
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", "alice"),
                ("password", password),
            ],
            None,
        )
        .await
    };
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
    let locked = b
        .submit(
            app,
            &page,
            &[("username", "alice"), ("password", "alice-pass")],
        )
        .await;
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

async fn refresh_reuse_revokes_the_session(app: &TestApp) {
    let (_, secret) = setup(app, web_client()).await;
    let mut b = Browser::default();
    let q = login(app, &mut b, &auth_url("")).await;
    let t = exchange(app, &secret, &q["code"], VERIFIER).await;
    let first = t.body["refresh_token"].as_str().unwrap().to_string();
    let r2 = app
        .form(
            TOKEN,
            &[("grant_type", "refresh_token"), ("refresh_token", &first)],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(r2.status, StatusCode::OK);
    let second = r2.body["refresh_token"].as_str().unwrap().to_string();
    let replay = app
        .form(
            TOKEN,
            &[("grant_type", "refresh_token"), ("refresh_token", &first)],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(replay.body["error"], "invalid_grant");
    let after = app
        .form(
            TOKEN,
            &[("grant_type", "refresh_token"), ("refresh_token", &second)],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(
        after.body["error"], "invalid_grant",
        "reusing a spent refresh token revokes the family"
    );
}

async fn logout_ends_the_session(app: &TestApp) {
    let (admin, _) = setup(
        app,
        json!({"clientId": "other", "redirectUris": ["https://x.example/cb"]}),
    )
    .await;
    // A client registered over DCR with a post-logout redirect URI.
    let iat = app
        .post(
            "/admin/realms/acme/clients-initial-access",
            &admin,
            json!({"count": 1}),
        )
        .await;
    let reg = app
        .json(axum::http::Method::POST, "/realms/acme/clients-registrations/openid-connect", iat.body["token"].as_str(),
            Some(json!({"redirect_uris": [CB], "post_logout_redirect_uris": ["https://app.example/bye"]})))
        .await;
    assert_eq!(reg.status, StatusCode::CREATED, "{}", reg.text);
    let (id, secret) = (
        reg.body["client_id"].as_str().unwrap().to_string(),
        reg.body["client_secret"].as_str().unwrap().to_string(),
    );
    let mut b = Browser::default();
    let url = auth_url("").replace("client_id=web", &format!("client_id={id}"));
    let q = login(app, &mut b, &url).await;
    let t = app
        .form(
            TOKEN,
            &[
                ("grant_type", "authorization_code"),
                ("code", &q["code"]),
                ("redirect_uri", CB),
                ("code_verifier", VERIFIER),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let id_token = t.body["id_token"].as_str().unwrap();
    let bad = b.get(app, &format!("/realms/acme/protocol/openid-connect/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.header("location").is_none());
    let out = b.get(app, &format!("/realms/acme/protocol/openid-connect/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye&state=bye-1")).await;
    assert_eq!(location(&out), "https://app.example/bye?state=bye-1");
    let refresh = app
        .form(
            TOKEN,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t.body["refresh_token"].as_str().unwrap()),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(
        refresh.body["error"], "invalid_grant",
        "the session's refresh tokens end with it"
    );
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
    let q2 = query(&location(&b.get(app, &auth_url("")).await));
    let online = exchange(app, &secret, &q2["code"], VERIFIER).await.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let confirm = b
        .get(app, "/realms/acme/protocol/openid-connect/logout")
        .await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
    b.submit(app, &confirm, &[]).await;
    let r = app
        .form(
            TOKEN,
            &[("grant_type", "refresh_token"), ("refresh_token", &online)],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(
        r.body["error"], "invalid_grant",
        "logout ends the session's refresh tokens"
    );
    let r = app
        .form(
            TOKEN,
            &[("grant_type", "refresh_token"), ("refresh_token", &offline)],
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "but not offline access: {}",
        r.text
    );
}

/// A code or refresh token presented by anyone but its owner (another client of the realm,
/// or a same-named client of another realm) is refused *without being spent*: the owner
/// can still use it, and a spent token replayed in another realm revokes nothing.
async fn foreign_codes_and_refresh_tokens_are_not_spent(app: &TestApp) {
    let (admin, secret) = setup(app, web_client()).await;
    let (_, other_secret) = app.create_service_client(&admin, "acme", "other").await;
    app.create_realm(&admin, "beta").await;
    let r = app
        .post("/admin/realms/beta/clients", &admin, web_client())
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let beta_secret = app
        .get(
            &format!(
                "/admin/realms/beta/clients/{}/client-secret",
                r.location_id()
            ),
            &admin,
        )
        .await
        .body["value"]
        .as_str()
        .unwrap()
        .to_string();
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
    let thief = app
        .form(TOKEN, &code_pairs, Some(("other", &other_secret)))
        .await;
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
    let refresh = |rt: String| {
        [
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", rt),
        ]
    };
    let pairs = refresh(first.clone());
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let thief = app
        .form(TOKEN, &pairs, Some(("other", &other_secret)))
        .await;
    assert_eq!(thief.body["error"], "invalid_grant", "{}", thief.text);
    let thief = app
        .form(BETA_TOKEN, &pairs, Some(("web", &beta_secret)))
        .await;
    assert_eq!(thief.body["error"], "invalid_grant", "{}", thief.text);
    let r = app.form(TOKEN, &pairs, Some(("web", &secret))).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the owner's refresh token survived: {}",
        r.text
    );
    let second = r.body["refresh_token"].as_str().unwrap().to_string();
    // The spent first token replayed in another realm (or the code again there): refused,
    // and the owner's session is untouched.
    let thief = app
        .form(BETA_TOKEN, &pairs, Some(("web", &beta_secret)))
        .await;
    assert_eq!(thief.body["error"], "invalid_grant");
    let thief = app
        .form(BETA_TOKEN, &code_pairs, Some(("web", &beta_secret)))
        .await;
    assert_eq!(thief.body["error"], "invalid_grant");
    let ui = app
        .get("/realms/acme/protocol/openid-connect/userinfo", &access)
        .await;
    assert_eq!(
        ui.status,
        StatusCode::OK,
        "the code's access token was not revoked"
    );
    let pairs2 = refresh(second);
    let pairs2: Vec<(&str, &str)> = pairs2.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app.form(TOKEN, &pairs2, Some(("web", &secret))).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the session was not revoked: {}",
        r.text
    );
}

/// Stores `uris` as the client's redirect URIs behind the API's back (as a client stored
/// before the client URI rule, or written by hand, would hold them).
async fn smuggle_redirect_uris(app: &TestApp, client_id: &str, uris: &[&str]) {
    use latchkey_core::store::{ClientBundle, Store, WriteGuard};
    let realm = app.store.realm_by_name("acme").await.unwrap().unwrap();
    let mut client = app
        .store
        .client_by_client_id(&realm.id, client_id)
        .await
        .unwrap()
        .unwrap();
    client.rep.redirect_uris = Some(uris.iter().map(|u| u.to_string()).collect());
    app.store
        .update_client(
            ClientBundle {
                client,
                service_account: None,
            },
            &WriteGuard::default(),
        )
        .await
        .unwrap();
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

    smuggle_redirect_uris(app, "web", &["javascript:alert(document.cookie)//"]).await;
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

/// No id_token_hint: the logout endpoint asks first (Keycloak's "Do you want to log
/// out?"), so another site can neither end the session (CSRF) nor bounce the browser
/// through a registered post-logout URI; only the confirmation page's POST, from the
/// browser that was shown it, does either.
async fn logout_without_a_hint_asks_first(app: &TestApp) {
    let (admin, _) = setup(app, web_client()).await;
    let iat = app
        .post(
            "/admin/realms/acme/clients-initial-access",
            &admin,
            json!({"count": 1}),
        )
        .await;
    let reg = app
        .json(axum::http::Method::POST, "/realms/acme/clients-registrations/openid-connect", iat.body["token"].as_str(),
            Some(json!({"redirect_uris": [CB], "post_logout_redirect_uris": ["https://app.example/bye"]})))
        .await;
    assert_eq!(reg.status, StatusCode::CREATED, "{}", reg.text);
    let (id, secret) = (
        reg.body["client_id"].as_str().unwrap().to_string(),
        reg.body["client_secret"].as_str().unwrap().to_string(),
    );
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
    let t = app
        .form(
            TOKEN,
            &[
                ("grant_type", "authorization_code"),
                ("code", &q["code"]),
                ("redirect_uri", CB),
                ("code_verifier", VERIFIER),
            ],
            Some((&id, &secret)),
        )
        .await;
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
        .post_form(
            app,
            &action,
            &[
                ("logout_request", &values["logout_request"]),
                ("csrf", &values["csrf"]),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{}", forged.text);
    let mut attacker = Browser::default();
    let theirs = attacker.get(app, &logout).await;
    let (_, their_hidden) = form(&theirs.text);
    let their_values: HashMap<String, String> = their_hidden.into_iter().collect();
    let wrong_csrf = b
        .post_form(
            app,
            &action,
            &[
                ("logout_request", &values["logout_request"]),
                ("csrf", &their_values["csrf"]),
            ],
        )
        .await;
    assert_eq!(
        wrong_csrf.status,
        StatusCode::FORBIDDEN,
        "{}",
        wrong_csrf.text
    );
    assert!(wrong_csrf.header("location").is_none());
    let r = app
        .form(
            TOKEN,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t.body["refresh_token"].as_str().unwrap()),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "not signed out yet: {}", r.text);

    // The user confirms: signed out, sent to the registered URI with the state.
    let page = b.get(app, &logout).await;
    let (_, hidden) = form(&page.text);
    let out = b.submit(app, &page, &[]).await;
    assert_eq!(location(&out), "https://app.example/bye?state=s-9");
    let again = b.get(app, &url).await;
    assert_eq!(again.status, StatusCode::OK, "the login form again");
    let r = app
        .form(
            TOKEN,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", r.body["refresh_token"].as_str().unwrap()),
            ],
            Some((&id, &secret)),
        )
        .await;
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
    let replay = b.post_form(app, &action, &pairs).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.text);
}

fn values_of(pairs: &[(&str, &str)], key: &str) -> String {
    pairs.iter().find(|(k, _)| *k == key).unwrap().1.to_string()
}

crate::on_both_backends!(
    dangerous_redirect_uris_are_never_followed,
    logout_without_a_hint_asks_first,
    foreign_codes_and_refresh_tokens_are_not_spent,
    code_flow_with_pkce,
    offline_access_outlives_logout,
    pkce_is_enforced,
    echoed_parameters_are_bounded,
    redirect_uris_are_checked_before_anything_is_shown,
    prompt_and_max_age,
    consent_is_asked_once,
    forms_are_protected,
    login_form_and_password_grant_share_the_count,
    refresh_reuse_revokes_the_session,
    logout_ends_the_session,
);

#[test]
fn the_form_parser_reads_actions_and_hidden_inputs() {
    let (action, hidden) = form(
        "<form method=\"post\" action=\"/a?x=1&amp;y=2\"><input type=\"hidden\" name=\"k\" value=\"v&amp;w\"><input type=\"text\" name=\"u\"></form>",
    );
    assert_eq!(action, "/a?x=1&y=2");
    assert_eq!(hidden, vec![("k".to_string(), "v&w".to_string())]);
    let _: Value = json!(null);
}

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
        let limits = latchkey_server::Limits {
            failed_passwords: 5,
            ..latchkey_server::Limits::off()
        };
        let app = TestApp::with_limits(crate::support::Backend::Sqlite, "", dev_mode, limits)
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
        let r = b
            .submit(
                &app,
                &page,
                &[("username", "alice"), ("password", "alice-pass")],
            )
            .await;
        assert_eq!(r.status, expected, "dev mode {dev_mode}: {}", r.text);
    }
}

/// Outside start-dev the browser session cookie is Secure (issue 5: Secure outside start-dev).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookies_are_secure_outside_start_dev() {
    let app = TestApp::with_settings(crate::support::Backend::Sqlite, "", false)
        .await
        .unwrap();
    setup(&app, web_client()).await;
    let mut b = Browser::default();
    let page = b.get(&app, &auth_url("")).await;
    let r = b
        .submit(
            &app,
            &page,
            &[("username", "alice"), ("password", "alice-pass")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let cookies: Vec<String> = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("LATCHKEY_SESSION="))
        .unwrap();
    assert!(session.contains("; Secure"), "{session}");
    let dev = TestApp::new(crate::support::Backend::Sqlite).await.unwrap();
    setup(&dev, web_client()).await;
    let mut b = Browser::default();
    let page = b.get(&dev, &auth_url("")).await;
    let r = b
        .submit(
            &dev,
            &page,
            &[("username", "alice"), ("password", "alice-pass")],
        )
        .await;
    let dev_cookie = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("LATCHKEY_SESSION="))
        .unwrap();
    assert!(
        !dev_cookie.contains("Secure"),
        "start-dev serves plain http: {dev_cookie}"
    );
}
