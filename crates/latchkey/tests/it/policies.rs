//! Client registration policies (Keycloak's providers, two sets per realm) over HTTP: the
//! components API, Keycloak's
//! defaults, each provider refusing through both registration providers, admin approval,
//! exact max-clients under concurrency, the policies switch, the dry-run explainer.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Resp, TestApp};

const POLICY_TYPE: &str =
    "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy";
const OIDC: &str = "/realms/acme/clients-registrations/openid-connect";
const DEFAULT: &str = "/realms/acme/clients-registrations/default";

async fn setup(app: &TestApp) -> String {
    let admin = app.admin_token().await;
    app.create_realm(&admin, "acme").await;
    admin
}

async fn components(app: &TestApp, admin: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/admin/realms/acme/components?type={POLICY_TYPE}"),
            admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body.as_array().unwrap().clone()
}

async fn policy(app: &TestApp, admin: &str, name: &str, sub_type: &str) -> Value {
    components(app, admin)
        .await
        .into_iter()
        .find(|c| c["name"] == name && c["subType"] == sub_type)
        .unwrap_or_else(|| panic!("no {sub_type} policy {name}"))
}

/// Replaces a policy's config.
async fn configure(app: &TestApp, admin: &str, name: &str, sub_type: &str, config: Value) {
    let mut c = policy(app, admin, name, sub_type).await;
    c["config"] = config;
    let r = app
        .put(
            &format!(
                "/admin/realms/acme/components/{}",
                c["id"].as_str().unwrap()
            ),
            admin,
            c,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

async fn add_policy(
    app: &TestApp,
    admin: &str,
    provider: &str,
    sub_type: &str,
    name: &str,
    config: Value,
) -> String {
    let r = app
        .post("/admin/realms/acme/components", admin, json!({"name": name, "providerId": provider, "providerType": POLICY_TYPE, "subType": sub_type, "config": config}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.location_id()
}

async fn switches(app: &TestApp, admin: &str, attrs: Value) {
    let r = app
        .put("/admin/realms/acme", admin, json!({"attributes": attrs}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

/// Anonymous registration on, with the test peer (127.0.0.1) and `*.example.com` trusted.
async fn open_anonymous(app: &TestApp, admin: &str) {
    switches(
        app,
        admin,
        json!({"clientRegistrationAnonymousEnabled": "true"}),
    )
    .await;
    configure(
        app,
        admin,
        "Trusted Hosts",
        "anonymous",
        json!({
            "trusted-hosts": ["127.0.0.1", "*.example.com"],
            "host-sending-registration-request-must-match": ["true"],
            "client-uris-must-match": ["true"],
        }),
    )
    .await;
}

async fn register(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> Resp {
    app.json(Method::POST, path, token, Some(body)).await
}

async fn iat(app: &TestApp, admin: &str, count: i64) -> String {
    let r = app
        .post(
            "/admin/realms/acme/clients-initial-access",
            admin,
            json!({"count": count}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    r.body["token"].as_str().unwrap().to_string()
}

fn assert_refused(r: &Resp, policy: &str, why: &str) {
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.body["error"], "insufficient_scope");
    assert_eq!(
        r.body["error_description"],
        format!(
            "Policy '{policy}' rejected request to client-registration service. Details: {why}"
        ),
        "{}",
        r.text
    );
}

/// The admin view of a client registered through either provider.
async fn admin_view(app: &TestApp, admin: &str, client_id: &str) -> Value {
    let r = app
        .get(
            &format!("/admin/realms/acme/clients?clientId={client_id}"),
            admin,
        )
        .await;
    r.body[0].clone()
}

async fn defaults_and_provider_metadata(app: &TestApp) {
    let admin = setup(app).await;
    let all = components(app, &admin).await;
    let realm_id = app.get("/admin/realms/acme", &admin).await.body["id"].clone();
    let names = |sub: &str| -> Vec<String> {
        all.iter()
            .filter(|c| c["subType"] == sub)
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names("anonymous"),
        [
            "Trusted Hosts",
            "Consent Required",
            "Full Scope Disabled",
            "Max Clients Limit",
            "Allowed Protocol Mapper Types",
            "Allowed Client Scopes",
            "Allowed Registration Web Origins"
        ]
    );
    assert_eq!(
        names("authenticated"),
        [
            "Allowed Protocol Mapper Types",
            "Allowed Client Scopes",
            "Allowed Registration Web Origins"
        ]
    );
    assert!(
        all.iter()
            .all(|c| c["parentId"] == realm_id && c["providerType"] == POLICY_TYPE)
    );
    let max = all
        .iter()
        .find(|c| c["providerId"] == "max-clients")
        .unwrap();
    assert_eq!(max["config"]["max-clients"], json!(["200"]));

    let providers = app
        .get(
            "/admin/realms/acme/client-registration-policy/providers",
            &admin,
        )
        .await
        .body;
    let ids: Vec<&str> = providers
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "trusted-hosts",
            "consent-required",
            "scope",
            "max-clients",
            "client-disabled",
            "allowed-protocol-mappers",
            "allowed-client-templates",
            "registration-web-origins"
        ]
    );
    let th = &providers[0];
    assert!(th["helpText"].is_string());
    let props: Vec<&str> = th["properties"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        props,
        [
            "trusted-hosts",
            "host-sending-registration-request-must-match",
            "client-uris-must-match"
        ]
    );
    assert_eq!(th["properties"][1]["type"], "boolean");
    assert_eq!(th["properties"][1]["defaultValue"], "true");
}

async fn components_api_round_trip(app: &TestApp) {
    let admin = setup(app).await;
    let id = add_policy(
        app,
        &admin,
        "max-clients",
        "authenticated",
        "Cap",
        json!({"max-clients": ["7"]}),
    )
    .await;
    let path = format!("/admin/realms/acme/components/{id}");
    let got = app.get(&path, &admin).await.body;
    assert_eq!(
        (
            got["name"].clone(),
            got["subType"].clone(),
            got["config"]["max-clients"].clone()
        ),
        (json!("Cap"), json!("authenticated"), json!(["7"]))
    );
    let filtered = app
        .get("/admin/realms/acme/components?name=Cap", &admin)
        .await
        .body;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    assert_eq!(
        app.put(
            &path,
            &admin,
            json!({"name": "Cap 2", "config": {"max-clients": ["9"]}})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&path, &admin).await.body["config"]["max-clients"],
        json!(["9"])
    );
    let invalid = app
        .put(&path, &admin, json!({"config": {"max-clients": ["-1"]}}))
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert!(invalid.body["errorMessage"].is_string());
    assert_eq!(
        app.delete(&path, &admin).await.status,
        StatusCode::NO_CONTENT
    );
    let gone = app.get(&path, &admin).await;
    assert_eq!(
        (gone.status, gone.body.clone()),
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Could not find component"})
        )
    );

    let both_off = app
        .post("/admin/realms/acme/components", &admin, json!({"name": "T", "providerId": "trusted-hosts", "providerType": POLICY_TYPE, "subType": "anonymous",
            "config": {"host-sending-registration-request-must-match": ["false"], "client-uris-must-match": ["false"]}}))
        .await;
    assert_eq!(both_off.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        both_off.body["errorMessage"],
        "At least one of hosts verification or client URIs validation must be enabled"
    );
    for bad in [
        json!({"providerId": "no-such", "providerType": POLICY_TYPE, "subType": "anonymous"}),
        json!({"providerId": "scope", "providerType": POLICY_TYPE, "subType": "everyone"}),
        json!({"providerId": "scope", "providerType": "org.keycloak.keys.KeyProvider", "subType": "anonymous"}),
    ] {
        assert_eq!(
            app.post("/admin/realms/acme/components", &admin, bad.clone())
                .await
                .status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

/// The open redirect through logout: trusted-hosts checks every URI a client stores, not
/// only its redirect URIs, on both providers and on update.
async fn trusted_hosts_checks_every_client_uri(app: &TestApp) {
    let admin = setup(app).await;
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
        assert_refused(
            &r,
            "Trusted Hosts",
            "URL doesn't match any trusted host or trusted domain",
        );
    }
    for rep in [
        json!({"clientId": "kc", "redirectUris": [trusted], "attributes": {"post.logout.redirect.uris": "https://evil.example/phish"}}),
        json!({"clientId": "kc", "redirectUris": [trusted], "adminUrl": "https://evil.example/admin"}),
        json!({"clientId": "kc", "redirectUris": [trusted], "attributes": {"jwks.url": "https://evil.example/jwks"}}),
    ] {
        let r = register(app, DEFAULT, None, rep.clone()).await;
        assert_refused(
            &r,
            "Trusted Hosts",
            "URL doesn't match any trusted host or trusted domain",
        );
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
        "URL doesn't match any trusted host or trusted domain",
    );
}

async fn trusted_hosts_and_creation_effects(app: &TestApp) {
    let admin = setup(app).await;
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
        "URL doesn't match any trusted host or trusted domain",
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
        "URL doesn't match any trusted host or trusted domain",
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
    let admin = setup(app).await;
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
    assert_refused(
        &r,
        "Trusted Hosts",
        "URL doesn't match any trusted host or trusted domain",
    );
}

async fn client_disabled_means_admin_approval(app: &TestApp) {
    let admin = setup(app).await;
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
    let token_path = "/realms/acme/protocol/openid-connect/token";
    let refused = app
        .form(
            token_path,
            &[("grant_type", "client_credentials")],
            Some(("bot", &secret)),
        )
        .await;
    assert_eq!(
        (refused.status, refused.body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
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
    let uuid = admin_view(app, &admin, "bot").await["id"]
        .as_str()
        .unwrap()
        .to_string();
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
    let ok = app
        .form(
            token_path,
            &[("grant_type", "client_credentials")],
            Some(("bot", &secret)),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

async fn mappers_and_scopes_are_restricted(app: &TestApp) {
    let admin = setup(app).await;
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
    let admin = setup(app).await;
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
    let admin = setup(app).await;
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

async fn max_clients_is_exact_under_concurrency(app: &TestApp) {
    let admin = setup(app).await;
    open_anonymous(app, &admin).await;
    configure(
        app,
        &admin,
        "Trusted Hosts",
        "anonymous",
        json!({"trusted-hosts": ["127.0.0.1"], "client-uris-must-match": ["false"]}),
    )
    .await;
    let existing = app
        .get("/admin/realms/acme/clients", &admin)
        .await
        .body
        .as_array()
        .unwrap()
        .len() as i64;
    let limit = existing + 5;
    configure(
        app,
        &admin,
        "Max Clients Limit",
        "anonymous",
        json!({"max-clients": [limit.to_string()]}),
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let router = app.router.clone();
        tasks.push(tokio::spawn(async move {
            let req = axum::http::Request::post(if i % 2 == 0 { OIDC } else { DEFAULT })
                .header("content-type", "application/json")
                .header("host", "localhost:8080")
                .extension(axum::extract::ConnectInfo(crate::support::TEST_PEER))
                .body(axum::body::Body::from(
                    if i % 2 == 0 {
                        json!({"grant_types": ["client_credentials"]})
                    } else {
                        json!({"clientId": format!("c{i}")})
                    }
                    .to_string(),
                ))
                .unwrap();
            let resp = tower::ServiceExt::oneshot(router, req).await.unwrap();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            (status, String::from_utf8_lossy(&body).to_string())
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => admitted += 1,
            StatusCode::FORBIDDEN => assert!(body.contains(&format!("Policy 'Max Clients Limit' rejected request to client-registration service. Details: It's allowed to have max {limit} clients per realm")), "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(admitted, 5, "exactly the free slots are admitted");
    let now = app
        .get("/admin/realms/acme/clients", &admin)
        .await
        .body
        .as_array()
        .unwrap()
        .len() as i64;
    assert_eq!(now, limit);
}

async fn the_explainer_shows_every_verdict(app: &TestApp) {
    let admin = setup(app).await;
    let path = "/admin/realms/acme/client-registration-policy/evaluate";
    let r = app
        .post(path, &admin, json!({"auth": "anonymous", "sourceAddress": "203.0.113.9", "metadata": {"redirect_uris": ["https://app.example.com/cb"], "scope": "nope"}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["allowed"], false);
    let verdicts = r.body["policies"].as_array().unwrap();
    assert_eq!(verdicts.len(), 7, "the whole anonymous set");
    let th = verdicts
        .iter()
        .find(|v| v["name"] == "Trusted Hosts")
        .unwrap();
    assert_eq!(th["passed"], false);
    assert_eq!(
        th["message"],
        "Policy 'Trusted Hosts' rejected request to client-registration service. Details: Host not trusted."
    );
    let scopes = verdicts
        .iter()
        .find(|v| v["name"] == "Allowed Client Scopes")
        .unwrap();
    assert_eq!(scopes["passed"], false);
    assert_eq!(
        verdicts
            .iter()
            .find(|v| v["name"] == "Consent Required")
            .unwrap()["passed"],
        true
    );
    assert_eq!(r.body["client"]["consentRequired"], true);
    assert_eq!(r.body["maxClients"]["limit"], 200);
    let before = app
        .get("/admin/realms/acme/clients", &admin)
        .await
        .body
        .as_array()
        .unwrap()
        .len();
    let authed = app
        .post(
            path,
            &admin,
            json!({"auth": "authenticated", "metadata": {"grant_types": ["client_credentials"]}}),
        )
        .await;
    assert_eq!(authed.body["allowed"], true, "{}", authed.text);
    assert_eq!(
        app.get("/admin/realms/acme/clients", &admin)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        before,
        "nothing is created"
    );
    let invalid = app
        .post(
            path,
            &admin,
            json!({"metadata": {"redirect_uris": ["https://a.example/cb#frag"]}}),
        )
        .await;
    assert_eq!(
        (invalid.status, invalid.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_redirect_uri"))
    );
}

crate::on_both_backends!(
    defaults_and_provider_metadata,
    components_api_round_trip,
    trusted_hosts_and_creation_effects,
    trusted_hosts_checks_every_client_uri,
    registered_clients_cannot_undo_policies,
    client_disabled_means_admin_approval,
    mappers_and_scopes_are_restricted,
    policy_web_origins_allow_cors,
    the_policies_switch_turns_everything_off,
    max_clients_is_exact_under_concurrency,
    the_explainer_shows_every_verdict,
);
