//! The clients list for many registered clients: each registration-kind filter (admin,
//! anonymous, initial access token, bearer, metadata document, authenticated), paging
//! with a filter, the bulk actions (a confirmation naming the count, then one admin event
//! per client, built-in clients skipped, the selection limit, the right and the CSRF
//! token checked), the filters on use (never used, unused for N days), and the
//! clients-per-kind gauge of `/metrics`.

use axum::http::StatusCode;
use latchkey_core::store::Store;
use serde_json::{Value, json};

use crate::cimd::{Documents, REALM, authorize, realm};
use crate::support::browser::Browser;
use crate::support::{TestApp, user};

const CLIENTS: &str = "/admin/console/realms/acme/clients";
const BULK: &str = "/admin/console/realms/acme/clients/bulk";

/// Realm `acme` with one client of each registration kind, anonymous registration open
/// and the policies off; returns the master admin's token.
async fn one_of_each(app: &TestApp) -> String {
    let admin = realm(app, false, json!({})).await;
    app.open_to_anonymous_registration(&admin, REALM).await;
    let redirect = json!({"redirect_uris": ["https://app.example.com/cb"]});
    app.create_client(&admin, REALM, json!({"clientId": "made-by-admin"}))
        .await;
    let minted = app
        .create_client(&admin, REALM, json!({"clientId": "minted-token"}))
        .await;
    let r = app
        .post(
            &format!("/admin/realms/{REALM}/clients/{minted}/registration-access-token"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let register = |token: Option<String>, name: &'static str| {
        let mut body = redirect.clone();
        body["client_name"] = json!(name);
        async move {
            let r = app.register(REALM, token.as_deref(), body).await;
            assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text);
            r.body["client_id"].as_str().unwrap().to_string()
        }
    };
    let anonymous = register(None, "anonymous").await;
    let iat = app
        .initial_access_token(&admin, REALM, json!({"count": 1}))
        .await;
    let with_iat = register(Some(iat), "with-iat").await;
    let bearer = app
        .user_token(&admin, REALM, "creator", &["create-client"])
        .await;
    let with_bearer = register(Some(bearer), "with-bearer").await;
    let docs = Documents::start().await;
    let document = docs.serve_client("/tool.json", json!({}));
    let r = authorize(app, &document).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The tests below find the registered clients by these ids.
    for (id, expected) in [
        (&anonymous, "anonymous"),
        (&with_iat, "with-iat"),
        (&with_bearer, "with-bearer"),
    ] {
        let listed = app
            .get(
                &format!("/admin/realms/{REALM}/clients?clientId={id}"),
                &admin,
            )
            .await;
        assert_eq!(listed.body[0]["name"], expected, "{}", listed.text);
    }
    admin
}

/// The client ids a clients page lists, in order.
fn listed(html: &str) -> Vec<String> {
    html.split("<tr>")
        .skip(2)
        .filter_map(|row| {
            let a = row.find("<a href=\"")?;
            let start = row[a..].find("\">")? + a + 2;
            let end = row[start..].find("</a>")? + start;
            Some(crate::support::browser::unescape(&row[start..end]))
        })
        .collect()
}

/// The client ids of the realm's clients as the admin API lists them, with their names.
async fn names(app: &TestApp, admin: &str) -> Vec<(String, String, Value)> {
    let r = app
        .get(&format!("/admin/realms/{REALM}/clients"), admin)
        .await;
    r.body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["clientId"].as_str().unwrap().to_string(),
                c["id"].as_str().unwrap().to_string(),
                c.clone(),
            )
        })
        .collect()
}

fn name_of(clients: &[(String, String, Value)], name: &str) -> String {
    clients
        .iter()
        .find(|(_, _, c)| c["name"] == name)
        .map(|(cid, _, _)| cid.clone())
        .unwrap_or_else(|| panic!("no client named {name}"))
}

