//! Signing in and out of the console: redirects when signed out, the login callback's
//! state, CSRF tokens and our Origin for every change, the built-in client's redirect URIs,
//! cookies (Secure outside start-dev) and the relative path.

use axum::http::StatusCode;
use serde_json::json;

use super::input_value;
use crate::support::browser::{Browser, ORIGIN, location};
use crate::support::{ADMIN, ADMIN_PASSWORD, Backend, TestApp, serde_urlencoded_pairs};

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

    app.update_realm(&admin, "master", json!({"adminEventsEnabled": true}))
        .await;
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
        .client_uuid(&admin, "master", "security-admin-console")
        .await;
    assert_eq!(
        created[0]["authDetails"]["clientId"],
        console_client.as_str()
    );

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
    let Some(app) = TestApp::with_relative_path(Backend::Sqlite, "/auth").await else {
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
    assert_http_only_and_lax(set);
}

crate::on_both_backends!(
    signed_out_pages_send_to_the_login,
    changes_need_the_csrf_token_and_our_origin,
    the_console_client_redirects_only_under_admin,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_outside_start_dev() {
    let Some(app) = TestApp::with_settings(Backend::Sqlite, "", false).await else {
        return;
    };
    let r = Browser::default().get(&app, "/admin/console/login").await;
    let set = r.header("set-cookie").unwrap();
    assert!(set.contains("; Secure"), "{set}");
    assert_http_only_and_lax(set);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_path() {
    console_honours_the_relative_path().await;
}

/// The console's cookies are out of scripts' reach and not sent cross-site.
#[track_caller]
fn assert_http_only_and_lax(set_cookie: &str) {
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
}
