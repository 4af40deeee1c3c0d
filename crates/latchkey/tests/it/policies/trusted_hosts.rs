//! Trusted Hosts and the anonymous set's effects: every URI a client stores is checked,
//! on both registration providers and on update; consent and full-scope effects a registered
//! client cannot undo.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{DEFAULT, OIDC, admin_view, assert_refused, configure, open_anonymous, register};
use crate::support::TestApp;

/// The open redirect through logout: trusted-hosts checks every URI a client stores, not
/// only its redirect URIs, on both providers and on update.
async fn trusted_hosts_checks_every_client_uri(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    open_anonymous(app, &admin).await;
    let trusted = "https://app.example.com/cb";
    for extra in [
        json!({"post_logout_redirect_uris": ["https://evil.example/phish"]}),
        json!({"jwks_uri": "https://evil.example/jwks"}),
        json!({"backchannel_logout_uri": "https://evil.example/bc"}),
        json!({"initiate_login_uri": "https://evil.example/login"}),
        // Refused before the server fetches it.
        json!({"sector_identifier_uri": "https://evil.example/sector"}),
        json!({"logo_uri": "https://evil.example/logo.png"}),
    ] {
        let mut body = extra.clone();
        body["redirect_uris"] = json!([trusted]);
        let r = register(app, OIDC, None, body).await;
        let evil = extra.as_object().unwrap().values().next().unwrap();
        let evil = evil.as_str().or(evil[0].as_str()).unwrap();
        assert_refused(&r, "Trusted Hosts", &not_trusted(evil));
    }
    for rep in [
        json!({"clientId": "kc", "redirectUris": [trusted], "attributes": {"post.logout.redirect.uris": "https://evil.example/phish"}}),
        json!({"clientId": "kc", "redirectUris": [trusted], "adminUrl": "https://evil.example/admin"}),
        json!({"clientId": "kc", "redirectUris": [trusted], "attributes": {"jwks.url": "https://evil.example/jwks"}}),
    ] {
        let r = register(app, DEFAULT, None, rep.clone()).await;
        let evil = rep.to_string();
        let evil = &evil[evil.find("https://evil").unwrap()..];
        let evil = &evil[..evil.find('"').unwrap()];
        assert_refused(&r, "Trusted Hosts", &not_trusted(evil));
    }
    let ok = register(
        app,
        OIDC,
        None,
        json!({"redirect_uris": [trusted], "post_logout_redirect_uris": ["https://app.example.com/bye"]}),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    let id = ok.body["client_id"].as_str().unwrap();
    let rat = ok.body["registration_access_token"].as_str().unwrap();
    let r = app
        .json(
            Method::PUT,
            &format!("{OIDC}/{id}"),
            Some(rat),
            Some(json!({"client_id": id, "redirect_uris": [trusted], "post_logout_redirect_uris": ["https://evil.example/phish"]})),
        )
        .await;
    assert_refused(
        &r,
        "Trusted Hosts",
        &not_trusted("https://evil.example/phish"),
    );
}

/// Keycloak's sentence, and the URL that did not match.
fn not_trusted(url: &str) -> String {
    format!("URL doesn't match any trusted host or trusted domain: {url}")
}

async fn trusted_hosts_and_creation_effects(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    open_anonymous(app, &admin).await;
    let ok = register(
        app,
        OIDC,
        None,
        json!({"redirect_uris": ["https://app.example.com/cb"]}),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    let view = admin_view(app, &admin, ok.body["client_id"].as_str().unwrap()).await;
    assert_eq!(
        view["consentRequired"], true,
        "Consent Required sets consent"
    );
    assert_eq!(
        view["fullScopeAllowed"], false,
        "Full Scope Disabled switches full scope off"
    );
    assert_eq!(view["attributes"]["registration.auth"], "anonymous");

    let foreign = register(
        app,
        OIDC,
        None,
        json!({"redirect_uris": ["https://evil.test/cb"]}),
    )
    .await;
    assert_refused(
        &foreign,
        "Trusted Hosts",
        &not_trusted("https://evil.test/cb"),
    );
    let foreign_kc = register(
        app,
        DEFAULT,
        None,
        json!({"clientId": "kc", "redirectUris": ["https://evil.test/cb"]}),
    )
    .await;
    assert_refused(
        &foreign_kc,
        "Trusted Hosts",
        &not_trusted("https://evil.test/cb"),
    );
    let kc = register(app, DEFAULT, None, json!({"clientId": "kc", "redirectUris": ["https://a.example.com/cb"], "rootUrl": "https://a.example.com"})).await;
    assert_eq!(kc.status, StatusCode::CREATED, "{}", kc.text);
    assert_eq!(kc.body["consentRequired"], true);

    configure(
        app,
        &admin,
        "Trusted Hosts",
        "anonymous",
        json!({"trusted-hosts": ["10.9.8.7"], "client-uris-must-match": ["false"]}),
    )
    .await;
    for path in [OIDC, DEFAULT] {
        let r = register(
            app,
            path,
            None,
            json!({"grant_types": ["client_credentials"]}),
        )
        .await;
        assert_refused(&r, "Trusted Hosts", "Host not trusted.");
    }
    // Scopes the realm does not offer are refused by Allowed Client Scopes.
    configure(
        app,
        &admin,
        "Trusted Hosts",
        "anonymous",
        json!({"trusted-hosts": ["localhost"], "client-uris-must-match": ["false"]}),
    )
    .await;
    let scoped = register(
        app,
        OIDC,
        None,
        json!({"grant_types": ["client_credentials"], "scope": "openid profile"}),
    )
    .await;
    assert_eq!(
        scoped.status,
        StatusCode::CREATED,
        "openid and realm scopes pass: {}",
        scoped.text
    );
    let unknown = register(
        app,
        OIDC,
        None,
        json!({"grant_types": ["client_credentials"], "scope": "admin:all"}),
    )
    .await;
    assert_refused(
        &unknown,
        "Allowed Client Scopes",
        "Not permitted to use specified clientScope",
    );
    // Refusals are events naming the policy.
    let events = app
        .get(
            "/admin/realms/acme/events?type=CLIENT_REGISTER_ERROR",
            &admin,
        )
        .await
        .body;
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["details"]["policy"] == "Allowed Client Scopes"),
        "{events}"
    );
}