async fn filters_by_registration_kind(app: &TestApp) {
    let admin = one_of_each(app).await;
    let all = names(app, &admin).await;
    let mut b = Browser::default();
    b.sign_in_as_admin(app).await;
    let built_in = ["admin-cli", "realm-management", "security-admin-console"];
    let mut admins: Vec<String> = built_in.iter().map(|s| s.to_string()).collect();
    admins.push("made-by-admin".into());
    admins.sort();
    let document = all
        .iter()
        .find(|(cid, _, _)| cid.starts_with("http://127.0.0.1:"))
        .map(|(cid, _, _)| cid.clone())
        .expect("the document client");
    let cases: [(&str, Vec<String>); 6] = [
        ("admin", admins),
        ("anonymous", vec![name_of(&all, "anonymous")]),
        ("initial_access_token", vec![name_of(&all, "with-iat")]),
        ("bearer", vec![name_of(&all, "with-bearer")]),
        ("cimd", vec![document]),
        ("authenticated", vec!["minted-token".into()]),
    ];
    for (kind, expected) in cases {
        let page = b.get(app, &format!("{CLIENTS}?kind={kind}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert_eq!(listed(&page.text), expected, "kind {kind}");
        assert!(
            page.text.contains(&format!("{} client(s)", expected.len())),
            "{kind}: the count is the filter's"
        );
        assert!(
            page.text
                .contains(&format!("<option value=\"{kind}\" selected>"))
        );
    }
    // No filter lists them all; an unknown kind is no filter.
    for q in ["", "?kind=nonsense"] {
        let page = b.get(app, &format!("{CLIENTS}{q}")).await;
        assert_eq!(listed(&page.text).len(), all.len(), "{q}");
    }
}

async fn metrics_count_clients_per_kind(app: &TestApp) {
    one_of_each(app).await;
    let m = app.get_public("/metrics").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(
        m.text.contains("# TYPE latchkey_clients gauge"),
        "{}",
        m.text
    );
    for (kind, n) in [
        ("admin", 4),
        ("anonymous", 1),
        ("initial_access_token", 1),
        ("bearer", 1),
        ("cimd", 1),
        ("authenticated", 1),
    ] {
        let line = format!("latchkey_clients{{realm=\"acme\",registration=\"{kind}\"}} {n}\n");
        assert!(m.text.contains(&line), "{line}: {}", m.text);
    }
    assert!(
        m.text
            .contains("latchkey_clients{realm=\"master\",registration=\"admin\"}"),
        "{}",
        m.text
    );
}

async fn paging_keeps_the_filter(app: &TestApp) {
    let admin = app.admin_with_realm(REALM).await;
    let iat = app
        .initial_access_token(&admin, REALM, json!({"count": 60}))
        .await;
    for i in 0..55 {
        let body = json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": format!("r{i}")});
        let r = app.register(REALM, Some(&iat), body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let mut b = Browser::default();
    b.sign_in_as_admin(app).await;
    let first = b
        .get(app, &format!("{CLIENTS}?kind=initial_access_token"))
        .await;
    assert!(first.text.contains("55 client(s)"), "{}", first.text);
    assert_eq!(listed(&first.text).len(), 50);
    let next = first
        .text
        .split("<nav class=\"pager\"")
        .nth(1)
        .and_then(|n| n.split("href=\"").nth(1))
        .and_then(|n| n.split('"').next())
        .map(crate::support::browser::unescape)
        .expect("a Next link");
    assert!(
        next.contains("kind=initial_access_token") && next.contains("page=1"),
        "{next}"
    );
    let second = b.get(app, &next).await;
    let rest = listed(&second.text);
    assert_eq!(rest.len(), 5, "{}", second.text);
    let mut seen = listed(&first.text);
    seen.extend(rest);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 55, "no client on both pages");
    assert!(!seen.iter().any(|c| c == "admin-cli"));
}

async fn admin_events(app: &TestApp, admin: &str, op: &str) -> Vec<String> {
    let r = app
        .get(
            &format!("/admin/realms/{REALM}/admin-events?operationTypes={op}&resourceTypes=CLIENT&max=1000"),
            admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut paths: Vec<String> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resourcePath"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    paths
}

/// A bulk action's form posted to the console, confirmed or not.
async fn bulk(
    b: &mut Browser,
    app: &TestApp,
    csrf: &str,
    action: &str,
    ids: &[&String],
    confirm: bool,
) -> crate::support::Resp {
    let mut pairs = vec![("csrf", csrf), ("action", action)];
    pairs.extend(ids.iter().map(|id| ("id", id.as_str())));
    if confirm {
        pairs.push(("confirm", "yes"));
    }
    b.post(app, BULK, &pairs, None).await
}

/// Whether client `client_id` is enabled (`None`: no such client).
async fn enabled(app: &TestApp, admin: &str, client_id: &str) -> Option<bool> {
    names(app, admin)
        .await
        .iter()
        .find(|(cid, _, _)| cid == client_id)
        .map(|(_, _, v)| v["enabled"] == true)
}

fn paths(ids: &[&String]) -> Vec<String> {
    let mut p: Vec<String> = ids.iter().map(|id| format!("clients/{id}")).collect();
    p.sort();
    p
}

async fn bulk_actions_confirm_then_change_each_with_its_event(app: &TestApp) {
    let admin = app.admin_with_realm(REALM).await;
    app.update_realm(&admin, REALM, json!({"adminEventsEnabled": true}))
        .await;
    let iat = app
        .initial_access_token(&admin, REALM, json!({"count": 4}))
        .await;
    let mut registered = Vec::new();
    for i in 0..4 {
        let body = json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": format!("r{i}")});
        let r = app.register(REALM, Some(&iat), body).await;
        registered.push(r.body["client_id"].as_str().unwrap().to_string());
    }
    let all = names(app, &admin).await;
    let uuid = |cid: &str| {
        all.iter()
            .find(|(c, _, _)| c == cid)
            .map(|(_, id, _)| id.clone())
            .unwrap()
    };
    let ids: Vec<String> = registered.iter().map(|c| uuid(c)).collect();
    let (admin_cli, console) = (uuid("admin-cli"), uuid("security-admin-console"));
    let mut b = Browser::default();
    let csrf = b.sign_in_as_admin(app).await;
    let page = b.get(app, CLIENTS).await;
    assert!(page.text.contains("form=\"bulk\""), "checkboxes");
    assert!(page.text.contains("Delete selected"));

    // Disable two and a built-in: the confirmation names the count and the skipped one.
    let r = bulk(
        &mut b,
        app,
        &csrf,
        "disable",
        &[&ids[0], &ids[1], &console],
        false,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("<h1>Disable 2 clients?</h1>"), "{}", r.text);
    assert!(
        r.text
            .contains("skipped: <code>security-admin-console</code>"),
        "{}",
        r.text
    );
    assert_eq!(
        enabled(app, &admin, &registered[0]).await,
        Some(true),
        "nothing changed yet"
    );
    let r = bulk(
        &mut b,
        app,
        &csrf,
        "disable",
        &[&ids[0], &ids[1], &console],
        true,
    )
    .await;
    assert!(r.text.contains("2 clients disabled."), "{}", r.text);
    assert_eq!(enabled(app, &admin, &registered[0]).await, Some(false));
    assert_eq!(enabled(app, &admin, &registered[1]).await, Some(false));
    assert_eq!(enabled(app, &admin, &registered[2]).await, Some(true));
    assert_eq!(
        enabled(app, &admin, "security-admin-console").await,
        Some(true)
    );
    assert_eq!(
        admin_events(app, &admin, "UPDATE").await,
        paths(&[&ids[0], &ids[1]])
    );

    let r = bulk(&mut b, app, &csrf, "enable", &[&ids[0]], true).await;
    assert!(r.text.contains("1 client enabled."), "{}", r.text);
    assert_eq!(enabled(app, &admin, &registered[0]).await, Some(true));
    assert_eq!(admin_events(app, &admin, "UPDATE").await.len(), 3);

    // Delete: all four and two built-ins; the page asks first, and nothing is gone.
    let selection = vec![&ids[0], &ids[1], &ids[2], &ids[3], &admin_cli, &console];
    let r = bulk(&mut b, app, &csrf, "delete", &selection, false).await;
    assert!(r.text.contains("<h1>Delete 4 clients?</h1>"), "{}", r.text);
    assert!(r.text.contains("<code>admin-cli</code>") && r.text.contains("never deleted in bulk"));
    assert_eq!(names(app, &admin).await.len(), all.len());
    let r = bulk(&mut b, app, &csrf, "delete", &selection, true).await;
    assert!(r.text.contains("4 clients deleted."), "{}", r.text);
    let left: Vec<String> = names(app, &admin)
        .await
        .into_iter()
        .map(|(c, _, _)| c)
        .collect();
    assert_eq!(left.len(), all.len() - 4);
    assert!(left.contains(&"admin-cli".to_string()));
    assert!(!registered.iter().any(|c| left.contains(c)));
    assert_eq!(
        admin_events(app, &admin, "DELETE").await,
        paths(&ids.iter().collect::<Vec<_>>())
    );
    let gone = app
        .get(&format!("/admin/realms/{REALM}/clients/{}", ids[0]), &admin)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    // Too many at once: refused with the limit named, before anything.
    let many: Vec<String> = (0..501).map(|i| format!("no-such-{i}")).collect();
    let many: Vec<&String> = many.iter().collect();
    let r = bulk(&mut b, app, &csrf, "delete", &many, true).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("select at most 500"), "{}", r.text);
}

async fn bulk_actions_need_the_right_and_the_token(app: &TestApp) {
    let admin = app.admin_with_realm(REALM).await;
    let target = app
        .create_client(&admin, REALM, json!({"clientId": "target"}))
        .await;
    let viewer = app
        .create_user(&admin, REALM, user("viewer", "viewer-pass"))
        .await;
    app.grant_realm_management(&admin, REALM, &viewer, &["view-clients", "query-clients"])
        .await;
    let mut b = Browser::default();
    let home = b.sign_in(app, REALM, "viewer", "viewer-pass").await;
    let csrf = super::input_value(&home.text, "csrf").unwrap();
    let page = b.get(app, CLIENTS).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.text.contains("form=\"bulk\""),
        "no checkboxes without manage-clients"
    );
    let pairs = [
        ("csrf", csrf.as_str()),
        ("action", "delete"),
        ("id", &target),
        ("confirm", "yes"),
    ];
    let r = b.post(app, BULK, &pairs, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // The master admin, with a wrong CSRF token or none.
    let mut b = Browser::default();
    let csrf = b.sign_in_as_admin(app).await;
    for token in ["forged", ""] {
        let pairs = [
            ("csrf", token),
            ("action", "delete"),
            ("id", &target),
            ("confirm", "yes"),
        ];
        let r = b.post(app, BULK, &pairs, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    }
    let r = b
        .post(
            app,
            BULK,
            &[("csrf", &csrf), ("action", "nope"), ("id", &target)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let still = app
        .get(&format!("/admin/realms/{REALM}/clients/{target}"), &admin)
        .await;
    assert_eq!(still.status, StatusCode::OK, "nothing was deleted");
}

/// "Never used" and "unused for N days" read the stored last-used day: a client used
/// today is in neither, one never used is "never used" (but, created today, not unused
/// for 30 days), one last used 40 days ago only "unused for 30 days".
async fn filters_by_use(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (_, secret) = app
        .create_service_client(&admin, "acme", "used-today")
        .await;
    app.create_client(&admin, "acme", json!({"clientId": "never-used"}))
        .await;
    let old = app
        .create_client(&admin, "acme", json!({"clientId": "used-long-ago"}))
        .await;
    let before = app.store.group_commit_stats().touches();
    let r = app
        .form(
            "/realms/acme/protocol/openid-connect/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "used-today"),
                ("client_secret", &secret),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let realm = app.store.realm_by_name("acme").await.unwrap().unwrap();
    let today = latchkey_core::last_used::day(latchkey_server::state::now_millis());
    app.store.touch_client(&realm.id, &old, today - 40);
    crate::last_used::settled_touches(app, before + 2).await;
    let mut b = Browser::default();
    b.sign_in_as_admin(app).await;
    for (query, shown, hidden) in [
        (
            "usage=never",
            vec!["never-used"],
            vec!["used-today", "used-long-ago"],
        ),
        (
            "usage=unused&days=30",
            vec!["used-long-ago"],
            vec!["used-today", "never-used"],
        ),
        (
            "usage=unused&days=50",
            vec![],
            vec!["used-today", "never-used", "used-long-ago"],
        ),
        (
            "usage=",
            vec!["used-today", "never-used", "used-long-ago"],
            vec![],
        ),
    ] {
        let r = b.get(app, &format!("{CLIENTS}?{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
        for id in shown {
            assert!(
                r.text.contains(&format!(">{id}</a>")),
                "{query}: {id} missing"
            );
        }
        for id in hidden {
            assert!(
                !r.text.contains(&format!(">{id}</a>")),
                "{query}: {id} shown"
            );
        }
    }
    // Out of range and junk are clamped or ignored, never an error.
    for query in ["usage=unused&days=-5", "usage=unused&days=x", "usage=bogus"] {
        let r = b.get(app, &format!("{CLIENTS}?{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{query}");
    }
}

crate::on_both_backends!(
    filters_by_use,
    filters_by_registration_kind,
    metrics_count_clients_per_kind,
    paging_keeps_the_filter,
    bulk_actions_confirm_then_change_each_with_its_event,
    bulk_actions_need_the_right_and_the_token,
);
