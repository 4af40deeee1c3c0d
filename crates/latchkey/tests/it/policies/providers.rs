//! The other providers: client-disabled (admin approval), allowed protocol mappers and
//! client scopes, registration web origins (CORS), and the realm's policies switch.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{
    DEFAULT, OIDC, add_policy, admin_view, assert_refused, configure, iat, register, switches,
};
use crate::support::{TestApp, assert_oauth_error};

async fn client_disabled_means_admin_approval(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    add_policy(
        app,
        &admin,
        "client-disabled",
        "authenticated",
        "Approval",
        json!({}),
    )
    .await;
    let token = iat(app, &admin, 5).await;
    let r = register(
        app,
        DEFAULT,
        Some(&token),
        json!({"clientId": "bot", "serviceAccountsEnabled": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["enabled"], false, "new clients wait for approval");
    let (secret, rat) = (
        r.body["secret"].as_str().unwrap().to_string(),
        r.body["registrationAccessToken"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let refused = app.client_credentials("acme", "bot", &secret).await;
    assert_oauth_error(&refused, StatusCode::UNAUTHORIZED, "invalid_client");
    let self_enable = app
        .put(&format!("{DEFAULT}/bot"), &rat, json!({"enabled": true}))
        .await;
    assert_refused(&self_enable, "Approval", "Not permitted to enable client");
    // The openid-connect provider too: a registration starts disabled.
    let oidc = register(
        app,
        OIDC,
        Some(&token),
        json!({"grant_types": ["client_credentials"]}),
    )
    .await;
    assert_eq!(
        admin_view(app, &admin, oidc.body["client_id"].as_str().unwrap()).await["enabled"],
        false
    );
    // The administrator approves.
    let uuid = app.client_uuid(&admin, "acme", "bot").await;
    assert_eq!(
        app.put(
            &format!("/admin/realms/acme/clients/{uuid}"),
            &admin,
            json!({"enabled": true})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let ok = app.client_credentials("acme", "bot", &secret).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

async fn mappers_and_scopes_are_restricted(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    let token = iat(app, &admin, 10).await;
    let mapper = |kind: &str| json!([{"name": "m", "protocol": "openid-connect", "protocolMapper": kind, "config": {}}]);
    let bad = register(
        app,
        DEFAULT,
        Some(&token),
        json!({"clientId": "m1", "protocolMappers": mapper("oidc-hardcoded-claim-mapper")}),
    )
    .await;
    assert_refused(
        &bad,
        "Allowed Protocol Mapper Types",
        "ProtocolMapper type not allowed",
    );
    let good = register(
        app,
        DEFAULT,
        Some(&token),
        json!({"clientId": "m2", "protocolMappers": mapper("oidc-full-name-mapper")}),
    )
    .await;
    assert_eq!(good.status, StatusCode::CREATED, "{}", good.text);
    let scope = register(
        app,
        OIDC,
        Some(&token),
        json!({"grant_types": ["client_credentials"], "scope": "openid email phone"}),
    )
    .await;
    assert_eq!(scope.status, StatusCode::CREATED, "{}", scope.text);
    let unknown = register(
        app,
        OIDC,
        Some(&token),
        json!({"grant_types": ["client_credentials"], "scope": "mcp:tools"}),
    )
    .await;
    assert_refused(
        &unknown,
        "Allowed Client Scopes",
        "Not permitted to use specified clientScope",
    );
    // Listing the scope admits it.
    configure(
        app,
        &admin,
        "Allowed Client Scopes",
        "authenticated",
        json!({"allowed-client-scopes": ["mcp:tools"], "allow-default-scopes": ["true"]}),
    )
    .await;
    let listed = register(
        app,
        OIDC,
        Some(&token),
        json!({"grant_types": ["client_credentials"], "scope": "mcp:tools"}),
    )
    .await;
    assert_eq!(listed.status, StatusCode::CREATED, "{}", listed.text);
}

async fn policy_web_origins_allow_cors(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    configure(
        app,
        &admin,
        "Allowed Registration Web Origins",
        "authenticated",
        json!({"web-origins": ["https://console.example"]}),
    )
    .await;
    let preflight = |origin: &'static str| {
        axum::http::Request::builder()
            .method(Method::OPTIONS)
            .uri(OIDC)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let ok = app.send(preflight("https://console.example")).await;
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://console.example")
    );
    let other = app.send(preflight("https://other.example")).await;
    assert!(other.header("access-control-allow-origin").is_none());
}

async fn the_policies_switch_turns_everything_off(app: &TestApp) {
    let admin = app.admin_with_realm("acme").await;
    switches(app, &admin, json!({"clientRegistrationAnonymousEnabled": "true", "clientRegistrationPoliciesEnabled": "false"})).await;
    let r = register(
        app,
        OIDC,
        None,
        json!({"redirect_uris": ["https://anywhere.test/cb"]}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "no Trusted Hosts: {}",
        r.text
    );
    let view = admin_view(app, &admin, r.body["client_id"].as_str().unwrap()).await;
    assert_eq!(
        (
            view["consentRequired"].clone(),
            view["fullScopeAllowed"].clone()
        ),
        (json!(false), json!(true)),
        "and no effects"
    );
    let events = app
        .get("/admin/realms/acme/events?type=CLIENT_REGISTER", &admin)
        .await
        .body;
    assert_eq!(
        events[0]["details"]["policies"], "disabled",
        "the event records it"
    );
}

crate::on_both_backends!(
    client_disabled_means_admin_approval,
    mappers_and_scopes_are_restricted,
    policy_web_origins_allow_cors,
    the_policies_switch_turns_everything_off,
);