async fn registered_clients_cannot_undo_policies(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    open_anonymous(app, &admin).await;
    let kc = register(
        app,
        DEFAULT,
        None,
        json!({"clientId": "app", "redirectUris": ["https://a.example.com/cb"]}),
    )
    .await;
    assert_eq!(kc.status, StatusCode::CREATED, "{}", kc.text);
    let rat = kc.body["registrationAccessToken"]
        .as_str()
        .unwrap()
        .to_string();
    // Updates with the registration access token run the set the client was registered
    // under (anonymous), whoever calls.
    let path = format!("{DEFAULT}/app");
    let consent = app
        .put(&path, &rat, json!({"consentRequired": false}))
        .await;
    assert_refused(
        &consent,
        "Consent Required",
        "Not permitted to update consentRequired to false",
    );
    let scope = app
        .put(&path, &rat, json!({"fullScopeAllowed": true}))
        .await;
    assert_refused(
        &scope,
        "Full Scope Disabled",
        "Not permitted to enable fullScopeAllowed",
    );
    // Omitting the fields changes nothing and passes (keycloak#51382).
    let ok = app.put(&path, &rat, json!({"name": "renamed"})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(
        (
            ok.body["consentRequired"].clone(),
            ok.body["fullScopeAllowed"].clone()
        ),
        (json!(true), json!(false))
    );
    // The openid-connect provider cannot reach these fields at all.
    let (client_id, rat) = {
        let r = register(
            app,
            OIDC,
            None,
            json!({"redirect_uris": ["https://a.example.com/cb"]}),
        )
        .await;
        (
            r.body["client_id"].as_str().unwrap().to_string(),
            r.body["registration_access_token"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    };
    let r = app
        .put(
            &format!("{OIDC}/{client_id}"),
            &rat,
            json!({"redirect_uris": ["https://b.example.com/cb"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .put(
            &format!("{OIDC}/{client_id}"),
            r.body["registration_access_token"].as_str().unwrap(),
            json!({"redirect_uris": ["https://evil.test/cb"]}),
        )
        .await;
    assert_refused(&r, "Trusted Hosts", &not_trusted("https://evil.test/cb"));
}

crate::on_both_backends!(
    trusted_hosts_checks_every_client_uri,
    trusted_hosts_and_creation_effects,
    registered_clients_cannot_undo_policies,
);
