//! The console's pages: each realm's admins see and change only their realm, every value
//! is escaped, events are filtered and paged, the registration settings warn and validate,
//! and client changes obey the client URI rule.

use axum::http::StatusCode;
use serde_json::json;

use super::input_value;
use crate::support::browser::{Browser, ORIGIN, location};
use crate::support::{Resp, TestApp, user};

async fn a_realm_admin_sees_only_their_realm(app: &TestApp) {
    let admin = app.admin_token().await;
    app.create_realm(&admin, "red").await;
    app.create_realm(&admin, "blue").await;
    let rosa = app
        .create_user(&admin, "red", user("rosa", "rosa-pass"))
        .await;
    app.grant_realm_management(&admin, "red", &rosa, &["realm-admin"])
        .await;

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
    app.create_user(&admin, "red", user("plain", "plain-pass"))
        .await;
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
    let admin = app.admin_with_realm("acme").await;
    let evil = "<script>alert(1)</script>\"'&";
    let id = app
        .create_client(
            &admin,
            "acme",
            json!({"clientId": format!("x{evil}"), "name": evil, "publicClient": true,
                   "redirectUris": ["https://app.example/cb?<b>"]}),
        )
        .await;
    let mut b = Browser::default();
    b.sign_in_as_admin(app).await;
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

/// Built-in clients are named by Keycloak's message keys (`${client_admin-cli}`); every
/// page that names a client shows words instead: the login page of the built-in client
/// that signs users in, the clients list and each built-in client's page.
async fn built_in_client_names_render_as_words(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let clients = app.get("/admin/realms/acme/clients", &admin).await.body;
    let clients = clients.as_array().unwrap();
    assert_eq!(clients.len(), 3, "{clients:?}");
    for c in clients {
        assert!(c["name"].as_str().unwrap().starts_with("${client_"), "{c}");
    }
    let redirect = format!("{ORIGIN}/admin/console/callback");
    let login = Browser::default()
        .get(
            app,
            &format!(
                "/realms/acme/protocol/openid-connect/auth?response_type=code&client_id=security-admin-console&redirect_uri={}&code_challenge={}&code_challenge_method=S256",
                redirect.replace(':', "%3A").replace('/', "%2F"),
                "x".repeat(43),
            ),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert!(
        login.text.contains("Security admin console") && !login.text.contains("${"),
        "{}",
        login.text
    );
    let mut b = Browser::default();
    b.sign_in_as_admin(app).await;
    let list = b.get(app, "/admin/console/realms/acme/clients").await;
    for words in ["Admin CLI", "Realm management", "Security admin console"] {
        assert!(list.text.contains(words), "{words}: {}", list.text);
    }
    assert!(!list.text.contains("${"), "{}", list.text);
    for c in clients {
        let path = format!(
            "/admin/console/realms/acme/clients/{}",
            c["id"].as_str().unwrap()
        );
        let r = b.get(app, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(!r.text.contains("${client_"), "{path}: {}", r.text);
    }
}

async fn events_are_filtered_and_paged(app: &TestApp) {
    use latchkey_core::store::{EventRecord, Store};
    app.admin_with_realm("acme").await;
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
    b.sign_in_as_admin(app).await;
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
    let admin = app.admin_with_realm("acme").await;
    let mut b = Browser::default();
    let csrf = b.sign_in_as_admin(app).await;
    let page = b
        .get(app, "/admin/console/realms/acme/client-registration")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.text.contains("class=\"warning\""),
        "defaults surprise nobody"
    );

    // Anonymous on while Trusted Hosts admits no host; then policies off.
    let switches = "/admin/console/realms/acme/client-registration/switches";
    let r = b
        .post(
            app,
            switches,
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
            switches,
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
    let r = save_max_clients(&mut b, app, &path, &csrf, "0").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text.contains(
            "id=\"cfg-max-clients-error\" role=\"alert\">max-clients must be a positive number"
        ),
        "{}",
        r.text
    );
    let r = save_max_clients(&mut b, app, &path, &csrf, "3").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let saved = app
        .get(&format!("/admin/realms/acme/components/{max}"), &admin)
        .await
        .body;
    assert_eq!(saved["config"]["max-clients"], json!(["3"]));
}

/// The console's client changes go through the admin API's rules, so a client
/// holding a dangerous URI (stored behind the API's back) cannot be changed until it is
/// fixed, and the console shows why.
async fn console_changes_obey_the_client_uri_rule(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let id = app
        .create_client(
            &admin,
            "acme",
            json!({"clientId": "web", "redirectUris": ["https://app.example/cb"]}),
        )
        .await;
    app.smuggle_redirect_uris("acme", "web", &["javascript:alert(1)"])
        .await;
    let mut b = Browser::default();
    let csrf = b.sign_in_as_admin(app).await;
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

/// Saves the Max Clients Limit policy through its console form at `path`.
async fn save_max_clients(
    b: &mut Browser,
    app: &TestApp,
    path: &str,
    csrf: &str,
    max_clients: &str,
) -> Resp {
    b.post(
        app,
        path,
        &[
            ("csrf", csrf),
            ("name", "Max Clients Limit"),
            ("present", "max-clients"),
            ("cfg.max-clients", max_clients),
        ],
        None,
    )
    .await
}

/// The Client registration tab shows the metadata document switch and its trusted
/// domains beside the other switches, and saves them as realm attributes.
async fn the_metadata_document_switch_and_domains(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let mut b = Browser::default();
    let csrf = b.sign_in_as_admin(app).await;
    let page = b
        .get(app, "/admin/console/realms/acme/client-registration")
        .await;
    assert!(
        page.text
            .contains("name=\"clientIdMetadataDocumentEnabled\" value=\"true\">"),
        "shown, off: {}",
        page.text
    );
    let r = b
        .post(
            app,
            "/admin/console/realms/acme/client-registration/switches",
            &[
                ("csrf", &csrf),
                ("clientRegistrationAuthenticatedEnabled", "true"),
                ("clientRegistrationPoliciesEnabled", "true"),
                ("clientIdMetadataDocumentEnabled", "true"),
                (
                    "clientIdMetadataDocumentTrustedDomains",
                    " Tools.example.com  *.apps.example.org,",
                ),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let attrs = app.get("/admin/realms/acme", &admin).await.body["attributes"].clone();
    assert_eq!(attrs["clientIdMetadataDocumentEnabled"], "true");
    assert_eq!(
        attrs["clientIdMetadataDocumentTrustedDomains"],
        "tools.example.com,*.apps.example.org"
    );
    let page = b.get(app, &location(&r)).await;
    assert!(
        page.text
            .contains("name=\"clientIdMetadataDocumentEnabled\" value=\"true\" checked")
    );
    assert!(
        page.text
            .contains("every metadata document client will be refused"),
        "the default Trusted Hosts policy admits no redirect host: {}",
        page.text
    );
    assert_eq!(
        input_value(&page.text, "clientIdMetadataDocumentTrustedDomains").as_deref(),
        Some("tools.example.com, *.apps.example.org")
    );
    let discovery = app
        .get_public("/realms/acme/.well-known/openid-configuration")
        .await;
    assert_eq!(
        discovery.body["client_id_metadata_document_supported"],
        true
    );
}

async fn the_clients_pages_show_when_each_was_last_used(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let (used, secret) = app.create_service_client(&admin, "acme", "svc").await;
    let r = app.client_credentials("acme", "svc", &secret).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let today = crate::last_used::last_used(app, &admin, &used)
        .await
        .expect("recorded");
    let never = app
        .create_client(&admin, "acme", json!({"clientId": "idle"}))
        .await;
    let mut b = Browser::default();
    b.sign_in_as_admin(app).await;
    let list = b.get(app, "/admin/console/realms/acme/clients").await;
    assert!(list.text.contains("Last used</th>"), "{}", list.text);
    assert!(
        list.text.contains(&format!("<time>{today}</time>")),
        "{}",
        list.text
    );
    let page = b
        .get(app, &format!("/admin/console/realms/acme/clients/{used}"))
        .await;
    assert!(
        page.text
            .contains(&format!("<dt>Last used</dt><dd><time>{today}</time></dd>")),
        "{}",
        page.text
    );
    let page = b
        .get(app, &format!("/admin/console/realms/acme/clients/{never}"))
        .await;
    assert!(
        page.text
            .contains("<dt>Last used</dt><dd><span class=\"muted\">never</span></dd>"),
        "{}",
        page.text
    );
}

crate::on_both_backends!(
    the_clients_pages_show_when_each_was_last_used,
    the_metadata_document_switch_and_domains,
    a_realm_admin_sees_only_their_realm,
    hostile_values_are_escaped,
    built_in_client_names_render_as_words,
    events_are_filtered_and_paged,
    client_registration_warns_and_validates,
    console_changes_obey_the_client_uri_rule,
);
