//! The admin console's server side through the router: login through the authorization
//! endpoint (code + PKCE as `security-admin-console`), redirects when signed out, CSRF and
//! Origin refusals, rights per realm, HTML escaping. The browser walk is
//! tests/console/guide.test.mjs.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::support::{ADMIN, ADMIN_PASSWORD, Resp, TestApp, serde_urlencoded_pairs};

const ORIGIN: &str = "http://localhost:8080";

/// A cookie jar that follows the console's absolute redirects on `localhost:8080`.
#[derive(Default)]
struct Browser {
    cookies: HashMap<String, String>,
}

fn path_of(url: &str) -> String {
    url.strip_prefix(ORIGIN).unwrap_or(url).to_string()
}

fn location(r: &Resp) -> String {
    r.header("location")
        .unwrap_or_else(|| panic!("a redirect, got {}: {}", r.status, r.text))
        .to_string()
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The value of the first `<input … name="{name}" value="…">`.
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let start = at + name.len() + 15;
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

fn form_action(html: &str) -> String {
    let f = html.find("<form").expect("a form");
    let start = html[f..].find("action=\"").unwrap() + f + 8;
    let end = html[start..].find('"').unwrap() + start;
    unescape(&html[start..end])
}

impl Browser {
    fn absorb(&mut self, r: &Resp) {
        for v in r.headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (k, val) = v.split(';').next().unwrap().split_once('=').unwrap();
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
        let req = Request::get(path_of(uri))
            .header(header::HOST, "localhost:8080")
            .header(header::COOKIE, self.cookie_header())
            .body(Body::empty())
            .unwrap();
        let r = app.send(req).await;
        self.absorb(&r);
        r
    }

    async fn post(
        &mut self,
        app: &TestApp,
        uri: &str,
        pairs: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Resp {
        let mut req = Request::post(path_of(uri))
            .header(header::HOST, "localhost:8080")
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        let r = app
            .send(req.body(Body::from(serde_urlencoded_pairs(pairs))).unwrap())
            .await;
        self.absorb(&r);
        r
    }

    /// Signs in through the realm's authorization endpoint; returns the realm list page.
    async fn sign_in(&mut self, app: &TestApp, realm: &str, user: &str, password: &str) -> Resp {
        let r = self
            .get(app, &format!("/admin/console/login?realm={realm}"))
            .await;
        let auth = location(&r);
        assert!(
            auth.contains(&format!("/realms/{realm}/protocol/openid-connect/auth?"))
                && auth.contains("client_id=security-admin-console")
                && auth.contains("code_challenge_method=S256"),
            "{auth}"
        );
        let page = self.get(app, &auth).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let action = form_action(&page.text);
        let r = self
            .post(
                app,
                &action,
                &[
                    (
                        "auth_request",
                        &input_value(&page.text, "auth_request").unwrap(),
                    ),
                    ("csrf", &input_value(&page.text, "csrf").unwrap()),
                    ("username", user),
                    ("password", password),
                ],
                None,
            )
            .await;
        let callback = location(&r);
        assert!(callback.contains("/admin/console/callback?"), "{callback}");
        let r = self.get(app, &callback).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(location(&r), format!("{ORIGIN}/admin/console/"));
        let home = self.get(app, &location(&r)).await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.text);
        home
    }
}

async fn signed_out_pages_send_to_the_login(app: &TestApp) {
    let mut b = Browser::default();
    for path in ["/admin", "/admin/", "/admin/console"] {
        let r = b.get(app, path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&r), format!("{ORIGIN}/admin/console/"));
    }
    for path in [
        "/admin/console/",
        "/admin/console/realms/master/clients",
        "/admin/console/realms/master/client-registration",
    ] {
        let r = b.get(app, path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&r), format!("{ORIGIN}/admin/console/login"));
    }
    // A forged or foreign session cookie is no session.
    b.cookies
        .insert("LATCHKEY_CONSOLE".into(), "bm90LXNlYWxlZA".into());
    let r = b.get(app, "/admin/console/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // A change without a session is refused, not performed.
    let r = b
        .post(app, "/admin/console/realms", &[("realm", "x")], None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The callback checks the state against the login cookie.
    let mut b = Browser::default();
    b.get(app, "/admin/console/login").await;
    let r = b
        .get(app, "/admin/console/callback?code=abc&state=forged")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("does not match"), "{}", r.text);
}

async fn changes_need_the_csrf_token_and_our_origin(app: &TestApp) {
    let mut b = Browser::default();
    let home = b.sign_in(app, "master", ADMIN, ADMIN_PASSWORD).await;
    assert!(home.text.contains("<h1>Realms</h1>"));
    assert_eq!(
        home.header("x-frame-options"),
        Some("DENY"),
        "the console cannot be framed"
    );
    let csrf = input_value(&home.text, "csrf").unwrap();
    let admin = app.admin_token().await;

    let r = b
        .post(app, "/admin/console/realms", &[("realm", "no-token")], None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = b
        .post(
            app,
            "/admin/console/realms",
            &[("realm", "wrong-token"), ("csrf", "x".repeat(43).as_str())],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = b
        .post(
            app,
            "/admin/console/realms",
            &[("realm", "cross-site"), ("csrf", &csrf)],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for name in ["no-token", "wrong-token", "cross-site"] {
        let r = app.get(&format!("/admin/realms/{name}"), &admin).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{name} was not created");
    }

    let r = app
        .put(
            "/admin/realms/master",
            &admin,
            json!({"adminEventsEnabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = b
        .post(
            app,
            "/admin/console/realms",
            &[("realm", "made-here"), ("csrf", &csrf)],
            Some(ORIGIN),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = app.get("/admin/realms/made-here", &admin).await;
    assert_eq!(r.status, StatusCode::OK);
    // Recorded as an admin event, as the admin API would, by the console's client.
    let events = app
        .get("/admin/realms/master/admin-events", &admin)
        .await
        .body;
    let created: Vec<_> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operationType"] == "CREATE" && e["resourceType"] == "REALM")
        .collect();
    assert_eq!(created.len(), 1, "{events}");
    assert_eq!(created[0]["resourcePath"], "made-here");
    let console_client = app
        .get(
            "/admin/realms/master/clients?clientId=security-admin-console",
            &admin,
        )
        .await
        .body[0]["id"]
        .clone();
    assert_eq!(created[0]["authDetails"]["clientId"], console_client);

    // Validation is the admin API's, shown beside the field.
    let r = b
        .post(
            app,
            "/admin/console/realms",
            &[("realm", "made-here"), ("csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.text
            .contains("id=\"realm-name-error\" role=\"alert\">Realm made-here already exists"),
        "{}",
        r.text
    );

    // Sign-out ends the session: the same cookie no longer works.
    let r = b
        .post(app, "/admin/console/logout", &[("csrf", &csrf)], None)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let to = location(&r);
    assert!(to.contains("/realms/master/protocol/openid-connect/logout"));
    assert!(to.contains("id_token_hint="), "{to}");
    // With the hint the realm signs out at once, without its confirmation page.
    let out = b.get(app, &to).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text);
    assert!(out.text.contains("You are signed out"), "{}", out.text);
    let r = b.get(app, "/admin/console/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let login = b.get(app, "/admin/console/login?realm=master").await;
    let auth = b.get(app, &location(&login)).await;
    assert!(
        auth.text.contains("name=\"password\""),
        "the single sign-on session ended too: {}",
        auth.text
    );
}

async fn a_realm_admin_sees_only_their_realm(app: &TestApp) {
    let admin = app.admin_token().await;
    app.create_realm(&admin, "red").await;
    app.create_realm(&admin, "blue").await;
    let r = app
        .post(
            "/admin/realms/red/users",
            &admin,
            json!({"username": "rosa", "enabled": true,
                   "credentials": [{"type": "password", "value": "rosa-pass", "temporary": false}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let user = r.location_id();
    let management = app
        .get(
            "/admin/realms/red/clients?clientId=realm-management",
            &admin,
        )
        .await
        .body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let role = app
        .get(
            &format!("/admin/realms/red/clients/{management}/roles/realm-admin"),
            &admin,
        )
        .await
        .body;
    let r = app
        .post(
            &format!("/admin/realms/red/users/{user}/role-mappings/clients/{management}"),
            &admin,
            json!([role]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    let mut b = Browser::default();
    let home = b.sign_in(app, "red", "rosa", "rosa-pass").await;
    assert!(home.text.contains("/admin/console/realms/red/clients"));
    assert!(!home.text.contains("/admin/console/realms/blue/"));
    assert!(!home.text.contains("/admin/console/realms/master/"));
    assert!(
        !home.text.contains("Create a realm"),
        "only master admins create realms"
    );
    let csrf = input_value(&home.text, "csrf").unwrap();
    for path in [
        "/admin/console/realms/red/clients",
        "/admin/console/realms/red/client-registration",
        "/admin/console/realms/red/initial-access",
        "/admin/console/realms/red/events",
    ] {
        let r = b.get(app, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    }
    for path in [
        "/admin/console/realms/blue/clients",
        "/admin/console/realms/blue/client-registration",
        "/admin/console/realms/master/initial-access",
        "/admin/console/realms/master/events",
    ] {
        let r = b.get(app, path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    let r = b
        .post(
            app,
            "/admin/console/realms/blue/client-registration/switches",
            &[
                ("csrf", &csrf),
                ("clientRegistrationAnonymousEnabled", "true"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let blue = app.get("/admin/realms/blue", &admin).await;
    assert_eq!(
        blue.body["attributes"]["clientRegistrationAnonymousEnabled"], "false",
        "nothing changed in blue"
    );
    let r = b
        .post(
            app,
            "/admin/console/realms",
            &[("realm", "green"), ("csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A user without admin rights signs in and sees that, and no realm.
    let r = app
        .post(
            "/admin/realms/red/users",
            &admin,
            json!({"username": "plain", "enabled": true,
                   "credentials": [{"type": "password", "value": "plain-pass", "temporary": false}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let mut b = Browser::default();
    let home = b.sign_in(app, "red", "plain", "plain-pass").await;
    assert!(
        home.text.contains("no administration rights"),
        "{}",
        home.text
    );
    let r = b.get(app, "/admin/console/realms/red/clients").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn hostile_values_are_escaped(app: &TestApp) {
    let admin = app.admin_token().await;
    app.create_realm(&admin, "acme").await;
    let evil = "<script>alert(1)</script>\"'&";
    let r = app
        .post(
            "/admin/realms/acme/clients",
            &admin,
            json!({"clientId": format!("x{evil}"), "name": evil, "publicClient": true,
                   "redirectUris": ["https://app.example/cb?<b>"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.location_id();
    let mut b = Browser::default();
    b.sign_in(app, "master", ADMIN, ADMIN_PASSWORD).await;
    for path in [
        "/admin/console/realms/acme/clients".to_string(),
        format!("/admin/console/realms/acme/clients/{id}"),
        "/admin/console/realms/acme/clients?search=%3Cscript%3E".to_string(),
        "/admin/console/realms/acme/events?client=%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_string(),
    ] {
        let r = b.get(app, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(!r.text.contains("<script>alert"), "{path}: unescaped");
        assert!(!r.text.contains("?<b>"), "{path}: unescaped");
    }
    let r = b.get(app, "/admin/console/realms/acme/clients").await;
    assert!(
        r.text
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;")
    );
}

async fn events_are_filtered_and_paged(app: &TestApp) {
    use latchkey_core::store::{EventRecord, Store};
    let admin = app.admin_token().await;
    app.create_realm(&admin, "acme").await;
    let realm = app.store.realm_by_name("acme").await.unwrap().unwrap();
    for i in 0..30 {
        let event = EventRecord {
            id: format!("ev-{i}"),
            realm_id: realm.id.clone(),
            time: 1_795_651_200_000 + i * 1000,
            kind: if i == 7 {
                "CLIENT_REGISTER_ERROR"
            } else {
                "CLIENT_REGISTER"
            }
            .into(),
            client_id: Some(format!("client-{i:02}")),
            user_id: None,
            ip_address: Some("192.0.2.1".into()),
            error: None,
            details: Default::default(),
        };
        app.store.insert_event(&event).await.unwrap();
    }
    let mut b = Browser::default();
    b.sign_in(app, "master", ADMIN, ADMIN_PASSWORD).await;
    let first = b.get(app, "/admin/console/realms/acme/events").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.text.contains("client-29") && first.text.contains("client-05"));
    assert!(!first.text.contains("client-04"), "25 a page, newest first");
    assert!(first.text.contains("Older →") && !first.text.contains("← Newer"));
    let second = b.get(app, "/admin/console/realms/acme/events?page=1").await;
    assert!(second.text.contains("client-04") && second.text.contains("client-00"));
    assert!(!second.text.contains("client-05"));
    assert!(second.text.contains("← Newer") && !second.text.contains("Older →"));
    let errors = b
        .get(
            app,
            "/admin/console/realms/acme/events?type=CLIENT_REGISTER_ERROR",
        )
        .await;
    assert!(errors.text.contains("client-07") && !errors.text.contains("client-08"));
    let one = b
        .get(app, "/admin/console/realms/acme/events?client=client-12")
        .await;
    assert!(one.text.contains("client-12") && !one.text.contains("client-13"));
    let day = b
        .get(app, "/admin/console/realms/acme/events?dateFrom=2026-11-27")
        .await;
    assert!(day.text.contains("No events match"));
    let bad = b
        .get(app, "/admin/console/realms/acme/events?dateTo=yesterday")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.text
            .contains("id=\"ev-to-error\" role=\"alert\">Invalid value for &#39;dateTo&#39;"),
        "{}",
        bad.text
    );
}

async fn client_registration_warns_and_validates(app: &TestApp) {
    use latchkey_core::store::Store;
    let admin = app.admin_token().await;
    app.create_realm(&admin, "acme").await;
    let mut b = Browser::default();
    let home = b.sign_in(app, "master", ADMIN, ADMIN_PASSWORD).await;
    let csrf = input_value(&home.text, "csrf").unwrap();
    let page = b
        .get(app, "/admin/console/realms/acme/client-registration")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.text.contains("class=\"warning\""),
        "defaults surprise nobody"
    );

    // Anonymous on while Trusted Hosts admits no host; then policies off.
    let r = b
        .post(
            app,
            "/admin/console/realms/acme/client-registration/switches",
            &[
                ("csrf", &csrf),
                ("clientRegistrationAnonymousEnabled", "true"),
                ("clientRegistrationAuthenticatedEnabled", "true"),
                ("clientRegistrationPoliciesEnabled", "true"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = b.get(app, &location(&r)).await;
    assert!(page.text.contains("admits no host"), "{}", page.text);
    let r = b
        .post(
            app,
            "/admin/console/realms/acme/client-registration/switches",
            &[
                ("csrf", &csrf),
                ("clientRegistrationAnonymousEnabled", "true"),
            ],
            None,
        )
        .await;
    let page = b.get(app, &location(&r)).await;
    assert!(page.text.contains("Policies are off"), "{}", page.text);
    assert!(!page.text.contains("admits no host"));
    let realm = app.get("/admin/realms/acme", &admin).await.body;
    assert_eq!(
        realm["attributes"]["clientRegistrationPoliciesEnabled"],
        "false"
    );
    assert_eq!(
        realm["attributes"]["clientRegistrationAuthenticatedEnabled"],
        "false"
    );

    // A bad option is refused by the components API's validation, shown beside its field.
    let realm = app.store.realm_by_name("acme").await.unwrap().unwrap();
    let max = app
        .store
        .list_components(&realm.id)
        .await
        .unwrap()
        .iter()
        .find(|c| c.provider_id == "max-clients")
        .unwrap()
        .id
        .clone();
    let path = format!("/admin/console/realms/acme/client-registration/policies/{max}");
    let form = b.get(app, &path).await;
    assert!(
        form.text.contains("id=\"cfg-max-clients\""),
        "{}",
        form.text
    );
    let r = b
        .post(
            app,
            &path,
            &[
                ("csrf", &csrf),
                ("name", "Max Clients Limit"),
                ("present", "max-clients"),
                ("cfg.max-clients", "0"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text.contains(
            "id=\"cfg-max-clients-error\" role=\"alert\">max-clients must be a positive number"
        ),
        "{}",
        r.text
    );
    let r = b
        .post(
            app,
            &path,
            &[
                ("csrf", &csrf),
                ("name", "Max Clients Limit"),
                ("present", "max-clients"),
                ("cfg.max-clients", "3"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let saved = app
        .get(&format!("/admin/realms/acme/components/{max}"), &admin)
        .await
        .body;
    assert_eq!(saved["config"]["max-clients"], json!(["3"]));
}

/// The built-in `security-admin-console` registers `/admin/*`: relative to the base URL, a
/// prefix match, and nothing else.
async fn the_console_client_redirects_only_under_admin(app: &TestApp) {
    let mut b = Browser::default();
    let auth = |redirect: &str| {
        format!(
            "/realms/master/protocol/openid-connect/auth?client_id=security-admin-console&response_type=code&{}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
            serde_urlencoded_pairs(&[("redirect_uri", redirect)])
        )
    };
    let ok = b
        .get(app, &auth("http://localhost:8080/admin/console/callback"))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    for refused in [
        "http://evil.example/admin/console/callback",
        "http://localhost:8080/realms/master/account",
        "http://localhost:8080/admin/../realms/x",
        "http://localhost:8080/admin/console/callback#frag",
        "/admin/console/callback",
        "http://localhost:8080/admin",
    ] {
        let r = b.get(app, &auth(refused)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(r.header("location").is_none(), "{refused}");
    }
}

async fn console_honours_the_relative_path() {
    let Some(app) = TestApp::with_relative_path(crate::support::Backend::Sqlite, "/auth").await
    else {
        return;
    };
    let mut b = Browser::default();
    let r = b.get(&app, "/auth/admin/").await;
    assert_eq!(location(&r), format!("{ORIGIN}/auth/admin/console/"));
    let r = b.get(&app, "/auth/admin/console/").await;
    assert_eq!(location(&r), format!("{ORIGIN}/auth/admin/console/login"));
    let r = b.get(&app, "/auth/admin/console/login").await;
    let auth = location(&r);
    assert!(
        auth.starts_with(&format!(
            "{ORIGIN}/auth/realms/master/protocol/openid-connect/auth?"
        )),
        "{auth}"
    );
    // The built-in client's relative redirect URI (`/admin/*`) resolves under the base.
    let page = b.get(&app, &auth).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let set = r.header("set-cookie").unwrap();
    assert!(set.contains("Path=/auth/admin/console/"), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_outside_start_dev() {
    let Some(app) = TestApp::with_settings(crate::support::Backend::Sqlite, "", false).await else {
        return;
    };
    let r = Browser::default().get(&app, "/admin/console/login").await;
    let set = r.header("set-cookie").unwrap();
    assert!(set.contains("; Secure"), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_path() {
    console_honours_the_relative_path().await;
}

/// The console's client changes go through the admin API's rules, so a client
/// holding a dangerous URI (stored behind the API's back) cannot be changed until it is
/// fixed, and the console shows why.
async fn console_changes_obey_the_client_uri_rule(app: &TestApp) {
    use latchkey_core::store::{ClientBundle, Store, WriteGuard};
    let admin = app.admin_token().await;
    app.create_realm(&admin, "acme").await;
    let r = app
        .post(
            "/admin/realms/acme/clients",
            &admin,
            json!({"clientId": "web", "redirectUris": ["https://app.example/cb"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.location_id();
    let realm = app.store.realm_by_name("acme").await.unwrap().unwrap();
    let mut client = app.store.client(&realm.id, &id).await.unwrap().unwrap();
    client.rep.redirect_uris = Some(vec!["javascript:alert(1)".into()]);
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
    let mut b = Browser::default();
    let home = b.sign_in(app, "master", ADMIN, ADMIN_PASSWORD).await;
    let csrf = input_value(&home.text, "csrf").unwrap();
    let r = b
        .post(
            app,
            &format!("/admin/console/realms/acme/clients/{id}/enabled"),
            &[("csrf", &csrf), ("enabled", "false")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.text.contains("A redirect URI uses an illegal scheme"),
        "{}",
        r.text
    );
    let now = app
        .get(&format!("/admin/realms/acme/clients/{id}"), &admin)
        .await;
    assert_eq!(now.body["enabled"], true, "nothing changed");
}

crate::on_both_backends!(
    console_changes_obey_the_client_uri_rule,
    signed_out_pages_send_to_the_login,
    changes_need_the_csrf_token_and_our_origin,
    a_realm_admin_sees_only_their_realm,
    hostile_values_are_escaped,
    events_are_filtered_and_paged,
    client_registration_warns_and_validates,
    the_console_client_redirects_only_under_admin,
);
